"""The screen: a words-only first pass that spares the embedding of papers plainly outside the survey.

A backfill is almost all unrelated papers (about 2 % of the stream even mentions both audio and visual
terms), and the sentence embedding is what costs time. The screen is a TF-IDF logistic regression of
"labeled audio-visual or context paper" against labeled ``none`` papers *and* a sample of unlabeled
corpus papers presumed unrelated: the labeled negatives are hard borderline cases, so without the corpus
the screen would never learn what an ordinary paper looks like.

Its threshold is chosen on out-of-fold probabilities: the highest one at which at most ``max_loss`` of the
labeled positives with an abstract (what the nightly stream looks like) that the full classifier finds
relevant out of fold would be screened out (a paper the classifier misses anyway is not lost by the
screen). A text below it is ``none`` without being embedded; every other text goes through the full
classifier, and so does every text that names each of the survey's modalities, whatever the screen says
(the head decides that: a month's new audio-visual topics are words the screen never learnt,
docs/classifier.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import vstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classify.threads import map_in_threads

logger = logging.getLogger(__name__)

THRESHOLDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)  # candidate relevance probabilities, lowest first


@dataclass(frozen=True)
class Screening:
    """What the screen decided for a batch of texts: which go on to the embedding and the full classifier,
    and the screen's relevance probability of every text (None when no screen read them): the ``none`` score
    of a text turned away, and evidence the head's relevance decision reads for a kept one."""

    kept: np.ndarray
    relevance: np.ndarray | None = None

    @classmethod
    def everything(cls, count: int) -> Screening:
        """No screen: every text is kept."""
        return cls(np.ones(count, dtype=bool))

    def keeping(self, always: np.ndarray) -> Screening:
        """This screening with the texts ``always`` selects kept too, whatever the screen said of them."""
        return Screening(self.kept | always, self.relevance)

    def one_row_per_text(self, vectors: np.ndarray) -> np.ndarray:
        """The embeddings of the kept texts (``vectors``, in order) in their rows of the batch, zeros (never
        read) in the rows of the texts turned away."""
        features = np.zeros((len(self.kept), vectors.shape[1]), dtype=np.float32)
        features[self.kept] = vectors
        return features


def _logistic_regression() -> LogisticRegression:
    return LogisticRegression(C=4.0, max_iter=2000)


def screen_threshold_for(out_of_fold: np.ndarray, max_loss: float) -> tuple[float, float]:
    """(threshold, loss): the highest threshold that turns away at most ``max_loss`` of ``out_of_fold``, the
    probabilities of the relevant papers the screen must not lose, and the share it does turn away; (0, 0),
    nothing screened, when no threshold stays within the budget."""
    chosen = (0.0, 0.0)
    for threshold in THRESHOLDS:
        loss = float((out_of_fold < threshold).mean()) if len(out_of_fold) else 1.0
        if loss > max_loss:
            break
        chosen = (threshold, loss)
    return chosen


class RelevanceScreen:
    """Relevance probability from words alone, and the threshold below which a text is not embedded."""

    def __init__(self, max_loss: float) -> None:
        self.max_loss = max_loss
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, max_features=50000, sublinear_tf=True, stop_words="english", dtype=np.float32
        )
        self.model = _logistic_regression()
        self.threshold = 0.0  # 0: nothing is screened out
        self.loss = 0.0  # out-of-fold share of labeled positives with an abstract below the threshold
        self.background_share = 0.0  # share of the unlabeled sample below it (in-sample: a rough guide)
        self._background = np.zeros(0)

    def fit(
        self,
        texts: Sequence[str],
        positive: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        background: Sequence[str],
    ) -> np.ndarray:
        """Fit on labeled views (``positive``: av or context) and unlabeled ``background`` texts; returns the
        out-of-fold relevance probabilities of the labeled views (``folds`` over them), for
        :meth:`choose_threshold`."""
        words = self.vectorizer.fit_transform([*texts, *background])
        labeled, unlabeled = words[: len(texts)], words[len(texts) :]
        presumed_unrelated = np.zeros(unlabeled.shape[0])

        def fit_on(train_index: np.ndarray) -> LogisticRegression:
            return _logistic_regression().fit(
                vstack([labeled[train_index], unlabeled]), np.r_[positive[train_index], presumed_unrelated]
            )

        *fold_models, self.model = map_in_threads(fit_on, [*(train for train, _ in folds), np.arange(len(texts))])
        out_of_fold = np.zeros(len(texts))
        for model, (_, test_index) in zip(fold_models, folds, strict=True):
            out_of_fold[test_index] = model.predict_proba(labeled[test_index])[:, 1]
        if len(background):
            self._background = self.model.predict_proba(unlabeled)[:, 1]
        return out_of_fold

    def set_threshold(self, threshold: float, loss: float) -> None:
        """Adopt a threshold (from :func:`screen_threshold_for`) and its out-of-fold loss."""
        self.threshold, self.loss = threshold, loss
        self.background_share = float((self._background < self.threshold).mean()) if len(self._background) else 0.0
        self._background = np.zeros(0)  # only needed for this figure; not kept with the model
        logger.info(
            "screen: threshold %.3f loses %.2f %% of the relevant papers (out of fold) and turns away %.0f %% "
            "of the unlabeled sample",
            self.threshold,
            100 * self.loss,
            100 * self.background_share,
        )

    def relevance(self, texts: Sequence[str]) -> np.ndarray:
        """Probability that each text is an audio-visual or context paper, from its words."""
        return self.model.predict_proba(self.vectorizer.transform(texts))[:, 1]

    def screening(self, texts: Sequence[str]) -> Screening:
        """Which texts the full classifier must see (and so must be embedded), computed once per batch."""
        if not self.threshold or not len(texts):
            return Screening.everything(len(texts))
        relevance = self.relevance(texts)
        return Screening(relevance >= self.threshold, relevance)
