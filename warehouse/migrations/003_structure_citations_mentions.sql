-- Migration 3: structure of the full text, the references between papers, and named datasets/benchmarks/metrics.
ALTER TABLE paper_texts ADD COLUMN n_figures INTEGER;
ALTER TABLE paper_texts ADD COLUMN n_tables INTEGER;
ALTER TABLE paper_texts ADD COLUMN n_references INTEGER;

CREATE TABLE IF NOT EXISTS paper_parts (
    arxiv_id  VARCHAR NOT NULL,
    position  INTEGER NOT NULL,
    part      VARCHAR NOT NULL,   -- front | abstract | introduction | related_work | method | experiments | ...
    heading   VARCHAR NOT NULL,
    text      VARCHAR NOT NULL,
    PRIMARY KEY (arxiv_id, position)
);

CREATE TABLE IF NOT EXISTS citations (
    citing_id  VARCHAR NOT NULL,
    cited_id   VARCHAR NOT NULL,
    PRIMARY KEY (citing_id, cited_id)
);

CREATE TABLE IF NOT EXISTS mentions (
    arxiv_id    VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,   -- dataset | benchmark | metric
    mentions    INTEGER NOT NULL,
    source      VARCHAR NOT NULL,   -- text | abstract
    introduced  BOOLEAN NOT NULL,
    PRIMARY KEY (arxiv_id, name)
);

-- Citations between papers that are both in the warehouse.
CREATE OR REPLACE VIEW citation_links AS
SELECT c.citing_id, c.cited_id, cited.title AS cited_title, cited.published AS cited_published
FROM citations AS c JOIN papers AS cited ON cited.arxiv_id = c.cited_id
WHERE EXISTS (SELECT 1 FROM papers AS citing WHERE citing.arxiv_id = c.citing_id);

-- Each name with the paper and date it was first seen, and who introduced it.
CREATE OR REPLACE VIEW mention_first_seen AS
SELECT m.name, any_value(m.kind) AS kind,
       min(p.published)::DATE AS first_seen,
       arg_min(m.arxiv_id, p.published) AS first_arxiv_id,
       arg_min(m.arxiv_id, p.published) FILTER (WHERE m.introduced) AS introduced_by,
       count(*) AS papers, sum(m.mentions) AS mentions
FROM mentions AS m JOIN papers AS p USING (arxiv_id)
GROUP BY m.name;

-- Names first seen in each month: the new datasets, benchmarks and metrics of the month.
CREATE OR REPLACE VIEW new_mentions_monthly AS
SELECT date_trunc('month', first_seen)::DATE AS month, name, kind, first_arxiv_id, introduced_by, papers
FROM mention_first_seen;
