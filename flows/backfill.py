"""Backfill from metadata dumps: stream papers in, then label them all, as one Prefect flow.

``avi import PATH ...`` reads the corpus format of ``shared/corpus`` or Kaggle's arXiv snapshot,
loads the papers in bounded batches (memory stays flat), then embeds and classifies every paper the
current model has not labelled and counts the mentions in audio-visual abstracts. PDFs are not fetched:
the next nightly run, or `avi ingest` over a window, reads them.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from tqdm import tqdm

from classify.registry import active_model
from classify.taxonomy import load_taxonomy
from core.settings import get_settings
from extract.dumps import iter_dump_records
from flows.runs import RunReport, recorded_run
from flows.steps import classify_papers, mention_abstracts
from warehouse.db import Warehouse

LOAD_BATCH = 5000


@flow(name="avi-import", log_prints=False)
def backfill(paths: list[Path]) -> RunReport:
    """Load every paper of the dump files, label what is unlabelled, record the run, publish the snapshot."""
    logger = get_run_logger()
    settings = get_settings()
    categories = set(settings.categories)
    with recorded_run(settings, "import") as (warehouse, report):
        counts = report.counts
        counts.update(n_harvested=0, n_new=0, n_updated=0)
        with report.timed("load"):
            batch = []
            progress = tqdm(desc="import", unit="paper")
            for record in iter_dump_records(paths):
                # rows without categories (older curated papers) are kept: they were chosen for the survey
                if record.categories and not categories.intersection(record.categories):
                    continue
                batch.append(record)
                if len(batch) == LOAD_BATCH:
                    _load(warehouse, batch, report.run_id, counts)
                    progress.update(len(batch))
                    batch = []
            _load(warehouse, batch, report.run_id, counts)
            progress.update(len(batch))
            progress.close()
        logger.info("loaded %d papers: %d new, %d updated", counts["n_harvested"], counts["n_new"], counts["n_updated"])
        with report.timed("classify"):
            version, kind = active_model(settings, load_taxonomy(settings.taxonomy_file))
            counts["n_classified"], counts["n_relevant"] = classify_papers(warehouse, settings, version, kind)
            mention_abstracts(warehouse, version)
    return report


def _load(warehouse: Warehouse, batch: list, run_id: int, counts: dict[str, int]) -> None:
    if not batch:
        return
    new, updated = warehouse.upsert_papers(batch, run_id)
    counts["n_harvested"] += len(batch)
    counts["n_new"] += new
    counts["n_updated"] += updated
