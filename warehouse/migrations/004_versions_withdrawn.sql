-- Migration 4: the history of every paper's versions, and withdrawn papers marked (never deleted).
ALTER TABLE papers ADD COLUMN withdrawn BOOLEAN DEFAULT false;

CREATE TABLE IF NOT EXISTS paper_versions (
    arxiv_id      VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    title         VARCHAR NOT NULL,
    abstract      VARCHAR,
    categories    VARCHAR[] NOT NULL,
    comment       VARCHAR,
    updated       TIMESTAMP,
    content_hash  VARCHAR NOT NULL,
    run_id        INTEGER,
    loaded_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (arxiv_id, version, content_hash)
);

INSERT INTO paper_versions
SELECT arxiv_id, version, title, abstract, categories, comment, updated, content_hash, first_run_id, loaded_at
FROM papers ON CONFLICT DO NOTHING;
