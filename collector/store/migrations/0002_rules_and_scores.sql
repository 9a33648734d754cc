-- Rules loaded from rules/*.yaml (replaced as a whole, in one transaction, when the files change)
-- and the scores computed from them by collector/sql/*.sql for an as_of date.

CREATE TABLE rule_loads (
    digest VARCHAR NOT NULL,
    rules_dir VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    file_count INTEGER NOT NULL
);

CREATE TABLE rule_files (
    file VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL
);

CREATE TABLE rule_products (
    product VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,
    category VARCHAR,
    sources VARCHAR[] NOT NULL,
    imported_from VARCHAR,
    file VARCHAR NOT NULL
);

CREATE TABLE rule_identifiers (
    product VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

CREATE TABLE rule_cycles (
    product VARCHAR NOT NULL,
    cycle VARCHAR NOT NULL,
    cycle_key VARCHAR NOT NULL,
    label VARCHAR,
    codename VARCHAR,
    release_date DATE,
    eoas DATE,
    eoas_flag BOOLEAN,
    eol DATE,
    eol_flag BOOLEAN,
    eoes DATE,
    eoes_flag BOOLEAN,
    lts BOOLEAN,
    latest VARCHAR,
    latest_date DATE,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);

CREATE TABLE rule_matchers (
    matcher_id VARCHAR PRIMARY KEY,
    ord INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    ns VARCHAR[],
    name_regex VARCHAR,
    scheme VARCHAR NOT NULL,
    cycle_source VARCHAR NOT NULL,
    cycle_regex VARCHAR,
    edition_regex VARCHAR,
    edition_then VARCHAR,
    edition_else VARCHAR,
    priority INTEGER NOT NULL,
    note VARCHAR,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);

CREATE TABLE rule_matcher_names (
    matcher_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL
);

CREATE TABLE rule_cycle_maps (
    matcher_id VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    cycle VARCHAR NOT NULL
);

CREATE TABLE rule_params (
    name VARCHAR PRIMARY KEY,
    value DOUBLE NOT NULL
);

CREATE TABLE rule_l1_steps (
    within_days INTEGER NOT NULL,
    score INTEGER NOT NULL
);

CREATE TABLE rule_criteria (
    side VARCHAR NOT NULL,
    criterion VARCHAR NOT NULL,
    title VARCHAR NOT NULL
);

CREATE TABLE rule_bands (
    band VARCHAR NOT NULL,
    min_score DOUBLE NOT NULL
);

CREATE TABLE rule_adjustments (
    name VARCHAR NOT NULL,
    side VARCHAR NOT NULL,
    exposed BOOLEAN,
    label VARCHAR,
    label_values VARCHAR[],
    amount DOUBLE NOT NULL
);

CREATE TABLE rule_assessments (
    system VARCHAR NOT NULL,
    side VARCHAR NOT NULL,
    criterion VARCHAR NOT NULL,
    score INTEGER NOT NULL,
    note VARCHAR,
    owner VARCHAR NOT NULL,
    assessed DATE NOT NULL,
    file VARCHAR NOT NULL
);

CREATE TABLE rule_exceptions (
    exception_id VARCHAR PRIMARY KEY,
    asset_id VARCHAR,
    system VARCHAR,
    product VARCHAR,
    cycle VARCHAR,
    owner VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    expires DATE NOT NULL,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);

CREATE TABLE score_runs (
    as_of DATE NOT NULL,
    scored_at TIMESTAMPTZ NOT NULL,
    rules_digest VARCHAR NOT NULL,
    assets INTEGER NOT NULL,
    findings BIGINT NOT NULL,
    seconds DOUBLE NOT NULL
);

CREATE TABLE findings (
    asset_id VARCHAR NOT NULL,
    report_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    ns VARCHAR,
    name VARCHAR NOT NULL,
    version VARCHAR,
    observed VARCHAR[] NOT NULL,
    observations BIGINT NOT NULL,
    matcher_id VARCHAR,
    matchers VARCHAR[] NOT NULL,
    product VARCHAR,
    cycle_key VARCHAR,
    cycle VARCHAR,
    status VARCHAR NOT NULL,
    eoas DATE,
    eol DATE,
    eoes DATE,
    days_to_eoas INTEGER,
    days_to_eol INTEGER,
    days_to_eoes INTEGER,
    l1_score INTEGER NOT NULL,
    exception_id VARCHAR,
    as_of DATE NOT NULL
);

CREATE TABLE risk_criteria (
    scope VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    side VARCHAR NOT NULL,
    criterion VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    source VARCHAR NOT NULL
);

CREATE TABLE asset_risk (
    asset_id VARCHAR PRIMARY KEY,
    hostname VARCHAR,
    system VARCHAR,
    worst_status VARCHAR NOT NULL,
    l1_raw INTEGER NOT NULL,
    likelihood_mean DOUBLE NOT NULL,
    likelihood_max DOUBLE NOT NULL,
    likelihood_adjust DOUBLE NOT NULL,
    likelihood DOUBLE NOT NULL,
    impact_mean DOUBLE NOT NULL,
    impact_max DOUBLE NOT NULL,
    impact_adjust DOUBLE NOT NULL,
    impact DOUBLE NOT NULL,
    overall DOUBLE NOT NULL,
    band VARCHAR NOT NULL,
    exposed BOOLEAN NOT NULL,
    adjustments VARCHAR[] NOT NULL,
    exceptions VARCHAR[] NOT NULL,
    exception_changed BOOLEAN NOT NULL,
    as_of DATE NOT NULL
);

CREATE TABLE system_risk (
    system VARCHAR PRIMARY KEY,
    assets INTEGER NOT NULL,
    worst_status VARCHAR NOT NULL,
    l1_raw INTEGER NOT NULL,
    likelihood_mean DOUBLE NOT NULL,
    likelihood_max DOUBLE NOT NULL,
    likelihood_adjust DOUBLE NOT NULL,
    likelihood DOUBLE NOT NULL,
    impact_mean DOUBLE NOT NULL,
    impact_max DOUBLE NOT NULL,
    impact_adjust DOUBLE NOT NULL,
    impact DOUBLE NOT NULL,
    overall DOUBLE NOT NULL,
    band VARCHAR NOT NULL,
    exposed BOOLEAN NOT NULL,
    adjustments VARCHAR[] NOT NULL,
    exceptions VARCHAR[] NOT NULL,
    exception_changed BOOLEAN NOT NULL,
    as_of DATE NOT NULL
);

COMMENT ON TABLE rule_loads IS 'Each time the rule files were loaded into the database (the rules in force are the last load).';
COMMENT ON COLUMN rule_loads.digest IS 'SHA-256 over every rule file name and content: a new digest means the rules changed.';
COMMENT ON COLUMN rule_loads.rules_dir IS 'Folder the rules were read from.';
COMMENT ON COLUMN rule_loads.loaded_at IS 'When they were loaded.';
COMMENT ON COLUMN rule_loads.file_count IS 'Number of rule files loaded.';
COMMENT ON TABLE rule_files IS 'The rule files in force.';
COMMENT ON COLUMN rule_files.file IS 'Path relative to the rules folder.';
COMMENT ON COLUMN rule_files.kind IS 'Kind of rule: lifecycles, matchers, assessments, exceptions, scoring.';
COMMENT ON COLUMN rule_files.sha256 IS 'SHA-256 of the file content.';
COMMENT ON TABLE rule_products IS 'Products with a lifecycle (rules/lifecycles/, one file per product).';
COMMENT ON COLUMN rule_products.product IS 'Product id (endoflife.date id where one exists).';
COMMENT ON COLUMN rule_products.title IS 'Product name for people.';
COMMENT ON COLUMN rule_products.category IS 'Category (os, lang, server-app, ...).';
COMMENT ON COLUMN rule_products.sources IS 'Where the lifecycle dates come from (URLs).';
COMMENT ON COLUMN rule_products.imported_from IS 'endoflife.date commit and date for imported products; NULL for hand-written ones.';
COMMENT ON COLUMN rule_products.file IS 'Rule file that defines the product.';
COMMENT ON TABLE rule_identifiers IS 'Package URLs, CPEs and Repology names of each product.';
COMMENT ON COLUMN rule_identifiers.product IS 'Product id.';
COMMENT ON COLUMN rule_identifiers.type IS 'purl, cpe or repology.';
COMMENT ON COLUMN rule_identifiers.value IS 'The identifier.';
COMMENT ON TABLE rule_cycles IS 'Release cycles of each product with their support milestones.';
COMMENT ON COLUMN rule_cycles.product IS 'Product id.';
COMMENT ON COLUMN rule_cycles.cycle IS 'Release cycle as the lifecycle file writes it (12, 3.11, 7.2.5, 2012-r2).';
COMMENT ON COLUMN rule_cycles.cycle_key IS 'Cycle in lower case without leading zeros in numbers, the key observations are matched on.';
COMMENT ON COLUMN rule_cycles.label IS 'Release label for people, where given.';
COMMENT ON COLUMN rule_cycles.codename IS 'Codename (Bookworm, ...).';
COMMENT ON COLUMN rule_cycles.release_date IS 'First release of the cycle.';
COMMENT ON COLUMN rule_cycles.eoas IS 'End of active support (bug fixes), where dated.';
COMMENT ON COLUMN rule_cycles.eoas_flag IS 'When the source gives a boolean instead of a date: true = already ended, false = not ended.';
COMMENT ON COLUMN rule_cycles.eol IS 'End of security support (end of life), where dated: from this day on the cycle is out of support.';
COMMENT ON COLUMN rule_cycles.eol_flag IS 'When the source gives a boolean instead of a date: true = already ended, false = no end announced.';
COMMENT ON COLUMN rule_cycles.eoes IS 'End of extended (paid) support, where dated.';
COMMENT ON COLUMN rule_cycles.eoes_flag IS 'Boolean instead of a date: true = extended support ended, false = offered with no end announced; NULL with no date = none offered.';
COMMENT ON COLUMN rule_cycles.lts IS 'Long-term support cycle.';
COMMENT ON COLUMN rule_cycles.latest IS 'Latest release in the cycle.';
COMMENT ON COLUMN rule_cycles.latest_date IS 'Date of the latest release.';
COMMENT ON COLUMN rule_cycles.file IS 'Rule file the cycle comes from.';
COMMENT ON COLUMN rule_cycles.line IS 'Line of the cycle in that file.';
COMMENT ON TABLE rule_matchers IS 'How observations (OS, kernel, package, software, SNMP device) map to a product and cycle.';
COMMENT ON COLUMN rule_matchers.matcher_id IS 'Matcher id, unique across rule files.';
COMMENT ON COLUMN rule_matchers.ord IS 'Order of the matcher in the rule files (ties of priority go to the first).';
COMMENT ON COLUMN rule_matchers.kind IS 'What it matches: os, kernel, package, software or device.';
COMMENT ON COLUMN rule_matchers.product IS 'Product it maps to.';
COMMENT ON COLUMN rule_matchers.ns IS 'Allowed namespaces: package manager (package), vendor (software, device), OS family (kernel); NULL = any.';
COMMENT ON COLUMN rule_matchers.name_regex IS 'Regular expression the whole name must match, when not a list of names (rule_matcher_names).';
COMMENT ON COLUMN rule_matchers.scheme IS 'Version scheme: dpkg and rpm strip epoch and revision before the cycle is read.';
COMMENT ON COLUMN rule_matchers.cycle_source IS 'Where the cycle is read from: version (version_id for an OS), full_version (OS version), name or build.';
COMMENT ON COLUMN rule_matchers.cycle_regex IS 'Regular expression whose one group is the cycle; NULL = the whole value, matched to the longest cycle it starts with.';
COMMENT ON COLUMN rule_matchers.edition_regex IS 'Edition pattern that selects edition_then for {edition} in a mapped cycle.';
COMMENT ON COLUMN rule_matchers.edition_then IS 'Replacement for {edition} when the edition matches.';
COMMENT ON COLUMN rule_matchers.edition_else IS 'Replacement for {edition} otherwise.';
COMMENT ON COLUMN rule_matchers.priority IS 'Higher wins when several matchers match one name.';
COMMENT ON COLUMN rule_matchers.note IS 'Why the matcher exists, for people.';
COMMENT ON COLUMN rule_matchers.file IS 'Rule file of the matcher.';
COMMENT ON COLUMN rule_matchers.line IS 'Line of the matcher in that file.';
COMMENT ON TABLE rule_matcher_names IS 'Exact names each matcher accepts (a hash join, so thousands of names cost nothing).';
COMMENT ON COLUMN rule_matcher_names.matcher_id IS 'Matcher id.';
COMMENT ON COLUMN rule_matcher_names.kind IS 'Kind of the matcher.';
COMMENT ON COLUMN rule_matcher_names.name IS 'A name the matcher accepts.';
COMMENT ON TABLE rule_cycle_maps IS 'Explicit value-to-cycle tables of matchers (Windows builds to releases, ...).';
COMMENT ON COLUMN rule_cycle_maps.matcher_id IS 'Matcher id.';
COMMENT ON COLUMN rule_cycle_maps.key IS 'Value read from the observation (lower case).';
COMMENT ON COLUMN rule_cycle_maps.cycle IS 'Cycle it stands for; {edition} is replaced by the edition rule.';
COMMENT ON TABLE rule_params IS 'Numeric weights and thresholds from rules/scoring.yaml.';
COMMENT ON COLUMN rule_params.name IS 'Parameter name (eol_soon_days, l1_eol, likelihood_max, ...).';
COMMENT ON COLUMN rule_params.value IS 'Its value.';
COMMENT ON TABLE rule_l1_steps IS 'L1 score of a finding still supported, by days left to its end of life (scoring.yaml l1.steps).';
COMMENT ON COLUMN rule_l1_steps.within_days IS 'Applies when end of life is at most this many days away.';
COMMENT ON COLUMN rule_l1_steps.score IS 'L1 score then.';
COMMENT ON TABLE rule_criteria IS 'Likelihood (L) and impact (C) criteria of the risk framework.';
COMMENT ON COLUMN rule_criteria.side IS 'likelihood or impact.';
COMMENT ON COLUMN rule_criteria.criterion IS 'Criterion id (L1-L7, C1-C6).';
COMMENT ON COLUMN rule_criteria.title IS 'What it measures.';
COMMENT ON TABLE rule_bands IS 'Risk bands by overall score (red, amber, green).';
COMMENT ON COLUMN rule_bands.band IS 'Band name.';
COMMENT ON COLUMN rule_bands.min_score IS 'Lowest overall score in the band.';
COMMENT ON TABLE rule_adjustments IS 'Raises (or lowers) of likelihood or impact for exposure and labels.';
COMMENT ON COLUMN rule_adjustments.name IS 'Adjustment name, shown in scores it changed.';
COMMENT ON COLUMN rule_adjustments.side IS 'likelihood or impact.';
COMMENT ON COLUMN rule_adjustments.exposed IS 'Applies when the asset listens beyond loopback (true) or not (false).';
COMMENT ON COLUMN rule_adjustments.label IS 'Applies when this label has one of label_values.';
COMMENT ON COLUMN rule_adjustments.label_values IS 'Label values that trigger it.';
COMMENT ON COLUMN rule_adjustments.amount IS 'Added to the side score (then capped to its range).';
COMMENT ON TABLE rule_assessments IS 'Scores system owners gave to criteria other than L1 (rules/assessments/).';
COMMENT ON COLUMN rule_assessments.system IS 'System (the asset label system=...).';
COMMENT ON COLUMN rule_assessments.side IS 'likelihood or impact.';
COMMENT ON COLUMN rule_assessments.criterion IS 'Criterion id.';
COMMENT ON COLUMN rule_assessments.score IS 'Score given.';
COMMENT ON COLUMN rule_assessments.note IS 'Owner''s reasoning.';
COMMENT ON COLUMN rule_assessments.owner IS 'Who assessed it.';
COMMENT ON COLUMN rule_assessments.assessed IS 'When.';
COMMENT ON COLUMN rule_assessments.file IS 'Assessment file.';
COMMENT ON TABLE rule_exceptions IS 'Accepted risks: findings in scope do not count towards L1 until expires.';
COMMENT ON COLUMN rule_exceptions.exception_id IS 'Exception id.';
COMMENT ON COLUMN rule_exceptions.asset_id IS 'Asset in scope (NULL = any).';
COMMENT ON COLUMN rule_exceptions.system IS 'System in scope (NULL = any).';
COMMENT ON COLUMN rule_exceptions.product IS 'Product in scope (NULL = any).';
COMMENT ON COLUMN rule_exceptions.cycle IS 'Cycle in scope (NULL = any cycle of the product).';
COMMENT ON COLUMN rule_exceptions.owner IS 'Who accepted the risk.';
COMMENT ON COLUMN rule_exceptions.reason IS 'Why.';
COMMENT ON COLUMN rule_exceptions.expires IS 'First day the exception no longer applies.';
COMMENT ON COLUMN rule_exceptions.file IS 'Exception file.';
COMMENT ON COLUMN rule_exceptions.line IS 'Line in that file.';
COMMENT ON TABLE score_runs IS 'Each scoring run.';
COMMENT ON COLUMN score_runs.as_of IS 'Date the statuses and risks are for.';
COMMENT ON COLUMN score_runs.scored_at IS 'When the run happened.';
COMMENT ON COLUMN score_runs.rules_digest IS 'Digest of the rules used (rule_loads.digest).';
COMMENT ON COLUMN score_runs.assets IS 'Assets scored.';
COMMENT ON COLUMN score_runs.findings IS 'Findings written.';
COMMENT ON COLUMN score_runs.seconds IS 'Time taken.';
COMMENT ON TABLE findings IS 'Lifecycle findings of the current report of each asset: one row per asset, kind, product and cycle (unmatched OS, software and devices: per name).';
COMMENT ON COLUMN findings.asset_id IS 'Asset.';
COMMENT ON COLUMN findings.report_id IS 'Report the observations come from.';
COMMENT ON COLUMN findings.kind IS 'os, kernel, package, software or device.';
COMMENT ON COLUMN findings.ns IS 'Package manager, vendor or OS family of the observation.';
COMMENT ON COLUMN findings.name IS 'Name observed (first of the group).';
COMMENT ON COLUMN findings.version IS 'Version observed (first of the group).';
COMMENT ON COLUMN findings.observed IS 'Up to 20 observations (name and version) grouped into the finding.';
COMMENT ON COLUMN findings.observations IS 'How many observations the finding groups.';
COMMENT ON COLUMN findings.matcher_id IS 'First matcher that mapped it (NULL: nothing matched).';
COMMENT ON COLUMN findings.matchers IS 'Every matcher that mapped one of its observations to this product and cycle.';
COMMENT ON COLUMN findings.product IS 'Product (NULL: unknown).';
COMMENT ON COLUMN findings.cycle_key IS 'Cycle read from the observation before lookup.';
COMMENT ON COLUMN findings.cycle IS 'Cycle found in the lifecycle (NULL: unknown).';
COMMENT ON COLUMN findings.status IS 'eol, extended (extended support only), eol_soon (within the window), supported or unknown.';
COMMENT ON COLUMN findings.eoas IS 'End of active support.';
COMMENT ON COLUMN findings.eol IS 'End of security support.';
COMMENT ON COLUMN findings.eoes IS 'End of extended support.';
COMMENT ON COLUMN findings.days_to_eoas IS 'Days from as_of to end of active support (negative: passed).';
COMMENT ON COLUMN findings.days_to_eol IS 'Days from as_of to end of life (negative: passed).';
COMMENT ON COLUMN findings.days_to_eoes IS 'Days from as_of to end of extended support (negative: passed).';
COMMENT ON COLUMN findings.l1_score IS 'Likelihood criterion L1 score of this finding (scoring.yaml l1).';
COMMENT ON COLUMN findings.exception_id IS 'Exception accepting this finding (it then does not count towards L1).';
COMMENT ON COLUMN findings.as_of IS 'Date the status is for.';
COMMENT ON TABLE risk_criteria IS 'Each criterion score that went into a risk, and where it came from.';
COMMENT ON COLUMN risk_criteria.scope IS 'asset or system.';
COMMENT ON COLUMN risk_criteria.subject IS 'Asset id or system name.';
COMMENT ON COLUMN risk_criteria.side IS 'likelihood or impact.';
COMMENT ON COLUMN risk_criteria.criterion IS 'Criterion id.';
COMMENT ON COLUMN risk_criteria.score IS 'Score.';
COMMENT ON COLUMN risk_criteria.source IS 'Where the score came from (worst finding, assessment file, default).';
COMMENT ON TABLE asset_risk IS 'Legacy risk per asset, shaped like the UK Legacy IT Risk Assessment Framework.';
COMMENT ON COLUMN asset_risk.asset_id IS 'Asset.';
COMMENT ON COLUMN asset_risk.hostname IS 'Host name of its current report.';
COMMENT ON COLUMN asset_risk.system IS 'System label of the asset.';
COMMENT ON COLUMN asset_risk.worst_status IS 'Worst status among its findings that count.';
COMMENT ON COLUMN asset_risk.l1_raw IS 'L1 before exceptions.';
COMMENT ON COLUMN asset_risk.likelihood_mean IS 'Mean of the likelihood criteria scored.';
COMMENT ON COLUMN asset_risk.likelihood_max IS 'Highest likelihood criterion.';
COMMENT ON COLUMN asset_risk.likelihood_adjust IS 'Sum of likelihood adjustments applied.';
COMMENT ON COLUMN asset_risk.likelihood IS '(mean + max) / 2 + adjustments, capped to 1..likelihood max.';
COMMENT ON COLUMN asset_risk.impact_mean IS 'Mean of the impact criteria scored.';
COMMENT ON COLUMN asset_risk.impact_max IS 'Highest impact criterion.';
COMMENT ON COLUMN asset_risk.impact_adjust IS 'Sum of impact adjustments applied.';
COMMENT ON COLUMN asset_risk.impact IS '(mean + max) / 2 + adjustments, capped to 1..impact max.';
COMMENT ON COLUMN asset_risk.overall IS 'likelihood x impact (out of 30 with the framework''s scales).';
COMMENT ON COLUMN asset_risk.band IS 'Band of the overall score (red, amber, green).';
COMMENT ON COLUMN asset_risk.exposed IS 'Listens beyond loopback.';
COMMENT ON COLUMN asset_risk.adjustments IS 'Adjustments applied.';
COMMENT ON COLUMN asset_risk.exceptions IS 'Exceptions that accepted findings of this asset.';
COMMENT ON COLUMN asset_risk.exception_changed IS 'True when the exceptions lowered L1.';
COMMENT ON COLUMN asset_risk.as_of IS 'Date the risk is for.';
COMMENT ON TABLE system_risk IS 'Legacy risk per system (assets grouped by their system label).';
COMMENT ON COLUMN system_risk.system IS 'System.';
COMMENT ON COLUMN system_risk.assets IS 'Assets in the system.';
COMMENT ON COLUMN system_risk.worst_status IS 'Worst status among the system''s findings that count.';
COMMENT ON COLUMN system_risk.l1_raw IS 'L1 before exceptions (worst over the assets).';
COMMENT ON COLUMN system_risk.likelihood_mean IS 'Mean of the likelihood criteria scored.';
COMMENT ON COLUMN system_risk.likelihood_max IS 'Highest likelihood criterion.';
COMMENT ON COLUMN system_risk.likelihood_adjust IS 'Sum of likelihood adjustments applied.';
COMMENT ON COLUMN system_risk.likelihood IS '(mean + max) / 2 + adjustments, capped.';
COMMENT ON COLUMN system_risk.impact_mean IS 'Mean of the impact criteria scored.';
COMMENT ON COLUMN system_risk.impact_max IS 'Highest impact criterion.';
COMMENT ON COLUMN system_risk.impact_adjust IS 'Sum of impact adjustments applied.';
COMMENT ON COLUMN system_risk.impact IS '(mean + max) / 2 + adjustments, capped.';
COMMENT ON COLUMN system_risk.overall IS 'likelihood x impact.';
COMMENT ON COLUMN system_risk.band IS 'Band of the overall score.';
COMMENT ON COLUMN system_risk.exposed IS 'Some asset of the system listens beyond loopback.';
COMMENT ON COLUMN system_risk.adjustments IS 'Adjustments applied.';
COMMENT ON COLUMN system_risk.exceptions IS 'Exceptions that accepted findings in the system.';
COMMENT ON COLUMN system_risk.exception_changed IS 'True when the exceptions lowered L1.';
COMMENT ON COLUMN system_risk.as_of IS 'Date the risk is for.';
