-- Migration 2: the run that read a text, and views for the questions analysts ask most.
ALTER TABLE paper_texts ADD COLUMN run_id INTEGER;

-- Papers per label and month of submission (relevance labels included), current model.
CREATE OR REPLACE VIEW label_monthly AS
SELECT date_trunc('month', p.published)::DATE AS month, l.label, count(*) AS papers
FROM paper_labels AS l JOIN papers AS p USING (arxiv_id)
WHERE p.published IS NOT NULL
GROUP BY ALL;

-- Every label in every month between the first and the last paper (zeros included), with changes.
CREATE OR REPLACE VIEW label_trends AS
WITH months AS (
    SELECT unnest(generate_series(date_trunc('month', min(published)), date_trunc('month', max(published)),
                                  INTERVAL 1 MONTH))::DATE AS month
    FROM papers
),
dense AS (
    SELECT m.month, l.label, coalesce(c.papers, 0) AS papers
    FROM months AS m CROSS JOIN (SELECT DISTINCT label FROM paper_labels) AS l
    LEFT JOIN label_monthly AS c ON c.month = m.month AND c.label = l.label
),
windowed AS (
    SELECT month, label, papers,
           lag(papers) OVER w AS previous_month,
           lag(papers, 12) OVER w AS same_month_last_year,
           sum(papers) OVER (w ROWS BETWEEN 11 PRECEDING AND CURRENT ROW) AS trailing_12m,
           sum(papers) OVER (w ROWS BETWEEN 23 PRECEDING AND 12 PRECEDING) AS previous_12m,
           count(*) OVER (w ROWS BETWEEN 23 PRECEDING AND CURRENT ROW) AS months_of_history
    FROM dense
    WINDOW w AS (PARTITION BY label ORDER BY month)
)
SELECT month, label, papers, previous_month,
       papers - previous_month AS change_vs_previous_month,
       same_month_last_year,
       trailing_12m,
       CASE WHEN months_of_history = 24 THEN previous_12m END AS previous_12m,
       CASE WHEN months_of_history = 24 AND previous_12m > 0 THEN trailing_12m / previous_12m - 1 END AS growth_12m
FROM windowed;

-- The newest run, with how many PDFs it could not read.
CREATE OR REPLACE VIEW latest_run AS
SELECT r.*, (SELECT count(*) FROM paper_texts t WHERE t.run_id = r.run_id AND t.status = 'failed') AS text_failures
FROM runs AS r
ORDER BY r.run_id DESC
LIMIT 1;

-- Everything that went wrong, newest first: failed runs and PDFs that could not be read.
CREATE OR REPLACE VIEW run_errors AS
SELECT r.run_id, r.finished_at AS occurred_at, 'run' AS kind, NULL AS arxiv_id, r.error AS reason
FROM runs AS r WHERE r.status = 'failed'
UNION ALL
SELECT t.run_id, t.extracted_at AS occurred_at, 'text' AS kind, t.arxiv_id, t.reason
FROM paper_texts AS t WHERE t.status = 'failed';

-- Papers still waiting for labels from the current model, or (audio-visual ones) for their text.
CREATE OR REPLACE VIEW pending_work AS
SELECT p.arxiv_id, 'labels' AS waiting_for
FROM papers AS p
WHERE NOT EXISTS (
    SELECT 1 FROM classifications AS c JOIN models AS m ON m.model_version = c.model_version AND m.is_current
    WHERE c.arxiv_id = p.arxiv_id AND c.content_hash = p.content_hash)
UNION ALL
SELECT p.arxiv_id, 'text' AS waiting_for
FROM papers AS p
JOIN classifications AS c ON c.arxiv_id = p.arxiv_id AND c.relevance = 'av'
JOIN models AS m ON m.model_version = c.model_version AND m.is_current
WHERE NOT EXISTS (SELECT 1 FROM paper_texts AS t WHERE t.arxiv_id = p.arxiv_id AND t.version = p.version);
