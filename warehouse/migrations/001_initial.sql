-- Migration 1: the initial schema. Meanings of every column: docs/schema.md.
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS papers (
    arxiv_id          VARCHAR PRIMARY KEY,
    version           INTEGER NOT NULL,
    title             VARCHAR NOT NULL,
    abstract          VARCHAR,
    authors           VARCHAR[] NOT NULL,
    categories        VARCHAR[] NOT NULL,
    primary_category  VARCHAR,
    comment           VARCHAR,
    published         TIMESTAMP,
    updated           TIMESTAMP,
    content_hash      VARCHAR NOT NULL,
    first_run_id      INTEGER,
    loaded_at         TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS paper_texts (
    arxiv_id      VARCHAR PRIMARY KEY,
    version       INTEGER NOT NULL,
    status        VARCHAR NOT NULL,   -- ok | failed
    reason        VARCHAR,
    pdf_sha256    VARCHAR,
    n_pages       INTEGER,
    n_chars       INTEGER,
    text          VARCHAR,
    extracted_at  TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS models (
    model_version  VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,
    registered_at  TIMESTAMP NOT NULL,
    is_current     BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS classifications (
    arxiv_id         VARCHAR NOT NULL,
    model_version    VARCHAR NOT NULL,
    relevance        VARCHAR NOT NULL,   -- av | context | none
    relevance_score  DOUBLE NOT NULL,
    best_task_score  DOUBLE NOT NULL,
    content_hash     VARCHAR NOT NULL,
    classified_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (arxiv_id, model_version)
);

CREATE TABLE IF NOT EXISTS predictions (
    arxiv_id       VARCHAR NOT NULL,
    model_version  VARCHAR NOT NULL,
    label          VARCHAR NOT NULL,
    score          DOUBLE NOT NULL,
    PRIMARY KEY (arxiv_id, model_version, label)
);

CREATE TABLE IF NOT EXISTS runs (
    run_id        INTEGER PRIMARY KEY,
    flow          VARCHAR NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    status        VARCHAR NOT NULL,   -- running | success | failed
    since         DATE,
    until         DATE,
    n_harvested   INTEGER,
    n_new         INTEGER,
    n_updated     INTEGER,
    n_classified  INTEGER,
    n_relevant    INTEGER,
    n_text_ok     INTEGER,
    n_text_failed INTEGER,
    durations     JSON,
    error         VARCHAR
);

CREATE OR REPLACE VIEW paper_labels AS
SELECT p.arxiv_id, p.label, p.score, p.model_version
FROM predictions AS p
JOIN models AS m ON m.model_version = p.model_version AND m.is_current;

CREATE OR REPLACE VIEW paper_sections AS
SELECT DISTINCT l.arxiv_id, split_part(l.label, '.', 1) || '.' || split_part(l.label, '.', 2) AS section,
       l.model_version
FROM paper_labels AS l
WHERE split_part(l.label, '.', 1) IN ('perception', 'generation', 'interaction');
