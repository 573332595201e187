"""The classifier's commands: train, evaluate, list models, and the analyst's loop (label, explain)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from avi_radar.commands.common import existing_paths, fold_count, fraction, positive_int, year_month
from core.settings import Settings

if TYPE_CHECKING:  # the classifier's modules load torch: imported where a command needs them
    from classify.embed import Embedder
    from classify.evaluate import MonthTrainer
    from classify.labels import LabeledPaper
    from classify.model import Classifier
    from classify.taxonomy import Taxonomy
    from classify.train import TrainingSetup


def _embedder(settings: Settings):  # noqa: ANN202 - heavy import kept local
    from classify.embed import default_embedder

    return default_embedder(settings)


def _analyst_rows(settings: Settings) -> list[tuple]:
    """The analysts' decisions from the published warehouse (none before the first run)."""
    from warehouse.db import open_for_reading, published_path

    if not published_path(settings.db_path).exists():
        return []
    with open_for_reading(settings.db_path) as warehouse:
        return warehouse.analyst_labels()


def _add_label_inputs(command: argparse.ArgumentParser) -> None:
    """The label files and corpus files that ``train`` and ``eval`` read, both defaulting to ``shared/``."""
    command.add_argument(
        "--labels",
        action="append",
        help="label file (JSON lines); repeatable (default: shared/labels/train.jsonl and shared/labels/judged/)",
    )
    command.add_argument(
        "--corpus", action="append", help="corpus file joined with the labels; repeatable (default: shared/corpus)"
    )


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train a classifier on the seed labels and the analysts' decisions, measure it, make it current."""
    from classify.taxonomy import load_taxonomy
    from classify.train import train_and_register
    from warehouse.db import published_path

    analyst_rows = _analyst_rows(settings)
    info = train_and_register(
        settings,
        load_taxonomy(settings.taxonomy_file),
        _embedder(settings),
        existing_paths(args.labels) or settings.default_labels,
        existing_paths(args.corpus) or settings.default_corpus,
        analyst_rows=analyst_rows,
        kind=args.classifier,
        cv_folds=args.cv,
        quick=args.no_cv,
    )
    print(
        f"trained {info.version} on {info.n_papers} labeled papers ({len(analyst_rows)} analyst decisions); "
        "it is now the current model"
        + (
            "; the warehouse's papers get its labels with the next `avi ingest`, or now with `avi reclassify` "
            "(from cached embeddings)"
            if published_path(settings.db_path).exists()
            else ""
        )
    )
    if info.metrics:
        print(info.metrics.summary())
    return 0


@dataclass(frozen=True)
class _Evaluation:
    """What every protocol of ``avi eval`` reads: the labeled papers, and how the model and the baseline train."""

    settings: Settings
    taxonomy: Taxonomy
    embedder: Embedder
    corpus: list[Path]
    label_files: list[Path]  # empty: the shared labels
    papers: list[LabeledPaper]
    setup: TrainingSetup | None  # None: the protocol trains no model

    def trainer(self, seed: int = 0) -> MonthTrainer:
        """Trains the configured model under fold seed ``seed``, never learning ``unseen``'s texts as unrelated."""
        from classify.train import fit_classifier

        def train(papers: list[LabeledPaper], unseen: frozenset[str] = frozenset()) -> Classifier:
            setup = replace(self.setup.without(unseen), seed=seed)
            return fit_classifier(self.taxonomy, self.embedder, papers, setup=setup)

        return train

    def train_baseline(self, papers: list[LabeledPaper], unseen: frozenset[str] = frozenset()) -> Classifier:
        """The TF-IDF + SVM baseline trained on ``papers`` (it learns from no unlabeled text)."""
        from classify.model import TfidfSvmClassifier

        return TfidfSvmClassifier(self.taxonomy).fit(papers)

    def scored(
        self, protocol: str, classifier: Classifier, test: list[LabeledPaper], baseline_train: list[LabeledPaper] | None
    ) -> dict:
        """``classifier``'s figures on ``test`` (and the baseline's, trained on ``baseline_train`` when given)."""
        from classify.evaluate import evaluation_result, predict_papers

        baseline = predict_papers(self.train_baseline(baseline_train), test) if baseline_train is not None else None
        return evaluation_result(protocol, test, predict_papers(classifier, test), baseline)


def _by_month(evaluation: _Evaluation, args: argparse.Namespace) -> dict:
    """Leave-month-out: per month a model trained on every label outside it (and the baseline, other seeds)."""
    from classify.evaluate import leave_months_out

    return leave_months_out(
        args.month,
        evaluation.papers,
        evaluation.corpus,
        evaluation.settings.categories,
        evaluation.trainer(),
        evaluation.train_baseline if args.baseline else None,
        [evaluation.trainer(seed) for seed in range(1, args.seeds)],
    )


def _cross_validated(evaluation: _Evaluation, args: argparse.Namespace) -> dict:
    """The out-of-fold figures of one training per fold seed (the first seed's in the headline)."""
    from classify.evaluate import cross_validated_predictions, evaluation_result, fold_seed_result
    from classify.train import measured_fit

    papers, seeds = evaluation.papers, range(args.seeds)
    # every fold seed trains a model of its own; only its predictions are kept
    runs = [
        measured_fit(evaluation.taxonomy, evaluation.embedder, papers, replace(evaluation.setup, seed=seed))[1:]
        for seed in seeds
    ]
    baselines = (
        [cross_validated_predictions(papers, args.cv, evaluation.train_baseline, seed) for seed in seeds]
        if args.baseline
        else []
    )
    predictions, protocol = runs[0]
    result = evaluation_result(protocol, papers, predictions, baselines[0] if baselines else None)
    if len(runs) > 1:
        result["fold_seeds"] = fold_seed_result(
            papers, [run_predictions for run_predictions, _ in runs], baselines or None
        )
    return result


def _held_out(evaluation: _Evaluation, args: argparse.Namespace) -> dict:
    """A model trained on a stratified share of the papers, scored on the rest."""
    from classify.evaluate import holdout_split

    train, test = holdout_split(evaluation.papers, args.holdout)
    protocol = f"trained on {len(train)} papers, evaluated on a held-out {args.holdout:.0%} ({len(test)})"
    return evaluation.scored(protocol, evaluation.trainer()(train), test, train if args.baseline else None)


def _registered(evaluation: _Evaluation, args: argparse.Namespace) -> dict:
    """The current (or a named) model scored on the labels; in-sample when they are the ones it learnt from."""
    from classify.labels import files_fingerprint, load_labeled_papers
    from classify.registry import load_classifier, registered_model

    settings, test = evaluation.settings, evaluation.papers
    classifier = load_classifier(settings.models_dir, evaluation.taxonomy, evaluation.embedder, args.model)
    protocol = f"model {classifier.version} on the given labels"
    info = registered_model(settings.models_dir, classifier.version)
    label_files = evaluation.label_files
    if info and (not label_files or files_fingerprint(label_files) == info.labels_fingerprint):
        protocol += ", the labels it learnt from: in-sample figures; --cv or --month measure quality"
    baseline_train = None
    if args.baseline:  # the shared labels the given ones leave out
        held_ids = {paper.arxiv_id for paper in test}
        shared = load_labeled_papers(settings.default_labels, evaluation.corpus, evaluation.taxonomy)
        baseline_train = [paper for paper in shared if paper.arxiv_id not in held_ids]
        if not baseline_train:
            raise SystemExit("avi eval --baseline: no training labels left for the baseline")
    return evaluation.scored(protocol, classifier, test, baseline_train)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate the current model (or one trained on a split, or k models by cross-validation, or one per
    left-out month) and the baseline."""
    from classify.figures import evaluation_text, months_text
    from classify.labels import load_labeled_papers
    from classify.model import zero_shot_version
    from classify.registry import require_registered
    from classify.taxonomy import load_taxonomy
    from classify.train import training_setup

    if args.seeds > 1 and not (args.cv or args.month):
        raise ValueError("--seeds goes with --cv or --month: the fold seeds draw the folds a training chooses on")
    if args.baseline and not (args.cv or args.holdout or args.month or args.labels):
        raise ValueError(
            "--baseline trains on the shared labels, which are the papers evaluated here: add --cv, --holdout or "
            "--month, or name other papers with --labels"
        )
    taxonomy = load_taxonomy(settings.taxonomy_file)
    trains = bool(args.cv or args.holdout or args.month)
    if args.model and args.model != zero_shot_version(taxonomy) and not trains:
        require_registered(settings.models_dir, args.model)  # before the embedder and the labels load
    embedder = _embedder(settings)
    corpus = existing_paths(args.corpus) or settings.default_corpus
    label_files = existing_paths(args.labels)
    papers = load_labeled_papers(label_files or settings.default_labels, corpus, taxonomy)
    if not papers:
        raise SystemExit("avi eval: no labeled paper has text in the given corpus files")
    setup = training_setup(settings, args.classifier, corpus, papers, args.cv) if trains else None
    evaluation = _Evaluation(settings, taxonomy, embedder, corpus, label_files, papers, setup)
    if args.month:
        result = _by_month(evaluation, args)
        print(json.dumps(result) if args.json else months_text(result))
        return 0
    protocol = _cross_validated if args.cv else _held_out if args.holdout else _registered
    result = protocol(evaluation, args)
    print(json.dumps(result) if args.json else evaluation_text(result))
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    """List the registered models."""
    from classify.registry import current_version, list_models

    current = current_version(settings.models_dir)
    for info in list_models(settings.models_dir):
        marker = "*" if info.version == current else " "
        print(
            f"{marker} {info.version}  {info.kind}  papers={info.n_papers}  taxonomy={info.taxonomy_fingerprint}"
            f" (+{info.taxonomy_examples} examples)  labels={info.labels_fingerprint}"
        )
        if info.metrics:
            print(info.metrics.summary())
        else:
            print("  not measured: a quick retrain (--no-cv) keeps the decisions of the model it started from")
    if current is None:
        print("no trained model: ingestion uses the zero-shot classifier (run `avi train`)")
    return 0


def cmd_label(args: argparse.Namespace, settings: Settings) -> int:
    """Record analysts' decisions: one given on the command line, or interactively for the least certain papers."""
    from avi_radar.analyst import label_session, record_decision

    if args.paper:
        record_decision(settings, args.paper, args.relevance, args.labels, args.note)
        print(f"recorded {args.paper}: {args.relevance} {args.labels or ''}".rstrip())
        return 0
    recorded = label_session(settings, args.limit, input, print)
    print(f"{recorded} decisions recorded; `avi train` uses them over the seed labels")
    return 0


def cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    """Show the scores behind one paper's prediction and the labeled papers nearest to it."""
    from avi_radar.analyst import explain_paper

    print(explain_paper(settings, args.arxiv_id, args.model))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to ``avi``."""
    train = commands.add_parser("train", help="train the classifier (default: every label file in shared/)")
    _add_label_inputs(train)
    train.add_argument(
        "--classifier", default="embedding-mlp", help="the kind to train: embedding-mlp or embedding-logreg"
    )
    train.add_argument(
        "--cv", type=int, help="folds of the cross-validation stored as the model's metrics (AVI_TRAIN_CV_FOLDS, 5)"
    )
    train.add_argument(
        "--no-cv",
        action="store_true",
        help="quick retrain of the current model on the labels and analysts' decisions, keeping its thresholds "
        "and screen (not measured; for the labelling loop)",
    )
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser("eval", help="evaluate the classifier on labeled papers")
    _add_label_inputs(evaluate)
    evaluate.add_argument("--baseline", action="store_true", help="add the TF-IDF + linear SVM baseline")
    evaluate.add_argument(
        "--json", action="store_true", help="one JSON object on one line, the documented form (default: tables)"
    )
    protocol = evaluate.add_mutually_exclusive_group()
    protocol.add_argument("--holdout", type=fraction, help="train on the rest, evaluate on this held-out fraction")
    protocol.add_argument("--cv", type=fold_count, help="k-fold cross-validation instead")
    protocol.add_argument(
        "--month",
        action="append",
        type=year_month,
        help="YYYY-MM, repeatable: train on the labels outside the month, score every harvested paper of it",
    )
    evaluate.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        help="with --cv or --month: repeat it over fold seeds 0..N-1 (folds and network start) and add each "
        "figure's mean, lowest and highest value under fold_seeds (1)",
    )
    evaluate.add_argument(
        "--classifier",
        default="embedding-mlp",
        help="the kind to train for --holdout/--cv: embedding-mlp or embedding-logreg",
    )
    evaluate.add_argument("--model", help="registered model version to evaluate (default: current)")
    evaluate.set_defaults(handler=cmd_eval)

    models = commands.add_parser("models", help="list trained models")
    models.set_defaults(handler=cmd_models)

    label = commands.add_parser("label", help="decide the papers the model is least sure of (analyst_labels)")
    label.add_argument("--limit", type=positive_int, default=10, help="papers to show in an interactive session")
    label.add_argument("--paper", help="record a decision about this paper without asking")
    label.add_argument("--relevance", choices=["av", "context", "none"], help="with --paper")
    label.add_argument("--labels", help="with --paper: comma-separated taxonomy label ids")
    label.add_argument("--note", help="why (stored with the decision)")
    label.set_defaults(handler=cmd_label)

    explain = commands.add_parser("explain", help="the scores and nearest labeled papers behind a prediction")
    explain.add_argument("arxiv_id")
    explain.add_argument("--model", help="registered model version (default: current)")
    explain.set_defaults(handler=cmd_explain)
