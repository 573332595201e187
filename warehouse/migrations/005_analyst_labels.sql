-- Migration 5: the analysts' own decisions (`avi label`), which `avi train` uses over the seed labels.
CREATE TABLE IF NOT EXISTS analyst_labels (
    arxiv_id      VARCHAR NOT NULL PRIMARY KEY,
    relevance     VARCHAR NOT NULL CHECK (relevance IN ('av', 'context', 'none')),
    labels        VARCHAR[] NOT NULL,
    analyst       VARCHAR NOT NULL,
    note          VARCHAR,
    model_version VARCHAR,
    labeled_at    TIMESTAMP NOT NULL
);
