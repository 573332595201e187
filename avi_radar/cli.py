"""The ``avi`` command: one subcommand per job, each a thin layer over the packages."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import date
from importlib.metadata import version as package_version
from pathlib import Path

import duckdb

from avi_radar.settings import Settings, get_settings, reset_settings

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

logger = logging.getLogger("avi")


def _prepare_prefect(settings: Settings) -> None:
    """Keep Prefect's state under AVI_HOME and its analytics off, unless the operator chose otherwise."""
    os.environ.setdefault("PREFECT_HOME", str(settings.home_dir / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"dates look like 2026-05-04, not {text!r}") from None


def _paths(values: list[str] | None) -> list[Path]:
    paths = [Path(value) for value in values or []]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise SystemExit(f"avi: no such file: {', '.join(missing)}")
    return paths


# -- subcommands ---------------------------------------------------------------------------------
def cmd_mirror(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the corpus as an arXiv-compatible API until interrupted."""
    from extract.mirror.server import Faults, MirrorServer, load_mirror_data

    faults = Faults(args.faults, tuple(args.fault_classes.split(",")), args.slow_s, args.seed)
    corpus = _paths(args.corpus) or settings.default_corpus
    pdf_dir = Path(args.pdf_dir) if args.pdf_dir else settings.shared_dir / "fixtures" / "pdf"
    started = time.monotonic()
    data = load_mirror_data(corpus, pdf_dir)
    server = MirrorServer(data, host=args.host, port=args.port, faults=faults)
    print(
        f"mirror: {len(data.records)} papers, {len(data.pdf_files)} real PDFs, loaded in "
        f"{time.monotonic() - started:.1f}s; serving {server.base_url}",
        flush=True,
    )
    print(f"use it with: AVI_ARXIV_URL={server.base_url} avi ingest ...", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if faults.rate:
            print(f"faults served: {dict(faults.drawn)}", flush=True)
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Run the ingestion flow for a window."""
    if args.since and args.until and args.since > args.until:
        print(f"avi ingest: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return 2
    _prepare_prefect(settings)
    from flows.deployments import task_runner
    from flows.ingest import ingest

    runner = task_runner(args.task_runner)
    flow = ingest.with_options(task_runner=runner) if runner else ingest
    try:
        report = flow(since=args.since, until=args.until)
    except Exception as error:  # noqa: BLE001 - the flow logged it and recorded it in `runs`; say so and fail
        print(f"avi ingest: the run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "run_id": report.run_id,
                "since": str(report.since),
                "until": str(report.until),
                **report.counts,
                **{k: round(v, 2) for k, v in report.durations.items()},
            }
        )
    )
    return 0


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


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train a classifier on the seed labels and the analysts' decisions, measure it, make it current."""
    from classify.taxonomy import load_taxonomy
    from classify.train import train_and_register

    analyst_rows = _analyst_rows(settings)
    info = train_and_register(
        settings,
        load_taxonomy(settings.taxonomy_file),
        _embedder(settings),
        _paths(args.labels) or settings.default_labels,
        _paths(args.corpus) or settings.default_corpus,
        analyst_rows=analyst_rows,
        kind=args.classifier,
        cv_folds=args.cv,
        quick=args.no_cv,
    )
    print(
        f"trained {info.version} on {info.n_papers} labeled papers ({len(analyst_rows)} analyst decisions); "
        "it is now the current model"
    )
    if info.metrics:
        print(_metrics_line(info.metrics))
    return 0


def _metrics_line(metrics: dict) -> str:
    figures = metrics.get("all", {})
    calibration = f"calibration error {metrics['calibration']['expected_calibration_error']}"
    if "label_calibration" in metrics:  # models trained before label scores were measured lack it
        calibration += f", of named labels {metrics['label_calibration']['expected_calibration_error']}"
    return (
        f"  {metrics['protocol']}: relevance F1 {figures['relevance']['f1']}, section macro-F1 "
        f"{figures['section']['macro_f1']}, subsection {figures['subsection']['macro_f1']}, technique "
        f"{figures['technique']['macro_f1']}, {calibration}"
    )


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate the current model (or one trained on a split, or k models by cross-validation) and the baseline."""
    from classify.evaluate import (
        cross_validated_predictions,
        holdout_split,
        label_reliability_table,
        predict_papers,
        reliability_table,
        score_subsets,
    )
    from classify.labels import load_labeled_papers
    from classify.model import TfidfSvmClassifier, zero_shot_version
    from classify.registry import load_classifier, require_registered
    from classify.taxonomy import load_taxonomy
    from classify.train import fit_classifier, measured_fit, training_setup

    taxonomy = load_taxonomy(settings.taxonomy_file)
    for month in args.month or []:
        if not MONTH.fullmatch(month):
            raise ValueError(f"--month {month!r} is not a month (YYYY-MM)")
    if args.model and args.model != zero_shot_version(taxonomy) and not (args.cv or args.holdout):
        require_registered(settings, args.model)  # before the embedder and the labels load
    embedder = _embedder(settings)
    corpus = _paths(args.corpus) or settings.default_corpus
    papers = load_labeled_papers(_paths(args.labels) or settings.default_labels, corpus, taxonomy)
    if not papers:
        raise SystemExit("avi eval: no labeled paper has text in the given corpus files")
    months = args.month or []
    trains = bool(args.cv or args.holdout or months)
    setup = training_setup(settings, args.classifier, corpus, papers, args.cv) if trains else None

    def train_model(train: list):  # noqa: ANN001, ANN202
        return fit_classifier(taxonomy, embedder, train, setup=setup)

    def train_baseline(train: list):  # noqa: ANN001, ANN202
        return TfidfSvmClassifier(taxonomy).fit(train)

    if months:
        print(json.dumps(_months_result(months, papers, corpus, settings, train_model, train_baseline, args.baseline)))
        return 0
    if args.cv:
        test = papers
        _, predictions, protocol = measured_fit(taxonomy, embedder, papers, setup)
        baseline = cross_validated_predictions(papers, args.cv, train_baseline) if args.baseline else None
    else:
        if args.holdout:
            train, test = holdout_split(papers, args.holdout)
            classifier = train_model(train)
            protocol = f"trained on {len(train)} papers, evaluated on a held-out {args.holdout:.0%} ({len(test)})"
        else:
            test = papers
            classifier = load_classifier(settings, taxonomy, embedder, args.model)
            held_ids = {paper.arxiv_id for paper in test}
            train = [
                p for p in load_labeled_papers(settings.default_labels, corpus, taxonomy) if p.arxiv_id not in held_ids
            ]
            protocol = f"model {classifier.version} on the given labels"
        predictions = predict_papers(classifier, test)
        if args.baseline and not train:
            raise SystemExit("avi eval --baseline: no training labels left for the baseline")
        baseline = predict_papers(train_baseline(train), test) if args.baseline else None
    result = {
        "protocol": protocol,
        "model": score_subsets(test, predictions),
        "calibration": reliability_table(test, predictions),
        "label_calibration": label_reliability_table(test, predictions),
    }
    if baseline is not None:
        result["baseline"] = score_subsets(test, baseline)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _months_result(
    months: list[str],
    papers: list,
    corpus: list[Path],
    settings: Settings,
    train_model: Callable,
    train_baseline: Callable,
    with_baseline: bool,
) -> dict:
    """``avi eval --month``'s JSON: per month, the leave-month-out figures of the model (and the baseline)."""
    from classify.evaluate import leave_month_out
    from extract.corpus import rows_announced_in

    result: dict = {
        "protocol": "leave-month-out: trained on every labeled paper announced outside the month, scored on "
        "every paper of the month in the harvested categories (unlabeled ones count as none)",
        "months": {},
    }
    for month in months:
        rows = rows_announced_in(corpus, month)
        if not rows:
            raise ValueError(f"no paper of the corpus files was announced in {month}")
        entry = {"model": leave_month_out(papers, rows, settings.categories, train_model)[0]}
        if with_baseline:
            entry["baseline"] = leave_month_out(papers, rows, settings.categories, train_baseline)[0]
        result["months"][month] = entry
    return result


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    """Run a read-only query against the published warehouse."""
    from warehouse.db import open_for_reading

    with open_for_reading(settings.db_path) as warehouse:
        columns, rows = warehouse.query(args.query)
    if args.format == "json":
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str, indent=1))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        cells = [[str(value) for value in row] for row in rows]
        widths = [max([len(column)] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
        print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
        print("  ".join("-" * width for width in widths))
        for row in cells:
            print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        print(f"({len(rows)} rows)")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Write the monthly report."""
    from classify.taxonomy import load_taxonomy
    from reports.monthly import write_report
    from warehouse.db import open_for_reading

    out_dir = Path(args.out) if args.out else settings.reports_dir / args.month
    started = time.monotonic()
    with open_for_reading(settings.db_path) as warehouse:
        path = write_report(warehouse, load_taxonomy(settings.taxonomy_file), args.month, out_dir)
    print(f"report for {args.month} written to {path} in {time.monotonic() - started:.1f}s")
    return 0


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pipeline's extraction on one PDF and show what it found (exit 1 unless it was read)."""
    from extract.pdf import ExtractionPool

    path = _paths([args.path])[0]
    with ExtractionPool(1, settings.pdf_timeout_s, settings.pdf_memory_mb * 2**20, settings.max_pdf_pages) as pool:
        [(_, extraction)] = list(pool.map([(path.name, path)]))
    structure = extraction.structure
    summary = {
        "file": str(path),
        "status": extraction.status,
        "reason": extraction.reason,
        "pages": extraction.n_pages,
        "characters": len(extraction.text) if extraction.text else 0,
        "sections": [{"part": s.part, "heading": s.heading, "characters": len(s.text)} for s in structure.sections]
        if structure
        else [],
        "figures": structure.n_figures if structure else None,
        "tables": structure.n_tables if structure else None,
        "references": len(structure.references) if structure else None,
        "cited_arxiv_ids": structure.cited_arxiv_ids if structure else [],
        "mentions": [
            {"name": m.name, "kind": m.kind, "count": m.count, "introduced": m.introduced} for m in extraction.mentions
        ],
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{path.name}: {extraction.status}" + (f" ({extraction.reason})" if extraction.reason else ""))
        if structure:
            print(
                f"{extraction.n_pages} pages, {summary['figures']} figures, {summary['tables']} tables, "
                f"{summary['references']} references"
            )
            for section in summary["sections"]:
                print(f"  {section['part']:<13} {section['heading'][:60]:<60} {section['characters']:>7} chars")
            print(f"cites arXiv: {', '.join(summary['cited_arxiv_ids']) or '-'}")
            print(
                "mentions: "
                + (
                    ", ".join(
                        f"{m['name']} ({m['kind']}, {m['count']}{', introduced' if m['introduced'] else ''})"
                        for m in summary["mentions"]
                    )
                    or "-"
                )
            )
    return 0 if extraction.has_text else 1


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Measure each stage against its raw component and write docs/benchmarks.md."""
    from avi_radar import bench
    from classify.labels import paper_text

    stages = args.stages.split(",")
    known = ("embedding", "classification", "extraction", "load", "import", "train")
    unknown = set(stages) - set(known)
    if unknown:
        raise ValueError(f"unknown stages: {', '.join(sorted(unknown))} ({', '.join(known)})")
    corpus = _paths(args.corpus) or settings.default_corpus
    results: dict[str, dict] = {}
    if "extraction" in stages:
        pdfs = sorted((settings.shared_dir / "fixtures" / "pdf").rglob("*.pdf"))
        if not pdfs:
            raise FileNotFoundError(f"no PDFs under {settings.shared_dir / 'fixtures' / 'pdf'}")
        results["extraction"] = bench.bench_extraction(pdfs, os.cpu_count() or 1)
    if {"embedding", "classification", "load", "import"} & set(stages):
        if not corpus:
            raise FileNotFoundError(f"no corpus under {settings.shared_dir / 'corpus'}")
        records = bench.corpus_sample(corpus, max(args.texts, args.papers))
        sample_texts = [paper_text(record.title, record.abstract) for record in records[: args.texts + 64]]
        texts, warm_texts = sample_texts[: args.texts], sample_texts[args.texts :]
        if {"embedding", "classification"} & set(stages):
            embedding = bench.bench_embedding(texts, warm_texts, settings)
            if "embedding" in stages:
                results["embedding"] = embedding
        if "classification" in stages:
            results["classification"] = bench.bench_classification(texts, settings, embedding["raw_per_s"])
        if "load" in stages:
            results["load"] = bench.bench_load(records[: args.papers])
    if "import" in stages:
        results["import"] = bench.bench_import(corpus, settings)
    if "train" in stages:
        results["train"] = bench.bench_train(settings)
    if args.json:
        print(json.dumps(results))
    else:
        for stage, figures in results.items():
            if "wall_s" in figures:
                print(f"{stage:<10} {figures['wall_s']} s wall, peak RSS {figures['peak_rss_mb']} MB")
                continue
            print(
                f"{stage:<10} raw {figures['raw_per_s']:>9} {figures['unit']}/s   avi {figures['avi_per_s']:>9} "
                f"{figures['unit']}/s   ratio {figures['ratio']}"
            )
    if args.write_docs:
        bench.write_benchmarks_page(Path(args.write_docs), results, bench.machine_description())
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the warehouse's invariants; exit 1 when one fails."""
    from warehouse.checks import run_checks
    from warehouse.db import open_for_reading

    with open_for_reading(settings.db_path) as warehouse:
        results = run_checks(warehouse)
    for check, broken in results:
        print(f"{'ok  ' if broken == 0 else 'FAIL'}  {check.name}" + (f"  ({broken} rows)" if broken else ""))
    failed = sum(1 for _, broken in results if broken)
    print(f"{len(results) - failed} of {len(results)} checks hold")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export every table and view as Parquet partitioned by month."""
    from warehouse.db import open_for_reading
    from warehouse.export import export_parquet

    out_dir = Path(args.out) if args.out else settings.home_dir / "export"
    with open_for_reading(settings.db_path) as warehouse:
        written = export_parquet(warehouse, out_dir)
    for name, rows in written.items():
        print(f"{name}: {rows} rows")
    print(f"written to {out_dir}")
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade the warehouse to this version's schema and republish it."""
    from warehouse.db import SCHEMA_VERSION, Warehouse

    with Warehouse(settings.db_path) as warehouse:
        warehouse.publish()
    print(f"{settings.db_path} is at schema version {SCHEMA_VERSION}; published")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Backfill from dump files (corpus format or Kaggle's snapshot), then label."""
    _prepare_prefect(settings)
    from flows.backfill import backfill

    paths = _paths(args.paths)
    started = time.monotonic()
    try:
        report = backfill(paths)
    except Exception as error:  # noqa: BLE001 - recorded in `runs` by the flow
        print(f"avi import: the run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"run_id": report.run_id, **report.counts, "wall_s": round(time.monotonic() - started, 1)}))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the nightly and monthly deployments against the configured Prefect server."""
    _prepare_prefect(settings)
    from flows.deployments import serve_deployments

    serve_deployments(settings)
    return 0


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    """List the registered models."""
    from classify.registry import current_version, list_models

    current = current_version(settings)
    for info in list_models(settings):
        marker = "*" if info.version == current else " "
        print(
            f"{marker} {info.version}  {info.kind}  papers={info.n_papers}  taxonomy={info.taxonomy_fingerprint}"
            f" (+{info.taxonomy_examples} examples)  labels={info.labels_fingerprint}"
        )
        if info.metrics:
            print(_metrics_line(info.metrics))
    if current is None:
        print("no trained model: ingestion uses the zero-shot classifier (run `avi train`)")
    return 0


def cmd_reclassify(args: argparse.Namespace, settings: Settings) -> int:
    """Relabel the warehouse with a registered model (default: the current one), downloading nothing."""
    if args.model:
        from classify.registry import require_registered

        require_registered(settings, args.model)  # before Prefect's server starts for nothing
    _prepare_prefect(settings)
    from flows.reclassify import reclassify

    try:
        report = reclassify(args.model)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - recorded in `runs` by the flow
        print(f"avi reclassify: the run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"run_id": report.run_id, **report.counts}))
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Mirror the shared corpus, train if needed, ingest a week of May 2026 and write its report."""
    from classify.registry import current_version
    from extract.mirror.server import MirrorServer, load_mirror_data

    if not settings.default_corpus:
        raise SystemExit(f"avi demo needs the shared corpus under {settings.shared_dir / 'corpus'}")
    parser = build_parser()  # each step runs exactly as its own command would, with that command's defaults
    if current_version(settings) is None:
        cmd_train(parser.parse_args(["train"]), settings)
    server = MirrorServer(load_mirror_data(settings.default_corpus, settings.shared_dir / "fixtures" / "pdf"))
    server.start_in_thread()
    # The flow reads its settings from the environment, as it would under a scheduler.
    os.environ["AVI_ARXIV_URL"] = server.base_url
    os.environ["AVI_REQUEST_DELAY_S"] = "0"
    reset_settings()
    demo_settings = get_settings()
    try:
        window = ["--since", f"{args.since:%Y-%m-%d}", "--until", f"{args.until:%Y-%m-%d}"]
        if cmd_ingest(parser.parse_args(["ingest", *window]), demo_settings):
            return 1
        cmd_report(parser.parse_args(["report", "--month", f"{args.since:%Y-%m}"]), demo_settings)
    finally:
        server.shutdown()
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``avi``."""
    parser = argparse.ArgumentParser(prog="avi", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version('avi-radar')}")
    commands = parser.add_subparsers(dest="command", required=True)

    mirror = commands.add_parser("mirror", help="serve corpus files as an arXiv-compatible API")
    mirror.add_argument("--corpus", action="append", help="corpus JSON lines (.gz ok); repeatable")
    mirror.add_argument("--port", type=int, default=8765)
    mirror.add_argument("--host", default="127.0.0.1")
    mirror.add_argument("--pdf-dir", help="folder of real PDFs named <id>v<n>.pdf")
    mirror.add_argument(
        "--faults",
        type=float,
        default=0.0,
        metavar="RATE",
        help="answer this share of requests with a fault (e.g. 0.2)",
    )
    mirror.add_argument(
        "--fault-classes",
        default=",".join(("429", "503", "slow", "truncated", "malformed", "html200")),
        help="comma-separated fault classes to draw from",
    )
    mirror.add_argument("--slow-s", type=float, default=31.0, help="delay of a 'slow' fault (over the client timeout)")
    mirror.add_argument("--seed", type=int, default=0, help="seed of the fault draw")
    mirror.set_defaults(handler=cmd_mirror)

    ingest = commands.add_parser("ingest", help="harvest, classify and load a window of arXiv papers")
    ingest.add_argument("--since", type=_parse_date, help="first submission date (default: the watermark)")
    ingest.add_argument("--until", type=_parse_date, help="last submission date (default: today)")
    ingest.add_argument(
        "--task-runner",
        metavar="dask[=ADDRESS]",
        help="run embedding and PDF extraction tasks on Dask: a local cluster, or the one at ADDRESS",
    )
    ingest.set_defaults(handler=cmd_ingest)

    imports = commands.add_parser("import", help="backfill from dumps (shared corpus format or Kaggle's snapshot)")
    imports.add_argument("paths", nargs="+", metavar="PATH")
    imports.set_defaults(handler=cmd_import)

    serve = commands.add_parser("serve", help="serve the nightly ingestion and monthly report deployments")
    serve.set_defaults(handler=cmd_serve)

    train = commands.add_parser("train", help="train the classifier (default: every label file in shared/)")
    _add_label_inputs(train)
    train.add_argument("--classifier", default="embedding-mlp", help="embedding-mlp (default) or embedding-logreg")
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

    reclassify = commands.add_parser("reclassify", help="relabel the warehouse with a model (downloads nothing)")
    reclassify.add_argument("--model", help="registered version to use and make current (default: current)")
    reclassify.set_defaults(handler=cmd_reclassify)

    label = commands.add_parser("label", help="decide the papers the model is least sure of (analyst_labels)")
    label.add_argument("--limit", type=int, default=10, help="papers to show in an interactive session")
    label.add_argument("--paper", help="record a decision about this paper without asking")
    label.add_argument("--relevance", choices=["av", "context", "none"], help="with --paper")
    label.add_argument("--labels", help="with --paper: comma-separated taxonomy label ids")
    label.add_argument("--note", help="why (stored with the decision)")
    label.set_defaults(handler=cmd_label)

    explain = commands.add_parser("explain", help="the scores and nearest labeled papers behind a prediction")
    explain.add_argument("arxiv_id")
    explain.add_argument("--model", help="registered model version (default: current)")
    explain.set_defaults(handler=cmd_explain)

    evaluate = commands.add_parser("eval", help="evaluate the classifier on labeled papers")
    _add_label_inputs(evaluate)
    evaluate.add_argument("--baseline", action="store_true", help="add the TF-IDF + linear SVM baseline")
    evaluate.add_argument("--json", action="store_true", help="one JSON object on one line")
    evaluate.add_argument("--holdout", type=float, help="train on the rest, evaluate on this held-out fraction")
    evaluate.add_argument("--cv", type=int, help="k-fold cross-validation instead")
    evaluate.add_argument(
        "--month",
        action="append",
        help="YYYY-MM, repeatable: train on the labels outside the month, score every harvested paper of it",
    )
    evaluate.add_argument(
        "--classifier", default="embedding-mlp", help="kind to train for --holdout/--cv (or embedding-logreg)"
    )
    evaluate.add_argument("--model", help="registered model version to evaluate (default: current)")
    evaluate.set_defaults(handler=cmd_eval)

    sql = commands.add_parser("sql", help="run a read-only query on the published warehouse")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(handler=cmd_sql)

    report = commands.add_parser("report", help="write the monthly report")
    report.add_argument("--month", required=True, help="YYYY-MM")
    report.add_argument("--out", help="output folder (default: AVI_HOME/reports/YYYY-MM)")
    report.set_defaults(handler=cmd_report)

    extract = commands.add_parser(
        "extract", help="read one PDF as the pipeline does and show why it failed or what it found"
    )
    extract.add_argument("path")
    extract.add_argument("--json", action="store_true")
    extract.set_defaults(handler=cmd_extract)

    bench = commands.add_parser("bench", help="each stage against its raw component, on the same data")
    bench.add_argument(
        "--stages",
        default="embedding,classification,extraction,load,import",
        help="comma-separated of embedding, classification, extraction, load, import, train (the last two: minutes)",
    )
    bench.add_argument("--corpus", action="append", help="corpus files (default: those under ../shared/corpus)")
    bench.add_argument("--texts", type=int, default=512, help="abstracts for the embedding and classification stages")
    bench.add_argument("--papers", type=int, default=20000, help="papers for the load stage")
    bench.add_argument("--json", action="store_true", help="one JSON object, a key per stage")
    bench.add_argument(
        "--write-docs",
        metavar="PATH",
        nargs="?",
        const="docs/benchmarks.md",
        help="write the figures into this page (default docs/benchmarks.md)",
    )
    bench.set_defaults(handler=cmd_bench)

    check = commands.add_parser("check", help="verify the warehouse's invariants (exit 1 if one fails)")
    check.set_defaults(handler=cmd_check)

    export = commands.add_parser("export", help="export tables and views as Parquet partitioned by month")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("--out", help="output folder (default: AVI_HOME/export)")
    export.set_defaults(handler=cmd_export)

    migrate = commands.add_parser("migrate", help="upgrade the warehouse file to this version's schema")
    migrate.set_defaults(handler=cmd_migrate)

    models = commands.add_parser("models", help="list trained models")
    models.set_defaults(handler=cmd_models)

    demo = commands.add_parser("demo", help="mirror shared/, ingest a week, write its report")
    demo.add_argument("--since", type=_parse_date, default=date(2026, 5, 4))
    demo.add_argument("--until", type=_parse_date, default=date(2026, 5, 8))
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``avi`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in (
        "httpx",
        "arxiv",
        "sentence_transformers",
        "matplotlib",
    ):  # per-request lines drown the run's own log
        logging.getLogger(chatty).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    settings = get_settings()
    try:
        return args.handler(args, settings)
    except (FileNotFoundError, ValueError, RuntimeError, duckdb.Error) as error:
        print(f"avi {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
