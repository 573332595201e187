"""The default classifier: one multi-task torch head over sentence embeddings, on CUDA when there is one.

A single small network answers every question at once: three relevance logits (``av`` / ``context`` /
``none``) and one logit per taxonomy label. Training all labels jointly takes seconds where one
logistic regression per label took a minute, which makes honest out-of-fold estimates cheap:

* each label's threshold is the one that maximises its F1 on out-of-fold scores;
* the relevance probabilities are calibrated by temperature scaling on out-of-fold logits, so a 0.8
  is right about 80 % of the time (``avi eval`` prints the reliability table);
* predictions go through :func:`classify.model.consistent_labels`, so a subsection implies its
  section and ``none`` carries no label.

Training papers may carry a weight (a judged paper read with low confidence, a row a curated list
flags as weak counts less); both views of a paper (title + abstract, title only) share a fold.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from classify.embed import Embedder, resolve_device
from classify.labels import LabeledPaper
from classify.model import MIN_POSITIVES, Prediction, _best_threshold, _folds, consistent_labels, training_views
from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy, is_task_label

logger = logging.getLogger(__name__)

NOISY_FLAGS = ("weak_av_evidence_in_title_abstract", "av_label_but_text_not_av", "from_mixed_heading_only")


def paper_weight(paper: LabeledPaper) -> float:
    """How much a labeled paper counts in training: less when its label is uncertain or its list noisy."""
    weight = 0.5 if paper.confidence == "low" else 1.0
    if any(flag.startswith(NOISY_FLAGS) for flag in paper.flags):
        weight *= 0.5
    return weight


class TorchHeadClassifier:
    """A multi-task MLP over embeddings with out-of-fold thresholds and a calibrated relevance."""

    kind = "embedding-mlp"

    def __init__(
        self,
        taxonomy: Taxonomy,
        embedder: Embedder,
        version: str = "untrained",
        device: str = "auto",
        hidden: int = 512,
        epochs: int = 40,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.taxonomy = taxonomy
        self.embedder = embedder
        self.embedding = embedder.name
        self.version = version
        self.device = device
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed
        self.label_ids: list[str] = []
        self.thresholds: dict[str, float] = {}
        self.temperature = 1.0
        self.state: dict | None = None  # the trained network's weights, on the CPU
        self._network = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["embedder"] = None  # reattached on load, never pickled
        state["_network"] = None  # rebuilt from ``state`` on the device at hand
        return state

    def fit(self, papers: Sequence[LabeledPaper]) -> TorchHeadClassifier:
        """Train on labeled papers: out-of-fold thresholds and temperature first, then the final network."""
        texts, owners, groups = training_views(papers)
        features = self.embedder.encode(texts)
        relevance = np.array([RELEVANCE_CLASSES.index(paper.relevance) for paper in owners])
        first_views = np.unique(groups, return_index=True)[1]
        self.label_ids = [
            label
            for label in self.taxonomy.label_ids
            if sum(label in owners[index].labels for index in first_views) >= MIN_POSITIVES
        ]
        targets = np.array([[label in paper.labels for label in self.label_ids] for paper in owners], dtype=np.float32)
        weights = np.array([paper_weight(paper) for paper in owners], dtype=np.float32)

        out_of_fold_logits = np.zeros((len(texts), len(RELEVANCE_CLASSES)), dtype=np.float32)
        out_of_fold_scores = np.zeros_like(targets)
        for train_index, test_index in _folds(relevance, groups):
            network = self._train(
                features[train_index], relevance[train_index], targets[train_index], weights[train_index]
            )
            logits, scores = self._forward(network, features[test_index])
            out_of_fold_logits[test_index], out_of_fold_scores[test_index] = logits, scores
        self.thresholds = {
            label: _best_threshold(targets[:, column].astype(bool), out_of_fold_scores[:, column])
            for column, label in enumerate(self.label_ids)
        }
        self.temperature = fit_temperature(out_of_fold_logits, relevance)
        network = self._train(features, relevance, targets, weights)
        self.state = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
        self._network = network
        logger.info(
            "trained the head for %d labels on %d papers (%d views), temperature %.2f",
            len(self.label_ids),
            len(papers),
            len(texts),
            self.temperature,
        )
        return self

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

    def _train(self, features: np.ndarray, relevance: np.ndarray, targets: np.ndarray, weights: np.ndarray):  # noqa: ANN202
        import torch

        device = resolve_device(self.device)
        network = self._build(features.shape[1])
        inputs = torch.as_tensor(features, device=device)
        relevance_targets = torch.as_tensor(relevance, device=device)
        label_targets = torch.as_tensor(targets, device=device)
        sample_weights = torch.as_tensor(weights, device=device)
        # balanced classes, as scikit-learn's class_weight="balanced" would weigh them
        counts = np.bincount(relevance, minlength=len(RELEVANCE_CLASSES)).astype(np.float32)
        class_weights = torch.as_tensor(len(relevance) / (len(counts) * np.maximum(counts, 1)), device=device)
        positives = targets.sum(axis=0)
        positive_weights = torch.as_tensor(
            np.sqrt((len(targets) - positives) / np.maximum(positives, 1)), device=device
        )
        optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3, weight_decay=1e-2)
        generator = torch.Generator(device="cpu").manual_seed(self.seed)
        network.train()
        for _ in range(self.epochs):
            for batch in torch.randperm(len(features), generator=generator).split(self.batch_size):
                batch = batch.to(device)
                optimizer.zero_grad()
                outputs = network(inputs[batch])
                relevance_loss = torch.nn.functional.cross_entropy(
                    outputs[:, : len(RELEVANCE_CLASSES)],
                    relevance_targets[batch],
                    weight=class_weights,
                    reduction="none",
                )
                label_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    outputs[:, len(RELEVANCE_CLASSES) :],
                    label_targets[batch],
                    pos_weight=positive_weights,
                    reduction="none",
                ).sum(dim=1)
                loss = ((relevance_loss + label_loss) * sample_weights[batch]).sum() / sample_weights[batch].sum()
                loss.backward()
                optimizer.step()
        network.eval()
        return network

    def _forward(self, network, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """(relevance logits, label probabilities) of embedded texts."""
        import torch

        device = next(network.parameters()).device
        with torch.inference_mode():
            outputs = network(torch.as_tensor(features, dtype=torch.float32, device=device)).float()
            logits = outputs[:, : len(RELEVANCE_CLASSES)]
            scores = torch.sigmoid(outputs[:, len(RELEVANCE_CLASSES) :])
        return logits.cpu().numpy(), scores.cpu().numpy()

    def network(self):  # noqa: ANN201
        """The trained network on this machine's device, rebuilt from the stored weights once."""
        if self.state is None:
            raise RuntimeError("the classifier is not trained")
        if self._network is None:
            dimensions = self.state["1.weight"].shape[1]
            network = self._build(dimensions)
            network.load_state_dict(self.state)
            network.eval()
            self._network = network
        return self._network

    def scores(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated relevance probabilities, label probabilities) of embedded texts."""
        logits, label_scores = self._forward(self.network(), features)
        scaled = logits / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        probabilities = np.exp(scaled)
        return probabilities / probabilities.sum(axis=1, keepdims=True), label_scores

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions for texts built with :func:`classify.labels.paper_text`."""
        return self.predict_embeddings(self.embedder.encode(texts)) if texts else []

    def predict_embeddings(self, features: np.ndarray) -> list[Prediction]:
        """Predictions for texts already embedded with this classifier's embedding."""
        if not len(features):
            return []
        probabilities, label_scores = self.scores(features)
        predictions = []
        for row, relevance_row in enumerate(probabilities):
            best = int(np.argmax(relevance_row))
            relevance = RELEVANCE_CLASSES[best]
            scores = {label: float(value) for label, value in zip(self.label_ids, label_scores[row], strict=True)}
            predictions.append(
                Prediction(
                    relevance=relevance,
                    relevance_score=float(relevance_row[best]),
                    labels=consistent_labels(relevance, scores, self.thresholds),
                    best_task_score=max((s for label, s in scores.items() if is_task_label(label)), default=0.0),
                    label_scores=scores,
                )
            )
        return predictions


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
