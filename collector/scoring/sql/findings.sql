-- Findings: map what the assets in scope_assets currently run to products and release cycles, and
-- give each a support status for getvariable('as_of').
-- Heavy work happens on distinct names and versions; the rows themselves only go through hash
-- joins, so ten million packages cost a few passes, not ten million regular expressions.

-- OS, kernel, runtimes and servers, SNMP devices: few rows per asset.
CREATE OR REPLACE TEMP TABLE obs_small AS
SELECT r.asset_id, r.report_id, 'os' AS kind, coalesce(r.os_family, '') AS ns, r.os_id AS name,
       coalesce(r.os_version_id, '') AS version, r.os_build AS build, r.os_edition AS edition,
       r.os_version AS full_version
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.os_id, '') <> ''
UNION ALL
SELECT r.asset_id, r.report_id, 'kernel', '', coalesce(nullif(r.os_family, ''), 'unknown'), r.kernel, NULL, NULL, NULL
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.kernel, '') <> ''
UNION ALL
SELECT t.asset_id, t.report_id, 'software', coalesce(t.vendor, ''), t.name, coalesce(t.version, ''), NULL, NULL, NULL
FROM current_software t SEMI JOIN scope_assets s USING (asset_id)
UNION ALL
SELECT d.asset_id, d.report_id, 'device', coalesce(d.vendor, ''), coalesce(d.os, ''), coalesce(d.version, ''),
       NULL, NULL, NULL
FROM current_devices d SEMI JOIN scope_assets s USING (asset_id);

CREATE OR REPLACE TEMP VIEW obs_packages AS
SELECT p.asset_id, p.report_id, 'package' AS kind, p.manager AS ns, p.name, p.version,
       NULL::VARCHAR AS build, NULL::VARCHAR AS edition, NULL::VARCHAR AS full_version
FROM current_packages p SEMI JOIN scope_assets s USING (asset_id);

-- Each distinct (kind, namespace, name) and the one matcher that claims it (highest priority, then
-- first in the rule files): exact names by hash join, patterns on distinct names only.
CREATE OR REPLACE TEMP TABLE name_match AS
WITH names AS (
    SELECT DISTINCT kind, ns, name FROM obs_small
    UNION
    SELECT DISTINCT 'package', ns, name FROM obs_packages
), candidates AS (
    SELECT n.kind, n.ns, n.name, m.matcher_id, m.priority, m.ord
    FROM names n
    JOIN rule_matcher_names mn ON mn.kind = n.kind AND mn.name = n.name
    JOIN rule_matchers m ON m.matcher_id = mn.matcher_id
    WHERE m.ns IS NULL OR list_contains(m.ns, n.ns)
    UNION ALL
    SELECT n.kind, n.ns, n.name, m.matcher_id, m.priority, m.ord
    FROM names n
    JOIN rule_matchers m ON m.kind = n.kind AND m.name_regex IS NOT NULL
    WHERE regexp_full_match(n.name, m.name_regex) AND (m.ns IS NULL OR list_contains(m.ns, n.ns))
)
SELECT kind, ns, name, matcher_id FROM candidates
QUALIFY row_number() OVER (PARTITION BY kind, ns, name ORDER BY priority DESC, ord) = 1;

-- Observations with their matcher and the text the cycle is read from. dpkg, rpm and apk
-- versions lose their epoch and revision first ("1:3.0.11-1~deb12u2" -> "3.0.11").
CREATE OR REPLACE TEMP TABLE matched AS
WITH obs AS (
    SELECT o.*, nm.matcher_id FROM obs_small o LEFT JOIN name_match nm USING (kind, ns, name)
    UNION ALL
    SELECT o.*, nm.matcher_id FROM obs_packages o JOIN name_match nm USING (kind, ns, name)
)
SELECT o.asset_id, o.report_id, o.kind, o.ns, o.name, o.version, o.edition, o.matcher_id,
       CASE m.cycle_source
           WHEN 'name' THEN o.name
           WHEN 'build' THEN coalesce(o.build, '')
           WHEN 'full_version' THEN coalesce(o.full_version, '')
           ELSE CASE WHEN m.scheme IN ('dpkg', 'rpm', 'apk')
                       OR (m.scheme = 'auto' AND o.kind = 'package' AND o.ns IN ('dpkg', 'rpm', 'apk'))
                     THEN regexp_replace(regexp_replace(o.version, '^[0-9]+:', ''), '-[^-]*$', '')
                     ELSE o.version END
       END AS source
FROM obs o LEFT JOIN rule_matchers m USING (matcher_id);

-- Each distinct (matcher, source, edition): read the cycle key, map it, then find the longest
-- cycle of the product it starts with ("3.0.11" -> "3.0"; "1.1.1n" -> "1.1.1"; "6.18.4" is not "6.1").
CREATE OR REPLACE TEMP TABLE cycle_match AS
WITH keys AS (
    SELECT DISTINCT matcher_id, source, edition FROM matched WHERE matcher_id IS NOT NULL
), extracted AS (
    SELECT k.matcher_id, k.source, k.edition, m.product, m.edition_regex, m.edition_then, m.edition_else,
           -- lower case and no leading zeros in numbers, as rule_cycles.cycle_key: "17.09" is "17.9"
           regexp_replace(lower(CASE WHEN m.cycle_regex IS NULL THEN k.source
                                     ELSE nullif(regexp_extract(k.source, m.cycle_regex, 1), '') END),
                          '(^|\.)0+([0-9])', '\1\2', 'g') AS raw_key
    FROM keys k JOIN rule_matchers m USING (matcher_id)
), mapped AS (
    SELECT e.*,
           CASE WHEN e.edition_regex IS NULL THEN coalesce(cm.cycle, e.raw_key)
                ELSE replace(coalesce(cm.cycle, e.raw_key), '{edition}',
                             coalesce((SELECT arg_min(ec.edition, ec.ord) FROM rule_edition_cases ec
                                       WHERE ec.matcher_id = e.matcher_id
                                         AND regexp_matches(coalesce(e.edition, ''), ec.regex)),
                                      CASE WHEN regexp_matches(coalesce(e.edition, ''), e.edition_regex)
                                           THEN e.edition_then ELSE e.edition_else END)) END AS cycle_key
    FROM extracted e LEFT JOIN rule_cycle_maps cm ON cm.matcher_id = e.matcher_id AND cm.key = e.raw_key
)
SELECT mp.matcher_id, mp.source, mp.edition, mp.product, mp.cycle_key,
       c.cycle, c.eoas, c.eoas_flag, c.eol, c.eol_flag, c.eoes, c.eoes_flag
FROM mapped mp
LEFT JOIN rule_cycles c
    ON c.product = mp.product AND starts_with(mp.cycle_key, c.cycle_key)
   AND (length(mp.cycle_key) = length(c.cycle_key)
        OR NOT regexp_matches(substr(mp.cycle_key, length(c.cycle_key) + 1, 1), '[0-9]'))
QUALIFY row_number() OVER (PARTITION BY mp.matcher_id, mp.source, mp.edition
                           ORDER BY length(c.cycle_key) DESC NULLS LAST) = 1;

CREATE OR REPLACE TEMP TABLE asset_systems AS
SELECT r.asset_id, element_at(r.labels, 'system')[1] AS system
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id);

DELETE FROM findings WHERE asset_id IN (SELECT asset_id FROM scope_assets);

INSERT INTO findings
WITH params AS (
    SELECT max(value) FILTER (WHERE name = 'eol_soon_days')::INTEGER AS eol_soon_days,
           max(value) FILTER (WHERE name = 'l1_eol')::INTEGER AS l1_eol,
           max(value) FILTER (WHERE name = 'l1_extended')::INTEGER AS l1_extended,
           max(value) FILTER (WHERE name = 'l1_supported')::INTEGER AS l1_supported,
           max(value) FILTER (WHERE name = 'l1_unknown')::INTEGER AS l1_unknown
    FROM rule_params
), grouped AS (
    SELECT m.asset_id, any_value(m.report_id) AS report_id, m.kind, any_value(m.ns) AS ns,
           min(m.name) AS name, arg_min(m.version, m.name) AS version,
           list(m.name || ' ' || m.version)[1:20] AS observed, count(*) AS observations,
           min(m.matcher_id) AS matcher_id, list(DISTINCT m.matcher_id) FILTER (WHERE m.matcher_id IS NOT NULL)
               AS matchers,
           c.product, min(c.cycle_key) AS cycle_key, c.cycle,
           any_value(c.eoas) AS eoas, any_value(c.eoas_flag) AS eoas_flag,
           any_value(c.eol) AS eol, any_value(c.eol_flag) AS eol_flag,
           any_value(c.eoes) AS eoes, any_value(c.eoes_flag) AS eoes_flag
    FROM matched m
    LEFT JOIN cycle_match c
        ON c.matcher_id = m.matcher_id AND c.source = m.source AND c.edition IS NOT DISTINCT FROM m.edition
    GROUP BY m.asset_id, m.kind, c.product, c.cycle, CASE WHEN c.cycle IS NULL THEN c.cycle_key END,
             CASE WHEN m.matcher_id IS NULL THEN m.name END
), graded AS (
    SELECT g.*, a.system, getvariable('as_of')::DATE AS as_of,
           coalesce(g.eol <= getvariable('as_of')::DATE, g.eol_flag, false) AS eol_reached,
           -- Extended support exists when the cycle has an eoes date or says false (offered, no end).
           (g.eoes IS NOT NULL AND g.eoes > getvariable('as_of')::DATE) OR g.eoes_flag IS NOT DISTINCT FROM false
               AS extended_open
    FROM grouped g LEFT JOIN asset_systems a USING (asset_id)
), statused AS (
    SELECT g.*, CASE
               WHEN g.product IS NULL OR g.cycle IS NULL THEN 'unknown'
               WHEN g.eol_reached AND g.extended_open THEN 'extended'
               WHEN g.eol_reached THEN 'eol'
               WHEN g.eol IS NOT NULL AND g.eol - g.as_of <= p.eol_soon_days THEN 'eol_soon'
               ELSE 'supported' END AS status,
           p.*
    FROM graded g CROSS JOIN params p
)
SELECT s.asset_id, s.report_id, s.kind, s.ns, s.name, s.version, s.observed, s.observations, s.matcher_id,
       coalesce(s.matchers, []),
       s.product, s.cycle_key, s.cycle, s.status, s.eoas, s.eol, s.eoes,
       (s.eoas - s.as_of)::INTEGER, (s.eol - s.as_of)::INTEGER, (s.eoes - s.as_of)::INTEGER,
       CASE s.status
           WHEN 'eol' THEN s.l1_eol
           WHEN 'extended' THEN s.l1_extended
           WHEN 'unknown' THEN s.l1_unknown
           ELSE coalesce((SELECT arg_min(st.score, st.within_days) FROM rule_l1_steps st
                          WHERE s.eol - s.as_of <= st.within_days), s.l1_supported) END,
       (SELECT min(e.exception_id) FROM rule_exceptions e
        WHERE e.expires > s.as_of
          AND (e.asset_id IS NULL OR e.asset_id = s.asset_id)
          AND (e.system IS NULL OR e.system = s.system)
          AND (e.product IS NULL OR e.product = s.product)
          AND (e.cycle IS NULL OR lower(e.cycle) = lower(s.cycle))),
       s.as_of
FROM statused s;
