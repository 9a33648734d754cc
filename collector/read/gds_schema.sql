-- The database of the GDS aggregator (estate-collector gds pull): pulls, answers, and their merged view.
CREATE SEQUENCE IF NOT EXISTS gds_pull_ids START 1;
CREATE TABLE IF NOT EXISTS gds_pulls (
    pull_id BIGINT PRIMARY KEY DEFAULT nextval('gds_pull_ids'),
    pulled_at TIMESTAMPTZ NOT NULL,
    as_of DATE,
    sources INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gds_sources (
    pull_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,
    as_of DATE,
    generated_at TIMESTAMPTZ,
    threshold INTEGER,
    stale_days INTEGER,
    reply_bytes BIGINT,
    seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS gds_tables (
    pull_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    row_dims VARCHAR[] NOT NULL,
    columns VARCHAR[] NOT NULL
);
CREATE TABLE IF NOT EXISTS gds_cells (
    pull_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    row_key VARCHAR[] NOT NULL,
    category VARCHAR,
    count BIGINT NOT NULL,
    withheld BOOLEAN NOT NULL
);
CREATE OR REPLACE VIEW gds_merged AS
SELECT c.pull_id, p.pulled_at, c.table_name, c.row_key, c.category, sum(c.count) AS count,
       bool_or(c.withheld) AS withheld, count(*) AS sources
FROM gds_cells c JOIN gds_pulls p USING (pull_id)
GROUP BY c.pull_id, p.pulled_at, c.table_name, c.row_key, c.category;
COMMENT ON TABLE gds_pulls IS 'Each pull of Summary from the collectors.';
COMMENT ON COLUMN gds_pulls.pull_id IS 'Pull number, increasing.';
COMMENT ON COLUMN gds_pulls.pulled_at IS 'When the pull started.';
COMMENT ON COLUMN gds_pulls.as_of IS 'Date asked for (NULL: each collector''s results of today).';
COMMENT ON COLUMN gds_pulls.sources IS 'Collectors asked.';
COMMENT ON COLUMN gds_pulls.failed IS 'Collectors that did not answer with a summary.';
COMMENT ON TABLE gds_sources IS 'What each collector answered in each pull.';
COMMENT ON COLUMN gds_sources.pull_id IS 'Pull.';
COMMENT ON COLUMN gds_sources.source IS 'Name given to the collector on the command line (NAME=ADDR), or its address.';
COMMENT ON COLUMN gds_sources.ok IS 'True when its summary was stored.';
COMMENT ON COLUMN gds_sources.error IS 'Why not, when it was not.';
COMMENT ON COLUMN gds_sources.as_of IS 'Date its statuses and risks are for.';
COMMENT ON COLUMN gds_sources.generated_at IS 'When the collector made the summary.';
COMMENT ON COLUMN gds_sources.threshold IS 'Its threshold: counts from 1 to threshold - 1 were withheld.';
COMMENT ON COLUMN gds_sources.stale_days IS 'Days without a report after which it counts an asset as stale.';
COMMENT ON COLUMN gds_sources.reply_bytes IS 'Size of its reply (serialized message).';
COMMENT ON COLUMN gds_sources.seconds IS 'Time its answer took.';
COMMENT ON TABLE gds_tables IS 'The aggregate tables each collector sent.';
COMMENT ON COLUMN gds_tables.pull_id IS 'Pull.';
COMMENT ON COLUMN gds_tables.source IS 'Collector.';
COMMENT ON COLUMN gds_tables.table_name IS 'status, band, systems, products, roadmap, roadmap_products, trend, seen, methods, lifecycle or assessments.';
COMMENT ON COLUMN gds_tables.unit IS 'What is counted: assets or systems.';
COMMENT ON COLUMN gds_tables.row_dims IS 'Names of the parts of row_key (organisation first).';
COMMENT ON COLUMN gds_tables.columns IS 'Categories that split each row, in order.';
COMMENT ON TABLE gds_cells IS 'Counts of the aggregate tables: one per row and category, row totals (category NULL) and column totals (row_key empty).';
COMMENT ON COLUMN gds_cells.pull_id IS 'Pull.';
COMMENT ON COLUMN gds_cells.source IS 'Collector.';
COMMENT ON COLUMN gds_cells.table_name IS 'Table.';
COMMENT ON COLUMN gds_cells.row_key IS 'Row key (organisation, then product and cycle, quarter or date); empty for the column totals.';
COMMENT ON COLUMN gds_cells.category IS 'Column (status, band, phase, method, quarter...); NULL for the row total.';
COMMENT ON COLUMN gds_cells.count IS 'The count; 0 when withheld.';
COMMENT ON COLUMN gds_cells.withheld IS 'True when the collector withheld it (small, or would reveal a small one from the totals).';
