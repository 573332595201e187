"""Nightly ingestion: arXiv -> papers -> labels -> PDF text -> DuckDB, as one Prefect flow.

The flow only wires tasks together; each concern lives in its package. Embedding batches and PDF
extraction chunks are mapped tasks, so ``--task-runner dask`` spreads them over a Dask cluster; by
default they run one at a time in this process (the extraction chunk itself uses every core).

1. ``harvest``: every paper of the configured categories added or changed in the window, through OAI-PMH
   (extract.oai) or, with ``AVI_HARVEST_SOURCE=api``, submitted in it, through the API (extract.arxiv_client);
2. ``load_papers``: upsert them (warehouse), new versions replacing old ones, unchanged rows untouched;
3. ``classify_papers``: embed title + abstract and classify every paper that lacks labels from the
   current model (classify), screening relevance on the way;
4. ``fetch_texts``: download the PDFs of the relevant papers and extract their text (extract.pdf);
5. publish a read-only snapshot for analysts (warehouse).

Running the same window twice changes no paper, label or text. Without ``since`` the window starts at
the end of the last successful run's window.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from classify.registry import active_model
from classify.taxonomy import load_taxonomy
from core.progress import progress_bar
from core.records import Extraction, PaperRecord
from core.settings import Settings, get_settings
from extract.arxiv_client import ArxivHarvester
from extract.http import polite_session
from extract.oai import OaiHarvester
from extract.pdf import ExtractionPool, PdfRefused, discard_read_pdfs, download_pdf
from flows.rate_limit import arxiv_gate
from flows.runs import RunReport, recorded_run
from flows.steps import classify_papers, mention_abstracts, publish_digest
from warehouse.db import Warehouse

EXTRACT_CHUNK = 16  # PDFs per extraction task


@task(retries=2, retry_delay_seconds=30, cache_policy=NO_CACHE)
def harvest(settings: Settings, since: date, until: date) -> list[PaperRecord]:
    """Every paper of the configured categories added or changed (OAI-PMH) or submitted (API) in the window."""
    logger = get_run_logger()
    harvester_class = OaiHarvester if settings.harvest_source == "oai" else ArxivHarvester
    harvester = harvester_class(settings.arxiv_access, arxiv_gate(settings))
    logger.info("harvesting %s..%s through %s", since, until, settings.harvest_source)
    records = list(harvester.window(settings.categories, since, until))
    logger.info("harvested %d papers of %s..%s", len(records), since, until)
    return records


@task(cache_policy=NO_CACHE)
def load_papers(warehouse: Warehouse, records: list[PaperRecord], run_id: int) -> tuple[int, int]:
    """Upsert the harvested papers; returns (new, updated)."""
    new, updated = warehouse.upsert_papers(records, run_id)
    get_run_logger().info("papers: %d new, %d updated, %d unchanged", new, updated, len(records) - new - updated)
    return new, updated


def _download(settings: Settings, session: requests.Session, arxiv_id: str, version: int) -> Path | Extraction:
    try:
        return download_pdf(session, settings.arxiv_access, settings.pdf_dir, settings.max_pdf_bytes, arxiv_id, version)
    except PdfRefused as refusal:
        return Extraction(status="refused", reason=str(refusal))
    except requests.RequestException as error:
        return Extraction(status="failed", reason=f"download: {type(error).__name__}: {error}")


@task(cache_policy=NO_CACHE)
def download_pdfs(settings: Settings, wanted: list[tuple[str, int]]) -> list[tuple[str, Path | Extraction]]:
    """Fetch PDFs into the cache, a few at a time; a failed download is an Extraction with its reason."""
    session = polite_session(settings.arxiv_access, arxiv_gate(settings))
    with ThreadPoolExecutor(max_workers=settings.pdf_workers) as pool:
        results = pool.map(lambda item: (item[0], _download(settings, session, *item)), wanted)
        return list(progress_bar(results, total=len(wanted), desc="pdf download", unit="pdf", small=not wanted))


@task(cache_policy=NO_CACHE)
def extract_pdfs(settings: Settings, files: list[tuple[str, Path]]) -> list[tuple[str, Extraction]]:
    """Read a chunk of PDFs in worker processes under the configured time and memory limits."""
    workers = min(settings.pdf_workers, len(files))
    with ExtractionPool(
        workers, settings.pdf_timeout_s, settings.pdf_memory_mb * 2**20, settings.max_pdf_pages
    ) as pool:
        return list(pool.map(files))


def fetch_texts(warehouse: Warehouse, settings: Settings, model_version: str, run_id: int) -> tuple[int, int]:
    """Download and read the PDFs of relevant papers that have no text yet, the newest ``AVI_TEXTS_PER_RUN`` of
    them (a backfill's are read over the next runs); returns (read, failed).

    Papers without readable text get their mentions from the abstract.
    """
    logger = get_run_logger()
    wanted = warehouse.papers_needing_text(model_version, settings.texts_per_run)
    versions = dict(wanted)
    downloads = download_pdfs(settings, wanted)
    outcomes = [(arxiv_id, result) for arxiv_id, result in downloads if isinstance(result, Extraction)]
    files = [(arxiv_id, result) for arxiv_id, result in downloads if isinstance(result, Path)]
    chunks = [files[start : start + EXTRACT_CHUNK] for start in range(0, len(files), EXTRACT_CHUNK)]
    read = failed = 0
    for future in progress_bar(
        extract_pdfs.map(unmapped(settings), chunks),
        total=len(chunks),
        desc="pdf text",
        unit="chunk",
        small=len(chunks) <= 1,
    ):
        outcomes += future.result()
    for arxiv_id, extraction in outcomes:
        warehouse.store_extraction(arxiv_id, versions[arxiv_id], extraction, run_id)
        if extraction.has_text:
            read += 1
        else:
            failed += 1
            logger.warning("no text for %s: %s %s", arxiv_id, extraction.status, extraction.reason)
    if settings.keep_pdfs == "unread":
        discard_read_pdfs(settings.pdf_dir, warehouse.read_pdf_hashes())
    mention_abstracts(warehouse, model_version)
    logger.info("texts: %d read, %d failed", read, failed)
    waiting = len(warehouse.papers_needing_text(model_version))
    if waiting:
        logger.info("%d audio-visual papers still wait for their text: the next runs read them", waiting)
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


@flow(name="avi-ingest", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def ingest(since: date | None = None, until: date | None = None) -> RunReport:
    """Harvest, load, classify and read the papers of a window; record the run; publish the snapshot."""
    settings = get_settings()
    with recorded_run(settings, "ingest", lambda warehouse: default_window(warehouse, since, until)) as (
        warehouse,
        report,
    ):
        get_run_logger().info(
            "run %d: window %s..%s from %s", report.run_id, report.since, report.until, settings.arxiv_url
        )
        counts = report.counts
        with report.timed("harvest"):
            records = harvest(settings, report.since, report.until)
            counts["n_harvested"] = len(records)
        with report.timed("load"):
            counts["n_new"], counts["n_updated"] = load_papers(warehouse, records, report.run_id)
        with report.timed("classify"):
            version, kind = active_model(settings.models_dir, load_taxonomy(settings.taxonomy_file))
            counts["n_classified"], counts["n_relevant"] = classify_papers(warehouse, settings, version, kind)
        with report.timed("text"):
            counts["n_text_ok"], counts["n_text_failed"] = fetch_texts(warehouse, settings, version, report.run_id)
        with report.timed("digest"):
            publish_digest(warehouse, settings, report.since, report.until)
    return report
