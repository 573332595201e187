"""Backfill from metadata dumps: stream papers in, then label them all, as one Prefect flow.

``avi import PATH ...`` reads the corpus format of ``shared/corpus`` or Kaggle's arXiv snapshot,
loads the papers in bounded batches (memory stays flat), quarantines the lines it cannot load in
``rejected_records`` with their reasons (``--strict``: fails on the first), then embeds and classifies every paper the
current model has not labelled and counts the mentions in audio-visual abstracts. PDFs are not fetched:
the next nightly run, or `avi ingest` over a window, reads them.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from tqdm import tqdm

from classify.registry import active_model
from classify.taxonomy import load_taxonomy
from core.records import PaperRecord, Rejected
from core.settings import get_settings
from extract.dumps import iter_dump_records
from flows.runs import RunReport, recorded_run
from flows.steps import classify_papers, mention_abstracts
from warehouse.db import Warehouse

LOAD_BATCH = 5000


@flow(name="avi-import", log_prints=False)
def backfill(paths: list[Path], strict: bool = False) -> RunReport:
    """Load every paper of the dump files, label what is unlabelled, record the run, publish the snapshot.

    A line that cannot be loaded is quarantined in ``rejected_records`` with its reason and the import goes
    on; with ``strict`` the first such line fails the run instead."""
    logger = get_run_logger()
    settings = get_settings()
    categories = set(settings.categories)
    with recorded_run(settings, "import") as (warehouse, report):
        counts = report.counts
        counts.update(n_harvested=0, n_new=0, n_updated=0, n_rejected=0)
        with report.timed("load"):
            batch: list[PaperRecord] = []
            rejected: list[Rejected] = []
            progress = tqdm(desc="import", unit="paper")
            for item in iter_dump_records(paths):
                if isinstance(item, Rejected):
                    if strict:
                        raise ValueError(f"{item.source}:{item.line}: {item.reason}")
                    rejected.append(item)
                # rows without categories (older curated papers) are kept: they were chosen for the survey
                elif not item.categories or categories.intersection(item.categories):
                    batch.append(item)
                if len(batch) + len(rejected) >= LOAD_BATCH:
                    _load(warehouse, batch, rejected, report.run_id, counts)
                    progress.update(len(batch))
                    batch, rejected = [], []
            _load(warehouse, batch, rejected, report.run_id, counts)
            progress.update(len(batch))
            progress.close()
        logger.info(
            "loaded %d papers: %d new, %d updated; %d lines rejected",
            counts["n_harvested"],
            counts["n_new"],
            counts["n_updated"],
            counts["n_rejected"],
        )
        if counts["n_rejected"]:
            logger.warning(
                "%d lines could not be loaded, quarantined with their reasons: "
                'avi sql "SELECT * FROM rejected_records WHERE run_id = %d"',
                counts["n_rejected"],
                report.run_id,
            )
        with report.timed("classify"):
            version, kind = active_model(settings.models_dir, load_taxonomy(settings.taxonomy_file))
            counts["n_classified"], counts["n_relevant"] = classify_papers(warehouse, settings, version, kind)
            mention_abstracts(warehouse, version)
    return report


def _load(
    warehouse: Warehouse, batch: list[PaperRecord], rejected: list[Rejected], run_id: int, counts: dict[str, int]
) -> None:
    """Upsert a batch of papers and quarantine the batch's rejected lines, each in its own transaction."""
    counts["n_rejected"] += warehouse.store_rejected(run_id, rejected)
    if not batch:
        return
    new, updated = warehouse.upsert_papers(batch, run_id)
    counts["n_harvested"] += len(batch)
    counts["n_new"] += new
    counts["n_updated"] += updated
