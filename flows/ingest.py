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

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import compress
from pathlib import Path

import numpy as np
import requests
from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from tqdm import tqdm

from avi_radar.settings import Settings, get_settings
from classify.embed import default_embedder
from classify.labels import paper_text
from classify.model import EmbeddingBasedClassifier
from classify.registry import active_model, load_classifier, model_metrics
from classify.screen import Screening
from classify.taxonomy import load_taxonomy
from extract.arxiv_client import ArxivHarvester, PaperRecord
from extract.http import polite_session
from extract.mentions import MentionDictionary, find_mentions
from extract.oai import OaiHarvester
from extract.pdf import Extraction, ExtractionPool, PdfRefused, download_pdf
from flows.alerts import alert_failure
from warehouse.db import Classified, PaperToClassify, Warehouse

# Texts per embedding task, and tasks submitted ahead of the one being stored. Each batch in flight holds
# its texts, word features and scores: 1,024 x 4 peaked 320 MB higher than 256 x 2 in an import of 30,000
# papers here, for the same wall time.
EMBED_BATCH = 256
BATCHES_IN_FLIGHT = 2
EXTRACT_CHUNK = 16  # PDFs per extraction task


@dataclass
class RunReport:
    """What one ingestion run did, as recorded in the ``runs`` table."""

    run_id: int
    since: date | None
    until: date | None
    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)


@task(retries=2, retry_delay_seconds=30, cache_policy=NO_CACHE)
def harvest(settings: Settings, since: date, until: date) -> list[PaperRecord]:
    """Every paper of the configured categories added or changed (OAI-PMH) or submitted (API) in the window."""
    logger = get_run_logger()
    harvester = OaiHarvester(settings) if settings.harvest_source == "oai" else ArxivHarvester(settings)
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


@task(cache_policy=NO_CACHE, retries=1)
def embed_texts(settings: Settings, texts: list[str]) -> np.ndarray:
    """Embeddings of one batch of texts (runs wherever the task runner puts it: a thread or a Dask worker)."""
    return default_embedder(settings).encode(texts)


def _embedded(
    settings: Settings, warehouse: Warehouse, classifier: EmbeddingBasedClassifier, id_batches: list[list[str]]
) -> Iterator[tuple[list[PaperToClassify], list[str], Screening, PrefectFuture]]:
    """(papers, their texts, the classifier's screening of them, future of the embeddings of the texts it kept),
    reading and submitting a bounded number of batches ahead, so memory stays flat however many papers wait."""
    for start in range(0, len(id_batches), BATCHES_IN_FLIGHT):
        window = [warehouse.papers_by_id(ids) for ids in id_batches[start : start + BATCHES_IN_FLIGHT]]
        texts = [[paper_text(paper.title, paper.abstract) for paper in batch] for batch in window]
        screenings = [classifier.screening(batch) for batch in texts]
        to_embed = [list(compress(batch, screening.kept)) for batch, screening in zip(texts, screenings, strict=True)]
        yield from zip(window, texts, screenings, embed_texts.map(unmapped(settings), to_embed), strict=True)


def classify_papers(warehouse: Warehouse, settings: Settings, version: str, kind: str) -> tuple[int, int]:
    """Label every paper without labels from the current model; returns (classified, relevant).

    The model and the embedder are loaded only when there is something to label.
    """
    logger = get_run_logger()
    warehouse.register_model(version, kind, model_metrics(settings, version))
    pending = warehouse.papers_to_classify(version)
    if not pending:
        logger.info("every paper has labels from %s", version)
        return 0, 0
    classifier = load_classifier(settings, load_taxonomy(settings.taxonomy_file), default_embedder(settings), version)
    id_batches = [pending[start : start + EMBED_BATCH] for start in range(0, len(pending), EMBED_BATCH)]
    classified = relevant = screened = 0
    progress = tqdm(total=len(pending), desc="classify", unit="paper", disable=len(id_batches) <= 1)
    for batch, texts, screening, future in _embedded(settings, warehouse, classifier, id_batches):
        progress.update(len(batch))
        screened += int((~screening.kept).sum())
        predictions = classifier.predict_embeddings(screening.one_row_per_text(future.result()), texts, screening)
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
                    prediction.label_margin,
                )
                for paper, prediction in zip(batch, predictions, strict=True)
            ),
        )
        relevant += sum(prediction.relevance == "av" for prediction in predictions)
    progress.close()
    logger.info(
        "classified %d papers with %s (%d screened out unembedded); %d audio-visual",
        classified,
        classifier.version,
        screened,
        relevant,
    )
    return classified, relevant


def mention_abstracts(warehouse: Warehouse, model_version: str) -> None:
    """Count the mentions in the abstracts of audio-visual papers that have none from their full text."""
    dictionary = MentionDictionary()
    for arxiv_id, abstract in warehouse.audio_visual_abstracts_without_mentions(model_version):
        warehouse.store_mentions(arxiv_id, find_mentions(abstract, dictionary), "abstract")


def _download(settings: Settings, session: requests.Session, arxiv_id: str, version: int) -> Path | Extraction:
    try:
        return download_pdf(session, settings, arxiv_id, version)
    except PdfRefused as refusal:
        return Extraction(status="refused", reason=str(refusal))
    except requests.RequestException as error:
        return Extraction(status="failed", reason=f"download: {type(error).__name__}: {error}")


@task(cache_policy=NO_CACHE)
def download_pdfs(settings: Settings, wanted: list[tuple[str, int]]) -> list[tuple[str, Path | Extraction]]:
    """Fetch PDFs into the cache, a few at a time; a failed download is an Extraction with its reason."""
    session = polite_session(settings)
    with ThreadPoolExecutor(max_workers=settings.pdf_workers) as pool:
        results = pool.map(lambda item: (item[0], _download(settings, session, *item)), wanted)
        return list(tqdm(results, total=len(wanted), desc="pdf download", unit="pdf", disable=not wanted))


@task(cache_policy=NO_CACHE)
def extract_pdfs(settings: Settings, files: list[tuple[str, Path]]) -> list[tuple[str, Extraction]]:
    """Read a chunk of PDFs in worker processes under the configured time and memory limits."""
    workers = min(settings.pdf_workers, len(files))
    with ExtractionPool(
        workers, settings.pdf_timeout_s, settings.pdf_memory_mb * 2**20, settings.max_pdf_pages
    ) as pool:
        return list(pool.map(files))


def fetch_texts(warehouse: Warehouse, settings: Settings, model_version: str, run_id: int) -> tuple[int, int]:
    """Download and read the PDFs of relevant papers that have no text yet; returns (read, failed).

    Papers without readable text get their mentions from the abstract.
    """
    logger = get_run_logger()
    wanted = warehouse.papers_needing_text(model_version)
    versions = dict(wanted)
    downloads = download_pdfs(settings, wanted)
    outcomes = [(arxiv_id, result) for arxiv_id, result in downloads if isinstance(result, Extraction)]
    files = [(arxiv_id, result) for arxiv_id, result in downloads if isinstance(result, Path)]
    chunks = [files[start : start + EXTRACT_CHUNK] for start in range(0, len(files), EXTRACT_CHUNK)]
    read = failed = 0
    for future in tqdm(
        extract_pdfs.map(unmapped(settings), chunks),
        total=len(chunks),
        desc="pdf text",
        unit="chunk",
        disable=len(chunks) <= 1,
    ):
        outcomes += future.result()
    for arxiv_id, extraction in outcomes:
        warehouse.store_extraction(arxiv_id, versions[arxiv_id], extraction, run_id)
        if extraction.has_text:
            read += 1
        else:
            failed += 1
            logger.warning("no text for %s: %s %s", arxiv_id, extraction.status, extraction.reason)
    mention_abstracts(warehouse, model_version)
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


@flow(name="avi-ingest", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def ingest(since: date | None = None, until: date | None = None) -> RunReport:
    """Harvest, load, classify and read the papers of a window; record the run; publish the snapshot."""
    logger = get_run_logger()
    settings = get_settings()
    try:
        warehouse = Warehouse(settings.db_path, memory_limit=settings.warehouse_memory_limit)
    except Exception as error:  # e.g. another run holds the write lock: nothing to record, but say so
        alert_failure(settings, "ingest", None, f"{type(error).__name__}: {error}")
        raise
    with warehouse:
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
            version, kind = active_model(settings, load_taxonomy(settings.taxonomy_file))
            report.counts["n_classified"], report.counts["n_relevant"] = classify_papers(
                warehouse, settings, version, kind
            )
            report.durations["classify_s"] = time.monotonic() - started

            started = time.monotonic()
            report.counts["n_text_ok"], report.counts["n_text_failed"] = fetch_texts(
                warehouse, settings, version, report.run_id
            )
            report.durations["text_s"] = time.monotonic() - started
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            warehouse.finish_run(report.run_id, "failed", report.counts, report.durations, message)
            warehouse.publish()  # analysts see the failed run and its error too
            logger.error("run %d failed: %s", report.run_id, message)
            alert_failure(settings, "ingest", report.run_id, message)
            raise
        warehouse.finish_run(report.run_id, "success", report.counts, report.durations)
        warehouse.publish()
    logger.info("run %d done: %s", report.run_id, report.counts)
    return report
