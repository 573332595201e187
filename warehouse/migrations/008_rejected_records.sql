-- Migration 8: the dump lines a backfill could not load, kept with their reason instead of stopping it.
CREATE TABLE IF NOT EXISTS rejected_records (
    run_id INTEGER NOT NULL,
    source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL,
    arxiv_id VARCHAR,
    reason VARCHAR NOT NULL,
    excerpt VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
