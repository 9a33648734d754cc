-- Who maintains a package decides (issue 12): where each package came from, the distributions'
-- coverage rules (rules/distributions/), what decided each finding, coverage gaps and unassessed systems.

-- The packages' origin, maintainer, distribution and component columns are created with the interval
-- tables (0003: packages_current, packages_history); their descriptions are here.

CREATE TABLE rule_distributions (
    distribution VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    os_ids VARCHAR[] NOT NULL,
    managers VARCHAR[] NOT NULL,
    phase_names VARCHAR[] NOT NULL,
    phase_ends VARCHAR[] NOT NULL,
    vendor_origins VARCHAR,
    vendor_maintainers VARCHAR,
    vendor_distributions VARCHAR,
    vendor_versions VARCHAR,
    third_origins VARCHAR,
    third_maintainers VARCHAR,
    third_distributions VARCHAR,
    third_versions VARCHAR,
    unmarked VARCHAR NOT NULL,
    managed_paths VARCHAR,
    kernels VARCHAR,
    sources VARCHAR[] NOT NULL,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);

CREATE TABLE rule_coverage_limits (
    limit_id VARCHAR NOT NULL,
    distribution VARCHAR NOT NULL,
    os_cycles VARCHAR[],
    components VARCHAR[],
    product VARCHAR,
    cycles VARCHAR[],
    until DATE,
    until_phase VARCHAR,
    until_lifecycle BOOLEAN NOT NULL,
    note VARCHAR NOT NULL,
    sources VARCHAR[] NOT NULL,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);

ALTER TABLE findings ADD COLUMN kinds VARCHAR[];
ALTER TABLE findings ADD COLUMN evidence VARCHAR[];
ALTER TABLE findings ADD COLUMN upstream_status VARCHAR;
ALTER TABLE findings ADD COLUMN upstream_eol DATE;
ALTER TABLE findings ADD COLUMN upstream_eoes DATE;
ALTER TABLE findings ADD COLUMN coverage VARCHAR;
ALTER TABLE findings ADD COLUMN covered_by VARCHAR;
ALTER TABLE findings ADD COLUMN coverage_status VARCHAR;
ALTER TABLE findings ADD COLUMN coverage_until DATE;
ALTER TABLE findings ADD COLUMN coverage_limit VARCHAR;
ALTER TABLE findings ADD COLUMN decided_by VARCHAR;

ALTER TABLE asset_risk ADD COLUMN coverage_gaps VARCHAR[];
ALTER TABLE asset_risk ADD COLUMN impact_assessed BOOLEAN;
ALTER TABLE system_risk ADD COLUMN coverage_gaps VARCHAR[];
ALTER TABLE system_risk ADD COLUMN impact_assessed BOOLEAN;

-- Systems (and assets without a system label) whose impact nobody has assessed: the owners to chase.
CREATE VIEW unassessed_systems AS
SELECT s.system, s.assets, s.impact AS default_impact, s.overall, s.band, s.worst_status, s.as_of
FROM system_risk s WHERE NOT coalesce(s.impact_assessed, false)
UNION ALL
SELECT NULL, count(*)::INTEGER, max(a.impact), max(a.overall), arg_max(a.band, a.overall),
       arg_max(a.worst_status, a.overall), max(a.as_of)
FROM asset_risk a WHERE a.system IS NULL
HAVING count(*) > 0;

-- One row per missing piece of lifecycle data on an asset: what is unknown and why.
CREATE VIEW coverage_gaps AS
SELECT a.asset_id, a.hostname, a.system, unnest(a.coverage_gaps) AS gap, a.as_of
FROM asset_risk a WHERE len(a.coverage_gaps) > 0;

COMMENT ON COLUMN packages.origin IS 'Who distributes the package, where the host records it: dpkg Origin, rpm Vendor, Windows Publisher.';
COMMENT ON COLUMN packages.maintainer IS 'Who built it: dpkg Maintainer, rpm Packager, apk maintainer.';
COMMENT ON COLUMN packages.distribution IS 'rpm DISTRIBUTION tag, where set.';
COMMENT ON COLUMN packages.component IS 'Archive area of a dpkg package (main, universe, multiverse, contrib, non-free), from its Section.';
COMMENT ON COLUMN packages_current.origin IS 'Who distributes the package, where the host records it: dpkg Origin, rpm Vendor, Windows Publisher.';
COMMENT ON COLUMN packages_history.origin IS 'Who distributes the package, where the host records it: dpkg Origin, rpm Vendor, Windows Publisher.';
COMMENT ON COLUMN packages_current.maintainer IS 'Who built it: dpkg Maintainer, rpm Packager, apk maintainer.';
COMMENT ON COLUMN packages_history.maintainer IS 'Who built it: dpkg Maintainer, rpm Packager, apk maintainer.';
COMMENT ON COLUMN packages_current.distribution IS 'rpm DISTRIBUTION tag, where set.';
COMMENT ON COLUMN packages_history.distribution IS 'rpm DISTRIBUTION tag, where set.';
COMMENT ON COLUMN packages_current.component IS 'Archive area of a dpkg package (main, universe, multiverse, contrib, non-free), from its Section.';
COMMENT ON COLUMN packages_history.component IS 'Archive area of a dpkg package (main, universe, multiverse, contrib, non-free), from its Section.';

COMMENT ON TABLE rule_distributions IS 'OS vendors that patch the packages they ship while the OS release is supported (rules/distributions/).';
COMMENT ON COLUMN rule_distributions.distribution IS 'Distribution id.';
COMMENT ON COLUMN rule_distributions.title IS 'Name for people.';
COMMENT ON COLUMN rule_distributions.product IS 'Lifecycle product of the OS releases whose phases cover the packages.';
COMMENT ON COLUMN rule_distributions.os_ids IS 'OperatingSystem.id values of hosts running it.';
COMMENT ON COLUMN rule_distributions.managers IS 'Package managers whose packages it ships.';
COMMENT ON COLUMN rule_distributions.phase_names IS 'Support phases that cover its packages, in order (security, LTS, ESM, ...).';
COMMENT ON COLUMN rule_distributions.phase_ends IS 'Milestone of the OS release ending each phase (eoas, eol, eoes).';
COMMENT ON COLUMN rule_distributions.vendor_origins IS 'Pattern (RE2) of Package.origin values that mean the vendor ships it.';
COMMENT ON COLUMN rule_distributions.vendor_maintainers IS 'Pattern of Package.maintainer values that mean the vendor built it.';
COMMENT ON COLUMN rule_distributions.vendor_distributions IS 'Pattern of rpm DISTRIBUTION tags of the vendor.';
COMMENT ON COLUMN rule_distributions.vendor_versions IS 'Pattern of the vendor''s markers in versions (+deb12u1, .el8, ubuntu1).';
COMMENT ON COLUMN rule_distributions.third_origins IS 'Pattern of origins known to be third parties.';
COMMENT ON COLUMN rule_distributions.third_maintainers IS 'Pattern of maintainers known to be third parties.';
COMMENT ON COLUMN rule_distributions.third_distributions IS 'Pattern of DISTRIBUTION tags of third parties.';
COMMENT ON COLUMN rule_distributions.third_versions IS 'Pattern of third-party markers in versions (pgdg, nodesource).';
COMMENT ON COLUMN rule_distributions.unmarked IS 'What a package with no sign either way is taken to be: vendor or third_party.';
COMMENT ON COLUMN rule_distributions.managed_paths IS 'Pattern of paths of software that belongs to the OS packages.';
COMMENT ON COLUMN rule_distributions.kernels IS 'Pattern of the kernel releases (uname -r) the vendor builds.';
COMMENT ON COLUMN rule_distributions.sources IS 'Vendor pages the coverage rules come from.';
COMMENT ON COLUMN rule_distributions.file IS 'Rule file.';
COMMENT ON COLUMN rule_distributions.line IS 'Line in that file.';
COMMENT ON TABLE rule_coverage_limits IS 'Rules that end a vendor''s coverage of some packages before the release''s (RHEL Application Streams, Ubuntu universe).';
COMMENT ON COLUMN rule_coverage_limits.limit_id IS 'Limit id, unique in its distribution.';
COMMENT ON COLUMN rule_coverage_limits.distribution IS 'Distribution it belongs to.';
COMMENT ON COLUMN rule_coverage_limits.os_cycles IS 'OS release cycles (cycle keys) it applies to; NULL = all.';
COMMENT ON COLUMN rule_coverage_limits.components IS 'Package components it applies to (universe, ...); NULL = any.';
COMMENT ON COLUMN rule_coverage_limits.product IS 'Product of the findings it applies to; NULL = any.';
COMMENT ON COLUMN rule_coverage_limits.cycles IS 'Cycles (cycle keys) of that product; NULL = any.';
COMMENT ON COLUMN rule_coverage_limits.until IS 'First day without the vendor''s coverage.';
COMMENT ON COLUMN rule_coverage_limits.until_phase IS 'Or: the OS release milestone where coverage ends (eoas, eol, eoes).';
COMMENT ON COLUMN rule_coverage_limits.until_lifecycle IS 'Or: the product''s own lifecycle (the vendor''s statement for these packages) ends the coverage at its end of life.';
COMMENT ON COLUMN rule_coverage_limits.note IS 'Why, for people.';
COMMENT ON COLUMN rule_coverage_limits.sources IS 'Vendor pages that give the date.';
COMMENT ON COLUMN rule_coverage_limits.file IS 'Rule file.';
COMMENT ON COLUMN rule_coverage_limits.line IS 'Line of the limit in that file.';

COMMENT ON COLUMN findings.kinds IS 'Kinds of every observation behind the finding (os, kernel, package, software, device).';
COMMENT ON COLUMN findings.evidence IS 'Every observation behind the finding (up to 1,000): kind, manager or path, name, version, and who ships it.';
COMMENT ON COLUMN findings.upstream_status IS 'Status by the product''s own (upstream) dates, whatever decided.';
COMMENT ON COLUMN findings.upstream_eol IS 'Upstream end of life of the cycle.';
COMMENT ON COLUMN findings.upstream_eoes IS 'Upstream end of extended support of the cycle.';
COMMENT ON COLUMN findings.coverage IS 'What decided status and dates: distribution (the OS vendor patches it), upstream, or both (the worse of the two: some evidence is the vendor''s, some not).';
COMMENT ON COLUMN findings.covered_by IS 'Distribution and release covering the vendor''s evidence (debian 12), NULL when none.';
COMMENT ON COLUMN findings.coverage_status IS 'Status by the distribution''s coverage, NULL when no evidence is the vendor''s.';
COMMENT ON COLUMN findings.coverage_until IS 'First day without the distribution''s coverage (its last phase, or a limit).';
COMMENT ON COLUMN findings.coverage_limit IS 'Coverage limit rule that shortened the coverage (rule_coverage_limits).';
COMMENT ON COLUMN findings.decided_by IS 'Why the status is what it is, for people.';
COMMENT ON COLUMN asset_risk.coverage_gaps IS 'Lifecycle data missing for this asset (OS or software nobody can date): a gap, never a pass.';
COMMENT ON COLUMN asset_risk.impact_assessed IS 'False when no owner assessed the impact: the impact is scoring.yaml''s default.';
COMMENT ON COLUMN system_risk.coverage_gaps IS 'Lifecycle data missing on the system''s assets.';
COMMENT ON COLUMN system_risk.impact_assessed IS 'False when no owner assessed the impact: the impact is scoring.yaml''s default.';
COMMENT ON VIEW unassessed_systems IS 'Systems whose impact no owner has assessed (and, system NULL, assets with no system label): the owners to chase.';
COMMENT ON VIEW coverage_gaps IS 'One row per piece of lifecycle data missing on an asset.';
COMMENT ON COLUMN unassessed_systems.system IS 'System with no impact assessment (NULL: the assets that have no system label).';
COMMENT ON COLUMN unassessed_systems.assets IS 'Assets in it.';
COMMENT ON COLUMN unassessed_systems.default_impact IS 'The impact used instead: scoring.yaml impact.default_score (plus adjustments).';
COMMENT ON COLUMN unassessed_systems.overall IS 'Overall risk with that impact (for assets without a system: the highest).';
COMMENT ON COLUMN unassessed_systems.band IS 'Band of that overall score.';
COMMENT ON COLUMN unassessed_systems.worst_status IS 'Worst status among its findings that count.';
COMMENT ON COLUMN unassessed_systems.as_of IS 'Date the risk is for.';
COMMENT ON COLUMN coverage_gaps.asset_id IS 'Asset.';
COMMENT ON COLUMN coverage_gaps.hostname IS 'Host name of its current report.';
COMMENT ON COLUMN coverage_gaps.system IS 'System label of the asset.';
COMMENT ON COLUMN coverage_gaps.gap IS 'What lifecycle data is missing (OS or product and cycle nobody can date).';
COMMENT ON COLUMN coverage_gaps.as_of IS 'Date of the scoring run.';

-- Score-run history (0005) keeps the same columns for every run.
ALTER TABLE run_findings ADD COLUMN kinds VARCHAR[];
ALTER TABLE run_findings ADD COLUMN evidence VARCHAR[];
ALTER TABLE run_findings ADD COLUMN upstream_status VARCHAR;
ALTER TABLE run_findings ADD COLUMN upstream_eol DATE;
ALTER TABLE run_findings ADD COLUMN upstream_eoes DATE;
ALTER TABLE run_findings ADD COLUMN coverage VARCHAR;
ALTER TABLE run_findings ADD COLUMN covered_by VARCHAR;
ALTER TABLE run_findings ADD COLUMN coverage_status VARCHAR;
ALTER TABLE run_findings ADD COLUMN coverage_until DATE;
ALTER TABLE run_findings ADD COLUMN coverage_limit VARCHAR;
ALTER TABLE run_findings ADD COLUMN decided_by VARCHAR;
ALTER TABLE run_asset_risk ADD COLUMN coverage_gaps VARCHAR[];
ALTER TABLE run_asset_risk ADD COLUMN impact_assessed BOOLEAN;
ALTER TABLE run_system_risk ADD COLUMN coverage_gaps VARCHAR[];
ALTER TABLE run_system_risk ADD COLUMN impact_assessed BOOLEAN;
COMMENT ON COLUMN run_findings.kinds IS 'Kinds of every observation behind the finding (os, kernel, package, software, device).';
COMMENT ON COLUMN run_findings.evidence IS 'Every observation behind the finding (up to 1,000): kind, manager or path, name, version, and who ships it.';
COMMENT ON COLUMN run_findings.upstream_status IS 'Status by the product''s own (upstream) dates, whatever decided.';
COMMENT ON COLUMN run_findings.upstream_eol IS 'Upstream end of life of the cycle.';
COMMENT ON COLUMN run_findings.upstream_eoes IS 'Upstream end of extended support of the cycle.';
COMMENT ON COLUMN run_findings.coverage IS 'What decided status and dates: distribution (the OS vendor patches it), upstream, or both (the worse of the two: some evidence is the vendor''s, some not).';
COMMENT ON COLUMN run_findings.covered_by IS 'Distribution and release covering the vendor''s evidence (debian 12), NULL when none.';
COMMENT ON COLUMN run_findings.coverage_status IS 'Status by the distribution''s coverage, NULL when no evidence is the vendor''s.';
COMMENT ON COLUMN run_findings.coverage_until IS 'First day without the distribution''s coverage (its last phase, or a limit).';
COMMENT ON COLUMN run_findings.coverage_limit IS 'Coverage limit rule that shortened the coverage (rule_coverage_limits).';
COMMENT ON COLUMN run_findings.decided_by IS 'Why the status is what it is, for people.';
COMMENT ON COLUMN run_asset_risk.coverage_gaps IS 'Lifecycle data missing for this asset (OS or software nobody can date): a gap, never a pass.';
COMMENT ON COLUMN run_asset_risk.impact_assessed IS 'False when no owner assessed the impact: the impact is scoring.yaml''s default.';
COMMENT ON COLUMN run_system_risk.coverage_gaps IS 'Lifecycle data missing on the system''s assets.';
COMMENT ON COLUMN run_system_risk.impact_assessed IS 'False when no owner assessed the impact: the impact is scoring.yaml''s default.';
