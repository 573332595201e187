"""Invariants of the warehouse, verified by ``avi check``."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.db import Warehouse


@dataclass(frozen=True)
class Check:
    """One invariant: a query that counts the rows breaking it (``{texts_per_run}`` stands for the setting)."""

    name: str
    sql: str


CHECKS = (
    Check("every label belongs to a paper", "SELECT count(*) FROM predictions p ANTI JOIN papers USING (arxiv_id)"),
    Check(
        "every classification belongs to a paper",
        "SELECT count(*) FROM classifications c ANTI JOIN papers USING (arxiv_id)",
    ),
    Check(
        "every prediction names a registered model version",
        "SELECT count(*) FROM predictions p ANTI JOIN models USING (model_version)",
    ),
    Check("at most one current model", "SELECT greatest(count(*) - 1, 0) FROM models WHERE is_current"),
    Check(
        "one relevance decision per paper and model",
        """SELECT count(*) FROM (SELECT arxiv_id, model_version FROM predictions
             WHERE label LIKE 'relevance:%' GROUP BY ALL HAVING count(*) <> 1)""",
    ),
    Check(
        # a night reads at most AVI_TEXTS_PER_RUN PDFs, so a backfill's papers wait for the nights after it; a
        # night that read fewer had read every paper waiting when it ran, and none classified then may wait
        "every audio-visual paper has its text or an extraction error, or waits for a night with room to read it",
        """WITH last_night AS (SELECT finished_at, coalesce(n_text_ok, 0) + coalesce(n_text_failed, 0) AS texts_read
                                FROM runs WHERE flow = 'ingest' AND status = 'success'
                                ORDER BY run_id DESC LIMIT 1)
             SELECT count(*) FROM pending_work w
             JOIN classifications c ON c.arxiv_id = w.arxiv_id
             JOIN models m ON m.model_version = c.model_version AND m.is_current
             JOIN last_night n ON c.classified_at < n.finished_at AND n.texts_read < {texts_per_run}
             WHERE w.waiting_for = 'text'""",
    ),
    Check(
        "every paper has labels from the current model",
        "SELECT count(*) FROM pending_work WHERE waiting_for = 'labels'",
    ),
    Check(
        "no run was left unfinished (a crash the runs table did not record)",
        "SELECT count(*) FROM runs WHERE status = 'running'",
    ),
    Check(
        "the watermark covers every ingested paper",
        """SELECT count(*) FROM papers p JOIN runs r ON r.run_id = p.first_run_id AND r.flow = 'ingest'
             WHERE p.published >= (SELECT max(until) + 1 FROM runs WHERE flow = 'ingest' AND status = 'success')""",
    ),
    Check(
        "every successful window ends at or before the watermark",
        """SELECT count(*) FROM runs WHERE flow = 'ingest' AND status = 'success'
             AND until > (SELECT max(until) FROM runs WHERE flow = 'ingest' AND status = 'success')""",
    ),
)


def run_checks(warehouse: Warehouse, texts_per_run: int) -> list[tuple[Check, int]]:
    """Each check with the number of rows that break it (0 = holds); ``texts_per_run``: the PDFs a night reads."""
    return [
        (check, int(warehouse.query(check.sql.replace("{texts_per_run}", str(texts_per_run)))[1][0][0] or 0))
        for check in CHECKS
    ]


def text_backlog(warehouse: Warehouse) -> int:
    """Audio-visual papers waiting for their text: what the next nights will read."""
    return int(warehouse.query("SELECT count(*) FROM pending_work WHERE waiting_for = 'text'")[1][0][0])


def labelling_model(warehouse: Warehouse) -> str | None:
    """The model version whose labels count in the warehouse (the one an ingest or reclassification registered
    last); None before any paper was labelled."""
    rows = warehouse.query("SELECT model_version FROM models WHERE is_current")[1]
    return rows[0][0] if rows else None
