"""Backfill from metadata dumps: stream papers in, then label them all, as one Prefect flow.

``avi import PATH ...`` reads the corpus format of ``shared/corpus`` or Kaggle's arXiv snapshot,
loads the papers in bounded batches (memory stays flat), quarantines the lines it cannot load in
``rejected_records`` with their reasons (``--strict``: fails on the first), then embeds and classifies every paper the
current model has not labelled and counts the mentions in audio-visual abstracts. Each batch commits with
its file's checkpoint, so a killed import run again goes on where it stopped. PDFs are not fetched: the
next nightly run, or `avi ingest` over a window, reads them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger
from tqdm import tqdm

from classify.registry import active_model
from classify.taxonomy import load_taxonomy
from core.progress import progress_bar
from core.records import PaperRecord, Rejected
from core.settings import get_settings
from core.wording import counted
from extract.dumps import read_dump
from flows.runs import RunReport, recorded_run
from flows.steps import classify_papers, mention_abstracts
from warehouse.db import ImportCheckpoint, Warehouse


@flow(name="avi-import", log_prints=False)
def backfill(
    paths: list[Path], strict: bool = False, since: date | None = None, until: date | None = None
) -> RunReport:
    """Load every paper of the dump files (those submitted from ``since`` to ``until``, both included, when
    given), label what is unlabelled, record the run, publish the snapshot.

    A line that cannot be loaded is quarantined in ``rejected_records`` with its reason and the import goes
    on; with ``strict`` the first such line fails the run instead. Each batch commits with the file's
    checkpoint: a killed import, run again on the same files, goes on after the last batch it loaded, and a
    file loaded whole and unchanged since is not read again."""
    logger = get_run_logger()
    settings = get_settings()
    with recorded_run(settings, "import") as (warehouse, report):
        counts = report.counts
        counts.update(n_harvested=0, n_new=0, n_updated=0, n_rejected=0)
        with report.timed("load"):
            progress = progress_bar(desc="import", unit="line")
            window = SubmissionWindow(since, until)
            for path in paths:
                _load_file(
                    warehouse, path, settings.categories, window, settings.import_batch, report, strict, progress
                )
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
                "%s could not be loaded and went to quarantine; "
                'avi sql "SELECT * FROM rejected_records WHERE run_id = %d" says why',
                counted(counts["n_rejected"], "line"),
                report.run_id,
            )
        with report.timed("classify"):
            version, kind = active_model(settings.models_dir, load_taxonomy(settings.taxonomy_file))
            counts["n_classified"], counts["n_relevant"] = classify_papers(warehouse, settings, version, kind)
            mention_abstracts(warehouse, version)
    return report


@dataclass(frozen=True)
class SubmissionWindow:
    """The submission dates an import keeps, both ends included; an open end keeps everything on that side."""

    since: date | None = None
    until: date | None = None

    def holds(self, paper: PaperRecord) -> bool:
        """Whether the paper was submitted inside the window (a paper without a date only in an open one)."""
        if self.since is None and self.until is None:
            return True
        if paper.published is None:
            return False
        submitted = paper.published.date()
        return (self.since is None or submitted >= self.since) and (self.until is None or submitted <= self.until)

    def __str__(self) -> str:
        return f"{self.since or '...'}..{self.until or '...'}"


def file_fingerprint(path: Path, categories: list[str], window: SubmissionWindow = SubmissionWindow()) -> str:
    """What an import of ``path`` loads: the file's content (its SHA-256, so that a dump touched or provisioned
    again unchanged is not read again, as its size and modification time would have it), the categories and
    the submission dates kept."""
    with path.open("rb") as handle:
        content = hashlib.file_digest(handle, "sha256").hexdigest()
    return f"{content}:{','.join(sorted(categories))}:{window}"


def _load_file(
    warehouse: Warehouse,
    path: Path,
    categories: list[str],
    window: SubmissionWindow,
    batch_size: int,
    report: RunReport,
    strict: bool,
    progress: tqdm,
) -> None:
    """Load one dump file from where an earlier import of it stopped, a batch per transaction."""
    logger = get_run_logger()
    source, fingerprint = str(path.resolve()), file_fingerprint(path, categories, window)
    earlier = warehouse.import_checkpoint(source)
    start = 0
    if earlier is not None and earlier.fingerprint == fingerprint:
        if earlier.complete:
            logger.info("%s: loaded whole by run %d and unchanged since; not read again", path, earlier.run_id)
            return
        start = earlier.lines_done
        logger.info("%s: run %d stopped after line %d; going on from there", path, earlier.run_id, start)
    kept = set(categories)
    batch: list[PaperRecord] = []
    rejected: list[Rejected] = []
    last_line = counted = start
    for last_line, item in read_dump(path, start):  # noqa: B007 - the last line read is the checkpoint
        if isinstance(item, Rejected):
            if strict:
                raise ValueError(f"{item.source}:{item.line}: {item.reason}")
            rejected.append(item)
        # rows without categories (older curated papers) are kept: they were chosen for the survey
        elif (not item.categories or kept.intersection(item.categories)) and window.holds(item):
            batch.append(item)
        if len(batch) + len(rejected) >= batch_size:
            checkpoint = ImportCheckpoint(source, fingerprint, last_line, False, report.run_id)
            _load(warehouse, batch, rejected, checkpoint, report.counts)
            logger.info("%s: lines up to %d loaded", path.name, last_line)
            progress.update(last_line - counted)
            batch, rejected, counted = [], [], last_line
    checkpoint = ImportCheckpoint(source, fingerprint, last_line, True, report.run_id)
    _load(warehouse, batch, rejected, checkpoint, report.counts)
    progress.update(last_line - counted)
    logger.info("%s: loaded to its end (line %d)", path.name, last_line)


def _load(
    warehouse: Warehouse,
    batch: list[PaperRecord],
    rejected: list[Rejected],
    checkpoint: ImportCheckpoint,
    counts: dict[str, int],
) -> None:
    """Upsert a batch of papers, quarantine its rejected lines and move the file's checkpoint, in one
    transaction, and count them in the run's report."""
    new, updated = warehouse.load_import_batch(batch, rejected, checkpoint)
    counts["n_rejected"] += len(rejected)
    counts["n_harvested"] += len(batch)
    counts["n_new"] += new
    counts["n_updated"] += updated
