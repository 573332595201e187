"""Evaluation of a classifier on labeled papers, in the figures ``avi eval --json`` prints.

Relevance: precision, recall and F1 of the class ``av``. Section labels are the first two parts of a
task label (``generation.cross_modal``); section and subsection F1 are computed over the papers whose
gold relevance is ``av``; technique F1 over all papers. A macro average counts only labels with at
least 3 gold positives in the evaluated set; with none, the macro average is null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from classify.labels import LabeledPaper, paper_text
from classify.model import Classifier, Prediction
from classify.taxonomy import is_task_label, is_technique_label, section_of

MIN_GOLD_FOR_MACRO = 3


def _f1(true_positives: int, false_positives: int, false_negatives: int) -> tuple[float, float, float]:
    precision = true_positives / (true_positives + false_positives) if true_positives + false_positives else 0.0
    recall = true_positives / (true_positives + false_negatives) if true_positives + false_negatives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _macro(gold: list[set[str]], predicted: list[set[str]]) -> dict:
    labels = sorted({label for labels in gold for label in labels})
    per_label: dict[str, dict[str, float]] = {}
    for label in labels:
        support = sum(label in labels_ for labels_ in gold)
        if support < MIN_GOLD_FOR_MACRO:
            continue
        true_positives = sum(label in g and label in p for g, p in zip(gold, predicted, strict=True))
        false_positives = sum(label not in g and label in p for g, p in zip(gold, predicted, strict=True))
        precision, recall, f1 = _f1(true_positives, false_positives, support - true_positives)
        per_label[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    # no label with enough gold positives: there is nothing to average (null, not a misleading 0)
    macro = round(float(np.mean([scores["f1"] for scores in per_label.values()])), 4) if per_label else None
    return {"macro_f1": macro, "per_label": per_label}


def _sections(labels: Sequence[str]) -> set[str]:
    return {section for label in labels if (section := section_of(label))}


def score_predictions(papers: Sequence[LabeledPaper], predictions: Sequence[Prediction]) -> dict:
    """The evaluation figures for predictions of the given papers."""
    gold_av = np.array([paper.relevance == "av" for paper in papers])
    predicted_av = np.array([prediction.relevance == "av" for prediction in predictions])
    true_positives = int(np.sum(gold_av & predicted_av))
    precision, recall, f1 = _f1(
        true_positives, int(np.sum(~gold_av & predicted_av)), int(np.sum(gold_av & ~predicted_av))
    )
    av_pairs = [
        (paper, prediction) for paper, prediction in zip(papers, predictions, strict=True) if paper.relevance == "av"
    ]
    section = _macro(
        [_sections(paper.labels) for paper, _ in av_pairs],
        [_sections(list(prediction.labels)) for _, prediction in av_pairs],
    )
    subsection = _macro(
        [{label for label in paper.labels if is_task_label(label)} for paper, _ in av_pairs],
        [{label for label in prediction.labels if is_task_label(label)} for _, prediction in av_pairs],
    )
    technique = _macro(
        [{label for label in paper.labels if is_technique_label(label)} for paper in papers],
        [{label for label in prediction.labels if is_technique_label(label)} for prediction in predictions],
    )
    return {
        "n": len(papers),
        "relevance": {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)},
        "section": section,
        "subsection": {"macro_f1": subsection["macro_f1"]},
        "technique": {"macro_f1": technique["macro_f1"]},
    }


def evaluate(classifier: Classifier, papers: Sequence[LabeledPaper]) -> dict:
    """Run the classifier on the papers' texts and score it."""
    predictions = classifier.predict([paper_text(paper.title, paper.abstract) for paper in papers])
    return score_predictions(papers, predictions)


def select_subset(papers: Sequence[LabeledPaper], subset: str) -> list[LabeledPaper]:
    """``all`` papers, or only those whose corpus row has an ``abstract``."""
    if subset == "abstract":
        return [paper for paper in papers if paper.has_abstract]
    if subset != "all":
        raise ValueError(f"unknown subset {subset!r} (all, abstract)")
    return list(papers)


def holdout_split(
    papers: Sequence[LabeledPaper], fraction: float, seed: int = 0
) -> tuple[list[LabeledPaper], list[LabeledPaper]]:
    """A seeded split stratified by relevance: (train, held out)."""
    train, test = train_test_split(
        list(papers), test_size=fraction, random_state=seed, stratify=[paper.relevance for paper in papers]
    )
    return train, test


def cross_validated_predictions(
    papers: Sequence[LabeledPaper], folds: int, train: Callable[[list[LabeledPaper]], Classifier], seed: int = 0
) -> list[Prediction]:
    """Out-of-fold predictions for every paper from ``folds`` models, each trained without its fold."""
    predictions: list[Prediction | None] = [None] * len(papers)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    relevance = [paper.relevance for paper in papers]
    for train_index, test_index in splitter.split(np.zeros(len(papers)), relevance):
        model = train([papers[index] for index in train_index])
        fold_predictions = model.predict([paper_text(papers[i].title, papers[i].abstract) for i in test_index])
        for index, prediction in zip(test_index, fold_predictions, strict=True):
            predictions[index] = prediction
    return [prediction for prediction in predictions if prediction is not None]
