-- Views and table macros an analyst starts from (docs/questions.md uses them). They read only
-- today's results (findings, asset_risk, system_risk, risk_criteria), the current_* views and the
-- rule tables, never how history is stored, so they stay valid however the store keeps it.

-- Every finding with the host it is on, its labels, the product and cycle and every lifecycle date.
CREATE VIEW finding_details AS
SELECT f.asset_id, r.hostname, r.fqdn,
       element_at(r.labels, 'org')[1] AS org,
       element_at(r.labels, 'system')[1] AS system,
       element_at(r.labels, 'environment')[1] AS environment,
       element_at(r.labels, 'owner')[1] AS owner,
       element_at(r.labels, 'criticality')[1] AS criticality,
       r.labels,
       coalesce(nullif(r.os_pretty_name, ''), trim(coalesce(r.os_id, '') || ' ' || coalesce(r.os_version_id, '')))
           AS os,
       f.kind, f.ns, f.name, f.version, f.observations,
       f.product, p.title AS product_title, p.category AS product_category,
       f.cycle, c.label AS cycle_label, c.codename, c.lts,
       f.status,
       c.release_date, f.eoas, f.eol, f.eoes, c.eol_flag, c.eoes_flag,
       f.days_to_eoas, f.days_to_eol, f.days_to_eoes,
       c.latest, c.latest_date,
       f.l1_score, f.exception_id, f.as_of, r.collected_at, f.report_id
FROM findings f
JOIN current_reports r USING (asset_id)
LEFT JOIN rule_products p ON p.product = f.product
LEFT JOIN rule_cycles c ON c.product = f.product AND c.cycle = f.cycle;

COMMENT ON VIEW finding_details IS 'Every finding with its host (hostname, labels, OS), product, cycle, support status and all lifecycle dates: the place to start.';
COMMENT ON COLUMN finding_details.asset_id IS 'Asset the finding is on.';
COMMENT ON COLUMN finding_details.hostname IS 'Host name of the asset''s current report.';
COMMENT ON COLUMN finding_details.fqdn IS 'Fully qualified domain name, where known.';
COMMENT ON COLUMN finding_details.org IS 'Label org (organisation).';
COMMENT ON COLUMN finding_details.system IS 'Label system (the service the asset belongs to).';
COMMENT ON COLUMN finding_details.environment IS 'Label environment (production, test, ...).';
COMMENT ON COLUMN finding_details.owner IS 'Label owner.';
COMMENT ON COLUMN finding_details.criticality IS 'Label criticality.';
COMMENT ON COLUMN finding_details.labels IS 'Every label of the asset.';
COMMENT ON COLUMN finding_details.os IS 'Operating system of the asset, for people.';
COMMENT ON COLUMN finding_details.kind IS 'os, kernel, package, software or device.';
COMMENT ON COLUMN finding_details.ns IS 'Package manager, vendor or OS family of the observation.';
COMMENT ON COLUMN finding_details.name IS 'Name observed.';
COMMENT ON COLUMN finding_details.version IS 'Version observed.';
COMMENT ON COLUMN finding_details.observations IS 'How many observations the finding groups.';
COMMENT ON COLUMN finding_details.product IS 'Product (NULL: no rule knows it).';
COMMENT ON COLUMN finding_details.product_title IS 'Product name for people.';
COMMENT ON COLUMN finding_details.product_category IS 'Product category (os, lang, server-app, ...).';
COMMENT ON COLUMN finding_details.cycle IS 'Release cycle (NULL: unknown).';
COMMENT ON COLUMN finding_details.cycle_label IS 'Release label for people, where given.';
COMMENT ON COLUMN finding_details.codename IS 'Release codename, where given.';
COMMENT ON COLUMN finding_details.lts IS 'Long-term support cycle.';
COMMENT ON COLUMN finding_details.status IS 'eol, extended (extended support only), eol_soon, supported or unknown, as of as_of.';
COMMENT ON COLUMN finding_details.release_date IS 'First release of the cycle.';
COMMENT ON COLUMN finding_details.eoas IS 'End of active support (bug fixes).';
COMMENT ON COLUMN finding_details.eol IS 'End of security support (end of life): from this day on the cycle is out of support.';
COMMENT ON COLUMN finding_details.eoes IS 'End of extended (paid) support.';
COMMENT ON COLUMN finding_details.eol_flag IS 'Security support ended (true) or has no announced end (false) when the source gives no date.';
COMMENT ON COLUMN finding_details.eoes_flag IS 'Extended support ended (true) or is offered with no end (false) when the source gives no date.';
COMMENT ON COLUMN finding_details.days_to_eoas IS 'Days from as_of to end of active support (negative: passed).';
COMMENT ON COLUMN finding_details.days_to_eol IS 'Days from as_of to end of life (negative: passed).';
COMMENT ON COLUMN finding_details.days_to_eoes IS 'Days from as_of to end of extended support (negative: passed).';
COMMENT ON COLUMN finding_details.latest IS 'Latest release in the cycle.';
COMMENT ON COLUMN finding_details.latest_date IS 'Date of the latest release.';
COMMENT ON COLUMN finding_details.l1_score IS 'Likelihood criterion L1 score of this finding.';
COMMENT ON COLUMN finding_details.exception_id IS 'Exception accepting this finding, if any.';
COMMENT ON COLUMN finding_details.as_of IS 'Date the status is for.';
COMMENT ON COLUMN finding_details.collected_at IS 'When the asset''s current report was collected.';
COMMENT ON COLUMN finding_details.report_id IS 'Report the observations come from.';

-- One row per finding and support phase, with the day the phase ends (or NULL when the source says
-- only that it has ended): what eol_before and upcoming_eol select from.
CREATE VIEW support_phase_ends AS
SELECT d.asset_id, d.hostname, d.org, d.system, d.kind, d.name, d.version, d.product, d.product_title,
       d.cycle, d.status, ph.phase, ph.ends_on, d.exception_id, d.as_of
FROM finding_details d,
     LATERAL (VALUES ('active', d.eoas, NULL::BOOLEAN),
                     ('security', d.eol, d.eol_flag),
                     ('extended', d.eoes, d.eoes_flag)) ph(phase, ends_on, ended_flag)
WHERE d.product IS NOT NULL AND d.cycle IS NOT NULL
  AND (ph.ends_on IS NOT NULL OR ph.ended_flag IS TRUE);

COMMENT ON VIEW support_phase_ends IS 'When each support phase (active, security, extended) of each finding ends: one row per finding and dated (or ended) phase.';
COMMENT ON COLUMN support_phase_ends.asset_id IS 'Asset.';
COMMENT ON COLUMN support_phase_ends.hostname IS 'Host name.';
COMMENT ON COLUMN support_phase_ends.org IS 'Label org.';
COMMENT ON COLUMN support_phase_ends.system IS 'Label system.';
COMMENT ON COLUMN support_phase_ends.kind IS 'os, kernel, package, software or device.';
COMMENT ON COLUMN support_phase_ends.name IS 'Name observed.';
COMMENT ON COLUMN support_phase_ends.version IS 'Version observed.';
COMMENT ON COLUMN support_phase_ends.product IS 'Product.';
COMMENT ON COLUMN support_phase_ends.product_title IS 'Product name for people.';
COMMENT ON COLUMN support_phase_ends.cycle IS 'Release cycle.';
COMMENT ON COLUMN support_phase_ends.status IS 'Support status as of as_of.';
COMMENT ON COLUMN support_phase_ends.phase IS 'active (bug fixes), security (end of life) or extended (paid support).';
COMMENT ON COLUMN support_phase_ends.ends_on IS 'First day without that support; NULL when the source says it has ended without a day.';
COMMENT ON COLUMN support_phase_ends.exception_id IS 'Exception accepting the finding, if any.';
COMMENT ON COLUMN support_phase_ends.as_of IS 'Date the status is for.';

-- Everything out of support, in any phase, before a date: eol_before(DATE '2027-03-31').
CREATE MACRO eol_before(cutoff) AS TABLE
SELECT * FROM support_phase_ends
WHERE ends_on < CAST(cutoff AS DATE) OR (ends_on IS NULL AND as_of < CAST(cutoff AS DATE))
ORDER BY ends_on NULLS FIRST, hostname, product, phase;

COMMENT ON MACRO TABLE eol_before IS 'eol_before(DATE): every finding and support phase (active, security, extended) that ends before the date, ended ones included; columns of support_phase_ends.';

-- What ends within N days of the scoring date: upcoming_eol(90).
CREATE MACRO upcoming_eol(days) AS TABLE
SELECT *, (ends_on - as_of)::INTEGER AS days_left FROM support_phase_ends
WHERE ends_on >= as_of AND ends_on <= as_of + CAST(days AS INTEGER)
ORDER BY ends_on, hostname, product, phase;

COMMENT ON MACRO TABLE upcoming_eol IS 'upcoming_eol(N): every finding and support phase that ends within N days from as_of (the date scored, normally today); columns of support_phase_ends and days_left.';

-- Why each red system is red: the criteria that made its score and, for L1, the findings behind it.
CREATE VIEW red_system_reasons AS
WITH behind AS (
    SELECT d.system,
           list({'hostname': d.hostname, 'asset_id': d.asset_id, 'product': coalesce(d.product, d.name),
                 'cycle': d.cycle, 'status': d.status, 'eol': d.eol, 'l1_score': d.l1_score}
                ORDER BY d.l1_score DESC, d.hostname, d.product) AS findings
    FROM finding_details d
    WHERE d.system IS NOT NULL AND d.exception_id IS NULL AND d.status IN ('eol', 'extended', 'eol_soon')
    GROUP BY d.system
)
SELECT s.system, s.assets, s.overall, s.band, s.likelihood, s.impact, s.worst_status, s.exposed, s.adjustments,
       c.side, c.criterion, rc.title AS criterion_title, c.score, c.source,
       CASE WHEN c.criterion = 'L1' THEN b.findings END AS findings,
       s.as_of
FROM system_risk s
JOIN rule_bands top ON top.band = s.band
JOIN risk_criteria c ON c.scope = 'system' AND c.subject = s.system
LEFT JOIN rule_criteria rc ON rc.side = c.side AND rc.criterion = c.criterion
LEFT JOIN behind b ON b.system = s.system
WHERE top.min_score = (SELECT max(min_score) FROM rule_bands);

COMMENT ON VIEW red_system_reasons IS 'Why each system in the highest band (red) is there: one row per criterion scored, with its score and source, and for L1 the lifecycle findings behind it.';
COMMENT ON COLUMN red_system_reasons.system IS 'System (label system).';
COMMENT ON COLUMN red_system_reasons.assets IS 'Assets in the system.';
COMMENT ON COLUMN red_system_reasons.overall IS 'likelihood x impact.';
COMMENT ON COLUMN red_system_reasons.band IS 'Band (the highest of rules/scoring.yaml).';
COMMENT ON COLUMN red_system_reasons.likelihood IS 'Likelihood of the system.';
COMMENT ON COLUMN red_system_reasons.impact IS 'Impact of the system.';
COMMENT ON COLUMN red_system_reasons.worst_status IS 'Worst support status among its findings that count.';
COMMENT ON COLUMN red_system_reasons.exposed IS 'Some asset of the system listens beyond loopback.';
COMMENT ON COLUMN red_system_reasons.adjustments IS 'Adjustments of scoring.yaml applied (exposure, labels).';
COMMENT ON COLUMN red_system_reasons.side IS 'likelihood or impact.';
COMMENT ON COLUMN red_system_reasons.criterion IS 'Criterion id (L1..., C1...).';
COMMENT ON COLUMN red_system_reasons.criterion_title IS 'What the criterion measures.';
COMMENT ON COLUMN red_system_reasons.score IS 'Score of the criterion.';
COMMENT ON COLUMN red_system_reasons.source IS 'Where the score came from (worst finding, assessment file, default).';
COMMENT ON COLUMN red_system_reasons.findings IS 'For L1: the findings out of support or near it that no exception accepts (host, product, cycle, status, end of life, L1 score), worst first.';
COMMENT ON COLUMN red_system_reasons.as_of IS 'Date the risk is for.';

-- Listeners beyond loopback on assets with software out of support.
CREATE VIEW exposed_eol_listeners AS
SELECT l.asset_id, r.hostname, element_at(r.labels, 'system')[1] AS system, l.protocol, l.address, l.port,
       l.process, list(DISTINCT f.product || ' ' || f.cycle ORDER BY f.product || ' ' || f.cycle) AS eol_products
FROM current_listeners l
JOIN current_reports r USING (asset_id)
JOIN findings f ON f.asset_id = l.asset_id AND f.status IN ('eol', 'extended') AND f.exception_id IS NULL
WHERE l.exposed
GROUP BY ALL;

COMMENT ON VIEW exposed_eol_listeners IS 'Sockets listening beyond loopback on assets that run something past its end of life (eol or extended support only), with those products.';
COMMENT ON COLUMN exposed_eol_listeners.asset_id IS 'Asset.';
COMMENT ON COLUMN exposed_eol_listeners.hostname IS 'Host name.';
COMMENT ON COLUMN exposed_eol_listeners.system IS 'Label system.';
COMMENT ON COLUMN exposed_eol_listeners.protocol IS 'tcp, tcp6, udp or udp6.';
COMMENT ON COLUMN exposed_eol_listeners.address IS 'Address listened on.';
COMMENT ON COLUMN exposed_eol_listeners.port IS 'Port.';
COMMENT ON COLUMN exposed_eol_listeners.process IS 'Process listening, where known.';
COMMENT ON COLUMN exposed_eol_listeners.eol_products IS 'Products and cycles past end of life on the asset (no exception).';

-- The current_* views of 0001 get their descriptions here (their columns are those of the table they
-- read; docs/schema.md shows those tables' column descriptions for them).
COMMENT ON VIEW current_reports IS 'The latest report of each asset (by collection time, then arrival): the estate as it is now.';
COMMENT ON VIEW current_packages IS 'Packages of each asset''s latest report.';
COMMENT ON VIEW current_software IS 'Runtimes and servers of each asset''s latest report.';
COMMENT ON VIEW current_listeners IS 'Listening sockets of each asset''s latest report.';
COMMENT ON VIEW current_interfaces IS 'Network interfaces of each asset''s latest report.';
COMMENT ON VIEW current_devices IS 'SNMP device facts of each asset''s latest report.';
