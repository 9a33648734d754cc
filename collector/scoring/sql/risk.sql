-- Legacy risk per asset (those in scope_assets) and per system (every system label), shaped like
-- the UK Legacy IT Risk Assessment Framework: likelihood criteria L1.. (L1 from the findings'
-- lifecycle dates, the rest from assessment files), impact criteria C1.. from assessment files;
-- each side is (mean + max) / 2 plus adjustments, capped; overall = likelihood x impact, banded.
-- Every number comes from rule_params, rule_l1_steps, rule_adjustments and rule_bands (scoring.yaml).

CREATE OR REPLACE TEMP TABLE risk_params AS
SELECT max(value) FILTER (WHERE name = 'l1_unknown') AS l1_unknown,
       max(value) FILTER (WHERE name = 'l1_all_accepted') AS l1_all_accepted,
       max(value) FILTER (WHERE name = 'likelihood_max') AS likelihood_max,
       max(value) FILTER (WHERE name = 'impact_max') AS impact_max,
       max(value) FILTER (WHERE name = 'likelihood_default') AS likelihood_default,
       max(value) FILTER (WHERE name = 'impact_default') AS impact_default
FROM rule_params;

-- Who is scored, and which assets' findings count for each: an asset for itself, a system for
-- every current asset labelled with it.
CREATE OR REPLACE TEMP TABLE risk_members AS
SELECT 'asset' AS scope, r.asset_id AS subject, r.asset_id
FROM current_scored_reports r SEMI JOIN scope_assets s USING (asset_id)
UNION ALL
SELECT 'system', element_at(r.labels, 'system')[1], r.asset_id
FROM current_scored_reports r WHERE element_at(r.labels, 'system')[1] IS NOT NULL;

CREATE OR REPLACE TEMP TABLE member_info AS
SELECT r.asset_id, r.hostname, element_at(r.labels, 'system')[1] AS system, r.labels,
       EXISTS (SELECT 1 FROM current_listeners l WHERE l.asset_id = r.asset_id AND l.exposed) AS exposed
FROM current_scored_reports r SEMI JOIN (SELECT DISTINCT asset_id FROM risk_members) m USING (asset_id);

CREATE OR REPLACE TEMP TABLE risk_subjects AS
SELECT rm.scope, rm.subject,
       CASE WHEN rm.scope = 'asset' THEN any_value(mi.system) ELSE rm.subject END AS system,
       any_value(mi.hostname) AS hostname, bool_or(mi.exposed) AS exposed, count(*)::INTEGER AS assets
FROM risk_members rm JOIN member_info mi USING (asset_id)
GROUP BY rm.scope, rm.subject;

-- Coverage gaps: what lifecycle data is missing on each member asset. Unknown is a gap, not a pass:
-- every unknown finding, and an asset whose report names no OS at all.
CREATE OR REPLACE TEMP TABLE member_gaps AS
WITH unknown AS (
    SELECT f.asset_id, list(DISTINCT CASE
           WHEN f.product IS NULL THEN f.kind || ' ' || f.name || ' ' || coalesce(f.version, '')
                                       || ': no lifecycle rule matches it'
           ELSE f.kind || ' ' || f.product || ' ' || coalesce(f.cycle_key, '?') || ': the ' || f.product
                || ' lifecycle has no cycle ' || coalesce(f.cycle_key, '(none read from the version)') END) AS gaps
    FROM findings f SEMI JOIN member_info mi USING (asset_id)
    WHERE f.status = 'unknown'
    GROUP BY f.asset_id
), identified AS (
    SELECT DISTINCT f.asset_id FROM findings f SEMI JOIN member_info mi USING (asset_id)
    WHERE f.kind IN ('os', 'device')
)
SELECT mi.asset_id,
       coalesce(u.gaps, [])
       || CASE WHEN i.asset_id IS NULL THEN ['os: not identified (the report names no OS)'] ELSE [] END AS gaps,
       i.asset_id IS NULL AS no_os
FROM member_info mi LEFT JOIN unknown u USING (asset_id) LEFT JOIN identified i USING (asset_id);

-- L1: the worst finding that no exception accepts. The order of statuses is for naming the worst
-- one; the scores themselves are findings.l1_score.
CREATE OR REPLACE TEMP TABLE risk_l1 AS
WITH per AS (
    SELECT rm.scope, rm.subject,
           max(f.l1_score) FILTER (WHERE f.exception_id IS NULL) AS l1_counted,
           max(f.l1_score) AS l1_found,
           count(f.asset_id) AS n_findings,
           arg_max(coalesce(f.product, f.name) || ' ' || coalesce(f.cycle, f.cycle_key, '?') || ' ' || f.status
                   || ' (' || f.kind || ' on ' || f.asset_id || ')', f.l1_score)
               FILTER (WHERE f.exception_id IS NULL) AS l1_source,
           arg_max(f.status, CASE f.status WHEN 'eol' THEN 5 WHEN 'extended' THEN 4 WHEN 'eol_soon' THEN 3
                                           WHEN 'unknown' THEN 2 ELSE 1 END)
               FILTER (WHERE f.exception_id IS NULL) AS worst_status,
           list(DISTINCT f.exception_id ORDER BY f.exception_id) FILTER (WHERE f.exception_id IS NOT NULL) AS exceptions
    FROM risk_members rm LEFT JOIN findings f USING (asset_id)
    GROUP BY rm.scope, rm.subject
), unidentified AS (
    SELECT rm.scope, rm.subject, bool_or(g.no_os) AS no_os
    FROM risk_members rm JOIN member_gaps g USING (asset_id)
    GROUP BY rm.scope, rm.subject
)
SELECT per.scope, per.subject,
       -- An unidentified OS is a gap: L1 at least scoring.yaml's l1.unknown, whatever else was found.
       greatest(coalesce(per.l1_counted, CASE WHEN per.n_findings = 0 THEN p.l1_unknown ELSE p.l1_all_accepted END),
                CASE WHEN unidentified.no_os THEN p.l1_unknown END) AS l1,
       coalesce(per.l1_found, p.l1_unknown)::INTEGER AS l1_raw,
       CASE WHEN unidentified.no_os AND p.l1_unknown >= coalesce(per.l1_counted, 0)
                THEN 'OS not identified (a coverage gap): scoring.yaml l1.unknown'
            WHEN per.l1_counted IS NOT NULL THEN 'worst finding: ' || per.l1_source
            WHEN per.n_findings = 0 THEN 'no findings: scoring.yaml l1.unknown'
            ELSE 'every finding accepted by an exception: scoring.yaml l1.all_accepted' END AS source,
       coalesce(per.worst_status, CASE WHEN per.n_findings = 0 THEN 'unknown' ELSE 'accepted' END) AS worst_status,
       coalesce(per.exceptions, []) AS exceptions
FROM per JOIN unidentified USING (scope, subject) CROSS JOIN risk_params p;

CREATE OR REPLACE TEMP TABLE risk_scores AS
SELECT scope, subject, 'likelihood' AS side, 'L1' AS criterion, l1::DOUBLE AS score, source FROM risk_l1
UNION ALL
SELECT s.scope, s.subject, a.side, a.criterion, a.score::DOUBLE,
       'assessment ' || a.file || ' (' || a.owner || ', ' || a.assessed || ')'
FROM risk_subjects s JOIN rule_assessments a ON a.system = s.system;

INSERT INTO risk_scores
SELECT s.scope, s.subject, d.side, 'default',
       CASE d.side WHEN 'likelihood' THEN p.likelihood_default ELSE p.impact_default END,
       'nothing assessed for this side: scoring.yaml ' || d.side || '.default_score'
FROM risk_subjects s CROSS JOIN (VALUES ('likelihood'), ('impact')) d(side) CROSS JOIN risk_params p
WHERE NOT EXISTS (SELECT 1 FROM risk_scores c WHERE c.scope = s.scope AND c.subject = s.subject AND c.side = d.side);

CREATE OR REPLACE TEMP TABLE risk_applied AS
SELECT s.scope, s.subject, ad.name, ad.side, ad.amount
FROM risk_subjects s JOIN rule_adjustments ad ON ad.exposed IS NOT NULL AND ad.exposed = s.exposed
UNION
SELECT rm.scope, rm.subject, ad.name, ad.side, ad.amount
FROM risk_members rm JOIN member_info mi USING (asset_id)
JOIN rule_adjustments ad ON ad.label IS NOT NULL AND list_contains(ad.label_values, element_at(mi.labels, ad.label)[1]);

CREATE OR REPLACE TEMP TABLE risk_sides AS
SELECT c.scope, c.subject, c.side, avg(c.score) AS mean, max(c.score) AS top,
       coalesce(any_value(a.adjust), 0) AS adjust
FROM risk_scores c
LEFT JOIN (SELECT scope, subject, side, sum(amount) AS adjust FROM risk_applied GROUP BY ALL) a
    USING (scope, subject, side)
GROUP BY c.scope, c.subject, c.side;

CREATE OR REPLACE TEMP TABLE risk_result AS
WITH sided AS (
    SELECT s.*, l.worst_status, l.l1, l.l1_raw, l.exceptions,
           lk.mean AS l_mean, lk.top AS l_max, lk.adjust AS l_adjust,
           greatest(1, least(p.likelihood_max, (lk.mean + lk.top) / 2 + lk.adjust)) AS likelihood,
           im.mean AS i_mean, im.top AS i_max, im.adjust AS i_adjust,
           greatest(1, least(p.impact_max, (im.mean + im.top) / 2 + im.adjust)) AS impact
    FROM risk_subjects s
    JOIN risk_l1 l USING (scope, subject)
    JOIN risk_sides lk ON lk.scope = s.scope AND lk.subject = s.subject AND lk.side = 'likelihood'
    JOIN risk_sides im ON im.scope = s.scope AND im.subject = s.subject AND im.side = 'impact'
    CROSS JOIN risk_params p
)
SELECT d.*, d.likelihood * d.impact AS overall,
       NOT EXISTS (SELECT 1 FROM risk_scores c WHERE c.scope = d.scope AND c.subject = d.subject
                   AND c.side = 'impact' AND c.criterion = 'default') AS impact_assessed,
       coalesce((SELECT list(DISTINCT CASE WHEN d.scope = 'asset' THEN g.gap ELSE rm.asset_id || ': ' || g.gap END
                             ORDER BY 1)[1:200]
                 FROM risk_members rm JOIN member_gaps mg USING (asset_id), unnest(mg.gaps) AS g(gap)
                 WHERE rm.scope = d.scope AND rm.subject = d.subject), []) AS coverage_gaps,
       (SELECT arg_max(b.band, b.min_score) FROM rule_bands b WHERE b.min_score <= d.likelihood * d.impact) AS band,
       coalesce((SELECT list(a.name ORDER BY a.name) FROM risk_applied a
                 WHERE a.scope = d.scope AND a.subject = d.subject), []) AS adjustments
FROM sided d;

DELETE FROM risk_criteria
WHERE scope = 'system' OR (scope = 'asset' AND subject IN (SELECT asset_id FROM scope_assets));
INSERT INTO risk_criteria SELECT scope, subject, side, criterion, score, source FROM risk_scores;

DELETE FROM asset_risk WHERE asset_id IN (SELECT asset_id FROM scope_assets);
INSERT INTO asset_risk
SELECT subject, hostname, system, worst_status, l1_raw, l_mean, l_max, l_adjust, likelihood,
       i_mean, i_max, i_adjust, impact, overall, coalesce(band, 'none'), exposed, adjustments, exceptions,
       l1 < l1_raw, getvariable('as_of')::DATE, coverage_gaps, impact_assessed
FROM risk_result WHERE scope = 'asset';

DELETE FROM system_risk;
INSERT INTO system_risk
SELECT subject, assets, worst_status, l1_raw, l_mean, l_max, l_adjust, likelihood,
       i_mean, i_max, i_adjust, impact, overall, coalesce(band, 'none'), exposed, adjustments, exceptions,
       l1 < l1_raw, getvariable('as_of')::DATE, coverage_gaps, impact_assessed
FROM risk_result WHERE scope = 'system';
