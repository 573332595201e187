"""Nightly ingestion: arXiv -> papers -> labels -> PDF text -> DuckDB, as one Prefect flow.

The flow only wires tasks together; each concern lives in its package:

1. ``harvest``: every paper of the configured categories submitted in the window (extract.arxiv_client);
2. ``load_papers``: upsert them (warehouse), new versions replacing old ones, unchanged rows untouched;
3. ``classify_papers``: embed title + abstract and classify every paper that lacks labels from the
   current model (classify), screening relevance on the way;
4. ``fetch_texts``: download the PDFs of the relevant papers and extract their text (extract.pdf);
5. publish a read-only snapshot for analysts (warehouse).

Running the same window twice changes no paper, label or text. Without ``since`` the window starts at
the end of the last successful run's window.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from tqdm import tqdm

from avi_radar.settings import Settings, get_settings
from classify.embed import default_embedder
from classify.labels import paper_text
from classify.model import Classifier
from classify.registry import load_classifier
from classify.taxonomy import load_taxonomy
from extract.arxiv_client import ArxivHarvester, PaperRecord
from extract.http import polite_session
from extract.mentions import MentionDictionary, find_mentions
from extract.pdf import Extraction, ExtractionPool, PdfRefused, download_pdf
from warehouse.db import Classified, Warehouse

CLASSIFY_BATCH = 2048


@dataclass
class RunReport:
    """What one ingestion run did, as recorded in the ``runs`` table."""

    run_id: int
    since: date
    until: date
    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)


@task(retries=2, retry_delay_seconds=30, cache_policy=NO_CACHE)
def harvest(settings: Settings, since: date, until: date) -> list[PaperRecord]:
    """Every paper of the configured categories submitted from ``since`` through ``until``."""
    logger = get_run_logger()
    records = list(ArxivHarvester(settings).window(settings.categories, since, until))
    logger.info("harvested %d papers submitted %s..%s", len(records), since, until)
    return records


@task(cache_policy=NO_CACHE)
def load_papers(warehouse: Warehouse, records: list[PaperRecord], run_id: int) -> tuple[int, int]:
    """Upsert the harvested papers; returns (new, updated)."""
    new, updated = warehouse.upsert_papers(records, run_id)
    get_run_logger().info("papers: %d new, %d updated, %d unchanged", new, updated, len(records) - new - updated)
    return new, updated


@task(cache_policy=NO_CACHE)
def classify_papers(warehouse: Warehouse, classifier: Classifier, kind: str) -> tuple[int, int]:
    """Label every paper without labels from the current model; returns (classified, relevant)."""
    warehouse.register_model(classifier.version, kind)
    pending = warehouse.papers_to_classify(classifier.version)
    classified = relevant = 0
    for start in tqdm(
        range(0, len(pending), CLASSIFY_BATCH), desc="classify", unit="batch", disable=len(pending) <= CLASSIFY_BATCH
    ):
        batch = pending[start : start + CLASSIFY_BATCH]
        predictions = classifier.predict([paper_text(paper.title, paper.abstract) for paper in batch])
        classified += warehouse.store_classifications(
            classifier.version,
            (
                Classified(
                    paper.arxiv_id,
                    prediction.relevance,
                    prediction.relevance_score,
                    prediction.best_task_score,
                    paper.content_hash,
                    prediction.labels,
                )
                for paper, prediction in zip(batch, predictions, strict=True)
            ),
        )
        relevant += sum(prediction.relevance == "av" for prediction in predictions)
    get_run_logger().info("classified %d papers with %s; %d audio-visual", classified, classifier.version, relevant)
    return classified, relevant


def _download(settings: Settings, session: requests.Session, arxiv_id: str, version: int) -> Path | Extraction:
    try:
        return download_pdf(session, settings, arxiv_id, version)
    except PdfRefused as refusal:
        return Extraction(status="refused", reason=str(refusal))
    except requests.RequestException as error:
        return Extraction(status="failed", reason=f"download: {type(error).__name__}: {error}")


@task(cache_policy=NO_CACHE)
def fetch_texts(warehouse: Warehouse, settings: Settings, model_version: str, run_id: int) -> tuple[int, int]:
    """Download and read the PDFs of relevant papers that have no text yet; returns (read, failed).

    Downloads run in threads (network-bound), extraction in worker processes under time and memory limits.
    Papers without readable text get their mentions from the abstract.
    """
    logger = get_run_logger()
    wanted = warehouse.papers_needing_text(model_version)
    versions = dict(wanted)
    session = polite_session(settings)
    downloaded: list[tuple[str, Path]] = []
    outcomes: list[tuple[str, Extraction]] = []
    with ThreadPoolExecutor(max_workers=settings.pdf_workers) as pool:
        results = pool.map(lambda item: (item[0], _download(settings, session, *item)), wanted)
        for arxiv_id, result in tqdm(results, total=len(wanted), desc="pdf download", unit="pdf", disable=not wanted):
            if isinstance(result, Path):
                downloaded.append((arxiv_id, result))
            else:
                outcomes.append((arxiv_id, result))
    with ExtractionPool(
        settings.pdf_workers, settings.pdf_timeout_s, settings.pdf_memory_mb * 2**20, settings.max_pdf_pages
    ) as extraction_pool:
        outcomes += tqdm(
            extraction_pool.map(downloaded), total=len(downloaded), desc="pdf text", unit="pdf", disable=not downloaded
        )
    read = failed = 0
    for arxiv_id, extraction in outcomes:
        warehouse.store_extraction(arxiv_id, versions[arxiv_id], extraction, run_id)
        if extraction.has_text:
            read += 1
        else:
            failed += 1
            logger.warning("no text for %s: %s %s", arxiv_id, extraction.status, extraction.reason)
    dictionary = MentionDictionary()
    for arxiv_id, abstract in warehouse.papers_needing_abstract_mentions(model_version):
        warehouse.store_mentions(arxiv_id, find_mentions(abstract, dictionary), "abstract")
    logger.info("texts: %d read, %d failed", read, failed)
    return read, failed


def default_window(warehouse: Warehouse, since: date | None, until: date | None) -> tuple[date, date]:
    """The window to harvest: from the watermark (or yesterday) through today, unless given."""
    today = datetime.now(UTC).date()
    until = until or today
    if since is None:
        since = warehouse.watermark() or (until - timedelta(days=1))
    if since > until:
        raise ValueError(f"empty window: since {since} is after until {until}")
    return since, until


@flow(name="avi-ingest", log_prints=False)
def ingest(since: date | None = None, until: date | None = None) -> RunReport:
    """Harvest, load, classify and read the papers of a window; record the run; publish the snapshot."""
    logger = get_run_logger()
    settings = get_settings()
    with Warehouse(settings.db_path) as warehouse:
        since, until = default_window(warehouse, since, until)
        report = RunReport(run_id=warehouse.start_run("ingest", since, until), since=since, until=until)
        logger.info("run %d: window %s..%s from %s", report.run_id, since, until, settings.arxiv_url)
        try:
            started = time.monotonic()
            records = harvest(settings, since, until)
            report.counts["n_harvested"] = len(records)
            report.durations["harvest_s"] = time.monotonic() - started

            started = time.monotonic()
            report.counts["n_new"], report.counts["n_updated"] = load_papers(warehouse, records, report.run_id)
            report.durations["load_s"] = time.monotonic() - started

            started = time.monotonic()
            taxonomy = load_taxonomy(settings.taxonomy_file)
            classifier = load_classifier(settings, taxonomy, default_embedder(settings))
            kind = getattr(classifier, "kind", type(classifier).__name__)
            report.counts["n_classified"], report.counts["n_relevant"] = classify_papers(warehouse, classifier, kind)
            report.durations["classify_s"] = time.monotonic() - started

            started = time.monotonic()
            report.counts["n_text_ok"], report.counts["n_text_failed"] = fetch_texts(
                warehouse, settings, classifier.version, report.run_id
            )
            report.durations["text_s"] = time.monotonic() - started
        except Exception as error:
            warehouse.finish_run(
                report.run_id, "failed", report.counts, report.durations, f"{type(error).__name__}: {error}"
            )
            warehouse.publish()  # analysts see the failed run and its error too
            logger.error("run %d failed: %s", report.run_id, error)
            raise
        warehouse.finish_run(report.run_id, "success", report.counts, report.durations)
        warehouse.publish()
    logger.info("run %d done: %s", report.run_id, report.counts)
    return report
