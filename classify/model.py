"""Classifiers that sort papers into the taxonomy, behind one small interface.

Every classifier answers :meth:`Classifier.predict` with a :class:`Prediction` per text: a relevance
decision (``av`` / ``context`` / ``none``) and labels that are consistent with it (``none`` carries no
label, ``context`` no task label, ``av`` at least one task label). Three backends:

* :class:`EmbeddingClassifier`: logistic regressions over sentence embeddings, with per-label
  thresholds chosen by cross-validation (the default once ``avi train`` has run);
* :class:`ZeroShotClassifier`: cosine similarity to the taxonomy's own descriptions (no labels needed);
* :class:`TfidfSvmClassifier`: the TF-IDF + linear SVM baseline that ``avi eval --baseline`` reports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from classify.embed import Embedder
from classify.labels import LabeledPaper, paper_text
from classify.screen import Screening
from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy, is_task_label

logger = logging.getLogger(__name__)

MIN_POSITIVES = 2  # labels with fewer training papers are never predicted
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
THRESHOLD_REACH = 2  # grid steps either side over which a label's F1 curve is averaged before its top is taken


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one paper."""

    relevance: str
    relevance_score: float
    labels: dict[str, float]  # predicted labels with their scores, consistent with the relevance
    best_task_score: float  # highest score of any task label, predicted or not (low: fits no subsection well)
    label_scores: dict[str, float] = field(default_factory=dict)  # every label's score, for explanations
    label_margin: float | None = None  # see :func:`task_label_margin`; None without thresholds or for ``none``


class Classifier(Protocol):
    """What the evaluation needs from a classifier."""

    version: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One consistent prediction per text."""
        ...


class EmbeddingBasedClassifier(Classifier, Protocol):
    """What the pipeline needs: a classifier whose embeddings can be computed elsewhere (a Dask worker)."""

    kind: str

    def screening(self, texts: Sequence[str]) -> Screening:
        """Which texts must be embedded before :meth:`predict_embeddings` (a screen may spare some)."""
        ...

    def predict_embeddings(
        self, features: np.ndarray, texts: Sequence[str], screening: Screening | None = None
    ) -> list[Prediction]:
        """One consistent prediction per text (``features``: one embedding row per text; rows of texts the
        screening did not keep are not read). Pass the batch's ``screening`` if it was already computed."""
        ...

    def nearest_labeled(self, features: np.ndarray, count: int) -> list[tuple[float, LabeledPaper]]:
        """The ``count`` labeled papers (cosine similarity, paper) the prediction for one embedded text drew
        on, nearest first; empty for a classifier that keeps no labeled papers."""
        ...


class WithoutScreenOrMemory:
    """For classifiers without a screen (every text is embedded) and without labeled papers to show."""

    def screening(self, texts: Sequence[str]) -> Screening:
        """Every text kept."""
        return Screening.everything(len(texts))

    def nearest_labeled(self, features: np.ndarray, count: int) -> list[tuple[float, LabeledPaper]]:
        """None: these classifiers keep no labeled papers."""
        return []


def build_prediction(
    relevance: str, relevance_score: float, scores: dict[str, float], thresholds: dict[str, float]
) -> Prediction:
    """The one way a classifier turns a relevance decision and every label's score into a :class:`Prediction`:
    labels consistent with the relevance, the best task score and the margin to the thresholds."""
    return Prediction(
        relevance=relevance,
        relevance_score=relevance_score,
        labels=consistent_labels(relevance, scores, thresholds),
        best_task_score=max((score for label, score in scores.items() if is_task_label(label)), default=0.0),
        label_scores=scores,
        label_margin=task_label_margin(relevance, scores, thresholds),
    )


def screened_out(unrelated: float) -> Prediction:
    """The prediction for a text the words-only screen turned away: ``none``, scored by the screen alone."""
    return Prediction("none", unrelated, {}, 0.0)


def consistent_labels(relevance: str, scores: dict[str, float], thresholds: dict[str, float]) -> dict[str, float]:
    """The labels to predict for one paper, given its relevance, its label scores and the thresholds."""
    if relevance == "none":
        return {}
    chosen = {label: score for label, score in scores.items() if score >= thresholds.get(label, np.inf)}
    if relevance == "context":
        chosen = {label: score for label, score in chosen.items() if not is_task_label(label)}
        if not any(label.startswith("context.") for label in chosen):
            context_scores = {label: score for label, score in scores.items() if label.startswith("context.")}
            if context_scores:
                best = max(context_scores, key=context_scores.__getitem__)
                chosen[best] = context_scores[best]
        return chosen
    chosen = {label: score for label, score in chosen.items() if not label.startswith("context.")}
    if not any(is_task_label(label) for label in chosen):
        task_scores = {label: score for label, score in scores.items() if is_task_label(label)}
        if task_scores:
            best = max(task_scores, key=task_scores.__getitem__)
            chosen[best] = task_scores[best]
    return chosen


def task_label_margin(relevance: str, scores: dict[str, float], thresholds: dict[str, float]) -> float | None:
    """How near a paper's task labels are to being decided the other way: the smallest distance between a task
    label's score and its threshold. None for a paper decided ``none`` (it carries no label) or without
    thresholds. ``avi label`` asks about the papers with the smallest margins as well as the least certain
    relevance decisions (docs/classifier.md)."""
    if relevance == "none":
        return None
    margins = [
        abs(score - thresholds[label])
        for label, score in scores.items()
        if is_task_label(label) and label in thresholds
    ]
    return min(margins, default=None)


def training_views(papers: Sequence[LabeledPaper]) -> tuple[list[str], list[LabeledPaper], np.ndarray]:
    """Texts to train on: every paper as title + abstract, and papers with an abstract also as title only.

    Most labeled positives are title-only while every negative has an abstract; without the title-only
    views a model learns that a short text means audio-visual. Returns texts, their papers and a group
    id per text (views of one paper share it, so cross-validation never splits them).
    """
    texts: list[str] = []
    owners: list[LabeledPaper] = []
    groups: list[int] = []
    for index, paper in enumerate(papers):
        texts.append(paper_text(paper.title, paper.abstract))
        owners.append(paper)
        groups.append(index)
        if paper.has_abstract:
            texts.append(paper_text(paper.title, None))
            owners.append(paper)
            groups.append(index)
    return texts, owners, np.asarray(groups)


def _best_threshold(
    truth: np.ndarray, scores: np.ndarray, grid: np.ndarray = _THRESHOLD_GRID, reach: int = THRESHOLD_REACH
) -> float:
    """The grid threshold at the top of the F1 curve once each point is averaged with ``reach`` grid steps either
    side (the curve's ends repeated; the lowest threshold among equals). A label with a few dozen positives has a
    jagged curve whose highest point is where a handful of papers happen to fall; the averaged curve's is where F1
    stays high over a range of thresholds, and holds on papers the thresholds were not chosen on
    (docs/classifier.md). ``reach`` 0: the raw curve's highest point."""
    predicted = scores[None, :] >= grid[:, None]
    true_positives = np.count_nonzero(predicted & truth.astype(bool)[None, :], axis=1)
    denominators = np.count_nonzero(predicted, axis=1) + np.count_nonzero(truth)
    f1 = np.divide(2.0 * true_positives, denominators, out=np.zeros(len(grid)), where=denominators > 0)
    window = 2 * reach + 1
    averaged = np.convolve(np.pad(f1, reach, mode="edge"), np.full(window, 1.0 / window), mode="valid")
    return float(grid[int(np.argmax(np.round(averaged, 12)))])  # rounded: equal averages stay equal


def view_folds(relevance: np.ndarray, groups: np.ndarray, papers: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold of every view: stratified by relevance over the first ``papers`` groups (both views of a paper
    share its fold), shuffled by ``seed``; the views of later groups (examples) get -1, for every model learns
    from them."""
    unique_groups, first_index = np.unique(groups, return_index=True)
    scored = unique_groups < papers
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of_group = np.full(len(unique_groups), -1)
    scored_groups = unique_groups[scored]
    for fold, (_, test) in enumerate(splitter.split(scored_groups, relevance[first_index][scored])):
        fold_of_group[scored_groups[test]] = fold
    return fold_of_group[np.searchsorted(unique_groups, groups)]


class EmbeddingClassifier(WithoutScreenOrMemory):
    """Logistic regressions over sentence embeddings: one 3-way for relevance, one binary per label."""

    kind = "embedding-logreg"

    def __init__(
        self, taxonomy: Taxonomy, embedder: Embedder, version: str = "untrained", c: float = 4.0, seed: int = 0
    ) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.version = version
        self.c = c
        self.seed = seed  # draws the folds the thresholds are chosen on
        self.relevance_model: LogisticRegression | None = None
        self.label_models: dict[str, LogisticRegression] = {}
        self.thresholds: dict[str, float] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["embedder"] = None  # the embedder is reattached on load, never pickled
        return state

    def fit(self, papers: Sequence[LabeledPaper]) -> EmbeddingClassifier:
        """Train on labeled papers; thresholds come from 5-fold out-of-fold scores (folds drawn by ``seed``)."""
        texts, owners, groups = training_views(papers)
        features = self.embedder.encode(texts)
        relevance = np.array([RELEVANCE_CLASSES.index(paper.relevance) for paper in owners])
        known = [1.0 if paper.relevance_known else 0.0 for paper in owners]  # technique examples: labels only
        self.relevance_model = self._head().fit(features, relevance, sample_weight=known)
        # folds over papers, not views; as many as the rarest relevance class allows, two to five
        first_views = np.unique(groups, return_index=True)[1]
        n_folds = min(5, max(2, int(np.bincount(relevance[first_views]).min())))
        fold_of = view_folds(relevance, groups, len(first_views), n_folds, self.seed)
        folds = [(np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)) for fold in range(n_folds)]
        for label in self.taxonomy.label_ids:
            truth = np.array([label in paper.labels for paper in owners])
            if truth[np.unique(groups, return_index=True)[1]].sum() < MIN_POSITIVES:
                continue
            self.thresholds[label] = _best_threshold(truth, self._out_of_fold(features, truth, folds))
            self.label_models[label] = self._head().fit(features, truth)
        logger.info("trained %d label heads on %d papers (%d views)", len(self.label_models), len(papers), len(texts))
        return self

    def _head(self) -> LogisticRegression:
        return LogisticRegression(C=self.c, class_weight="balanced", max_iter=3000)

    def _out_of_fold(self, features: np.ndarray, truth: np.ndarray, folds: list) -> np.ndarray:
        """Scores of each text from a head trained without its fold (0 where a fold saw no positive)."""
        scores = np.zeros(len(truth))
        for train_index, test_index in folds:
            if truth[train_index].any():
                scores[test_index] = (
                    self._head()
                    .fit(features[train_index], truth[train_index])
                    .predict_proba(features[test_index])[:, 1]
                )
        return scores

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions for texts built with :func:`classify.labels.paper_text`."""
        return self.predict_embeddings(self.embedder.encode(texts), texts) if texts else []

    def predict_embeddings(
        self, features: np.ndarray, texts: Sequence[str], screening: Screening | None = None
    ) -> list[Prediction]:
        """Predictions for texts already embedded (by this classifier's embedding model); reads embeddings only."""
        if self.relevance_model is None:
            raise RuntimeError("the classifier is not trained")
        if not len(features):
            return []
        relevance_probabilities = self.relevance_model.predict_proba(features)
        label_probabilities = {label: model.predict_proba(features)[:, 1] for label, model in self.label_models.items()}
        predictions = []
        for row, probabilities in enumerate(relevance_probabilities):
            best = int(np.argmax(probabilities))
            relevance = RELEVANCE_CLASSES[int(self.relevance_model.classes_[best])]
            scores = {label: float(values[row]) for label, values in label_probabilities.items()}
            predictions.append(build_prediction(relevance, float(probabilities[best]), scores, self.thresholds))
        return predictions


def zero_shot_version(taxonomy: Taxonomy) -> str:
    """The version of the zero-shot classifier: it changes only with the taxonomy."""
    return f"zeroshot-{taxonomy.fingerprint}"


class ZeroShotClassifier(WithoutScreenOrMemory):
    """Similarity to the taxonomy's descriptions: what runs before any model has been trained.

    Crude by design (it has seen no labels): relevance is ``av`` when the closest description is a task
    label's and close enough, ``context`` when it is a context label's.
    """

    kind = "zero-shot"
    AV_SIMILARITY = 0.45
    MARGIN = 0.03

    def __init__(self, taxonomy: Taxonomy, embedder: Embedder) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.version = zero_shot_version(taxonomy)
        self.label_ids = self.taxonomy.label_ids
        self.prototypes = embedder.encode([taxonomy.by_id[label].prompt for label in self.label_ids])

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions from cosine similarity to label descriptions."""
        return self.predict_embeddings(self.embedder.encode(texts), texts) if texts else []

    def predict_embeddings(
        self, features: np.ndarray, texts: Sequence[str], screening: Screening | None = None
    ) -> list[Prediction]:
        """Predictions for texts already embedded (unit vectors); reads embeddings only."""
        similarity = features @ self.prototypes.T
        predictions = []
        for row in similarity:
            scores = dict(zip(self.label_ids, (float(value) for value in row), strict=True))
            best_label = max(scores, key=scores.__getitem__)
            best = scores[best_label]
            relevance = "none" if best < self.AV_SIMILARITY else "av" if is_task_label(best_label) else "context"
            thresholds = dict.fromkeys(scores, best - self.MARGIN)
            predictions.append(build_prediction(relevance, best, scores, thresholds))
        return predictions


class TfidfSvmClassifier:
    """The baseline of arxiv-sanity-lite and ASReview: TF-IDF features and linear SVMs."""

    kind = "tfidf-svm"

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.version = "baseline-tfidf-svm"
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english")
        self.relevance_model = LinearSVC(class_weight="balanced")
        self.label_models: dict[str, LinearSVC] = {}

    def fit(self, papers: Sequence[LabeledPaper]) -> TfidfSvmClassifier:
        """Train on the same views as the main model."""
        texts, owners, _ = training_views(papers)
        features = self.vectorizer.fit_transform(texts)
        self.relevance_model.fit(features, [paper.relevance for paper in owners])
        for label in self.taxonomy.label_ids:
            truth = np.array([label in paper.labels for paper in owners])
            if truth.sum() >= MIN_POSITIVES:
                self.label_models[label] = LinearSVC(class_weight="balanced").fit(features, truth)
        return self

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions; an SVM margin above zero means the label applies."""
        if not texts:
            return []
        features = self.vectorizer.transform(texts)
        relevance = self.relevance_model.predict(features)
        margins = {label: model.decision_function(features) for label, model in self.label_models.items()}
        thresholds = dict.fromkeys(margins, 0.0)
        predictions = []
        for row, decided in enumerate(relevance):
            scores = {label: float(values[row]) for label, values in margins.items()}
            predictions.append(build_prediction(str(decided), 1.0, scores, thresholds))
        return predictions
