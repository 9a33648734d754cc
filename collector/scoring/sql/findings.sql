-- Findings: who ships each observation decides whose dates count; one finding per asset, product and cycle.

-- Limits that end the vendor's coverage early (RHEL Application Streams, Ubuntu universe), on the
-- distinct (distribution, release, component, product, cycle) they can apply to: the earliest wins.
CREATE OR REPLACE TEMP TABLE limit_match AS
WITH keys AS (
    SELECT DISTINCT ad.distribution, ad.os_cycle_key, ad.os_eoas, ad.os_eol, ad.os_eoes, m.component, c.product,
           regexp_replace(lower(c.cycle), '(^|\.)0+([0-9])', '\1\2', 'g') AS cycle_key,
           coalesce(c.eoes, c.eol) AS product_end
    FROM matched m JOIN asset_dist ad USING (asset_id)
    LEFT JOIN cycle_match c
        ON c.matcher_id = m.matcher_id AND c.source = m.source AND c.edition IS NOT DISTINCT FROM m.edition
    WHERE m.kind IN ('package', 'kernel', 'software')
), ends AS (
    SELECT k.distribution, k.os_cycle_key, k.component, k.product, k.cycle_key, l.limit_id,
           coalesce(l.until, CASE l.until_phase WHEN 'eoas' THEN k.os_eoas WHEN 'eol' THEN k.os_eol
                                                WHEN 'eoes' THEN k.os_eoes END,
                    CASE WHEN l.until_lifecycle THEN k.product_end END) AS until
    FROM keys k JOIN rule_coverage_limits l
        ON l.distribution = k.distribution
       AND (l.os_cycles IS NULL OR list_contains(l.os_cycles, k.os_cycle_key))
       AND (l.components IS NULL OR list_contains(l.components, k.component))
       AND (l.product IS NULL OR l.product IS NOT DISTINCT FROM k.product)
       AND (l.cycles IS NULL OR list_contains(l.cycles, k.cycle_key))
)
SELECT distribution, os_cycle_key, component, product, cycle_key,
       arg_min(limit_id, until) AS limit_id, min(until) AS limit_until
FROM ends WHERE until IS NOT NULL
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
      FROM evidence
      WHERE kind = 'package' AND product IS NOT NULL AND shipped_by IS NOT NULL
        AND (asset_id, product) IN (SELECT asset_id, product FROM evidence
                                    WHERE kind = 'software' AND starts_with(shipped_why, 'found under'))
      GROUP BY ALL) p
WHERE e.kind = 'software' AND e.asset_id = p.asset_id AND e.product = p.product
  AND e.cycle IS NOT DISTINCT FROM p.cycle AND starts_with(e.shipped_why, 'found under');

CREATE OR REPLACE TEMP TABLE asset_systems AS
SELECT r.asset_id, element_at(r.labels, 'system')[1] AS system
FROM current_scored_reports r SEMI JOIN scope_assets s USING (asset_id);

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
           max(value) FILTER (WHERE name = 'l1_unknown')::INTEGER AS l1_unknown,
           -- L1 steps by days left, smallest window first: the first window that holds a finding applies.
           (SELECT list({'within_days': within_days, 'score': score} ORDER BY within_days) FROM rule_l1_steps)
               AS l1_steps
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
           CASE WHEN e.limit_until IS NULL THEN e.base_eoes_flag END AS cov_eoes_flag,
           -- The group of a finding: product and cycle (or the cycle read, when the lifecycle lacks
           -- it), or, for what no matcher claims, the kind and name.
           CASE WHEN e.cycle IS NULL THEN e.cycle_key END AS group_cycle_key,
           CASE WHEN e.matcher_id IS NULL THEN e.kind || ':' || e.name END AS group_name,
           -- The observation a finding is named after: the most telling kind, then the first name.
           e.kind_rank::VARCHAR || e.name AS head_key,
           e.kind || ' ' || coalesce(nullif(CASE WHEN e.kind = 'software' THEN e.path ELSE e.ns END, ''), '-')
               || ' ' || e.name || ' ' || e.version
               || CASE WHEN e.shipped_by IS NULL THEN ''
                       ELSE ' [' || replace(e.shipped_by, '_', ' ') || ': ' || e.shipped_why || ']' END AS evidence_text,
           CASE WHEN e.covered THEN {'eoas': e.base_eoas, 'eoas_flag': e.base_eoas_flag, 'limit_id': e.limit_id,
                                     'why': e.shipped_why, 'distribution': e.distribution, 'title': e.dist_title,
                                     'os_cycle': e.os_cycle, 'phases': e.phase_names} END AS cov_item,
           CASE WHEN NOT e.covered THEN {'kind': e.kind, 'why': e.shipped_why, 'by': e.shipped_by,
                                         'distribution': e.distribution, 'os_cycle': e.os_cycle} END AS up_item
    FROM evidence e
), sized AS (
    SELECT c.*, count(*) OVER (PARTITION BY c.asset_id, c.product, c.cycle, c.group_cycle_key, c.group_name) AS n
    FROM capped c
), single AS (
    -- Most findings rest on one observation: no aggregation needed.
    SELECT m.asset_id, m.report_id, {'kind': m.kind, 'ns': m.ns, 'name': m.name, 'version': m.version} AS head,
           1 << m.kind_rank AS kind_mask, [m.name || ' ' || m.version] AS observed, 1::BIGINT AS observations,
           [m.evidence_text] AS evidence, m.matcher_id,
           CASE WHEN m.matcher_id IS NULL THEN [] ELSE [m.matcher_id] END AS matchers,
           m.product, m.cycle_key, m.cycle, m.eoas, m.eoas_flag, m.eol, m.eol_flag, m.eoes, m.eoes_flag,
           m.covered::BIGINT AS n_covered, (NOT m.covered)::BIGINT AS n_upstream,
           m.cov_eol AS c_eol, m.cov_eol_flag AS c_eol_flag, m.cov_eoes AS c_eoes, m.cov_eoes_flag AS c_eoes_flag,
           m.cov_item, m.up_item
    FROM sized m WHERE m.n = 1
), multi AS (
    SELECT m.asset_id, any_value(m.report_id) AS report_id,
           arg_min({'kind': m.kind, 'ns': m.ns, 'name': m.name, 'version': m.version}, m.head_key) AS head,
           -- bit n set: kind_rank n seen (a bit mask is far cheaper than a DISTINCT list per finding)
           bit_or(1 << m.kind_rank) AS kind_mask,
           list_sort(list(m.name || ' ' || m.version))[1:20] AS observed, count(*) AS observations,
           list_sort(list(m.evidence_text))[1:1000] AS evidence,
           min(m.matcher_id) AS matcher_id,
           coalesce(list(DISTINCT m.matcher_id) FILTER (WHERE m.matcher_id IS NOT NULL), []) AS matchers,
           m.product, min(m.cycle_key) AS cycle_key, m.cycle,
           any_value(m.eoas) AS eoas, any_value(m.eoas_flag) AS eoas_flag,
           any_value(m.eol) AS eol, any_value(m.eol_flag) AS eol_flag,
           any_value(m.eoes) AS eoes, any_value(m.eoes_flag) AS eoes_flag,
           count(*) FILTER (WHERE m.covered) AS n_covered, count(*) FILTER (WHERE NOT m.covered) AS n_upstream,
           -- The vendor's coverage that ends first among the covered observations.
           min(m.cov_eol) FILTER (WHERE m.covered) AS c_eol, bool_or(m.cov_eol_flag) FILTER (WHERE m.covered) AS c_eol_flag,
           min(m.cov_eoes) FILTER (WHERE m.covered) AS c_eoes,
           bool_and(m.cov_eoes_flag) FILTER (WHERE m.covered) AS c_eoes_flag,
           arg_min(m.cov_item, coalesce(m.cov_eoes, m.cov_eol, DATE '9999-12-31')) FILTER (WHERE m.covered) AS cov_item,
           arg_min(m.up_item, m.head_key) FILTER (WHERE NOT m.covered) AS up_item
    FROM sized m WHERE m.n > 1
    GROUP BY m.asset_id, m.product, m.cycle, m.group_cycle_key, m.group_name
), grouped AS (
    SELECT * FROM single UNION ALL BY NAME SELECT * FROM multi
), named AS (
    SELECT g.* EXCLUDE (head, cov_item, up_item, kind_mask, c_eol, c_eol_flag, c_eoes, c_eoes_flag),
           list_filter(['device', 'kernel', 'os', 'package', 'software'],
                       lambda k: (g.kind_mask >> CASE k WHEN 'os' THEN 1 WHEN 'device' THEN 2 WHEN 'kernel' THEN 3
                                                   WHEN 'package' THEN 4 ELSE 5 END) & 1 = 1) AS kinds,
           g.head.kind AS kind, g.head.ns AS ns, g.head.name AS name, g.head.version AS version,
           CASE WHEN g.n_covered > 0 THEN {'eoas': g.cov_item.eoas, 'eoas_flag': g.cov_item.eoas_flag,
                'eol': g.c_eol, 'eol_flag': g.c_eol_flag, 'eoes': g.c_eoes, 'eoes_flag': g.c_eoes_flag,
                'limit_id': g.cov_item.limit_id, 'why': g.cov_item.why,
                'by': g.cov_item.distribution || ' ' || g.cov_item.os_cycle,
                'title': g.cov_item.title, 'os_cycle': g.cov_item.os_cycle,
                'phases': array_to_string(g.cov_item.phases, ', ')} END AS cov,
           coalesce(g.up_item.why, CASE
                       WHEN g.up_item.kind = 'os' THEN 'the OS release''s own lifecycle'
                       WHEN g.up_item.kind = 'device' THEN 'the device OS''s own lifecycle'
                       WHEN g.up_item.distribution IS NULL THEN 'no distribution rule covers this OS'
                       ELSE 'the OS release has no lifecycle, so its vendor''s coverage cannot be dated' END)
               || CASE WHEN g.up_item.by = 'vendor' AND g.up_item.os_cycle IS NULL
                       THEN ' (but the OS release has no lifecycle, so its vendor''s coverage cannot be dated)'
                       ELSE '' END AS upstream_why
    FROM grouped g
), statused AS (
    SELECT g.*, a.system, getvariable('as_of')::DATE AS as_of, p.*,
           lifecycle_status(g.product IS NOT NULL AND g.cycle IS NOT NULL, g.eol, g.eol_flag, g.eoes, g.eoes_flag,
                            getvariable('as_of')::DATE, p.eol_soon_days) AS upstream_status,
           CASE WHEN g.n_covered > 0
                THEN lifecycle_status(true, g.cov.eol, g.cov.eol_flag, g.cov.eoes, g.cov.eoes_flag,
                                      getvariable('as_of')::DATE, p.eol_soon_days) END AS coverage_status
    FROM named g LEFT JOIN asset_systems a USING (asset_id) CROSS JOIN params p
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
           ELSE coalesce(list_filter(coalesce(s.l1_steps, []), lambda st: s.f_eol - s.as_of <= st.within_days)[1].score,
                         s.l1_supported) END AS l1_score,
       NULL AS exception_id,
       s.as_of, s.kinds, s.evidence, s.upstream_status, s.eol AS upstream_eol, s.eoes AS upstream_eoes,
       s.coverage, s.cov.by AS covered_by, s.coverage_status,
       coalesce(CASE WHEN s.cov.eoes IS NOT NULL AND s.cov.eoes > coalesce(s.cov.eol, DATE '0001-01-01')
                     THEN s.cov.eoes END, s.cov.eol) AS coverage_until,
       s.cov.limit_id AS coverage_limit,
       CASE WHEN s.coverage = 'upstream' THEN 'upstream dates decide: ' || s.upstream_why
            WHEN s.coverage = 'distribution'
                THEN s.cov.title || ' ' || s.cov.os_cycle || ' decides: its vendor ships this (' || s.cov.why
                     || ')' || coalesce(', shortened by limit ' || s.cov.limit_id, '')
            WHEN s.by_distribution
                THEN 'the worse of both decides, ' || s.cov.title || ' ' || s.cov.os_cycle || '''s coverage: '
                     || s.n_covered || ' observation(s) its vendor ships (' || s.cov.why || '), '
                     || s.n_upstream || ' not (' || s.upstream_why || ')'
            ELSE 'the worse of both decides, upstream dates: ' || s.n_upstream || ' observation(s) not shipped by '
                 || s.cov.title || ' (' || s.upstream_why || '), ' || s.n_covered || ' shipped by it' END AS decided_by
FROM dated s;

-- Exceptions: the first (by id) that accepts each finding in scope, by a join (rule_exceptions is
-- small, often empty) rather than a subquery per finding.
UPDATE findings f SET exception_id = x.exception_id
FROM (SELECT f.asset_id, f.kind, f.name, f.product, f.cycle, min(e.exception_id) AS exception_id
      FROM findings f
      LEFT JOIN asset_systems a USING (asset_id)
      JOIN rule_exceptions e
          ON e.expires > f.as_of
         AND (e.asset_id IS NULL OR e.asset_id = f.asset_id)
         AND (e.system IS NULL OR e.system = a.system)
         AND (e.product IS NULL OR e.product = f.product)
         AND (e.cycle IS NULL OR lower(e.cycle) = lower(f.cycle))
      WHERE f.asset_id IN (SELECT asset_id FROM scope_assets)
      GROUP BY ALL) x
WHERE f.asset_id = x.asset_id AND f.kind = x.kind AND f.name = x.name
  AND f.product IS NOT DISTINCT FROM x.product AND f.cycle IS NOT DISTINCT FROM x.cycle;
