-- Migration 7: how near each paper's task labels are to their thresholds, so `avi label` can ask about them too.
ALTER TABLE classifications ADD COLUMN label_margin DOUBLE;
