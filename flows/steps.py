"""The steps the flows share: label what the current model has not labelled (embedding batches as mapped
tasks, so a Dask task runner spreads them), count mentions in the abstracts of audio-visual papers, and
publish the night's digest and feeds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import compress

import numpy as np
from prefect import get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from classify.embed import default_embedder
from classify.labels import paper_text
from classify.model import EmbeddingBasedClassifier
from classify.registry import load_classifier, registered_model
from classify.screen import Screening
from classify.taxonomy import load_taxonomy
from core.progress import progress_bar
from core.settings import Settings
from extract.mentions import MentionDictionary, find_mentions
from flows.alerts import post_message
from reports.digest import (
    DIGEST_PAPERS,
    FEED_PAPERS,
    digest_html,
    digest_markdown,
    digest_papers,
    digest_summary,
    write_feeds,
)
from warehouse.db import Classified, PaperToClassify, Warehouse

# Texts per embedding task, and tasks submitted ahead of the one being stored: each batch in flight holds its
# texts, word features and scores, so these two bound the memory of a large import (docs/benchmarks.md).
EMBED_BATCH = 256
BATCHES_IN_FLIGHT = 2


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
    info = registered_model(settings.models_dir, version)
    metrics = info.metrics.to_json() if info and info.metrics else None
    warehouse.register_model(version, kind, metrics, info.thresholds if info else None)
    pending = warehouse.papers_to_classify(version)
    if not pending:
        logger.info("every paper has labels from %s", version)
        return 0, 0
    taxonomy = load_taxonomy(settings.taxonomy_file)
    embedder = default_embedder(settings)
    classifier = load_classifier(settings.models_dir, taxonomy, embedder, version)
    id_batches = [pending[start : start + EMBED_BATCH] for start in range(0, len(pending), EMBED_BATCH)]
    classified = relevant = screened = 0
    progress = progress_bar(total=len(pending), desc="classify", unit="paper", small=len(id_batches) <= 1)
    for batch, texts, screening, future in _embedded(settings, warehouse, classifier, id_batches):
        progress.update(len(batch))
        screened += int((~screening.kept).sum())
        features = screening.one_row_per_text(future.result())
        predictions = classifier.predict_embeddings(features, texts, screening)
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
                    vector if kept else None,  # kept for search by meaning
                )
                for paper, prediction, vector, kept in zip(batch, predictions, features, screening.kept, strict=True)
            ),
            embedding=embedder.name,
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


def publish_digest(warehouse: Warehouse, settings: Settings, since: date, until: date) -> int:
    """Write the window's digest (when it has audio-visual papers) and the Atom feeds, and send the digest's
    summary to ``AVI_DIGEST_WEBHOOK``; returns how many papers the digest lists."""
    logger = get_run_logger()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    feed_papers = digest_papers(warehouse.query(FEED_PAPERS, [settings.feed_entries])[1])
    write_feeds(feed_papers, taxonomy, settings.feeds_dir)
    papers = digest_papers(warehouse.query(DIGEST_PAPERS, [since, until])[1])
    if not papers:
        logger.info("no new audio-visual paper: no digest; feeds in %s", settings.feeds_dir)
        return 0
    markdown = digest_markdown(papers, taxonomy, since, until)
    page = settings.digests_dir / f"{until}.html"
    (settings.digests_dir / f"{until}.md").write_text(markdown, encoding="utf-8")
    page.write_text(digest_html(markdown), encoding="utf-8")
    logger.info("digest of %d audio-visual papers: %s; feeds in %s", len(papers), page, settings.feeds_dir)
    if settings.digest_webhook:
        post_message(settings.digest_webhook, digest_summary(papers, taxonomy, until, str(page)), "the digest")
    return len(papers)
