"""The pipeline's commands: the mirror, the nightly ingestion, backfills, the scheduler, relabelling, and the
demo that shows them all."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from avi_radar.commands.common import (
    existing_paths,
    parse_date,
    port_number,
    prepare_prefect,
    run_failed,
    year_month,
)
from core.settings import Settings, overridden_settings
from core.wording import counted


def cmd_mirror(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the corpus as an arXiv-compatible API until interrupted."""
    from mirror.server import Faults, MirrorServer, load_mirror_data

    faults = Faults(args.faults, tuple(args.fault_classes.split(",")), args.slow_s, args.seed)
    corpus = existing_paths(args.corpus) or settings.default_corpus
    pdf_dir = Path(args.pdf_dir) if args.pdf_dir else settings.shared_dir / "fixtures" / "pdf"
    started = time.monotonic()
    data = load_mirror_data(corpus, pdf_dir)
    try:
        server = MirrorServer(data, host=args.host, port=args.port, faults=faults)
    except OSError as error:  # the port is taken, or the host is not this machine's
        raise ValueError(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}") from None
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
    prepare_prefect(settings)
    from flows.deployments import task_runner
    from flows.ingest import ingest

    runner = task_runner(args.task_runner)
    flow = ingest.with_options(task_runner=runner) if runner else ingest
    try:
        report = flow(since=args.since, until=args.until)
    except Exception as error:  # noqa: BLE001 - the flow logged it and recorded it in `runs`; say so and fail
        return run_failed("ingest", error, settings)
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


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Backfill from dump files (corpus format or Kaggle's snapshot), then label."""
    from classify.registry import current_version

    paths = existing_paths(args.paths)
    if current_version(settings.models_dir) is None:
        print(
            f"avi import: no trained model under {settings.models_dir}: the zero-shot classifier will label every "
            "paper, with no screen (every paper embedded: slow), and its labels are not ones a survey author "
            "should trust. Run `avi train` first to label with a trained model (`avi reclassify` relabels later).",
            file=sys.stderr,
        )
    prepare_prefect(settings)
    from flows.backfill import backfill

    started = time.monotonic()
    try:
        report = backfill(paths, strict=args.strict, since=args.since, until=args.until)
    except Exception as error:  # noqa: BLE001 - recorded in `runs` by the flow
        return run_failed("import", error, settings)
    print(json.dumps({"run_id": report.run_id, **report.counts, "wall_s": round(time.monotonic() - started, 1)}))
    if report.counts["n_rejected"]:
        print(
            f"avi import: {counted(report.counts['n_rejected'], 'line')} could not be loaded and went to "
            f'quarantine; see avi sql "SELECT * FROM rejected_records WHERE run_id = {report.run_id}"',
            file=sys.stderr,
        )
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the nightly and monthly deployments against the configured Prefect server."""
    prepare_prefect(settings)
    from flows.deployments import serve_deployments

    serve_deployments(settings)
    return 0


def cmd_reclassify(args: argparse.Namespace, settings: Settings) -> int:
    """Relabel the warehouse with a registered model (default: the current one), downloading nothing."""
    from warehouse.db import require_warehouse

    require_warehouse(settings.db_path)  # nothing to relabel: refused before Prefect's server starts
    if args.model:
        from classify.registry import require_registered

        require_registered(settings.models_dir, args.model)  # before Prefect's server starts for nothing
    prepare_prefect(settings)
    from flows.reclassify import reclassify

    try:
        report = reclassify(args.model)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - recorded in `runs` by the flow
        return run_failed("reclassify", error, settings)
    print(json.dumps({"run_id": report.run_id, **report.counts}))
    return 0


DEMO_MONTH = "2026-05"
DEMO_HISTORY_MONTHS = 12  # backfilled before the report's month: what its comparisons and trends need


def demo_plan(month: str, since: date | None, until: date | None) -> tuple[date, date, date, date]:
    """The demo's dates: (first day backfilled, last day backfilled, first night, last night). The nights are
    the month's last week unless ``since``/``until`` choose them; the backfill is the twelve months before the
    month and the days of the month before the first night, so the report sees a whole month and a year."""
    from reports.queries import month_last_day, month_offset, parse_month

    first_day = parse_month(f"{since:%Y-%m}" if since else month)
    nights_until = until or since or month_last_day(first_day)
    nights_since = since or nights_until - timedelta(days=6)
    if nights_since > nights_until:
        raise ValueError(f"the demo's nights start {nights_since} after they end {nights_until}")
    return month_offset(first_day, -DEMO_HISTORY_MONTHS), nights_since - timedelta(days=1), nights_since, nights_until


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Train if needed, backfill the year before the month from the shared corpus, run the nightly flow
    through the local mirror for the month's last week, write the month's report, say where everything is."""
    from avi_radar.cli import build_parser
    from avi_radar.commands.model import cmd_train
    from avi_radar.commands.warehouse import cmd_report
    from classify.registry import current_version
    from extract.dumps import announced_span
    from warehouse.db import open_for_reading

    if not settings.default_corpus:
        raise SystemExit(f"avi demo needs the shared corpus under {settings.shared_dir / 'corpus'}")
    backfill_since, backfill_until, nights_since, nights_until = demo_plan(args.month, args.since, args.until)
    span = announced_span(settings.default_corpus)  # checked before a training that would be wasted
    if span is None or nights_since < span[0] or nights_until > span[1]:
        held = f"papers announced {span[0]} to {span[1]}" if span else "no announcement dates"
        raise ValueError(
            f"the shared corpus holds {held}; the demo's nights {nights_since}..{nights_until} are not all in it"
        )
    month = f"{nights_since:%Y-%m}"
    parser = build_parser()  # each step runs exactly as its own command would, with that command's defaults
    started = time.monotonic()
    if current_version(settings.models_dir) is None:
        print("avi demo: step 1 of 4, training the classifier on the shared labels (first run only)")
        cmd_train(parser.parse_args(["train"]), settings)
    print(f"avi demo: step 2 of 4, backfilling papers submitted {backfill_since}..{backfill_until} from the corpus")
    corpus = [str(path) for path in settings.default_corpus]
    if cmd_import(
        parser.parse_args(["import", "--since", f"{backfill_since}", "--until", f"{backfill_until}", *corpus]), settings
    ):
        return 1
    # the report comes with the month's hub patch: point it at the survey's hub README in ../shared
    hub = settings.hub_readme or settings.shared_dir / "fixtures" / "hub" / "README.md"
    overrides = {"hub_readme": hub} if hub.exists() else {}
    with open_for_reading(settings.db_path) as warehouse:
        nights_done = warehouse.ingested(nights_since, nights_until)
    if nights_done:
        print(f"avi demo: step 3 of 4, the nights {nights_since}..{nights_until} were ingested before: not again")
    else:
        print(f"avi demo: step 3 of 4, the nightly flow for {nights_since}..{nights_until} through the local mirror")
        if _demo_nights(parser, settings, nights_since, nights_until, overrides):
            return 1
    print(f"avi demo: step 4 of 4, the report for {month}")
    with overridden_settings(**overrides) as report_settings:
        cmd_report(parser.parse_args(["report", "--month", month]), report_settings)
    _print_demo_guide(settings, month, time.monotonic() - started)
    return 0


def _demo_nights(parser: argparse.ArgumentParser, settings: Settings, since: date, until: date, overrides: dict) -> int:
    """The nightly flow for the nights ``since``..``until`` through a local mirror of the shared corpus; its
    exit code."""
    from mirror.server import MirrorServer, load_mirror_data

    server = MirrorServer(load_mirror_data(settings.default_corpus, settings.shared_dir / "fixtures" / "pdf"))
    server.start_in_thread()
    try:
        # the flow reads the process-wide settings, as it would under a scheduler: point them at the mirror
        with overridden_settings(arxiv_url=server.base_url, request_delay_s=0.0, **overrides) as night_settings:
            return cmd_ingest(
                parser.parse_args(["ingest", "--since", f"{since}", "--until", f"{until}"]), night_settings
            )
    finally:
        server.shutdown()


def _print_demo_guide(settings: Settings, month: str, seconds: float) -> None:
    """Where the demo left each artefact, and what to try next."""
    from reports.queries import month_last_day, parse_month
    from warehouse.db import open_for_reading, published_path

    first_day = parse_month(month)
    with open_for_reading(settings.db_path) as warehouse:  # a real paper to explain
        example = warehouse.surest_audio_visual(first_day, month_last_day(first_day)) or "ARXIV_ID"
    digests = sorted(settings.digests_dir.glob("*.md"))
    digest = str(digests[-1]) if digests else "none: no night found new audio-visual papers"
    lines = [
        f"avi demo: done in {seconds:.0f} s. What it left:",
        f"  report           {settings.reports_dir / month / 'report.html'} (and report.md, the charts, hub-patch/)",
        f"  warehouse        {settings.db_path} (written by the flows; analysts open the published copy)",
        f"  published copy   {published_path(settings.db_path)}",
        f"  latest digest    {digest}",
        f"  feeds            {settings.feeds_dir}",
        "Next, try:",
        '  avi sql "SELECT section, count(*) AS papers FROM paper_sections GROUP BY ALL ORDER BY papers DESC"',
        f"  avi sql \"SELECT * FROM label_trends WHERE month = DATE '{month}-01' ORDER BY papers DESC LIMIT 10\"",
        f"  avi explain {example}   (why a paper got its labels)",
        "  avi label                (the papers the model is least sure of; your decisions train the next model)",
        '  avi search "talking head generation"',
    ]
    print("\n".join(lines))


def register(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to ``avi``."""

    mirror = commands.add_parser("mirror", help="serve corpus files as an arXiv-compatible API")
    mirror.add_argument("--corpus", action="append", help="corpus JSON lines (.gz ok); repeatable")
    mirror.add_argument("--port", type=port_number, default=8765, help="0: any free port (8765)")
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
    ingest.add_argument(
        "--since", type=parse_date, metavar="DATE", help="first submission date (default: the watermark)"
    )
    ingest.add_argument("--until", type=parse_date, metavar="DATE", help="last submission date (default: today)")
    ingest.add_argument(
        "--task-runner",
        metavar="dask[=ADDRESS]",
        help="run embedding and PDF extraction tasks on Dask: a local cluster, or the one at ADDRESS",
    )
    ingest.set_defaults(handler=cmd_ingest)

    imports = commands.add_parser("import", help="backfill from dumps (shared corpus format or Kaggle's snapshot)")
    imports.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a dump: the corpus format of shared/corpus or Kaggle's arxiv-metadata-oai-snapshot.json (gzip or not)",
    )
    imports.add_argument(
        "--since", type=parse_date, metavar="DATE", help="first submission date to load (default: the first)"
    )
    imports.add_argument(
        "--until", type=parse_date, metavar="DATE", help="last submission date to load (default: the last)"
    )
    imports.add_argument(
        "--strict", action="store_true", help="stop at the first line that cannot be loaded (exit 1), quarantine none"
    )
    imports.set_defaults(handler=cmd_import)

    serve = commands.add_parser("serve", help="serve the nightly ingestion and monthly report deployments")
    serve.set_defaults(handler=cmd_serve)

    reclassify = commands.add_parser("reclassify", help="relabel the warehouse with a model (downloads nothing)")
    reclassify.add_argument("--model", help="registered version to use and make current (default: current)")
    reclassify.set_defaults(handler=cmd_reclassify)

    demo = commands.add_parser(
        "demo", help="train, backfill a year from shared/, run a week's nights through the mirror, write the report"
    )
    demo.add_argument(
        "--month", default=DEMO_MONTH, type=year_month, help=f"the report's month, YYYY-MM (default {DEMO_MONTH})"
    )
    demo.add_argument("--since", type=parse_date, metavar="DATE", help="first night (default: the month's last week)")
    demo.add_argument("--until", type=parse_date, metavar="DATE", help="last night (default: the month's last day)")
    demo.set_defaults(handler=cmd_demo)
