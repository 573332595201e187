-- Migration 11: each trained model's label thresholds, so that a query can tell a label that passed its
-- threshold from the best task label an audio-visual paper is given when none passed (docs/schema.md).
CREATE TABLE IF NOT EXISTS label_thresholds (
    model_version VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    threshold DOUBLE NOT NULL,
    PRIMARY KEY (model_version, label)
);
