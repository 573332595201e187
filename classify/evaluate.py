"""Evaluation of a classifier on labeled papers, in the figures ``avi eval --json`` prints.

Relevance: precision, recall and F1 of the class ``av``. Section labels are the first two parts of a
task label (``generation.cross_modal``); section and subsection F1 are computed over the papers whose
gold relevance is ``av``; technique F1 over all papers. A macro average counts only labels with at
least 3 gold positives in the evaluated set; with none, the macro average is null.

Every figure is given for the subsets of :data:`SUBSETS` (all papers, those with an abstract, the
curated lists of ``train.jsonl`` and the judged stream papers of ``judged/``, and each of them again as
``<subset>_confident``: without the papers judged with low confidence or flagged as doubtful by their
list), and two reliability tables say how often a relevance decision, and a label, given with a score
is right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from classify.figures import (
    Evaluation,
    Figures,
    LabelScore,
    MacroScores,
    MonthFigures,
    RelevanceScores,
    Reliability,
    ReliabilityBin,
    SectionCount,
    Spread,
)
from classify.labels import JUDGED_SOURCE, LabeledPaper, paper_text
from classify.model import Classifier, Prediction
from classify.taxonomy import is_task_label, is_technique_label, section_of
from extract.corpus import rows_announced_in

MIN_GOLD_FOR_MACRO = 3


def _f1(true_positives: int, false_positives: int, false_negatives: int) -> tuple[float, float, float]:
    precision = true_positives / (true_positives + false_positives) if true_positives + false_positives else 0.0
    recall = true_positives / (true_positives + false_negatives) if true_positives + false_negatives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _macro(gold: list[set[str]], predicted: list[set[str]]) -> MacroScores:
    labels = sorted({label for labels in gold for label in labels})
    per_label: dict[str, LabelScore] = {}
    for label in labels:
        support = sum(label in labels_ for labels_ in gold)
        if support < MIN_GOLD_FOR_MACRO:
            continue
        true_positives = sum(label in g and label in p for g, p in zip(gold, predicted, strict=True))
        false_positives = sum(label not in g and label in p for g, p in zip(gold, predicted, strict=True))
        precision, recall, f1 = _f1(true_positives, false_positives, support - true_positives)
        per_label[label] = LabelScore(round(precision, 4), round(recall, 4), round(f1, 4), support)
    # no label with enough gold positives: there is nothing to average (null, not a misleading 0)
    macro = round(float(np.mean([scores.f1 for scores in per_label.values()])), 4) if per_label else None
    return MacroScores(macro, per_label)


def _sections(labels: Sequence[str]) -> set[str]:
    return {section for label in labels if (section := section_of(label))}


def score_predictions(papers: Sequence[LabeledPaper], predictions: Sequence[Prediction]) -> Figures:
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
    return Figures(
        len(papers),
        RelevanceScores(round(precision, 4), round(recall, 4), round(f1, 4)),
        section,
        subsection,
        technique,
    )


_BASE_SUBSETS: dict[str, Callable[[LabeledPaper], bool]] = {
    "all": lambda paper: True,
    "abstract": lambda paper: paper.has_abstract,
    "curated": lambda paper: paper.source != JUDGED_SOURCE,
    "judged": lambda paper: paper.source == JUDGED_SOURCE,
}


def _confident(keep: Callable[[LabeledPaper], bool]) -> Callable[[LabeledPaper], bool]:
    return lambda paper: keep(paper) and paper.label_is_confident


# each subset again without the papers whose gold label is itself in doubt: how much of an error rate
# is the labels' own uncertainty
SUBSETS: dict[str, Callable[[LabeledPaper], bool]] = {
    **_BASE_SUBSETS,
    **{f"{name}_confident": _confident(keep) for name, keep in _BASE_SUBSETS.items()},
}


def predict_papers(classifier: Classifier, papers: Sequence[LabeledPaper]) -> list[Prediction]:
    """The classifier's predictions for the papers' texts."""
    return classifier.predict([paper_text(paper.title, paper.abstract) for paper in papers])


def score_subsets(papers: Sequence[LabeledPaper], predictions: Sequence[Prediction]) -> dict[str, Figures]:
    """:func:`score_predictions` for every non-empty subset of :data:`SUBSETS`."""
    scores = {}
    for name, keep in SUBSETS.items():
        pairs = [(paper, prediction) for paper, prediction in zip(papers, predictions, strict=True) if keep(paper)]
        if pairs:
            scores[name] = score_predictions([paper for paper, _ in pairs], [prediction for _, prediction in pairs])
    return scores


def figure_spread(runs: Sequence[Figures]) -> dict[str, Spread]:
    """How much the measure moves: each :meth:`Figures.headline` figure's :class:`Spread` over ``runs`` (one
    fold seed's figures each)."""
    values = [run.headline() for run in runs]
    spread: dict[str, Spread] = {}
    for figure in values[0]:
        per_seed = [value[figure] for value in values]
        measured = [value for value in per_seed if value is not None]
        spread[figure] = (
            Spread(round(float(np.mean(measured)), 4), min(measured), max(measured), per_seed)
            if measured
            else Spread(None, None, None, per_seed)
        )
    return spread


def seed_spread(runs: Sequence[dict[str, Figures]]) -> dict[str, dict[str, Spread]]:
    """:func:`figure_spread` per subset that every run has (``runs``: the :func:`score_subsets` of one fold
    seed each)."""
    return {
        subset: figure_spread([run[subset] for run in runs]) for subset in runs[0] if all(subset in run for run in runs)
    }


def _spread_json(spread: dict[str, Spread]) -> dict[str, dict]:
    return {figure: asdict(value) for figure, value in spread.items()}


def _reliability(scores: np.ndarray, right: np.ndarray, edges: np.ndarray) -> Reliability:
    """Per band of score (``edges``): how many, their mean score and how often right; and the expected
    calibration error, the bands' gaps between mean score and accuracy weighted by their share."""
    rows, error = [], 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (scores >= low) & ((scores < high) | (high == edges[-1]))
        if not inside.any():
            continue
        mean_score, accuracy = float(scores[inside].mean()), float(right[inside].mean())
        error += inside.sum() / len(scores) * abs(mean_score - accuracy)
        rows.append(
            ReliabilityBin(f"{low:.2f}-{high:.2f}", int(inside.sum()), round(mean_score, 3), round(accuracy, 3))
        )
    return Reliability(rows, round(error, 4))


def reliability_table(papers: Sequence[LabeledPaper], predictions: Sequence[Prediction], bins: int = 5) -> Reliability:
    """How often the relevance decision is right, per band of its score, and the expected calibration error.

    A calibrated model's decisions made with score 0.8 are right about 80 % of the time.
    """
    scores = np.array([prediction.relevance_score for prediction in predictions])
    right = np.array(
        [prediction.relevance == paper.relevance for paper, prediction in zip(papers, predictions, strict=True)]
    )
    return _reliability(scores, right, np.linspace(1 / 3, 1.0, bins + 1))  # a 3-way decision is never below 1/3


def _label_scores_and_truth(
    papers: Sequence[LabeledPaper], predictions: Sequence[Prediction], named_only: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Every (label score, whether the label is gold) pair of the predictions: of the labels they name, or of
    every label they score."""
    pairs = [
        (score, label in paper.labels)
        for paper, prediction in zip(papers, predictions, strict=True)
        for label, score in (prediction.labels if named_only else prediction.label_scores).items()
    ]
    return np.array([score for score, _ in pairs], dtype=float), np.array([gold for _, gold in pairs], dtype=bool)


def label_reliability_table(
    papers: Sequence[LabeledPaper], predictions: Sequence[Prediction], bins: int = 10
) -> Reliability:
    """How often a label the model names is one of the paper's gold labels, per band of its score.

    The table covers the labels predictions name (what ``paper_labels`` holds);
    ``expected_calibration_error_all_scores`` covers every label score a prediction carries, named or not
    (what ``avi explain`` shows).
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = _reliability(*_label_scores_and_truth(papers, predictions, named_only=True), edges)
    every = _reliability(*_label_scores_and_truth(papers, predictions, named_only=False), edges)
    return Reliability(table.bins, table.expected_calibration_error, every.expected_calibration_error)


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
    """Out-of-fold predictions for every paper (in the papers' order) from ``folds`` models, each trained
    without its fold."""
    predictions: list[Prediction | None] = [None] * len(papers)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    relevance = [paper.relevance for paper in papers]
    for train_index, test_index in splitter.split(np.zeros(len(papers)), relevance):
        model = train([papers[index] for index in train_index])
        fold_predictions = predict_papers(model, [papers[index] for index in test_index])
        for index, prediction in zip(test_index, fold_predictions, strict=True):
            predictions[index] = prediction
    return [prediction for prediction in predictions if prediction is not None]


UNLABELED_SOURCE = "unlabeled"  # a month's paper no label file names: counted as ``none``


def month_papers(
    month_rows: Sequence[dict], labeled: Sequence[LabeledPaper], categories: Sequence[str]
) -> list[LabeledPaper]:
    """The papers of a month the nightly job would harvest (a category among ``categories``, cross-lists
    included), each with its gold labels: a labeled paper's own, ``none`` for an unlabeled one. The label
    files cover the papers that name both an audio and a visual term and those a model flagged, so an
    unlabeled paper is almost always unrelated; a few true audio-visual papers are kept out of the shared
    labels on purpose, so compare models with each other, not with 1.0."""
    by_id = {paper.arxiv_id: paper for paper in labeled}
    wanted = set(categories)
    papers = []
    for row in month_rows:
        if not wanted & set(row.get("categories") or ()) or not row.get("title"):
            continue
        paper = by_id.get(row["arxiv_id"])
        papers.append(
            paper
            if paper is not None
            else LabeledPaper(row["arxiv_id"], row["title"], row.get("abstract"), "none", (), UNLABELED_SOURCE)
        )
    return papers


def section_counts(papers: Sequence[LabeledPaper], predictions: Sequence[Prediction]) -> dict[str, SectionCount]:
    """Per section, the audio-visual papers the report would count (predicted ``av`` with a label of the
    section) against the labeled count (gold ``av`` with such a label)."""
    predicted = Counter(
        section
        for prediction in predictions
        if prediction.relevance == "av"
        for section in _sections(list(prediction.labels))
    )
    labeled = Counter(section for paper in papers if paper.relevance == "av" for section in _sections(paper.labels))
    return {section: SectionCount(predicted[section], labeled[section]) for section in sorted(predicted | labeled)}


MonthTrainer = Callable[[list[LabeledPaper], frozenset[str]], Classifier]


def leave_month_out(
    labeled: Sequence[LabeledPaper],
    month_rows: Sequence[dict],
    categories: Sequence[str],
    train: MonthTrainer,
) -> tuple[MonthFigures, list[LabeledPaper], list[Prediction]]:
    """The report's own question: a model trained on every labeled paper announced outside a month scores
    every paper of that month the nightly job would harvest. ``train`` gets the training papers and the
    texts of every one of ``month_rows`` (whatever its category), which it must not learn from even as
    unlabeled text (the screen's background sample). Returns the figures, the month's papers and their
    predictions."""
    month_ids = {row["arxiv_id"] for row in month_rows}
    training = [paper for paper in labeled if paper.arxiv_id not in month_ids]
    unseen = frozenset(paper_text(row["title"], row.get("abstract")) for row in month_rows if row.get("title"))
    papers = month_papers(month_rows, labeled, categories)
    predictions = predict_papers(train(training, unseen), papers)
    called_av = [paper for paper, prediction in zip(papers, predictions, strict=True) if prediction.relevance == "av"]
    figures = MonthFigures(
        score_predictions(papers, predictions),
        labeled=sum(paper.source != UNLABELED_SOURCE for paper in papers),
        trained_on=len(training),
        sections=section_counts(papers, predictions),
        called_av=len(called_av),
        called_av_unlabeled=sum(paper.source == UNLABELED_SOURCE for paper in called_av),
        called_av_right=sum(paper.relevance == "av" for paper in called_av),  # unlabeled papers are gold none
    )
    return figures, papers, predictions


def leave_months_out(
    months: Sequence[str],
    labeled: Sequence[LabeledPaper],
    corpus: Sequence[Path],
    categories: Sequence[str],
    train: MonthTrainer,
    train_baseline: MonthTrainer | None = None,
    other_seeds: Sequence[MonthTrainer] = (),
) -> dict:
    """``avi eval --month``'s result (JSON): per month, the :func:`leave_month_out` figures of the model (and
    of the baseline when it is given); with ``other_seeds`` (the model's trainers under fold seeds 1, 2, ...)
    also each headline figure's :class:`Spread` over ``train`` and them, under ``fold_seeds``."""
    result: dict = {
        "protocol": "leave-month-out: trained on every labeled paper announced outside the month, scored on "
        "every paper of the month in the harvested categories (unlabeled ones count as none)",
        "months": {},
    }
    for month in months:
        rows = rows_announced_in(corpus, month)
        if not rows:
            raise ValueError(f"no paper of the corpus files was announced in {month}")
        figures = leave_month_out(labeled, rows, categories, train)[0]
        entry: dict = {"model": figures.to_json()}
        if other_seeds:
            runs = [figures, *(leave_month_out(labeled, rows, categories, other)[0] for other in other_seeds)]
            entry["fold_seeds"] = {
                "seeds": list(range(len(runs))),
                "model": _spread_json(figure_spread([run.figures for run in runs])),
            }
        if train_baseline is not None:
            entry["baseline"] = leave_month_out(labeled, rows, categories, train_baseline)[0].to_json()
        result["months"][month] = entry
    return result


def evaluation(protocol: str, papers: Sequence[LabeledPaper], predictions: Sequence[Prediction]) -> Evaluation:
    """The figures of out-of-sample predictions of ``papers``: every subset and both reliability tables, under
    the name of the protocol that made them (what ``avi train`` stores with a model)."""
    return Evaluation(
        protocol,
        score_subsets(papers, predictions),
        reliability_table(papers, predictions),
        label_reliability_table(papers, predictions),
    )


def fold_seed_result(
    papers: Sequence[LabeledPaper],
    runs: Sequence[Sequence[Prediction]],
    baseline_runs: Sequence[Sequence[Prediction]] | None = None,
) -> dict:
    """``avi eval --seeds``'s ``fold_seeds`` (JSON): the seeds, and per subset each headline figure's
    :class:`Spread` over the cross-validations of the model (``runs``, one per fold seed in seed order) and
    of the baseline when its runs are given."""
    result: dict = {"seeds": list(range(len(runs)))}
    for name, predictions in (("model", runs), ("baseline", baseline_runs)):
        if predictions is not None:
            spread = seed_spread([score_subsets(papers, run) for run in predictions])
            result[name] = {subset: _spread_json(figures) for subset, figures in spread.items()}
    return result


def evaluation_result(
    protocol: str,
    papers: Sequence[LabeledPaper],
    predictions: Sequence[Prediction],
    baseline: Sequence[Prediction] | None = None,
) -> dict:
    """``avi eval``'s result (JSON): the :func:`evaluation` of the model, its subsets under ``model``, and the
    baseline's subsets under ``baseline`` when its predictions are given."""
    measured = evaluation(protocol, papers, predictions)
    result = {
        "protocol": protocol,
        "model": {name: figures.to_json() for name, figures in measured.subsets.items()},
        "calibration": measured.calibration.to_json(),
    }
    if measured.label_calibration is not None:
        result["label_calibration"] = measured.label_calibration.to_json()
    if baseline is not None:
        result["baseline"] = {name: figures.to_json() for name, figures in score_subsets(papers, baseline).items()}
    return result
