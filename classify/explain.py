"""Why the classifier said what it said about one paper: its scores and the nearest labeled papers."""

from __future__ import annotations

from dataclasses import dataclass

from classify.embed import Embedder
from classify.labels import LabeledPaper, paper_text
from classify.model import EmbeddingBasedClassifier, Prediction


@dataclass(frozen=True)
class Neighbour:
    """A labeled paper close to the explained one in embedding space."""

    similarity: float
    paper: LabeledPaper


@dataclass(frozen=True)
class Explanation:
    """A prediction with the label scores and thresholds behind it, and the labeled papers nearest to it."""

    prediction: Prediction
    label_rows: list[tuple[str, float, float | None, bool]]  # label, score, threshold, predicted
    neighbours: list[Neighbour]


def explain(
    classifier: EmbeddingBasedClassifier,
    embedder: Embedder,
    title: str,
    abstract: str | None,
    top_labels: int = 8,
    neighbours: int = 5,
) -> Explanation:
    """Scores of the paper's labels (highest first) and the ``neighbours`` nearest labeled papers the
    classifier holds (none for a classifier that keeps no labeled papers)."""
    text = paper_text(title, abstract)
    vector = embedder.encode([text])
    prediction = classifier.predict_embeddings(vector, [text])[0]
    thresholds: dict[str, float] = getattr(classifier, "thresholds", {})
    ranked = sorted(prediction.label_scores.items(), key=lambda item: -item[1])[:top_labels]
    label_rows = [(label, score, thresholds.get(label), label in prediction.labels) for label, score in ranked]
    nearest = [Neighbour(similarity, paper) for similarity, paper in classifier.nearest_labeled(vector, neighbours)]
    return Explanation(prediction, label_rows, nearest)
