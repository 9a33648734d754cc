-- Findings: map what the assets in scope_assets currently run to products and release cycles, and
-- give each a support status for getvariable('as_of').
-- Heavy work happens on distinct names and versions; the rows themselves only go through hash
-- joins, so ten million packages cost a few passes, not ten million regular expressions.

-- OS, kernel, runtimes and servers, SNMP devices: few rows per asset.
CREATE OR REPLACE TEMP TABLE obs_small AS
SELECT r.asset_id, r.report_id, 'os' AS kind, coalesce(r.os_family, '') AS ns, r.os_id AS name,
       coalesce(r.os_version_id, '') AS version, r.os_build AS build, r.os_edition AS edition,
       r.os_version AS full_version, NULL::VARCHAR AS origin, NULL::VARCHAR AS maintainer,
       NULL::VARCHAR AS pkg_distribution, NULL::VARCHAR AS component, NULL::VARCHAR AS path,
       NULL::VARCHAR AS model
FROM current_scored_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.os_id, '') <> ''
UNION ALL
SELECT r.asset_id, r.report_id, 'kernel', '', coalesce(nullif(r.os_family, ''), 'unknown'), r.kernel, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL
FROM current_scored_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.kernel, '') <> ''
UNION ALL
SELECT t.asset_id, t.report_id, 'software', coalesce(t.vendor, ''), t.name, coalesce(t.version, ''), NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, t.path, NULL
FROM current_software t SEMI JOIN scope_assets s USING (asset_id)
UNION ALL
-- A device's model names what its version alone cannot: the iLO generation, the PowerEdge server
-- generation (and so the iDRAC) a firmware version belongs to.
SELECT d.asset_id, d.report_id, 'device', coalesce(d.vendor, ''), coalesce(d.os, ''), coalesce(d.version, ''),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, d.model
FROM current_devices d SEMI JOIN scope_assets s USING (asset_id);

-- The open package intervals read from their tables (as the view current_packages does), not through
-- the view: scoring needs no first_report_id, and DuckDB would join every report ever stored to give it.
CREATE OR REPLACE TEMP VIEW obs_packages AS
SELECT a.asset_id, a.report_id, 'package' AS kind, p.manager AS ns, p.name, t.version,
       NULL::VARCHAR AS build, NULL::VARCHAR AS edition, NULL::VARCHAR AS full_version,
       nullif(p.origin, '') AS origin, nullif(p.maintainer, '') AS maintainer,
       nullif(p.distribution, '') AS pkg_distribution, nullif(p.component, '') AS component, NULL::VARCHAR AS path,
       NULL::VARCHAR AS model
FROM packages_current t
JOIN asset_state a USING (asset_no)
JOIN package_catalog p USING (package_no)
SEMI JOIN scope_assets s ON s.asset_id = a.asset_id;

-- Each distinct (kind, namespace, name): matchers are looked up on these, never on every row.
CREATE OR REPLACE TEMP TABLE obs_names AS
SELECT DISTINCT kind, ns, name FROM obs_small
UNION
SELECT DISTINCT 'package', ns, name FROM obs_packages;

-- Filled by the scorer (scorer.match_name_patterns): each distinct name a name_regex matcher
-- claims, one query per pattern so that DuckDB compiles each pattern once.
CREATE OR REPLACE TEMP TABLE name_regex_match (kind VARCHAR, ns VARCHAR, name VARCHAR, matcher_id VARCHAR);
