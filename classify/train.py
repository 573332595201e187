"""Training: labels joined with corpus text, a classifier fitted, measured, registered and made current."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from avi_radar.settings import Settings
from classify.embed import Embedder
from classify.evaluate import (
    cross_validated_predictions,
    label_reliability_table,
    reliability_table,
    score_subsets,
)
from classify.head import TorchHeadClassifier
from classify.labels import (
    LabeledPaper,
    analyst_fingerprint,
    files_fingerprint,
    load_labeled_papers,
    merge_analyst_labels,
    taxonomy_papers,
    unlabeled_texts,
)
from classify.model import EmbeddingClassifier
from classify.registry import ModelInfo, new_version, save_model
from classify.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

CLASSIFIER_KINDS = (TorchHeadClassifier.kind, EmbeddingClassifier.kind)
VERSION_PREFIX = {TorchHeadClassifier.kind: "mlp", EmbeddingClassifier.kind: "logreg"}


@dataclass(frozen=True)
class TrainingSetup:
    """How to train: the kind of classifier, where, the screen's unlabeled texts and loss budget, and whether the
    taxonomy's own descriptions join the labeled papers."""

    kind: str = TorchHeadClassifier.kind
    device: str = "auto"
    background: tuple[str, ...] = ()
    screen_max_loss: float = 0.0
    taxonomy_examples: bool = True

    def examples(self, taxonomy: Taxonomy) -> list[LabeledPaper]:
        """The taxonomy's examples this setup trains on beside the labeled papers (none when it says not to)."""
        return taxonomy_papers(taxonomy) if self.taxonomy_examples else []


def training_setup(
    settings: Settings, kind: str, corpus_files: list[Path], papers: list[LabeledPaper]
) -> TrainingSetup:
    """The configured setup; the screen's unlabeled texts come from ``corpus_files`` (never a labeled paper)."""
    wants_screen = kind == TorchHeadClassifier.kind and settings.screen_max_loss > 0 and settings.screen_background
    background = (
        unlabeled_texts(corpus_files, {paper.arxiv_id for paper in papers}, settings.screen_background)
        if wants_screen
        else []
    )
    return TrainingSetup(kind, settings.device, tuple(background), settings.screen_max_loss, settings.train_on_taxonomy)


def fit_classifier(
    taxonomy: Taxonomy,
    embedder: Embedder,
    papers: list[LabeledPaper],
    version: str = "untrained",
    setup: TrainingSetup = TrainingSetup(),
) -> TorchHeadClassifier | EmbeddingClassifier:
    """A classifier trained on ``papers`` (and the taxonomy's examples when ``setup`` says so; not registered)."""
    examples = setup.examples(taxonomy)
    if examples:
        logger.info("training on %d labeled papers and %d examples from the taxonomy", len(papers), len(examples))
        papers = papers + examples
    if setup.kind == TorchHeadClassifier.kind:
        head = TorchHeadClassifier(
            taxonomy, embedder, version=version, device=setup.device, screen_max_loss=setup.screen_max_loss
        )
        return head.fit(papers, setup.background)
    if setup.kind == EmbeddingClassifier.kind:
        return EmbeddingClassifier(taxonomy, embedder, version=version).fit(papers)
    raise ValueError(f"unknown classifier kind {setup.kind!r} (one of {', '.join(CLASSIFIER_KINDS)})")


def cross_validated_metrics(
    taxonomy: Taxonomy, embedder: Embedder, papers: list[LabeledPaper], setup: TrainingSetup, folds: int
) -> dict:
    """``avi eval``'s figures for ``folds``-fold cross-validation of this setup on these papers."""
    predictions = cross_validated_predictions(
        papers, folds, lambda train: fit_classifier(taxonomy, embedder, train, setup=setup)
    )
    return {
        "protocol": f"{folds}-fold cross-validation over {len(papers)} labeled papers",
        **score_subsets(papers, predictions),
        "calibration": reliability_table(papers, predictions),
        "label_calibration": label_reliability_table(papers, predictions),
    }


def train_and_register(
    settings: Settings,
    taxonomy: Taxonomy,
    embedder: Embedder,
    label_files: list[Path],
    corpus_files: list[Path],
    analyst_rows: list[tuple] | None = None,
    kind: str = TorchHeadClassifier.kind,
    cv_folds: int | None = None,
) -> ModelInfo:
    """Train on every given label file and the analysts' decisions (which win), measure the kind of model by
    ``cv_folds``-fold cross-validation (default ``AVI_TRAIN_CV_FOLDS``; 0 or 1: none), store it in the registry
    and make it current."""
    if not label_files:
        raise FileNotFoundError(f"no label files given and none found under {settings.shared_dir / 'labels'}")
    if not corpus_files:
        raise FileNotFoundError(f"no corpus files given and none found under {settings.shared_dir / 'corpus'}")
    analyst_rows = analyst_rows or []
    papers = merge_analyst_labels(load_labeled_papers(label_files, corpus_files, taxonomy), analyst_rows)
    labels_fingerprint = files_fingerprint(label_files)
    if analyst_rows:
        combined = f"{labels_fingerprint}{analyst_fingerprint(analyst_rows)}"
        labels_fingerprint = hashlib.sha256(combined.encode()).hexdigest()[:12]
    setup = training_setup(settings, kind, corpus_files, papers)
    cv_folds = settings.train_cv_folds if cv_folds is None else cv_folds
    metrics = cross_validated_metrics(taxonomy, embedder, papers, setup, cv_folds) if cv_folds > 1 else {}
    version = new_version(VERSION_PREFIX[kind], taxonomy.fingerprint, labels_fingerprint)
    model = fit_classifier(taxonomy, embedder, papers, version, setup)
    info = ModelInfo(
        version=version,
        kind=model.kind,
        created_at=version.split("-")[1],
        taxonomy_fingerprint=taxonomy.fingerprint,
        labels_fingerprint=labels_fingerprint,
        n_papers=len(papers),
        thresholds=model.thresholds,
        metrics=metrics,
        embedding=embedder.name,
        taxonomy_examples=len(setup.examples(taxonomy)),
    )
    save_model(settings, model, info)
    logger.info("trained %s on %d papers (%d analyst decisions)", version, len(papers), len(analyst_rows))
    return info
