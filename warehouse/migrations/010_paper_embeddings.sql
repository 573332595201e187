-- Migration 10: every embedded paper's vector, for search by meaning (avi search, avi similar).
CREATE TABLE IF NOT EXISTS paper_embeddings (
    arxiv_id VARCHAR PRIMARY KEY,
    embedding VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    vector FLOAT[384] NOT NULL,
    embedded_at TIMESTAMP NOT NULL
);
