"""Training: labels joined with corpus text, a classifier fitted, measured, registered and made current."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from classify.embed import Embedder
from classify.evaluate import cross_validated_predictions, evaluation
from classify.figures import Evaluation
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
from classify.model import EmbeddingClassifier, Prediction
from classify.registry import ModelInfo, load_classifier, new_version, save_model
from classify.taxonomy import Taxonomy
from core.settings import Settings

logger = logging.getLogger(__name__)

MIN_FOLDS = 2  # fewer folds leave no out-of-fold score to choose thresholds on
DEFAULT_FOLDS = 5
CLASSIFIER_KINDS = (TorchHeadClassifier.kind, EmbeddingClassifier.kind)
VERSION_PREFIX = {TorchHeadClassifier.kind: "mlp", EmbeddingClassifier.kind: "logreg"}


@dataclass(frozen=True)
class TrainingSetup:
    """How to train: the kind of classifier, where, the screen's unlabeled texts and loss budget, whether the
    taxonomy's own descriptions join the labeled papers, the folds whose out-of-fold scores choose the
    thresholds and measure the model, and the seed that draws the folds and starts the network."""

    kind: str = TorchHeadClassifier.kind
    device: str = "auto"
    background: tuple[str, ...] = ()
    screen_max_loss: float = 0.0
    taxonomy_examples: bool = True
    folds: int = 5
    seed: int = 0

    def without(self, texts: frozenset[str]) -> TrainingSetup:
        """This setup with ``texts`` out of its background sample: papers a model is scored on must not be
        learnt from as unrelated text either."""
        return replace(self, background=tuple(text for text in self.background if text not in texts))

    def examples(self, taxonomy: Taxonomy) -> list[LabeledPaper]:
        """The taxonomy's examples this setup trains on beside the labeled papers (none when it says not to)."""
        return taxonomy_papers(taxonomy) if self.taxonomy_examples else []


def require_kind(kind: str) -> None:
    """Refuse a classifier kind this module cannot train, naming the ones it can."""
    if kind not in CLASSIFIER_KINDS:
        raise ValueError(f"unknown classifier kind {kind!r} (one of {', '.join(CLASSIFIER_KINDS)})")


def training_setup(
    settings: Settings, kind: str, corpus_files: list[Path], papers: list[LabeledPaper], folds: int | None = None
) -> TrainingSetup:
    """The configured setup (``folds``: default ``AVI_TRAIN_CV_FOLDS``; below 2, 5); the screen's unlabeled
    texts come from ``corpus_files`` (never a labeled paper)."""
    wants_screen = kind == TorchHeadClassifier.kind and settings.screen_max_loss > 0 and settings.screen_background
    background = (
        unlabeled_texts(corpus_files, {paper.arxiv_id for paper in papers}, settings.screen_background)
        if wants_screen
        else []
    )
    folds = settings.train_cv_folds if folds is None else folds
    return TrainingSetup(
        kind,
        settings.device,
        tuple(background),
        settings.screen_max_loss,
        settings.train_on_taxonomy,
        folds if folds >= MIN_FOLDS else DEFAULT_FOLDS,
    )


def fit_classifier(
    taxonomy: Taxonomy,
    embedder: Embedder,
    papers: list[LabeledPaper],
    version: str = "untrained",
    setup: TrainingSetup = TrainingSetup(),
) -> TorchHeadClassifier | EmbeddingClassifier:
    """A classifier trained on ``papers`` (and the taxonomy's examples when ``setup`` says so; not registered)."""
    require_kind(setup.kind)
    examples = setup.examples(taxonomy)
    if examples:
        logger.info("training on %d labeled papers and %d examples from the taxonomy", len(papers), len(examples))
    if setup.kind == TorchHeadClassifier.kind:
        head = TorchHeadClassifier(
            taxonomy,
            embedder,
            version=version,
            device=setup.device,
            screen_max_loss=setup.screen_max_loss,
            folds=setup.folds,
            seed=setup.seed,
        )
        return head.fit(papers, setup.background, examples)
    return EmbeddingClassifier(taxonomy, embedder, version=version, seed=setup.seed).fit(papers + examples)


def measured_fit(
    taxonomy: Taxonomy,
    embedder: Embedder,
    papers: list[LabeledPaper],
    setup: TrainingSetup,
    version: str = "untrained",
) -> tuple[TorchHeadClassifier | EmbeddingClassifier, list[Prediction], str]:
    """A classifier trained on ``papers``, its ``setup.folds``-fold cross-validated predictions of them and
    the protocol that made them.

    The head measures itself as it trains: its fold models' out-of-fold scores, with each fold's thresholds
    chosen on the other folds, are the cross-validation, so measuring costs nothing more than training.
    Other kinds train once per fold and once more on everything.
    """
    if setup.kind == TorchHeadClassifier.kind:
        head = fit_classifier(taxonomy, embedder, papers, version, setup)
        protocol = (
            f"{head.folds}-fold cross-validation over {len(papers)} labeled papers "
            "(each fold's thresholds, relevance stacker and temperature chosen on the other folds)"
        )
        return head, head.cross_validated_predictions(), protocol
    predictions = cross_validated_predictions(
        papers, setup.folds, lambda train: fit_classifier(taxonomy, embedder, train, setup=setup), setup.seed
    )
    protocol = f"{setup.folds}-fold cross-validation over {len(papers)} labeled papers"
    return fit_classifier(taxonomy, embedder, papers, version, setup), predictions, protocol


def train_and_register(
    settings: Settings,
    taxonomy: Taxonomy,
    embedder: Embedder,
    label_files: list[Path],
    corpus_files: list[Path],
    analyst_rows: list[tuple] | None = None,
    kind: str = TorchHeadClassifier.kind,
    cv_folds: int | None = None,
    quick: bool = False,
) -> ModelInfo:
    """Train on every given label file and the analysts' decisions (which win), measure the model by
    ``cv_folds``-fold cross-validation (default ``AVI_TRAIN_CV_FOLDS``), store it in the registry and make it
    current. The head measures itself while it trains (its folds choose its thresholds), so for it ``cv_folds``
    below 2 means the default 5; another kind is then not measured.

    ``quick``: retrain the current head on the labels, keeping its out-of-fold decisions
    (:meth:`TorchHeadClassifier.refit`): the analyst's loop; not measured."""
    require_kind(kind)
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
    version = new_version(VERSION_PREFIX[kind], taxonomy.fingerprint, labels_fingerprint)
    if quick:
        base = load_classifier(settings.models_dir, taxonomy, embedder)
        if not isinstance(base, TorchHeadClassifier):
            raise ValueError(f"a quick retrain starts from a current {TorchHeadClassifier.kind} model: run `avi train`")
        examples = taxonomy_papers(taxonomy) if settings.train_on_taxonomy else []
        model = base.refit(papers, examples)
        model.version = version
        return _register(settings, taxonomy, embedder, model, None, labels_fingerprint, len(papers), len(examples))
    folds = settings.train_cv_folds if cv_folds is None else cv_folds
    setup = training_setup(settings, kind, corpus_files, papers, folds)
    if kind == TorchHeadClassifier.kind or folds >= MIN_FOLDS:
        model, predictions, protocol = measured_fit(taxonomy, embedder, papers, setup, version)
        metrics = evaluation(protocol, papers, predictions)
    else:
        model, metrics = fit_classifier(taxonomy, embedder, papers, version, setup), None
    return _register(
        settings, taxonomy, embedder, model, metrics, labels_fingerprint, len(papers), len(setup.examples(taxonomy))
    )


def _register(
    settings: Settings,
    taxonomy: Taxonomy,
    embedder: Embedder,
    model: TorchHeadClassifier | EmbeddingClassifier,
    metrics: Evaluation | None,
    labels_fingerprint: str,
    n_papers: int,
    n_examples: int,
) -> ModelInfo:
    info = ModelInfo(
        version=model.version,
        kind=model.kind,
        created_at=model.version.split("-")[1],
        taxonomy_fingerprint=taxonomy.fingerprint,
        labels_fingerprint=labels_fingerprint,
        n_papers=n_papers,
        thresholds=model.thresholds,
        metrics=metrics,
        embedding=embedder.name,
        taxonomy_examples=n_examples,
    )
    save_model(settings.models_dir, model, info)
    logger.info("trained %s on %d papers", model.version, n_papers)
    return info
