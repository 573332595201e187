-- Migration 9: how far each backfill file was loaded, committed with each batch, so a killed import resumes.
CREATE TABLE IF NOT EXISTS import_checkpoints (
    source_file VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    lines_done BIGINT NOT NULL,
    complete BOOLEAN NOT NULL,
    run_id INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
