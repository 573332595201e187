"""Relabel the whole warehouse with a registered model, downloading nothing, as one Prefect flow.

``avi reclassify`` runs it after ``avi train`` (or with ``--model VERSION`` to go back to an older
model, which then becomes current). Embeddings come from the cache, so an unchanged paper is never
embedded again; a paper that already has labels from that model for its current text is skipped, so a
second run changes nothing. Every model's labels stay in ``classifications`` and ``predictions``,
queryable by ``model_version``; the views show the current model's.
"""

from __future__ import annotations

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from classify.registry import active_model, make_current_model
from classify.taxonomy import load_taxonomy
from core.settings import get_settings
from flows.runs import RunReport, recorded_run
from flows.steps import classify_papers, mention_abstracts


@flow(name="avi-reclassify", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def reclassify(model_version: str | None = None) -> RunReport:
    """Label every paper with ``model_version`` (default: the current model), make it current, publish."""
    settings = get_settings()
    if model_version is not None:
        make_current_model(settings.models_dir, model_version)
    version, kind = active_model(settings.models_dir, load_taxonomy(settings.taxonomy_file))
    with recorded_run(settings, "reclassify") as (warehouse, report), report.timed("classify"):
        report.counts["n_classified"], report.counts["n_relevant"] = classify_papers(warehouse, settings, version, kind)
        mention_abstracts(warehouse, version)
    return report
