-- The analyst views of 0004 read the labels the collector kept (issue 16: vocabulary and ownership
-- rules over the agent's labels), as scoring, the report, the Summary and the export do: they read
-- current_scored_reports, whose labels are the effective ones, instead of the agent's raw labels.
-- Replacing a view drops its descriptions, so they are given again.

CREATE OR REPLACE VIEW finding_details AS
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
JOIN current_scored_reports r USING (asset_id)
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

CREATE OR REPLACE VIEW exposed_eol_listeners AS
SELECT l.asset_id, r.hostname, element_at(r.labels, 'system')[1] AS system, l.protocol, l.address, l.port,
       l.process, list(DISTINCT f.product || ' ' || f.cycle ORDER BY f.product || ' ' || f.cycle) AS eol_products
FROM current_listeners l
JOIN current_scored_reports r USING (asset_id)
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
