-- Each distinct (kind, namespace, name) and the one matcher that claims it (highest priority, then
-- first in the rule files): exact names by hash join, patterns from name_regex_match.
CREATE OR REPLACE TEMP TABLE name_match AS
WITH candidates AS (
    SELECT n.kind, n.ns, n.name, m.matcher_id, m.priority, m.ord
    FROM obs_names n
    JOIN rule_matcher_names mn ON mn.kind = n.kind AND mn.name = n.name
    JOIN rule_matchers m ON m.matcher_id = mn.matcher_id
    WHERE m.ns IS NULL OR list_contains(m.ns, n.ns)
    UNION ALL
    SELECT r.kind, r.ns, r.name, m.matcher_id, m.priority, m.ord
    FROM name_regex_match r JOIN rule_matchers m USING (matcher_id)
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
SELECT o.asset_id, o.report_id, o.kind, o.ns, o.name, o.version, o.edition, o.matcher_id, o.origin,
       o.maintainer, o.pkg_distribution, o.component, o.path,
       CASE m.cycle_source
           WHEN 'name' THEN o.name
           WHEN 'build' THEN coalesce(o.build, '')
           WHEN 'full_version' THEN coalesce(o.full_version, '')
           WHEN 'model' THEN coalesce(o.model, '')
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
                             -- editions with a lifecycle of their own (Windows LTSC) first, in order
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


-- Who maintains it decides. Each asset whose OS has a distribution rule (rules/distributions/) gets
-- that distribution and the lifecycle of its OS release: the vendor patches the packages it ships
-- through the phases the rule names (security then LTS, standard then ESM, ...).
CREATE OR REPLACE TEMP TABLE asset_dist AS
SELECT m.asset_id, d.distribution, d.title, d.phase_names, d.phase_ends,
       cm.cycle AS os_cycle,
       regexp_replace(lower(cm.cycle), '(^|\.)0+([0-9])', '\1\2', 'g') AS os_cycle_key,
       cm.eoas AS os_eoas, cm.eoas_flag AS os_eoas_flag, cm.eol AS os_eol, cm.eol_flag AS os_eol_flag,
       cm.eoes AS os_eoes, cm.eoes_flag AS os_eoes_flag
FROM matched m
JOIN rule_distributions d ON list_contains(d.os_ids, m.name)
LEFT JOIN cycle_match cm
    ON cm.matcher_id = m.matcher_id AND cm.source = m.source AND cm.edition IS NOT DISTINCT FROM m.edition
   AND cm.product = d.product
WHERE m.kind = 'os'
QUALIFY row_number() OVER (PARTITION BY m.asset_id ORDER BY cm.cycle NULLS LAST) = 1;

-- Who ships each distinct observation on such an asset, filled by the scorer
-- (scorer.classify_shipped, one query per distribution so each pattern is compiled once): the origin
-- the host recorded decides; without one, third-party then vendor markers in the version,
-- DISTRIBUTION tag and maintainer; else the distribution's default. Software counts as the OS
-- vendor's by its recorded vendor or under its managed paths; the running kernel by its release.
CREATE OR REPLACE TEMP TABLE shipped_keys AS
SELECT DISTINCT ad.distribution, m.kind, m.ns, m.version, m.origin, m.maintainer, m.pkg_distribution, m.path
FROM matched m JOIN asset_dist ad USING (asset_id)
WHERE m.kind IN ('package', 'kernel', 'software');

CREATE OR REPLACE TEMP TABLE shipped (
    distribution VARCHAR, kind VARCHAR, ns VARCHAR, version VARCHAR, origin VARCHAR, maintainer VARCHAR,
    pkg_distribution VARCHAR, path VARCHAR, ship STRUCT("by" VARCHAR, why VARCHAR));
