"""Relabel the whole warehouse with a registered model, downloading nothing, as one Prefect flow.

``avi reclassify`` runs it after ``avi train`` (or with ``--model VERSION`` to go back to an older
model, which then becomes current). Embeddings come from the cache, so an unchanged paper is never
embedded again; a paper that already has labels from that model for its current text is skipped, so a
second run changes nothing. Every model's labels stay in ``classifications`` and ``predictions``,
queryable by ``model_version``; the views show the current model's.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from avi_radar.settings import get_settings
from classify.registry import active_model, make_current_model
from classify.taxonomy import load_taxonomy
from flows.alerts import alert_failure
from flows.ingest import RunReport, classify_papers, mention_abstracts
from warehouse.db import Warehouse


@flow(name="avi-reclassify", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def reclassify(model_version: str | None = None) -> RunReport:
    """Label every paper with ``model_version`` (default: the current model), make it current, publish."""
    logger = get_run_logger()
    settings = get_settings()
    if model_version is not None:
        make_current_model(settings, model_version)
    version, kind = active_model(settings, load_taxonomy(settings.taxonomy_file))
    with Warehouse(settings.db_path, memory_limit=settings.warehouse_memory_limit) as warehouse:
        report = RunReport(run_id=warehouse.start_run("reclassify", None, None), since=None, until=None)
        try:
            started = time.monotonic()
            report.counts["n_classified"], report.counts["n_relevant"] = classify_papers(
                warehouse, settings, version, kind
            )
            mention_abstracts(warehouse, version)
            report.durations["classify_s"] = time.monotonic() - started
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            warehouse.finish_run(report.run_id, "failed", report.counts, report.durations, message)
            warehouse.publish()
            alert_failure(settings, "reclassify", report.run_id, message)
            raise
        warehouse.finish_run(report.run_id, "success", report.counts, report.durations)
        warehouse.publish()
    logger.info("reclassify run %d with %s: %s", report.run_id, version, report.counts)
    return report
