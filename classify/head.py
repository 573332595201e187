"""The default classifier: one multi-task torch head over sentence embeddings, on CUDA when there is one.

A single small network answers every question at once: three relevance logits (``av`` / ``context`` /
``none``) and one logit per taxonomy label. It trains in one pass: the fold models (one per fold, each
without its fold's papers) and the final model learn side by side, and the fold models' out-of-fold
scores both choose the final model's decisions and measure it (each fold's papers scored with decisions
chosen on the other folds), so measuring costs nothing beyond training:

* each label's score blends the network's with the labels of the ten nearest labeled texts (weight 0.5);
* each label's threshold is at the top of its F1 curve on out-of-fold (blended) scores, averaged over 0.1
  either way (:func:`classify.model._best_threshold`);
* a TF-IDF + logistic regression scorer (:class:`WordScorer`) is blended in, half and half: words keep
  the exact terms embeddings blur;
* relevance is decided by a logistic regression stacked on the blended relevance probabilities, the
  label scores, how often the text names each of the survey's modalities, the relevance of the ten
  nearest labeled texts and the words-only screen's probability (:mod:`classify.stacking`), trained on
  out-of-fold scores;
* the relevance probabilities are calibrated by temperature scaling on out-of-fold probabilities, so a
  0.8 is right about 80 % of the time (``avi eval`` prints the reliability table);
* a words-only screen (:mod:`classify.screen`) answers ``none`` first for plainly unrelated texts, which
  are then never embedded; a text that names every modality of the survey always goes past it;
* predictions go through :func:`classify.model.build_prediction`, so a subsection implies its section
  and ``none`` carries no label.

Training papers may carry a weight (a judged paper read with low confidence, a row a curated list
flags as weak counts less); both views of a paper (title + abstract, title only) share a fold. What
each part adds is measured in docs/classifier.md.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classify.embed import Embedder, resolve_device
from classify.labels import JUDGED_SOURCE, LabeledPaper
from classify.model import (
    MIN_POSITIVES,
    Prediction,
    _best_threshold,
    build_prediction,
    screened_out,
    training_views,
    view_folds,
)
from classify.screen import RelevanceScreen, Screening, screen_threshold_for
from classify.stacking import KeyTermBoost, ModalityTerms, RelevanceStacker
from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy, is_technique_label
from classify.threads import map_in_threads

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def paper_weight(paper: LabeledPaper, low_confidence: float = 0.5, stream: float = 1.0) -> float:
    """How much a labeled paper counts in training: ``low_confidence`` times as much when its label is
    uncertain, half when its list doubts it, ``stream`` times as much when it is a judged stream paper."""
    weight = low_confidence if paper.confidence == "low" else 1.0
    if paper.doubted_by_its_list:
        weight *= 0.5
    return weight * stream if paper.source == JUDGED_SOURCE else weight


def relevance_weight(paper: LabeledPaper, low_confidence: float = 0.5, stream: float = 1.0) -> float:
    """How much a labeled paper counts in learning relevance: nothing when its relevance is not known."""
    return paper_weight(paper, low_confidence, stream) if paper.relevance_known else 0.0


@dataclass(frozen=True)
class OutOfFold:
    """What a fit's fold models said of the views they did not learn from, one row per training view: the
    thresholds, the temperature and the screen's threshold are chosen on it, and cross-validation reads it."""

    relevance: np.ndarray  # blended relevance probabilities, before the temperature
    label_scores: np.ndarray  # blended label scores
    screen: np.ndarray | None  # the screen's relevance probability (None: no screen)
    fold: np.ndarray  # the fold of each view; -1 for views every model learns from (the taxonomy's examples)
    relevance_class: np.ndarray  # gold relevance, as an index of RELEVANCE_CLASSES
    relevance_weight: np.ndarray  # what the view counts in learning relevance (0: its relevance is not known)
    evidence: np.ndarray  # what the relevance stacker reads beside the blended scores (TorchHeadClassifier._evidence)
    names_every_modality: np.ndarray  # the view names every modality: the screen never turns it away
    targets: np.ndarray  # gold labels, one column per trained label
    with_abstract: np.ndarray  # the view is a paper's title and abstract
    first_view: np.ndarray  # the view is a paper's first (title and abstract when it has one): the one scored

    @property
    def known(self) -> np.ndarray:
        """Whether each view's relevance is known (a technique's example: no)."""
        return self.relevance_weight > 0


@dataclass(frozen=True)
class Decisions:
    """What turns scores into a prediction, chosen on out-of-fold scores: each label's threshold, the
    temperature of the relevance probabilities, the screen's threshold (and the share of relevant papers it
    loses) and the stacker that decides relevance from the blended scores (None, in models trained before it
    existed: the blended probabilities)."""

    thresholds: dict[str, float]
    temperature: float
    screen_threshold: float = 0.0
    screen_loss: float = 0.0
    stacker: RelevanceStacker | None = None

    def calibrated(self, relevance: np.ndarray, label_scores: np.ndarray, evidence: np.ndarray | None) -> np.ndarray:
        """Calibrated relevance probabilities from blended ones (rows of texts, with their label scores and
        the stacker's further evidence)."""
        if self.stacker is not None:
            relevance = self.stacker.probabilities(relevance, label_scores, evidence)
        return _softmax(np.log(relevance + 1e-9) / self.temperature)

    def relevance(self, probabilities: np.ndarray) -> int:
        """The relevance class (an index of RELEVANCE_CLASSES) of calibrated probabilities: the likeliest."""
        return int(np.argmax(probabilities))


NONE = RELEVANCE_CLASSES.index("none")


def word_label_regression(technique: bool) -> LogisticRegression:
    """The word model of one label. A technique's is fitted more loosely (C 0.5 against 10) and at the label's
    own frequency, its classes not weighed to balance: most techniques have a few dozen positives, and fitted so
    the judged stream papers' technique macro-F1 rose in every fold seed and the named labels' scores became
    less optimistic (docs/classifier.md, "The word models of the techniques"). The tolerance stops where the
    scores stop moving ("Training time")."""
    if technique:
        return LogisticRegression(C=0.5, solver="liblinear", tol=1e-2)
    return LogisticRegression(C=10.0, class_weight="balanced", solver="liblinear", tol=1e-2)


class WordScorer:
    """TF-IDF + logistic regressions: relevance and label probabilities from the words themselves.

    Sentence embeddings blur the exact terms that decide many labels (a dataset's name, "Foley",
    "talking head"); words keep them. Blended with the network's probabilities.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        # the tolerances stop where the scores stop moving (docs/classifier.md, "Training time")
        self.relevance_model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000, tol=1e-3)
        self.label_models: list[LogisticRegression | None] = []

    @classmethod
    def fit_members(
        cls,
        texts: Sequence[str],
        relevance: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray,
        relevance_weights: np.ndarray,
        membership: np.ndarray,
        techniques: np.ndarray,
    ) -> list[WordScorer]:
        """One scorer per row of ``membership`` (the views it learns from), sharing one vocabulary: a
        vocabulary and its IDF read no label, so one fitted on every text serves them all. ``techniques``: whether
        each label column is a technique (:func:`word_label_regression`). A label without positives among a
        scorer's views scores 0 there. The scorers fit side by side (:func:`map_in_threads`)."""
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=30000, sublinear_tf=True, stop_words="english"
        )
        words = vectorizer.fit_transform(texts)

        def fit_member(member: np.ndarray) -> WordScorer:
            scorer = cls(vectorizer)
            rows = np.flatnonzero(member)
            member_words, member_targets, member_weights = words[rows], targets[rows], weights[rows]
            scorer.relevance_model.fit(member_words, relevance[rows], sample_weight=relevance_weights[rows])
            scorer.label_models = [
                word_label_regression(techniques[column]).fit(
                    member_words, member_targets[:, column], sample_weight=member_weights
                )
                if 0 < member_targets[:, column].sum() < len(rows)
                else None
                for column in range(targets.shape[1])
            ]
            return scorer

        return map_in_threads(fit_member, membership)

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(relevance probabilities in RELEVANCE_CLASSES order, label probabilities)."""
        words = self.vectorizer.transform(texts)
        relevance = np.zeros((len(texts), len(RELEVANCE_CLASSES)))
        relevance[:, self.relevance_model.classes_] = self.relevance_model.predict_proba(words)
        labels = np.zeros((len(texts), len(self.label_models)))
        for column, model in enumerate(self.label_models):
            if model is not None:
                labels[:, column] = model.predict_proba(words)[:, 1]
        return relevance, labels


def dropped_out(tensor: torch.Tensor, rate: float) -> torch.Tensor:
    """``tensor`` in training with dropout: a share ``rate`` of its elements zeroed (to the nearest 1/256), the
    rest scaled up to keep the mean.

    The mask is cut from random bytes, eight to one 64-bit draw: torch's own dropout draws a float per element
    (``bernoulli_``), a third of a training step of the head on a CPU (docs/benchmarks.md)."""
    import torch

    cut = round(rate * 256)
    size = tensor.numel()
    draws = torch.randint(-(2**63), 2**63 - 1, ((size + 7) // 8,), dtype=torch.int64, device=tensor.device)
    kept = draws.view(torch.uint8)[:size].view(tensor.shape) >= cut
    return tensor * kept.to(tensor.dtype).mul_(256 / (256 - cut))


PICKLED_BEFORE_THEY_EXISTED = {
    "folds": 5,
    "low_confidence_weight": 0.5,
    "stream_weight": 1.0,
    "learning_rate": 1e-3,
    "_out_of_fold": None,
    "stacker": None,
    "key_term_boost": (0.0, 0.0),
    "stack_neighbours_and_screen": False,
}


class TorchHeadClassifier:
    """A multi-task MLP over embeddings with out-of-fold thresholds and a calibrated relevance.

    Batches of 256 at a learning rate of 3e-3 for 40 epochs: the figures of 64 at 1e-3 for 80 epochs in a
    quarter of the arithmetic, which is most of the training time (docs/classifier.md, "Training time").
    """

    kind = "embedding-mlp"

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Embedder,
        version: str = "untrained",
        device: str = "auto",
        hidden: int = 512,
        epochs: int = 40,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        seed: int = 0,
        neighbour_weight: float = 0.5,
        neighbours: int = 10,
        word_weight: float = 0.5,
        screen_max_loss: float = 0.0,
        folds: int = 5,
        low_confidence_weight: float = 0.5,
        stream_weight: float = 1.0,
        key_term_boost: tuple[float, float] = (0.05, 0.2),
        stack_neighbours_and_screen: bool = True,
    ) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.embedding = embedder.name
        self.version = version
        self.device = device
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.neighbour_weight = neighbour_weight
        self.neighbours = neighbours
        self.word_weight = word_weight
        self.words: WordScorer | None = None
        self.screen_max_loss = screen_max_loss
        self.screen: RelevanceScreen | None = None
        self.memory: tuple[np.ndarray, np.ndarray] | None = None  # labeled embeddings and their label targets
        self.memory_papers: list[LabeledPaper] = []  # the labeled paper behind each row of ``memory``
        self.seed = seed
        self.label_ids: list[str] = []
        self.thresholds: dict[str, float] = {}
        self.temperature = 1.0
        self.state: dict | None = None  # the trained network's weights, on the CPU
        self.folds = folds
        self.low_confidence_weight = low_confidence_weight
        self.stream_weight = stream_weight
        self.stacker: RelevanceStacker | None = None
        self.key_term_boost = key_term_boost  # (task, technique): classify.stacking.KeyTermBoost
        self.stack_neighbours_and_screen = stack_neighbours_and_screen
        self._network = None
        self._out_of_fold: OutOfFold | None = None  # kept in memory for cross-validation, never pickled

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["embedder"] = None  # reattached on load, never pickled
        state["_network"] = None  # rebuilt from ``state`` on the device at hand
        state["_out_of_fold"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        # a model pickled before an attribute existed gets the value it was trained with
        self.__dict__.update(PICKLED_BEFORE_THEY_EXISTED)
        self.__dict__.update(state)

    def fit(
        self,
        papers: Sequence[LabeledPaper],
        background: Sequence[str] = (),
        examples: Sequence[LabeledPaper] = (),
    ) -> TorchHeadClassifier:
        """Train on labeled papers in one pass: ``folds`` fold models and the final model learn together, the
        fold models' out-of-fold scores choose the thresholds, the temperature and the screen's threshold,
        and they are kept for :meth:`cross_validated_predictions`.

        ``background``: unlabeled texts presumed unrelated, for the screen (none: no screen). ``examples``:
        texts that are always trained on and never scored out of fold (the taxonomy's own words).
        """
        texts, owners, groups = training_views([*papers, *examples])
        features = self.embedder.encode(texts)
        relevance = np.array([RELEVANCE_CLASSES.index(paper.relevance) for paper in owners])
        first_views = np.unique(groups, return_index=True)[1]
        self.label_ids = [
            label
            for label in self.taxonomy.label_ids
            if sum(label in owners[index].labels for index in first_views) >= MIN_POSITIVES
        ]
        targets, weights, relevance_weights = self._targets_and_weights(owners)
        class_counts = np.bincount(relevance[first_views][: len(papers)])
        smallest_class = class_counts[class_counts > 0].min()
        self.folds = min(self.folds, max(2, int(smallest_class)))  # every fold holds every class
        fold_of = view_folds(relevance, groups, len(papers), self.folds, self.seed)
        membership = np.stack([fold_of != fold for fold in range(self.folds)] + [np.ones(len(texts), dtype=bool)])
        unrelated = RELEVANCE_CLASSES.index("none")

        states = self._train_members(features, relevance, targets, weights, relevance_weights, membership)
        out_of_fold_logits = np.zeros((len(texts), len(RELEVANCE_CLASSES)), dtype=np.float32)
        out_of_fold_scores = np.zeros_like(targets)
        out_of_fold_neighbours = np.zeros_like(out_of_fold_logits)
        known_relevance = _known_relevance(owners)
        for fold, state in enumerate(states[:-1]):
            test, member = fold_of == fold, membership[fold]
            logits, scores = self._forward(self._network_from(state), features[test])
            memory = (features[member], targets[member])
            out_of_fold_scores[test], out_of_fold_neighbours[test] = self._blend(
                scores, features[test], memory, known_relevance[member]
            )
            out_of_fold_logits[test] = logits
        out_of_fold_relevance = _softmax(out_of_fold_logits)
        if self.word_weight:
            scorers = WordScorer.fit_members(
                texts, relevance, targets, weights, relevance_weights, membership, self._techniques()
            )
            for fold, scorer in enumerate(scorers[:-1]):
                test = fold_of == fold
                word_relevance, word_labels = scorer.scores(list(compress(texts, test)))
                out_of_fold_relevance[test] = _mix(out_of_fold_relevance[test], word_relevance, self.word_weight)
                out_of_fold_scores[test] = _mix(out_of_fold_scores[test], word_labels, self.word_weight)
            self.words = scorers[-1]
        out_of_fold_scores = self._key_terms().apply(out_of_fold_scores, texts)
        out_of_fold_screen = None
        if self.screen_max_loss and len(background):
            self.screen = RelevanceScreen(self.screen_max_loss)
            folds = [
                (np.flatnonzero(member), np.flatnonzero(fold_of == fold)) for fold, member in enumerate(membership)
            ]
            out_of_fold_screen = self.screen.fit(texts, relevance != unrelated, folds[:-1], background)
        first_view = np.zeros(len(texts), dtype=bool)
        first_view[first_views] = True
        with_abstract = np.array([paper.has_abstract for paper in owners]) & first_view
        modality_terms = ModalityTerms(self.taxonomy.modalities)
        self._out_of_fold = OutOfFold(
            relevance=out_of_fold_relevance,
            label_scores=out_of_fold_scores,
            screen=out_of_fold_screen,
            fold=fold_of,
            relevance_class=relevance,
            relevance_weight=relevance_weights,
            evidence=self._evidence(modality_terms.features(texts), out_of_fold_neighbours, out_of_fold_screen),
            names_every_modality=modality_terms.name_every_modality(texts),
            targets=targets.astype(bool),
            with_abstract=with_abstract,
            first_view=first_view,
        )
        decisions = self._choices(fold_of >= 0)
        self.thresholds, self.temperature, self.stacker = decisions.thresholds, decisions.temperature, decisions.stacker
        if self.screen is not None:
            self.screen.set_threshold(decisions.screen_threshold, decisions.screen_loss)
        self.state = states[-1]
        self._network = None
        if self.neighbour_weight:
            self.memory, self.memory_papers = (features, targets), list(owners)
        logger.info(
            "trained the head for %d labels on %d papers and %d examples (%d views, %d folds), temperature %.2f",
            len(self.label_ids),
            len(papers),
            len(examples),
            len(texts),
            self.folds,
            self.temperature,
        )
        return self

    def _targets_and_weights(self, owners: Sequence[LabeledPaper]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per view: its label targets (one column per trained label), its weight and its relevance weight."""
        targets = np.array([[label in paper.labels for label in self.label_ids] for paper in owners], dtype=np.float32)
        weighing = (self.low_confidence_weight, self.stream_weight)
        weights = np.array([paper_weight(paper, *weighing) for paper in owners], dtype=np.float32)
        relevance_weights = np.array([relevance_weight(paper, *weighing) for paper in owners], dtype=np.float32)
        return targets, weights, relevance_weights

    def _techniques(self) -> np.ndarray:
        """Whether each trained label is a technique."""
        return np.array([is_technique_label(label) for label in self.label_ids])

    def refit(self, papers: Sequence[LabeledPaper], examples: Sequence[LabeledPaper] = ()) -> TorchHeadClassifier:
        """A quick retrain on new labels (an analyst's decisions on top of the old ones): the final network and
        word models learn from ``papers`` again, while the decisions chosen out of fold (thresholds,
        temperature, the screen) stay this model's. For labels that barely changed; ``fit`` chooses afresh.
        Returns a new classifier; this one is unchanged."""
        if self.state is None:
            raise RuntimeError("the classifier is not trained")
        retrained = copy.copy(self)  # through __getstate__, which leaves the embedder behind
        retrained.embedder = self.embedder
        texts, owners, _ = training_views([*papers, *examples])
        features = self.embedder.encode(texts)
        relevance = np.array([RELEVANCE_CLASSES.index(paper.relevance) for paper in owners])
        targets, weights, relevance_weights = retrained._targets_and_weights(owners)
        everything = np.ones((1, len(texts)), dtype=bool)
        [retrained.state] = retrained._train_members(
            features, relevance, targets, weights, relevance_weights, everything
        )
        if self.words is not None:
            [retrained.words] = WordScorer.fit_members(
                texts, relevance, targets, weights, relevance_weights, everything, self._techniques()
            )
        if self.neighbour_weight:
            retrained.memory, retrained.memory_papers = (features, targets), list(owners)
        retrained._network, retrained._out_of_fold = None, None
        logger.info("retrained the head on %d papers, keeping the decisions of %s", len(papers), self.version)
        return retrained

    def _choices(self, chosen_on: np.ndarray) -> Decisions:
        """The decisions chosen on the out-of-fold scores of the views ``chosen_on`` selects."""
        oof = self._out_of_fold
        thresholds = {
            label: _best_threshold(oof.targets[chosen_on, column], oof.label_scores[chosen_on, column])
            for column, label in enumerate(self.label_ids)
        }
        known = chosen_on & oof.known
        # learnt from the views that are scored (title and abstract when a paper has one), as papers come
        scored = known & oof.first_view
        stacker = RelevanceStacker(ModalityTerms(self.taxonomy.modalities)).fit(
            oof.relevance[scored],
            oof.label_scores[scored],
            oof.evidence[scored],
            oof.relevance_class[scored],
            oof.relevance_weight[scored],
        )
        relevance = stacker.probabilities(oof.relevance[known], oof.label_scores[known], oof.evidence[known])
        # calibrate what is decided on, sharpened or softened as one
        temperature = fit_temperature(np.log(relevance + 1e-9), oof.relevance_class[known])
        screen_threshold = (0.0, 0.0)
        if self.screen is not None and oof.screen is not None:
            # what the screen must not lose: relevant papers with an abstract the full classifier finds relevant
            # (it never turns away one that names every modality)
            found = known & (oof.relevance_class != NONE) & (oof.relevance.argmax(axis=1) != NONE) & oof.with_abstract
            screened = np.where(oof.names_every_modality[found], 1.0, oof.screen[found])
            screen_threshold = screen_threshold_for(screened, self.screen_max_loss)
        return Decisions(thresholds, temperature, *screen_threshold, stacker)

    def cross_validated_predictions(self) -> list[Prediction]:
        """The out-of-fold prediction of every paper :meth:`fit` was given (in its order, from its title and
        abstract): each fold's papers scored by the models trained without them, with the decisions chosen
        on the other folds' out-of-fold scores, as a separate training would have chosen them."""
        oof = self._out_of_fold
        if oof is None:
            raise RuntimeError("the classifier was not fitted in this process")
        rows = np.flatnonzero(oof.first_view & (oof.fold >= 0))
        predictions: dict[int, Prediction] = {}
        for fold in range(self.folds):
            decisions = self._choices((oof.fold >= 0) & (oof.fold != fold))
            scored = rows[oof.fold[rows] == fold]
            if oof.screen is not None:
                turned_away = (oof.screen[scored] < decisions.screen_threshold) & ~oof.names_every_modality[scored]
                for row in scored[turned_away]:
                    predictions[row] = screened_out(1.0 - float(oof.screen[row]))
                scored = scored[~turned_away]
            relevance = decisions.calibrated(oof.relevance[scored], oof.label_scores[scored], oof.evidence[scored])
            for row, relevance_row in zip(scored, relevance, strict=True):
                predictions[row] = self._prediction(relevance_row, oof.label_scores[row], decisions)
        return [predictions[row] for row in rows]

    def _build(self, dimensions: int):  # noqa: ANN202 - torch is imported lazily
        import torch

        torch.manual_seed(self.seed)
        return torch.nn.Sequential(
            torch.nn.Dropout(0.1),
            torch.nn.Linear(dimensions, self.hidden),
            torch.nn.GELU(),
            torch.nn.Dropout(0.3),
            torch.nn.Linear(self.hidden, len(RELEVANCE_CLASSES) + len(self.label_ids)),
        ).to(resolve_device(self.device))

    def _network_from(self, state: dict):  # noqa: ANN202 - torch is imported lazily
        network = self._build(int(state["1.weight"].shape[1]))
        network.load_state_dict(state)
        network.eval()
        return network

    def _train_members(
        self,
        features: np.ndarray,
        relevance: np.ndarray,
        targets: np.ndarray,
        weights: np.ndarray,
        relevance_weights: np.ndarray,
        membership: np.ndarray,
    ) -> list[dict]:
        """Train one network per row of ``membership`` (which views it learns from), all in the same steps:
        the networks are stacked into batched matrix products, so the fold models cost little more than one
        network's worth of steps. Each member starts from the same initial weights and sees only its own views'
        losses, as if trained alone (the input's dropout mask is shared, the hidden layer's is each one's own).
        Returns each member's weights in the layout of :meth:`_build`'s network, on the CPU."""
        import torch

        device = resolve_device(self.device)
        members = len(membership)
        templates = [self._build(features.shape[1]) for _ in range(members)]

        def stacked(layer: int, part: str, transpose: bool) -> torch.nn.Parameter:
            tensors = [getattr(template[layer], part).detach() for template in templates]
            tensors = [tensor.T if transpose else tensor.unsqueeze(0) for tensor in tensors]
            return torch.nn.Parameter(torch.stack(tensors).contiguous())

        # the first layers side by side, one wide matrix: every member reads the same batch, so one large product
        # does what ``members`` small ones would (and the CPU runs large products near its peak)
        first_weight = torch.nn.Parameter(torch.cat([template[1].weight.detach().T for template in templates], 1))
        first_bias = torch.nn.Parameter(torch.cat([template[1].bias.detach() for template in templates]))
        second_weight, second_bias = stacked(4, "weight", True), stacked(4, "bias", False)
        inputs = torch.as_tensor(features, device=device)
        relevance_targets = torch.as_tensor(relevance, device=device)
        label_targets = torch.as_tensor(targets, device=device)
        sample_weights = torch.as_tensor(weights, device=device)
        relevance_sample_weights = torch.as_tensor(relevance_weights, device=device)
        member_views = torch.as_tensor(membership, dtype=torch.float32, device=device)
        # per member, balanced classes as scikit-learn's class_weight="balanced" would weigh them, and
        # positive labels weighed up by the square root of their rarity
        class_weights, positive_weights = [], []
        for member in membership:
            counts = np.bincount(relevance[member], minlength=len(RELEVANCE_CLASSES)).astype(np.float32)
            class_weights.append(member.sum() / (len(counts) * np.maximum(counts, 1)))
            positives = targets[member].sum(axis=0)
            positive_weights.append(np.sqrt((member.sum() - positives) / np.maximum(positives, 1)))
        class_weights_t = torch.as_tensor(np.array(class_weights, dtype=np.float32), device=device)
        positive_weights_t = torch.as_tensor(np.array(positive_weights, dtype=np.float32), device=device)[:, None, :]
        parameters = [first_weight, first_bias, second_weight, second_bias]
        # fused: one kernel per step instead of one per tensor
        optimizer = torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=1e-2, fused=True)
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        classes = len(RELEVANCE_CLASSES)
        for _ in range(self.epochs):
            for batch in torch.randperm(len(features), generator=generator).split(self.batch_size):
                batch = batch.to(device)
                optimizer.zero_grad()
                hidden = torch.addmm(first_bias, dropped_out(inputs[batch], 0.1), first_weight)
                hidden = dropped_out(torch.nn.functional.gelu(hidden), 0.3)
                hidden = hidden.view(len(batch), members, self.hidden).transpose(0, 1)
                outputs = torch.baddbmm(second_bias, hidden, second_weight)
                log_probabilities = torch.log_softmax(outputs[..., :classes], dim=-1)
                batch_classes = relevance_targets[batch]
                relevance_loss = (
                    -log_probabilities.gather(-1, batch_classes.expand(members, -1).unsqueeze(-1)).squeeze(-1)
                    * class_weights_t[:, batch_classes]
                )
                label_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    outputs[..., classes:],
                    label_targets[batch].expand(members, -1, -1),
                    pos_weight=positive_weights_t,
                    reduction="none",
                ).sum(dim=-1)
                views = member_views[:, batch]
                weighted = (
                    relevance_loss * relevance_sample_weights[batch] + label_loss * sample_weights[batch]
                ) * views
                loss = (weighted.sum(dim=1) / (sample_weights[batch] * views).sum(dim=1).clamp(min=1e-6)).sum()
                loss.backward()
                optimizer.step()
        return [
            {
                "1.weight": first_weight[:, member * self.hidden : (member + 1) * self.hidden]
                .detach()
                .T.contiguous()
                .cpu(),
                "1.bias": first_bias[member * self.hidden : (member + 1) * self.hidden].detach().cpu(),
                "4.weight": second_weight[member].detach().T.contiguous().cpu(),
                "4.bias": second_bias[member, 0].detach().cpu(),
            }
            for member in range(members)
        ]

    def _forward(self, network, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """(relevance logits, label probabilities) of embedded texts."""
        import torch

        device = next(network.parameters()).device
        with torch.inference_mode():
            outputs = network(torch.as_tensor(features, dtype=torch.float32, device=device)).float()
            logits = outputs[:, : len(RELEVANCE_CLASSES)]
            scores = torch.sigmoid(outputs[:, len(RELEVANCE_CLASSES) :])
        return logits.cpu().numpy(), scores.cpu().numpy()

    def _blend(
        self,
        scores: np.ndarray,
        features: np.ndarray,
        memory: tuple[np.ndarray, np.ndarray] | None,
        memory_relevance: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The head's label scores mixed with the labels of the nearest labeled texts (similarity-weighted),
        and those texts' relevance: each class's similarity-weighted share among the ones whose relevance is
        known (``memory_relevance``, :func:`_known_relevance`; zeros where none is, and without neighbours)."""
        if not self.neighbour_weight or memory is None:
            return scores, np.zeros((len(features), len(RELEVANCE_CLASSES)), dtype=np.float32)
        memory_features, memory_targets = memory
        similarity = features @ memory_features.T
        nearest = np.argpartition(-similarity, self.neighbours, axis=1)[:, : self.neighbours]
        weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 1e-3, None)[..., None]
        neighbour_scores = (weights * memory_targets[nearest]).sum(axis=1) / weights.sum(axis=1)
        votes = (weights * memory_relevance[nearest]).sum(axis=1)
        voters = votes.sum(axis=1, keepdims=True)
        neighbour_relevance = np.divide(votes, voters, out=np.zeros_like(votes), where=voters > 0)
        return _mix(scores, neighbour_scores, self.neighbour_weight), neighbour_relevance

    def _evidence(
        self, term_features: np.ndarray, neighbour_relevance: np.ndarray, screen_relevance: np.ndarray | None
    ) -> np.ndarray:
        """What the relevance stacker reads beside the blended scores, one row per text: the modality term
        features, then (``stack_neighbours_and_screen``) the nearest labeled texts' relevance and the log of
        the screen's relevance probability, where the model has neighbours and a screen. The blend mixes the
        neighbours into the label scores only, and the screen, which also learnt from unlabeled papers, had
        only turned papers away; read here they raise relevance F1 in every fold seed (docs/classifier.md)."""
        parts = [term_features]
        if self.stack_neighbours_and_screen:
            if self.neighbour_weight:
                parts.append(neighbour_relevance)
            if screen_relevance is not None:
                parts.append(np.log(np.clip(screen_relevance, 1e-4, 1.0))[:, None])
        return np.hstack(parts).astype(np.float32)

    def _key_terms(self) -> KeyTermBoost:
        return KeyTermBoost(self.taxonomy, self.label_ids, *self.key_term_boost)

    def nearest_labeled(self, features: np.ndarray, count: int) -> list[tuple[float, LabeledPaper]]:
        """The ``count`` labeled papers (cosine similarity, paper) nearest to one embedded text: those the
        neighbour blend drew on. Empty for a model trained without neighbours."""
        if self.memory is None:
            return []
        similarity = self.memory[0] @ features[0]
        nearest: dict[str, tuple[float, LabeledPaper]] = {}
        for index in np.argsort(-similarity):
            paper = self.memory_papers[int(index)]
            nearest.setdefault(paper.arxiv_id, (float(similarity[index]), paper))  # a paper's closest view
            if len(nearest) == count:
                break
        return list(nearest.values())

    def network(self):  # noqa: ANN201
        """The trained network on this machine's device, rebuilt from the stored weights once."""
        if self.state is None:
            raise RuntimeError("the classifier is not trained")
        if self._network is None:
            self._network = self._network_from(self.state)
        return self._network

    def scores(
        self, features: np.ndarray, texts: Sequence[str], screen_relevance: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated relevance probabilities, label probabilities) of embedded texts; ``screen_relevance``:
        the screen's relevance probability of each text where the screening already has it."""
        logits, label_scores = self._forward(self.network(), features)
        label_scores, neighbour_relevance = self._blend(
            label_scores, features, self.memory, _known_relevance(self.memory_papers)
        )
        probabilities = _softmax(logits)
        if self.words is not None:
            word_relevance, word_labels = self.words.scores(texts)
            probabilities = _mix(probabilities, word_relevance, self.word_weight)
            label_scores = _mix(label_scores, word_labels, self.word_weight)
        label_scores = self._key_terms().apply(label_scores, texts)
        evidence = None
        if self.stacker is not None:
            if screen_relevance is None and self.screen is not None:
                screen_relevance = self.screen.relevance(texts)
            evidence = self._evidence(self.stacker.terms.features(texts), neighbour_relevance, screen_relevance)
        return self.decisions().calibrated(probabilities, label_scores, evidence), label_scores

    def screening(self, texts: Sequence[str]) -> Screening:
        """Which texts must be embedded: those the screen lets through, and every text that names all the
        survey's modalities, the borderline zone where a new month's audio-visual topics come in words the
        screen never learnt (docs/classifier.md); all, without a screen."""
        if self.screen is None:
            return Screening.everything(len(texts))
        return self.screen.screening(texts).keeping(ModalityTerms(self.taxonomy.modalities).name_every_modality(texts))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions for texts built with :func:`classify.labels.paper_text`; screened-out texts are not embedded."""
        screening = self.screening(texts)
        vectors = self.embedder.encode(list(compress(texts, screening.kept)))
        return self.predict_embeddings(screening.one_row_per_text(vectors), texts, screening)

    def predict_embeddings(
        self, features: np.ndarray, texts: Sequence[str], screening: Screening | None = None
    ) -> list[Prediction]:
        """Predictions for texts, one embedding row each; the rows of texts the screening did not keep are not
        read (they may be zeros): such a text is ``none``, scored by the screen alone."""
        if not len(texts):
            return []
        screening = screening or self.screening(texts)
        predictions: list[Prediction | None] = [None] * len(texts)
        for row in np.flatnonzero(~screening.kept):
            predictions[row] = screened_out(1.0 - float(screening.relevance[row]))
        rows = np.flatnonzero(screening.kept)
        if len(rows):
            screen_relevance = screening.relevance[rows] if screening.relevance is not None else None
            probabilities, label_scores = self.scores(features[rows], [texts[row] for row in rows], screen_relevance)
            for row, relevance_row, label_row in zip(rows, probabilities, label_scores, strict=True):
                predictions[row] = self._prediction(relevance_row, label_row)
        return [prediction for prediction in predictions if prediction is not None]

    def decisions(self) -> Decisions:
        """The decisions this model was trained with."""
        return Decisions(self.thresholds, self.temperature, stacker=self.stacker)

    def _prediction(
        self, relevance_row: np.ndarray, label_row: np.ndarray, decisions: Decisions | None = None
    ) -> Prediction:
        decisions = decisions or self.decisions()
        best = decisions.relevance(relevance_row)
        scores = {label: float(value) for label, value in zip(self.label_ids, label_row, strict=True)}
        return build_prediction(RELEVANCE_CLASSES[best], float(relevance_row[best]), scores, decisions.thresholds)


def _known_relevance(papers: Sequence[LabeledPaper]) -> np.ndarray:
    """One row per paper: its relevance class one-hot (RELEVANCE_CLASSES order), zeros where it is not known
    (a technique's example)."""
    known = np.zeros((len(papers), len(RELEVANCE_CLASSES)), dtype=np.float32)
    for row, paper in enumerate(papers):
        if paper.relevance_known:
            known[row, RELEVANCE_CLASSES.index(paper.relevance)] = 1.0
    return known


def _mix(own: np.ndarray, other: np.ndarray, weight: float) -> np.ndarray:
    """``own`` scores blended with ``other``'s, ``other`` counting ``weight``."""
    return (1 - weight) * own + weight * other


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, classes: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of out-of-fold logits (1.0: unchanged)."""
    best_temperature, best_loss = 1.0, np.inf
    for temperature in np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)):
        scaled = logits / temperature
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probabilities = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        loss = -float(log_probabilities[np.arange(len(classes)), classes].mean())
        if loss < best_loss:
            best_temperature, best_loss = float(temperature), loss
    return best_temperature
