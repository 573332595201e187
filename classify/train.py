"""Training: labels joined with corpus text, an embedding classifier fitted, registered and made current."""

from __future__ import annotations

import logging
from pathlib import Path

from avi_radar.settings import Settings
from classify.embed import Embedder
from classify.labels import LabeledPaper, files_fingerprint, load_labeled_papers
from classify.model import EmbeddingClassifier
from classify.registry import ModelInfo, new_version, save_model
from classify.taxonomy import Taxonomy

logger = logging.getLogger(__name__)


def fit_classifier(
    taxonomy: Taxonomy, embedder: Embedder, papers: list[LabeledPaper], version: str = "untrained"
) -> EmbeddingClassifier:
    """A classifier trained on ``papers`` (not registered)."""
    return EmbeddingClassifier(taxonomy, embedder, version=version).fit(papers)


def train_and_register(
    settings: Settings, taxonomy: Taxonomy, embedder: Embedder, label_files: list[Path], corpus_files: list[Path]
) -> ModelInfo:
    """Train on every given label file, store the model in the registry and make it current."""
    if not label_files:
        raise FileNotFoundError(f"no label files given and none found under {settings.shared_dir / 'labels'}")
    if not corpus_files:
        raise FileNotFoundError(f"no corpus files given and none found under {settings.shared_dir / 'corpus'}")
    papers = load_labeled_papers(label_files, corpus_files, taxonomy)
    labels_fingerprint = files_fingerprint(label_files)
    version = new_version("logreg", taxonomy.fingerprint, labels_fingerprint)
    model = fit_classifier(taxonomy, embedder, papers, version)
    info = ModelInfo(
        version=version,
        kind=model.kind,
        created_at=version.split("-")[1],
        taxonomy_fingerprint=taxonomy.fingerprint,
        labels_fingerprint=labels_fingerprint,
        n_papers=len(papers),
        thresholds=model.thresholds,
        metrics={},
    )
    save_model(settings, model, info)
    logger.info("trained %s on %d papers", version, len(papers))
    return info
