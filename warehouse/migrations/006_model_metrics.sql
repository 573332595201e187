-- Migration 6: each model's cross-validated figures beside it, so reports can say how far to trust its labels.
ALTER TABLE models ADD COLUMN metrics VARCHAR;
