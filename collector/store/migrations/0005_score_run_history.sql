-- Score-run history: every scoring run gets a run_id and keeps its results in run_* tables, so a
-- run for another date (a roadmap for 2027-03-31, a look back) never overwrites the findings,
-- asset_risk, system_risk and risk_criteria of today, and trends read across runs.
-- The run_* tables repeat the columns of the tables they keep (0002); a run that scored only some
-- assets (the collector rescoring what it just stored) keeps the rows of those assets and every system.

CREATE SEQUENCE score_run_ids START 1;
ALTER TABLE score_runs ADD COLUMN run_id BIGINT DEFAULT nextval('score_run_ids');
ALTER TABLE score_runs ADD COLUMN live BOOLEAN DEFAULT true;
ALTER TABLE score_runs ADD COLUMN scope VARCHAR DEFAULT 'all';
UPDATE score_runs SET live = (as_of = CAST(scored_at AS DATE)), scope = 'unrecorded';

CREATE TABLE run_findings (
    run_id BIGINT NOT NULL,
    asset_id VARCHAR,
    report_id VARCHAR,
    kind VARCHAR,
    ns VARCHAR,
    name VARCHAR,
    version VARCHAR,
    observed VARCHAR[],
    observations BIGINT,
    matcher_id VARCHAR,
    matchers VARCHAR[],
    product VARCHAR,
    cycle_key VARCHAR,
    cycle VARCHAR,
    status VARCHAR,
    eoas DATE,
    eol DATE,
    eoes DATE,
    days_to_eoas INTEGER,
    days_to_eol INTEGER,
    days_to_eoes INTEGER,
    l1_score INTEGER,
    exception_id VARCHAR,
    as_of DATE
);

CREATE TABLE run_asset_risk (
    run_id BIGINT NOT NULL,
    asset_id VARCHAR,
    hostname VARCHAR,
    system VARCHAR,
    worst_status VARCHAR,
    l1_raw INTEGER,
    likelihood_mean DOUBLE,
    likelihood_max DOUBLE,
    likelihood_adjust DOUBLE,
    likelihood DOUBLE,
    impact_mean DOUBLE,
    impact_max DOUBLE,
    impact_adjust DOUBLE,
    impact DOUBLE,
    overall DOUBLE,
    band VARCHAR,
    exposed BOOLEAN,
    adjustments VARCHAR[],
    exceptions VARCHAR[],
    exception_changed BOOLEAN,
    as_of DATE
);

CREATE TABLE run_system_risk (
    run_id BIGINT NOT NULL,
    system VARCHAR,
    assets INTEGER,
    worst_status VARCHAR,
    l1_raw INTEGER,
    likelihood_mean DOUBLE,
    likelihood_max DOUBLE,
    likelihood_adjust DOUBLE,
    likelihood DOUBLE,
    impact_mean DOUBLE,
    impact_max DOUBLE,
    impact_adjust DOUBLE,
    impact DOUBLE,
    overall DOUBLE,
    band VARCHAR,
    exposed BOOLEAN,
    adjustments VARCHAR[],
    exceptions VARCHAR[],
    exception_changed BOOLEAN,
    as_of DATE
);

CREATE TABLE run_risk_criteria (
    run_id BIGINT NOT NULL,
    scope VARCHAR,
    subject VARCHAR,
    side VARCHAR,
    criterion VARCHAR,
    score DOUBLE,
    source VARCHAR
);

COMMENT ON COLUMN score_runs.run_id IS 'Run number, increasing; the run_* tables hold each run''s results under it.';
COMMENT ON COLUMN score_runs.live IS 'True when as_of was the day of the run: its results are today''s (findings, asset_risk, system_risk, risk_criteria). False for a run for another date (a roadmap), kept only in the run_* tables.';
COMMENT ON COLUMN score_runs.scope IS 'all (every current asset) or assets (only the assets just stored; their rows and every system are kept); unrecorded for runs before migration 0005.';
COMMENT ON TABLE run_findings IS 'Findings of each scoring run (score_runs.run_id), as findings holds today''s.';
COMMENT ON COLUMN run_findings.run_id IS 'Scoring run (score_runs.run_id).';
COMMENT ON COLUMN run_findings.asset_id IS 'Asset.';
COMMENT ON COLUMN run_findings.report_id IS 'Report the observations come from.';
COMMENT ON COLUMN run_findings.kind IS 'os, kernel, package, software or device.';
COMMENT ON COLUMN run_findings.ns IS 'Package manager, vendor or OS family of the observation.';
COMMENT ON COLUMN run_findings.name IS 'Name observed (first of the group).';
COMMENT ON COLUMN run_findings.version IS 'Version observed (first of the group).';
COMMENT ON COLUMN run_findings.observed IS 'Up to 20 observations (name and version) grouped into the finding.';
COMMENT ON COLUMN run_findings.observations IS 'How many observations the finding groups.';
COMMENT ON COLUMN run_findings.matcher_id IS 'First matcher that mapped it (NULL: nothing matched).';
COMMENT ON COLUMN run_findings.matchers IS 'Every matcher that mapped one of its observations to this product and cycle.';
COMMENT ON COLUMN run_findings.product IS 'Product (NULL: unknown).';
COMMENT ON COLUMN run_findings.cycle_key IS 'Cycle read from the observation before lookup.';
COMMENT ON COLUMN run_findings.cycle IS 'Cycle found in the lifecycle (NULL: unknown).';
COMMENT ON COLUMN run_findings.status IS 'eol, extended (extended support only), eol_soon (within the window), supported or unknown.';
COMMENT ON COLUMN run_findings.eoas IS 'End of active support.';
COMMENT ON COLUMN run_findings.eol IS 'End of security support.';
COMMENT ON COLUMN run_findings.eoes IS 'End of extended support.';
COMMENT ON COLUMN run_findings.days_to_eoas IS 'Days from as_of to end of active support (negative: passed).';
COMMENT ON COLUMN run_findings.days_to_eol IS 'Days from as_of to end of life (negative: passed).';
COMMENT ON COLUMN run_findings.days_to_eoes IS 'Days from as_of to end of extended support (negative: passed).';
COMMENT ON COLUMN run_findings.l1_score IS 'Likelihood criterion L1 score of this finding (scoring.yaml l1).';
COMMENT ON COLUMN run_findings.exception_id IS 'Exception accepting this finding (it then does not count towards L1).';
COMMENT ON COLUMN run_findings.as_of IS 'Date the status is for.';
COMMENT ON TABLE run_asset_risk IS 'Asset risk of each scoring run (score_runs.run_id), as asset_risk holds today''s.';
COMMENT ON COLUMN run_asset_risk.run_id IS 'Scoring run (score_runs.run_id).';
COMMENT ON COLUMN run_asset_risk.asset_id IS 'Asset.';
COMMENT ON COLUMN run_asset_risk.hostname IS 'Host name of its current report.';
COMMENT ON COLUMN run_asset_risk.system IS 'System label of the asset.';
COMMENT ON COLUMN run_asset_risk.worst_status IS 'Worst status among its findings that count.';
COMMENT ON COLUMN run_asset_risk.l1_raw IS 'L1 before exceptions.';
COMMENT ON COLUMN run_asset_risk.likelihood_mean IS 'Mean of the likelihood criteria scored.';
COMMENT ON COLUMN run_asset_risk.likelihood_max IS 'Highest likelihood criterion.';
COMMENT ON COLUMN run_asset_risk.likelihood_adjust IS 'Sum of likelihood adjustments applied.';
COMMENT ON COLUMN run_asset_risk.likelihood IS '(mean + max) / 2 + adjustments, capped to 1..likelihood max.';
COMMENT ON COLUMN run_asset_risk.impact_mean IS 'Mean of the impact criteria scored.';
COMMENT ON COLUMN run_asset_risk.impact_max IS 'Highest impact criterion.';
COMMENT ON COLUMN run_asset_risk.impact_adjust IS 'Sum of impact adjustments applied.';
COMMENT ON COLUMN run_asset_risk.impact IS '(mean + max) / 2 + adjustments, capped to 1..impact max.';
COMMENT ON COLUMN run_asset_risk.overall IS 'likelihood x impact (out of 30 with the framework''s scales).';
COMMENT ON COLUMN run_asset_risk.band IS 'Band of the overall score (red, amber, green).';
COMMENT ON COLUMN run_asset_risk.exposed IS 'Listens beyond loopback.';
COMMENT ON COLUMN run_asset_risk.adjustments IS 'Adjustments applied.';
COMMENT ON COLUMN run_asset_risk.exceptions IS 'Exceptions that accepted findings of this asset.';
COMMENT ON COLUMN run_asset_risk.exception_changed IS 'True when the exceptions lowered L1.';
COMMENT ON COLUMN run_asset_risk.as_of IS 'Date the risk is for.';
COMMENT ON TABLE run_system_risk IS 'System risk of each scoring run (score_runs.run_id), as system_risk holds today''s.';
COMMENT ON COLUMN run_system_risk.run_id IS 'Scoring run (score_runs.run_id).';
COMMENT ON COLUMN run_system_risk.system IS 'System.';
COMMENT ON COLUMN run_system_risk.assets IS 'Assets in the system.';
COMMENT ON COLUMN run_system_risk.worst_status IS 'Worst status among the system''s findings that count.';
COMMENT ON COLUMN run_system_risk.l1_raw IS 'L1 before exceptions (worst over the assets).';
COMMENT ON COLUMN run_system_risk.likelihood_mean IS 'Mean of the likelihood criteria scored.';
COMMENT ON COLUMN run_system_risk.likelihood_max IS 'Highest likelihood criterion.';
COMMENT ON COLUMN run_system_risk.likelihood_adjust IS 'Sum of likelihood adjustments applied.';
COMMENT ON COLUMN run_system_risk.likelihood IS '(mean + max) / 2 + adjustments, capped.';
COMMENT ON COLUMN run_system_risk.impact_mean IS 'Mean of the impact criteria scored.';
COMMENT ON COLUMN run_system_risk.impact_max IS 'Highest impact criterion.';
COMMENT ON COLUMN run_system_risk.impact_adjust IS 'Sum of impact adjustments applied.';
COMMENT ON COLUMN run_system_risk.impact IS '(mean + max) / 2 + adjustments, capped.';
COMMENT ON COLUMN run_system_risk.overall IS 'likelihood x impact.';
COMMENT ON COLUMN run_system_risk.band IS 'Band of the overall score.';
COMMENT ON COLUMN run_system_risk.exposed IS 'Some asset of the system listens beyond loopback.';
COMMENT ON COLUMN run_system_risk.adjustments IS 'Adjustments applied.';
COMMENT ON COLUMN run_system_risk.exceptions IS 'Exceptions that accepted findings in the system.';
COMMENT ON COLUMN run_system_risk.exception_changed IS 'True when the exceptions lowered L1.';
COMMENT ON COLUMN run_system_risk.as_of IS 'Date the risk is for.';
COMMENT ON TABLE run_risk_criteria IS 'Criterion scores behind the risks of each scoring run (score_runs.run_id), as risk_criteria holds today''s.';
COMMENT ON COLUMN run_risk_criteria.run_id IS 'Scoring run (score_runs.run_id).';
COMMENT ON COLUMN run_risk_criteria.scope IS 'asset or system.';
COMMENT ON COLUMN run_risk_criteria.subject IS 'Asset id or system name.';
COMMENT ON COLUMN run_risk_criteria.side IS 'likelihood or impact.';
COMMENT ON COLUMN run_risk_criteria.criterion IS 'Criterion id.';
COMMENT ON COLUMN run_risk_criteria.score IS 'Score.';
COMMENT ON COLUMN run_risk_criteria.source IS 'Where the score came from (worst finding, assessment file, default).';
