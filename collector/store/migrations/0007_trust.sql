-- Data you can trust (issue 16): who sent each report, which certificate may speak for which asset,
-- revoked certificates, central ownership labels with their history, stale and retired assets.

-- Who sent each report (collector/security/senders.py fills these; NULL for reports stored before).
ALTER TABLE reports ADD COLUMN sender_kind VARCHAR;
ALTER TABLE reports ADD COLUMN sender_subject VARCHAR;
ALTER TABLE reports ADD COLUMN sender_fingerprint VARCHAR;
ALTER TABLE reports ADD COLUMN sender_role VARCHAR;
ALTER TABLE reports ADD COLUMN sender_user VARCHAR;
ALTER TABLE reports ADD COLUMN sender_file VARCHAR;
-- Where an SSH or SNMP sweep's report came from (Inventory.sweep, set by the agent).
ALTER TABLE reports ADD COLUMN sweep_scanner VARCHAR;
ALTER TABLE reports ADD COLUMN sweep_inventory VARCHAR;
ALTER TABLE reports ADD COLUMN sweep_entry VARCHAR;
ALTER TABLE reports ADD COLUMN sweep_target VARCHAR;
COMMENT ON COLUMN reports.sender_kind IS 'How the report arrived: certificate (mTLS client certificate), plaintext (loopback without TLS) or file (estate-collector ingest).';
COMMENT ON COLUMN reports.sender_subject IS 'Subject of the client certificate that sent it (RFC 4514), NULL otherwise.';
COMMENT ON COLUMN reports.sender_fingerprint IS 'SHA-256 fingerprint (hex) of the client certificate that sent it, NULL otherwise.';
COMMENT ON COLUMN reports.sender_role IS 'Role of that certificate (agent or scanner).';
COMMENT ON COLUMN reports.sender_user IS 'Local user (and host) who ran estate-collector ingest, or the peer address of a plaintext sender.';
COMMENT ON COLUMN reports.sender_file IS 'Report file loaded by estate-collector ingest.';
COMMENT ON COLUMN reports.sweep_scanner IS 'Who ran the SSH or SNMP sweep (user@host of estate-agent), from the report.';
COMMENT ON COLUMN reports.sweep_inventory IS 'Inventory file (or "command line") the sweep read its targets from.';
COMMENT ON COLUMN reports.sweep_entry IS 'Entry of that inventory the report came from (host name, or targets[N]).';
COMMENT ON COLUMN reports.sweep_target IS 'Address (host:port) the sweep reached.';

CREATE TABLE asset_bindings (
    fingerprint VARCHAR PRIMARY KEY,
    asset_id VARCHAR NOT NULL,
    subject VARCHAR,
    how VARCHAR NOT NULL,
    bound_at TIMESTAMPTZ NOT NULL,
    bound_by VARCHAR
);
COMMENT ON TABLE asset_bindings IS 'The one asset each agent certificate may report: bound on first contact or enrolled ahead.';
COMMENT ON COLUMN asset_bindings.fingerprint IS 'SHA-256 fingerprint (hex) of the agent certificate.';
COMMENT ON COLUMN asset_bindings.asset_id IS 'Asset the certificate may report.';
COMMENT ON COLUMN asset_bindings.subject IS 'Certificate subject (RFC 4514), where known.';
COMMENT ON COLUMN asset_bindings.how IS 'first-contact (trust on first use) or enrolled (estate-collector enrol).';
COMMENT ON COLUMN asset_bindings.bound_at IS 'When the binding was made.';
COMMENT ON COLUMN asset_bindings.bound_by IS 'Who enrolled it (user@host), NULL for first contact.';

CREATE TABLE certificate_revocations (
    fingerprint VARCHAR PRIMARY KEY,
    subject VARCHAR,
    revoked_at TIMESTAMPTZ NOT NULL,
    reason VARCHAR,
    revoked_by VARCHAR
);
COMMENT ON TABLE certificate_revocations IS 'Revoked client certificates (estate-collector certs revoke), refused from revoked_at on.';
COMMENT ON COLUMN certificate_revocations.fingerprint IS 'SHA-256 fingerprint (hex) of the revoked certificate.';
COMMENT ON COLUMN certificate_revocations.subject IS 'Its subject, where known.';
COMMENT ON COLUMN certificate_revocations.revoked_at IS 'When it was revoked.';
COMMENT ON COLUMN certificate_revocations.reason IS 'Why.';
COMMENT ON COLUMN certificate_revocations.revoked_by IS 'Who revoked it (user@host).';

CREATE TABLE asset_retirements (
    asset_id VARCHAR NOT NULL,
    retired_at TIMESTAMPTZ NOT NULL,
    reason VARCHAR NOT NULL,
    retired_by VARCHAR
);
COMMENT ON TABLE asset_retirements IS 'Decommissionings recorded by estate-collector retire (the latest per asset counts).';
COMMENT ON COLUMN asset_retirements.asset_id IS 'Asset retired.';
COMMENT ON COLUMN asset_retirements.retired_at IS 'When it was retired.';
COMMENT ON COLUMN asset_retirements.reason IS 'Why (change ticket, decommissioning note).';
COMMENT ON COLUMN asset_retirements.retired_by IS 'Who retired it (user@host).';

-- Ownership and vocabulary rules (rules/ownership/*.yaml, rules/vocabulary.yaml), replaced with the other rules.
CREATE TABLE rule_ownership (
    ord INTEGER NOT NULL,
    match_kind VARCHAR NOT NULL,
    match_value VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);
COMMENT ON TABLE rule_ownership IS 'Central ownership rules: labels given to the assets a rule matches, over what agents send (one row per label a rule sets).';
COMMENT ON COLUMN rule_ownership.ord IS 'Order of the rule in the rule files (first wins among rules of one kind).';
COMMENT ON COLUMN rule_ownership.match_kind IS 'What the rule matches, in precedence order: asset, hostname (glob), cidr, label.';
COMMENT ON COLUMN rule_ownership.match_value IS 'Asset id, host name pattern, CIDR range, or key=value of an agent label.';
COMMENT ON COLUMN rule_ownership.label IS 'Label key the rule sets (org, department, system, owner, criticality, environment, ...).';
COMMENT ON COLUMN rule_ownership.value IS 'Value it sets.';
COMMENT ON COLUMN rule_ownership.file IS 'Rule file.';
COMMENT ON COLUMN rule_ownership.line IS 'Line of the rule in that file.';

CREATE TABLE rule_vocabulary (
    key VARCHAR NOT NULL,
    allowed VARCHAR[],
    pattern VARCHAR,
    file VARCHAR NOT NULL,
    line INTEGER NOT NULL
);
COMMENT ON TABLE rule_vocabulary IS 'Label keys assets may carry and the values each allows (rules/vocabulary.yaml).';
COMMENT ON COLUMN rule_vocabulary.key IS 'Label key.';
COMMENT ON COLUMN rule_vocabulary.allowed IS 'The values allowed (a closed list), NULL when a pattern decides.';
COMMENT ON COLUMN rule_vocabulary.pattern IS 'Regular expression every value must match, NULL for a closed list.';
COMMENT ON COLUMN rule_vocabulary.file IS 'Rule file.';
COMMENT ON COLUMN rule_vocabulary.line IS 'Line of the key in that file.';

CREATE TABLE asset_label_history (
    asset_id VARCHAR NOT NULL,
    labels MAP(VARCHAR, VARCHAR) NOT NULL,
    sources MAP(VARCHAR, VARCHAR) NOT NULL,
    flags VARCHAR[] NOT NULL,
    report_id VARCHAR,
    rules_digest VARCHAR,
    valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ
);
COMMENT ON TABLE asset_label_history IS 'Effective labels of each asset as intervals: a new row whenever they change (label history).';
COMMENT ON COLUMN asset_label_history.asset_id IS 'Asset.';
COMMENT ON COLUMN asset_label_history.labels IS 'Effective labels: ownership rules over the agent''s labels, only vocabulary values.';
COMMENT ON COLUMN asset_label_history.sources IS 'Where each label came from: ownership FILE:LINE (asset, hostname, cidr or label rule) or agent.';
COMMENT ON COLUMN asset_label_history.flags IS 'Labels the agent sent that were refused (unknown key or value, or overridden by an ownership rule).';
COMMENT ON COLUMN asset_label_history.report_id IS 'Report whose labels were resolved.';
COMMENT ON COLUMN asset_label_history.rules_digest IS 'Rules in force when they were resolved (rule_loads.digest).';
COMMENT ON COLUMN asset_label_history.valid_from IS 'When these labels took effect.';
COMMENT ON COLUMN asset_label_history.valid_to IS 'When they were replaced; NULL while current.';

-- What scoring reads for labels: the open interval of each asset.
CREATE VIEW current_asset_labels AS
    SELECT asset_id, labels, sources, flags, valid_from FROM asset_label_history WHERE valid_to IS NULL;
COMMENT ON VIEW current_asset_labels IS 'Effective labels of each asset now (ownership rules over agent labels, vocabulary-checked).';
COMMENT ON COLUMN current_asset_labels.asset_id IS 'Asset.';
COMMENT ON COLUMN current_asset_labels.labels IS 'Effective labels.';
COMMENT ON COLUMN current_asset_labels.sources IS 'Where each label came from.';
COMMENT ON COLUMN current_asset_labels.flags IS 'Agent labels refused, and why.';
COMMENT ON COLUMN current_asset_labels.valid_from IS 'Since when.';

-- Every asset ever reported, with its status. stale_after_days comes from rules/scoring.yaml
-- (status.stale_after_days, default 30).
CREATE VIEW asset_status AS
WITH last_seen AS (
    SELECT asset_id, max(collected_at) AS last_seen, max(received_at) AS last_received FROM reports GROUP BY asset_id
), retired AS (
    SELECT asset_id, arg_max(retired_at, retired_at) AS retired_at, arg_max(reason, retired_at) AS reason
    FROM asset_retirements GROUP BY asset_id
), threshold AS (
    SELECT coalesce((SELECT value FROM rule_params WHERE name = 'stale_after_days'), 30) AS days
)
SELECT s.asset_id, s.last_seen, s.last_received, r.retired_at, r.reason AS retired_reason,
       CASE WHEN r.retired_at IS NOT NULL AND s.last_received > r.retired_at THEN 'reported-after-retirement'
            WHEN r.retired_at IS NOT NULL THEN 'retired'
            WHEN s.last_seen < now() - to_days(CAST(t.days AS INTEGER)) THEN 'stale'
            ELSE 'active' END AS status,
       (r.retired_at IS NULL OR s.last_received > r.retired_at)
           AND s.last_seen >= now() - to_days(CAST(t.days AS INTEGER)) AS in_risk
FROM last_seen s LEFT JOIN retired r USING (asset_id) CROSS JOIN threshold t;
COMMENT ON VIEW asset_status IS 'Every asset with its status: active, stale (not seen for stale_after_days), retired, or reported-after-retirement (flagged).';
COMMENT ON COLUMN asset_status.asset_id IS 'Asset.';
COMMENT ON COLUMN asset_status.last_seen IS 'When its latest report was collected.';
COMMENT ON COLUMN asset_status.last_received IS 'When its latest report arrived.';
COMMENT ON COLUMN asset_status.retired_at IS 'When it was retired (estate-collector retire), NULL if never.';
COMMENT ON COLUMN asset_status.retired_reason IS 'Why it was retired.';
COMMENT ON COLUMN asset_status.status IS 'active, stale, retired or reported-after-retirement.';
COMMENT ON COLUMN asset_status.in_risk IS 'True when the asset counts in current risk (not stale, not retired unless it reported again).';

-- The current reports that scoring reads: assets in risk only, with their effective labels
-- (the raw labels until the labels are first resolved).
CREATE VIEW current_scored_reports AS
    SELECT r.* REPLACE (coalesce(l.labels, r.labels) AS labels)
    FROM current_reports r
    LEFT JOIN current_asset_labels l USING (asset_id)
    SEMI JOIN (SELECT asset_id FROM asset_status WHERE in_risk) a USING (asset_id);
COMMENT ON VIEW current_scored_reports IS 'current_reports of the assets in risk (not stale or retired), with their effective labels: what scoring reads.';
