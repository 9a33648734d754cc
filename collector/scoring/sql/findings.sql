-- Findings: map what the assets in scope_assets currently run to products and release cycles, and
-- give each a support status for getvariable('as_of').
-- Heavy work happens on distinct names and versions; the rows themselves only go through hash
-- joins, so ten million packages cost a few passes, not ten million regular expressions.

-- OS, kernel, runtimes and servers, SNMP devices: few rows per asset.
CREATE OR REPLACE TEMP TABLE obs_small AS
SELECT r.asset_id, r.report_id, 'os' AS kind, coalesce(r.os_family, '') AS ns, r.os_id AS name,
       coalesce(r.os_version_id, '') AS version, r.os_build AS build, r.os_edition AS edition,
       r.os_version AS full_version, NULL::VARCHAR AS origin, NULL::VARCHAR AS maintainer,
       NULL::VARCHAR AS pkg_distribution, NULL::VARCHAR AS component, NULL::VARCHAR AS path
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.os_id, '') <> ''
UNION ALL
SELECT r.asset_id, r.report_id, 'kernel', '', coalesce(nullif(r.os_family, ''), 'unknown'), r.kernel, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id)
WHERE coalesce(r.kernel, '') <> ''
UNION ALL
SELECT t.asset_id, t.report_id, 'software', coalesce(t.vendor, ''), t.name, coalesce(t.version, ''), NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, t.path
FROM current_software t SEMI JOIN scope_assets s USING (asset_id)
UNION ALL
SELECT d.asset_id, d.report_id, 'device', coalesce(d.vendor, ''), coalesce(d.os, ''), coalesce(d.version, ''),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM current_devices d SEMI JOIN scope_assets s USING (asset_id);

CREATE OR REPLACE TEMP VIEW obs_packages AS
SELECT p.asset_id, p.report_id, 'package' AS kind, p.manager AS ns, p.name, p.version,
       NULL::VARCHAR AS build, NULL::VARCHAR AS edition, NULL::VARCHAR AS full_version,
       nullif(p.origin, '') AS origin, nullif(p.maintainer, '') AS maintainer,
       nullif(p.distribution, '') AS pkg_distribution, nullif(p.component, '') AS component, NULL::VARCHAR AS path
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
SELECT o.asset_id, o.report_id, o.kind, o.ns, o.name, o.version, o.edition, o.matcher_id, o.origin,
       o.maintainer, o.pkg_distribution, o.component, o.path,
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
                             CASE WHEN regexp_matches(coalesce(e.edition, ''), e.edition_regex)
                                  THEN e.edition_then ELSE e.edition_else END) END AS cycle_key
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

-- Who ships each distinct observation on such an asset: the origin the host recorded decides;
-- without one, third-party then vendor markers in the version, DISTRIBUTION tag and maintainer;
-- else the distribution's default. Software counts as the OS vendor's under its managed paths; the
-- running kernel by its version. Regular expressions run on distinct values, not on every row.
CREATE OR REPLACE TEMP TABLE shipped AS
WITH keys AS (
    SELECT DISTINCT ad.distribution, m.kind, m.ns, m.version, m.origin, m.maintainer, m.pkg_distribution, m.path
    FROM matched m JOIN asset_dist ad USING (asset_id)
    WHERE m.kind IN ('package', 'kernel', 'software')
)
SELECT k.distribution, k.kind, k.ns, k.version, k.origin, k.maintainer, k.pkg_distribution, k.path, CASE
    WHEN k.kind = 'software' THEN CASE
        -- The vendor the agent read from the install (a Java release file's IMPLEMENTOR) decides first.
        WHEN k.ns <> '' AND d.vendor_origins IS NOT NULL THEN CASE
            WHEN regexp_matches(k.ns, d.vendor_origins) THEN {'by': 'vendor', 'why': 'vendor ' || k.ns}
            ELSE {'by': 'third_party', 'why': 'vendor ' || k.ns} END
        WHEN d.managed_paths IS NOT NULL AND regexp_matches(k.path, d.managed_paths)
            THEN {'by': 'vendor', 'why': 'found under the OS packages'' tree (' || k.path || ')'}
        ELSE {'by': 'third_party', 'why': 'found outside the package manager' || coalesce(' (' || nullif(k.path, '') || ')', '')} END
    WHEN k.kind = 'kernel' AND d.kernels IS NOT NULL THEN CASE
        WHEN regexp_matches(k.version, d.kernels) THEN {'by': 'vendor', 'why': 'kernel release built by ' || d.title}
        ELSE {'by': 'third_party', 'why': 'kernel release ' || k.version || ' is not one ' || d.title || ' builds'} END
    WHEN k.kind = 'package' AND NOT list_contains(d.managers, k.ns)
        THEN {'by': 'third_party', 'why': k.ns || ' is not ' || d.title || '''s package manager'}
    WHEN k.origin IS NOT NULL AND d.vendor_origins IS NOT NULL THEN CASE
        WHEN regexp_matches(k.origin, d.vendor_origins) THEN {'by': 'vendor', 'why': 'origin ' || k.origin}
        ELSE {'by': 'third_party', 'why': 'origin ' || k.origin} END
    WHEN k.origin IS NOT NULL AND d.third_origins IS NOT NULL AND regexp_matches(k.origin, d.third_origins)
        THEN {'by': 'third_party', 'why': 'origin ' || k.origin}
    WHEN d.third_versions IS NOT NULL AND regexp_matches(k.version, d.third_versions)
        THEN {'by': 'third_party', 'why': 'third-party marker in version ' || k.version}
    WHEN d.third_distributions IS NOT NULL AND regexp_matches(k.pkg_distribution, d.third_distributions)
        THEN {'by': 'third_party', 'why': 'distribution tag ' || k.pkg_distribution}
    WHEN d.third_maintainers IS NOT NULL AND regexp_matches(k.maintainer, d.third_maintainers)
        THEN {'by': 'third_party', 'why': 'maintainer ' || k.maintainer}
    WHEN d.vendor_versions IS NOT NULL AND regexp_matches(k.version, d.vendor_versions)
        THEN {'by': 'vendor', 'why': d.title || ' marker in version ' || k.version}
    WHEN d.vendor_distributions IS NOT NULL AND regexp_matches(k.pkg_distribution, d.vendor_distributions)
        THEN {'by': 'vendor', 'why': 'distribution tag ' || k.pkg_distribution}
    WHEN d.vendor_maintainers IS NOT NULL AND regexp_matches(k.maintainer, d.vendor_maintainers)
        THEN {'by': 'vendor', 'why': 'maintainer ' || k.maintainer}
    ELSE {'by': d.unmarked, 'why': 'no origin or marker: ' || d.title || '''s rule takes unmarked '
                                   || CASE WHEN k.kind = 'kernel' THEN 'kernels' ELSE 'packages' END
                                   || ' as ' || replace(d.unmarked, '_', ' ')} END AS ship
FROM keys k JOIN rule_distributions d USING (distribution);

-- Limits that end the vendor's coverage early (RHEL Application Streams, Ubuntu universe), on the
-- distinct (distribution, release, component, product, cycle) they can apply to: the earliest wins.
CREATE OR REPLACE TEMP TABLE limit_match AS
WITH keys AS (
    SELECT DISTINCT ad.distribution, ad.os_cycle_key, ad.os_eoas, ad.os_eol, ad.os_eoes, m.component, c.product,
           regexp_replace(lower(c.cycle), '(^|\.)0+([0-9])', '\1\2', 'g') AS cycle_key
    FROM matched m JOIN asset_dist ad USING (asset_id)
    LEFT JOIN cycle_match c
        ON c.matcher_id = m.matcher_id AND c.source = m.source AND c.edition IS NOT DISTINCT FROM m.edition
    WHERE m.kind IN ('package', 'kernel', 'software')
)
SELECT k.distribution, k.os_cycle_key, k.component, k.product, k.cycle_key,
       arg_min(l.limit_id, coalesce(l.until, CASE l.until_phase WHEN 'eoas' THEN k.os_eoas WHEN 'eol' THEN k.os_eol
                                                             ELSE k.os_eoes END)) AS limit_id,
       min(coalesce(l.until, CASE l.until_phase WHEN 'eoas' THEN k.os_eoas WHEN 'eol' THEN k.os_eol
                                                ELSE k.os_eoes END)) AS limit_until
FROM keys k JOIN rule_coverage_limits l
    ON l.distribution = k.distribution
   AND (l.os_cycles IS NULL OR list_contains(l.os_cycles, k.os_cycle_key))
   AND (l.components IS NULL OR list_contains(l.components, k.component))
   AND (l.product IS NULL OR l.product IS NOT DISTINCT FROM k.product)
   AND (l.cycles IS NULL OR list_contains(l.cycles, k.cycle_key))
GROUP BY ALL;

-- Every observation with its upstream lifecycle and, where the OS vendor ships it, the vendor's
-- coverage: the release's milestones for the phases that cover packages, capped by any limit.
CREATE OR REPLACE TEMP TABLE evidence AS
SELECT m.*, c.product, c.cycle_key, c.cycle, c.eoas, c.eoas_flag, c.eol, c.eol_flag, c.eoes, c.eoes_flag,
       CASE m.kind WHEN 'os' THEN 1 WHEN 'device' THEN 2 WHEN 'kernel' THEN 3 WHEN 'package' THEN 4 ELSE 5 END
           AS kind_rank,
       ad.distribution, ad.title AS dist_title, ad.os_cycle, ad.phase_names, sh.ship.by AS shipped_by,
       sh.ship.why AS shipped_why,
       coalesce(sh.ship.by = 'vendor' AND ad.os_cycle IS NOT NULL, false) AS covered,
       lm.limit_id, lm.limit_until,
       ad.os_eoas AS base_eoas, ad.os_eoas_flag AS base_eoas_flag,
       CASE WHEN ad.phase_ends[-1] = 'eoas' THEN ad.os_eoas ELSE ad.os_eol END AS base_eol,
       CASE WHEN ad.phase_ends[-1] = 'eoas' THEN ad.os_eoas_flag ELSE ad.os_eol_flag END AS base_eol_flag,
       CASE WHEN list_contains(ad.phase_ends, 'eoes') THEN ad.os_eoes END AS base_eoes,
       CASE WHEN list_contains(ad.phase_ends, 'eoes') THEN ad.os_eoes_flag END AS base_eoes_flag
FROM matched m
LEFT JOIN cycle_match c
    ON c.matcher_id = m.matcher_id AND c.source = m.source AND c.edition IS NOT DISTINCT FROM m.edition
LEFT JOIN asset_dist ad ON ad.asset_id = m.asset_id AND m.kind IN ('package', 'kernel', 'software')
LEFT JOIN shipped sh
    ON sh.distribution = ad.distribution AND sh.kind = m.kind AND sh.ns = m.ns AND sh.version = m.version
   AND sh.origin IS NOT DISTINCT FROM m.origin AND sh.maintainer IS NOT DISTINCT FROM m.maintainer
   AND sh.pkg_distribution IS NOT DISTINCT FROM m.pkg_distribution AND sh.path IS NOT DISTINCT FROM m.path
LEFT JOIN limit_match lm
    ON lm.distribution = ad.distribution AND lm.os_cycle_key IS NOT DISTINCT FROM ad.os_cycle_key
   AND lm.component IS NOT DISTINCT FROM m.component AND lm.product IS NOT DISTINCT FROM c.product
   AND lm.cycle_key IS NOT DISTINCT FROM regexp_replace(lower(c.cycle), '(^|\.)0+([0-9])', '\1\2', 'g');

-- Software under the OS packages' tree is the binary of a package of the same product and cycle
-- when the asset has one (/usr/bin/node of NodeSource's nodejs): it is covered only if that is.
UPDATE evidence e
SET covered = p.covered, shipped_by = p.shipped_by,
    shipped_why = 'installed by package ' || p.name || ' (' || p.shipped_why || ')'
FROM (SELECT asset_id, product, cycle, bool_and(covered) AS covered, arg_min(shipped_by, covered::INTEGER) AS shipped_by,
             arg_min(name, covered::INTEGER) AS name, arg_min(shipped_why, covered::INTEGER) AS shipped_why
      FROM evidence WHERE kind = 'package' AND product IS NOT NULL AND shipped_by IS NOT NULL GROUP BY ALL) p
WHERE e.kind = 'software' AND e.asset_id = p.asset_id AND e.product = p.product
  AND e.cycle IS NOT DISTINCT FROM p.cycle AND starts_with(e.shipped_why, 'found under');

CREATE OR REPLACE TEMP TABLE asset_systems AS
SELECT r.asset_id, element_at(r.labels, 'system')[1] AS system
FROM current_reports r SEMI JOIN scope_assets s USING (asset_id);

-- Status of a set of milestones on a date: the same rule for upstream's dates and a distribution's.
CREATE OR REPLACE TEMP MACRO lifecycle_status(known, eol, eol_flag, eoes, eoes_flag, as_of, soon_days) AS CASE
    WHEN NOT known THEN 'unknown'
    WHEN coalesce(eol <= as_of, eol_flag, false)
         AND ((eoes IS NOT NULL AND eoes > as_of) OR (eoes IS NULL AND eoes_flag IS NOT DISTINCT FROM false))
        THEN 'extended'
    WHEN coalesce(eol <= as_of, eol_flag, false) THEN 'eol'
    WHEN eol IS NOT NULL AND eol - as_of <= soon_days THEN 'eol_soon'
    ELSE 'supported' END;
CREATE OR REPLACE TEMP MACRO status_rank(status) AS
    CASE status WHEN 'eol' THEN 5 WHEN 'extended' THEN 4 WHEN 'eol_soon' THEN 3 WHEN 'unknown' THEN 2 ELSE 1 END;

DELETE FROM findings WHERE asset_id IN (SELECT asset_id FROM scope_assets);

-- One finding per asset, product and cycle, whatever kinds of evidence show it (the kernel and its
-- package, a package and the same runtime found as software); unmatched things one per kind and name.
INSERT INTO findings BY NAME
WITH params AS (
    SELECT max(value) FILTER (WHERE name = 'eol_soon_days')::INTEGER AS eol_soon_days,
           max(value) FILTER (WHERE name = 'l1_eol')::INTEGER AS l1_eol,
           max(value) FILTER (WHERE name = 'l1_extended')::INTEGER AS l1_extended,
           max(value) FILTER (WHERE name = 'l1_supported')::INTEGER AS l1_supported,
           max(value) FILTER (WHERE name = 'l1_unknown')::INTEGER AS l1_unknown
    FROM rule_params
), capped AS (
    SELECT e.*,
           CASE WHEN e.limit_until IS NULL THEN e.base_eoas ELSE least(e.base_eoas, e.limit_until) END AS cov_eoas,
           CASE WHEN e.limit_until IS NULL OR e.base_eol_flag THEN e.base_eol
                ELSE least(coalesce(e.base_eol, e.limit_until), e.limit_until) END AS cov_eol,
           CASE WHEN e.limit_until IS NULL OR e.base_eol_flag THEN e.base_eol_flag END AS cov_eol_flag,
           CASE WHEN e.base_eoes IS NULL AND e.base_eoes_flag IS DISTINCT FROM false THEN NULL
                WHEN e.limit_until IS NULL THEN e.base_eoes
                ELSE least(coalesce(e.base_eoes, e.limit_until), e.limit_until) END AS cov_eoes,
           CASE WHEN e.limit_until IS NULL THEN e.base_eoes_flag END AS cov_eoes_flag
    FROM evidence e
), grouped AS (
    SELECT m.asset_id, any_value(m.report_id) AS report_id,
           arg_min(m.kind, m.kind_rank) AS kind, list(DISTINCT m.kind ORDER BY m.kind) AS kinds,
           arg_min(m.ns, m.kind_rank::VARCHAR || m.name) AS ns,
           arg_min(m.name, m.kind_rank::VARCHAR || m.name) AS name,
           arg_min(m.version, m.kind_rank::VARCHAR || m.name) AS version,
           list(m.name || ' ' || m.version ORDER BY m.kind_rank, m.name)[1:20] AS observed, count(*) AS observations,
           list(m.kind || ' ' || coalesce(nullif(CASE WHEN m.kind = 'software' THEN m.path ELSE m.ns END, ''), '-')
                || ' ' || m.name || ' ' || m.version
                || CASE WHEN m.shipped_by IS NULL THEN ''
                        ELSE ' [' || replace(m.shipped_by, '_', ' ') || ': ' || m.shipped_why || ']' END
                ORDER BY m.kind_rank, m.name, m.version)[1:1000] AS evidence,
           min(m.matcher_id) AS matcher_id,
           coalesce(list(DISTINCT m.matcher_id) FILTER (WHERE m.matcher_id IS NOT NULL), []) AS matchers,
           m.product, min(m.cycle_key) AS cycle_key, m.cycle,
           any_value(m.eoas) AS eoas, any_value(m.eoas_flag) AS eoas_flag,
           any_value(m.eol) AS eol, any_value(m.eol_flag) AS eol_flag,
           any_value(m.eoes) AS eoes, any_value(m.eoes_flag) AS eoes_flag,
           count(*) FILTER (WHERE m.covered) AS n_covered, count(*) FILTER (WHERE NOT m.covered) AS n_upstream,
           arg_min({'eoas': m.cov_eoas, 'eoas_flag': m.base_eoas_flag, 'eol': m.cov_eol, 'eol_flag': m.cov_eol_flag,
                    'eoes': m.cov_eoes, 'eoes_flag': m.cov_eoes_flag, 'limit_id': m.limit_id,
                    'why': m.shipped_why, 'by': m.distribution || ' ' || m.os_cycle, 'title': m.dist_title,
                    'os_cycle': m.os_cycle, 'phases': array_to_string(m.phase_names, ', ')},
                   coalesce(m.cov_eoes, m.cov_eol, DATE '9999-12-31')) FILTER (WHERE m.covered) AS cov,
           arg_min(coalesce(m.shipped_why, CASE
                       WHEN m.kind = 'os' THEN 'the OS release''s own lifecycle'
                       WHEN m.kind = 'device' THEN 'the device OS''s own lifecycle'
                       WHEN m.distribution IS NULL THEN 'no distribution rule covers this OS'
                       ELSE 'the OS release has no lifecycle, so its vendor''s coverage cannot be dated' END)
                   || CASE WHEN m.shipped_by = 'vendor' AND m.os_cycle IS NULL
                           THEN ' (but the OS release has no lifecycle, so its vendor''s coverage cannot be dated)'
                           ELSE '' END,
                   m.kind_rank::VARCHAR || m.name) FILTER (WHERE NOT m.covered) AS upstream_why
    FROM capped m
    GROUP BY m.asset_id, m.product, m.cycle, CASE WHEN m.cycle IS NULL THEN m.cycle_key END,
             CASE WHEN m.matcher_id IS NULL THEN m.kind || ':' || m.name END
), statused AS (
    SELECT g.*, a.system, getvariable('as_of')::DATE AS as_of, p.*,
           lifecycle_status(g.product IS NOT NULL AND g.cycle IS NOT NULL, g.eol, g.eol_flag, g.eoes, g.eoes_flag,
                            getvariable('as_of')::DATE, p.eol_soon_days) AS upstream_status,
           CASE WHEN g.n_covered > 0
                THEN lifecycle_status(true, g.cov.eol, g.cov.eol_flag, g.cov.eoes, g.cov.eoes_flag,
                                      getvariable('as_of')::DATE, p.eol_soon_days) END AS coverage_status
    FROM grouped g LEFT JOIN asset_systems a USING (asset_id) CROSS JOIN params p
), decided AS (
    SELECT s.*,
           CASE WHEN s.n_covered = 0 THEN 'upstream'
                WHEN s.n_upstream = 0 THEN 'distribution'
                ELSE 'both' END AS coverage,
           -- With evidence of both kinds, the worse of the two statuses decides.
           s.n_covered > 0 AND (s.n_upstream = 0 OR status_rank(s.coverage_status) >= status_rank(s.upstream_status))
               AS by_distribution
    FROM statused s
), dated AS (
    SELECT d.*,
           CASE WHEN d.by_distribution THEN d.coverage_status ELSE d.upstream_status END AS status,
           CASE WHEN d.by_distribution THEN d.cov.eoas ELSE d.eoas END AS f_eoas,
           CASE WHEN d.by_distribution THEN d.cov.eol ELSE d.eol END AS f_eol,
           CASE WHEN d.by_distribution THEN d.cov.eoes ELSE d.eoes END AS f_eoes
    FROM decided d
)
SELECT s.asset_id, s.report_id, s.kind, s.ns, s.name, s.version, s.observed, s.observations, s.matcher_id,
       s.matchers, s.product, s.cycle_key, s.cycle, s.status,
       s.f_eoas AS eoas, s.f_eol AS eol, s.f_eoes AS eoes,
       (s.f_eoas - s.as_of)::INTEGER AS days_to_eoas, (s.f_eol - s.as_of)::INTEGER AS days_to_eol,
       (s.f_eoes - s.as_of)::INTEGER AS days_to_eoes,
       CASE s.status
           WHEN 'eol' THEN s.l1_eol
           WHEN 'extended' THEN s.l1_extended
           WHEN 'unknown' THEN s.l1_unknown
           ELSE coalesce((SELECT arg_min(st.score, st.within_days) FROM rule_l1_steps st
                          WHERE s.f_eol - s.as_of <= st.within_days), s.l1_supported) END AS l1_score,
       (SELECT min(e.exception_id) FROM rule_exceptions e
        WHERE e.expires > s.as_of
          AND (e.asset_id IS NULL OR e.asset_id = s.asset_id)
          AND (e.system IS NULL OR e.system = s.system)
          AND (e.product IS NULL OR e.product = s.product)
          AND (e.cycle IS NULL OR lower(e.cycle) = lower(s.cycle))) AS exception_id,
       s.as_of, s.kinds, s.evidence, s.upstream_status, s.eol AS upstream_eol, s.eoes AS upstream_eoes,
       s.coverage, s.cov.by AS covered_by, s.coverage_status,
       coalesce(CASE WHEN s.cov.eoes IS NOT NULL AND s.cov.eoes > coalesce(s.cov.eol, DATE '0001-01-01')
                     THEN s.cov.eoes END, s.cov.eol) AS coverage_until,
       s.cov.limit_id AS coverage_limit,
       CASE WHEN s.coverage = 'upstream' THEN 'upstream dates decide: ' || s.upstream_why
            WHEN s.coverage = 'distribution'
                THEN s.cov.title || ' ' || s.cov.os_cycle || ' decides: its vendor ships this (' || s.cov.why
                     || ') and patches it through ' || s.cov.phases
                     || coalesce(', shortened by limit ' || s.cov.limit_id, '')
            WHEN s.by_distribution
                THEN 'the worse of both decides, ' || s.cov.title || ' ' || s.cov.os_cycle || '''s coverage: '
                     || s.n_covered || ' observation(s) its vendor ships (' || s.cov.why || '), '
                     || s.n_upstream || ' not (' || s.upstream_why || ')'
            ELSE 'the worse of both decides, upstream dates: ' || s.n_upstream || ' observation(s) not shipped by '
                 || s.cov.title || ' (' || s.upstream_why || '), ' || s.n_covered || ' shipped by it' END AS decided_by
FROM dated s;
