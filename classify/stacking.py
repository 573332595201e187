"""The relevance decision, stacked on what the head's parts say and on the words that name each modality.

The head blends a network's and a word model's relevance probabilities half and half. A small logistic
regression over those blended probabilities, the blended label scores (a paper that scores high on a task
label is more likely audio-visual) and how often the text names each of the survey's modalities decides
relevance better than the blend alone: the word model is linear in the words, so "names audio *and*
names vision" is something it cannot say, and that conjunction is most of what makes a paper
audio-visual. Trained on out-of-fold scores only, as the thresholds are (docs/classifier.md).

The label scores, likewise, are raised a little where the text names one of the label's key terms (the
taxonomy's ``key_terms``): "Benchmarking ... Video-to-Audio Generation" scored 0.29 on video-to-audio,
under its threshold, because the embedding and the word model heard "benchmark" louder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy, is_task_label, is_technique_label


class _Terms:
    """A few terms found as whole words in any case. Each text is first tested for the terms as plain
    substrings of its lower-cased form, far cheaper than the regular expression: most texts name none of a
    label's terms, and training tests thousands of texts against every label."""

    def __init__(self, terms: Sequence[str]) -> None:
        self._lowered = tuple(term.lower() for term in terms)
        self._pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE)

    def count(self, text: str, lowered: str) -> int:
        """How often ``text`` (``lowered`` is its lower-cased form) names one of the terms."""
        if not any(term in lowered for term in self._lowered):
            return 0
        return len(self._pattern.findall(text))

    def named(self, text: str, lowered: str) -> bool:
        """Whether ``text`` (``lowered`` is its lower-cased form) names one of the terms."""
        return any(term in lowered for term in self._lowered) and self._pattern.search(text) is not None


class KeyTermBoost:
    """Label scores raised by a fixed amount where the text names one of the label's key terms: ``task``
    for task labels, ``technique`` for techniques (whose names the curated lists rarely tag, so their
    scores are lower and the terms say more: docs/classifier.md), nothing for context labels."""

    def __init__(self, taxonomy: Taxonomy, label_ids: Sequence[str], task: float, technique: float) -> None:
        key_terms = {label.id: label.key_terms for label in taxonomy.labels}
        self.boosts = np.array(
            [task if is_task_label(label) else technique if is_technique_label(label) else 0.0 for label in label_ids]
        )
        self._terms = [
            _Terms(key_terms[label]) if boost and key_terms.get(label) else None
            for label, boost in zip(label_ids, self.boosts, strict=True)
        ]

    def matches(self, texts: Sequence[str]) -> np.ndarray:
        """Whether each text (rows) names a key term of each label (columns), as a whole word in any case."""
        named = np.zeros((len(texts), len(self._terms)), dtype=bool)
        for row, text in enumerate(texts):
            lowered = text.lower()
            for column, terms in enumerate(self._terms):
                named[row, column] = terms is not None and terms.named(text, lowered)
        return named

    def apply(self, label_scores: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """``label_scores`` (rows of ``texts``) raised where the text names the label's key terms, at most 1."""
        return np.minimum(label_scores + self.boosts * self.matches(texts), 1.0)


class ModalityTerms:
    """Counts of the words that name each modality of the survey (the taxonomy's ``modalities``)."""

    def __init__(self, modalities: Mapping[str, Sequence[str]]) -> None:
        self.modalities = {name: tuple(terms) for name, terms in modalities.items()}
        self._terms = [_Terms(terms) for terms in self.modalities.values()]

    def __getstate__(self) -> dict:
        return {"modalities": self.modalities}

    def __setstate__(self, state: dict) -> None:
        # the matchers are rebuilt from the words, so a model pickled with other matchers still loads
        self.__init__(state["modalities"])

    @property
    def width(self) -> int:
        """Columns of :meth:`features`: two per modality, and two for all of them together."""
        return 2 * len(self._terms) + (2 if self._terms else 0)

    def _counts(self, text: str, lowered: str) -> list[int]:
        return [terms.count(text, lowered) for terms in self._terms]

    def features(self, texts: Sequence[str]) -> np.ndarray:
        """Per text: for each modality whether it is named and log(1 + times named); then the same for the
        modality named least (whether every modality is named, and how often the rarest one is)."""
        features = np.zeros((len(texts), self.width), dtype=np.float32)
        if not self._terms:
            return features
        counts = np.array([self._counts(text, text.lower()) for text in texts], dtype=np.float32)
        counts = counts.reshape(len(texts), len(self._terms))
        rarest = counts.min(axis=1, keepdims=True)
        return np.hstack([counts > 0, np.log1p(counts), rarest > 0, np.log1p(rarest)]).astype(np.float32)

    def name_every_modality(self, texts: Sequence[str]) -> np.ndarray:
        """Whether each text names every modality (never, without modalities); a quarter of the time of
        :meth:`features`, as it stops at the first term of each modality and at the first modality missing."""
        if not self._terms:
            return np.zeros(len(texts), dtype=bool)
        return np.array([all(terms.named(text, text.lower()) for terms in self._terms) for text in texts], dtype=bool)


class RelevanceStacker:
    """Relevance probabilities from blended relevance probabilities, label scores and further evidence (the
    modality terms first)."""

    def __init__(self, terms: ModalityTerms, regularization: float = 1.0) -> None:
        self.terms = terms
        self.regularization = regularization
        self.model: LogisticRegression | None = None

    @staticmethod
    def _inputs(relevance: np.ndarray, label_scores: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        return np.hstack([np.log(relevance + 1e-9), label_scores, evidence])

    def fit(
        self,
        relevance: np.ndarray,
        label_scores: np.ndarray,
        evidence: np.ndarray,
        classes: np.ndarray,
        weights: np.ndarray,
    ) -> RelevanceStacker:
        """Learn from out-of-fold scores: ``relevance`` (n x 3 probabilities), ``label_scores``, further
        ``evidence`` per text (its :meth:`ModalityTerms.features` first; the head adds what its model has:
        ``TorchHeadClassifier._evidence``), the gold class (an index of RELEVANCE_CLASSES) and a weight per
        row."""
        self.model = LogisticRegression(C=self.regularization, max_iter=3000)
        self.model.fit(self._inputs(relevance, label_scores, evidence), classes, sample_weight=weights)
        return self

    def probabilities(self, relevance: np.ndarray, label_scores: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        """Relevance probabilities, one column per class of RELEVANCE_CLASSES (0 for a class never seen)."""
        if self.model is None:
            raise RuntimeError("the stacker is not trained")
        probabilities = np.zeros((len(relevance), len(RELEVANCE_CLASSES)), dtype=np.float64)
        probabilities[:, self.model.classes_] = self.model.predict_proba(
            self._inputs(relevance, label_scores, evidence)
        )
        return probabilities
