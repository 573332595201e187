"""The warehouse's commands: queries, the monthly report, checks, export and migration."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from avi_radar.commands.common import parse_date, positive_int, require_known, some_text, year_month
from core.settings import Settings


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
    from reports.monthly import write_configured_report

    started = time.monotonic()
    path = write_configured_report(settings, args.month, Path(args.out) if args.out else None)
    print(f"report for {args.month} written to {path} in {time.monotonic() - started:.1f}s")
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    """Verify the warehouse's invariants; exit 1 when one fails."""
    from classify.registry import current_version
    from warehouse.checks import labelling_model, run_checks, text_backlog
    from warehouse.db import open_for_reading

    with open_for_reading(settings.db_path) as warehouse:
        results = run_checks(warehouse, settings.texts_per_run)
        backlog = text_backlog(warehouse)
        labelled_by = labelling_model(warehouse)
    for check, broken in results:
        print(f"{'ok  ' if broken == 0 else 'FAIL'}  {check.name}" + (f"  ({broken} rows)" if broken else ""))
    failed = sum(1 for _, broken in results if broken)
    print(f"{len(results) - failed} of {len(results)} checks hold")
    if backlog:
        waiting = "audio-visual paper waits for its" if backlog == 1 else "audio-visual papers wait for their"
        print(
            f"{backlog} {waiting} text; each ingest run reads {settings.texts_per_run} "
            "(AVI_TEXTS_PER_RUN), newest first"
        )
    trained = current_version(settings.models_dir)
    if labelled_by and trained and trained != labelled_by:
        # not a failure: the warehouse is whole under the model it registered, and the next ingest relabels it
        print(
            f"the current model is {trained}, but the warehouse's labels are {labelled_by}'s until the next "
            "`avi ingest`, or now with `avi reclassify` (from cached embeddings)"
        )
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Export every table and view as Parquet partitioned by month."""
    from warehouse.db import open_for_reading
    from warehouse.export import export_parquet

    out_dir = Path(args.out) if args.out else settings.export_dir
    with open_for_reading(settings.db_path) as warehouse:
        written = export_parquet(warehouse, out_dir)
    for name, rows in written.items():
        print(f"{name}: {rows} rows")
    print(f"written to {out_dir}")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Replace a damaged warehouse file with the published snapshot, the warehouse as the last run left it."""
    from warehouse.db import Warehouse, restore_published

    kept, damage = restore_published(settings.db_path, args.force)
    with Warehouse(settings.db_path) as warehouse:
        watermark = warehouse.watermark()
    replaced = "there was no warehouse file to keep"
    if kept.exists():
        replaced = f"the file it replaced is kept as {kept}" + (f" ({damage})" if damage else "")
    print(
        f"{settings.db_path} is the published snapshot again (papers up to {watermark or 'no ingest yet'}); "
        f"{replaced}. The next `avi ingest` or `avi import` redoes what came after the snapshot."
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Upgrade the warehouse to this version's schema and republish it."""
    from warehouse.db import SCHEMA_VERSION, Warehouse

    with Warehouse(settings.db_path) as warehouse:
        warehouse.publish()
    print(f"{settings.db_path} is at schema version {SCHEMA_VERSION}; published")
    return 0


def _print_neighbours(rows: list[tuple], embedded: int, papers: int, as_json: bool) -> None:
    if as_json:
        keys = ("arxiv_id", "title", "similarity", "relevance")
        print(json.dumps([dict(zip(keys, row, strict=True)) for row in rows]))
        return
    print(f"searched {embedded} embedded papers of {papers} (the words-only screen turned the others away unembedded)")
    for rank, (arxiv_id, title, similarity, relevance) in enumerate(rows, start=1):
        print(f"{rank:3d}  {similarity:.3f}  {arxiv_id:<12} {relevance or '-':<8} {title}")


def _check_section(section: str | None, settings: Settings) -> None:
    """Refuse a ``--section`` that is no task section of the taxonomy: it would match no paper, silently."""
    from classify.taxonomy import is_task_label, load_taxonomy

    sections = [name for name in load_taxonomy(settings.taxonomy_file).sections if is_task_label(name)]
    if section is not None:
        require_known("--section", section, sections, "a section of the taxonomy", settings.taxonomy_file)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    """Rank the embedded papers by their similarity in meaning to a text."""
    from classify.numpy_encoder import NumpyEmbedder
    from warehouse.db import open_for_reading

    _check_section(args.section, settings)

    # the same vector as the pipeline's embedder, without its 9 s of importing torch and sentence-transformers
    [vector] = NumpyEmbedder(max_tokens=settings.embed_max_tokens).encode([args.text])
    with open_for_reading(settings.db_path) as warehouse:
        rows = warehouse.nearest_papers(vector, args.limit, args.section, args.since)
        embedded, papers = warehouse.count_embedded()
    _print_neighbours(rows, embedded, papers, args.json)
    return 0


def cmd_similar(args: argparse.Namespace, settings: Settings) -> int:
    """Rank the embedded papers by their similarity in meaning to one of them."""
    from warehouse.db import open_for_reading

    _check_section(args.section, settings)
    with open_for_reading(settings.db_path) as warehouse:
        vector = warehouse.paper_vector(args.arxiv_id)
        if vector is None:
            raise ValueError(
                f"{args.arxiv_id} has no stored embedding: not in the warehouse, or turned away unembedded by the "
                "words-only screen"
            )
        rows = warehouse.nearest_papers(vector, args.limit + 1, args.section, args.since)
        embedded, papers = warehouse.count_embedded()
    _print_neighbours([row for row in rows if row[0] != args.arxiv_id][: args.limit], embedded, papers, args.json)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to ``avi``."""
    sql = commands.add_parser("sql", help="run a read-only query on the published warehouse")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(handler=cmd_sql)

    report = commands.add_parser("report", help="write the monthly report")
    report.add_argument("--month", required=True, type=year_month, help="YYYY-MM")
    report.add_argument("--out", help="output folder (default: AVI_HOME/reports/YYYY-MM)")
    report.set_defaults(handler=cmd_report)

    check = commands.add_parser("check", help="verify the warehouse's invariants (exit 1 if one fails)")
    check.set_defaults(handler=cmd_check)

    export = commands.add_parser("export", help="export tables and views as Parquet partitioned by month")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("--out", help="output folder (default: AVI_HOME/export)")
    export.set_defaults(handler=cmd_export)

    restore = commands.add_parser(
        "restore", help="put the published snapshot back in place of a damaged warehouse file (kept beside it)"
    )
    restore.add_argument(
        "--force", action="store_true", help="replace the warehouse file even when every row of it reads"
    )
    restore.set_defaults(handler=cmd_restore)

    migrate = commands.add_parser("migrate", help="upgrade the warehouse file to this version's schema")
    migrate.set_defaults(handler=cmd_migrate)

    for name, what, target in (
        ("search", "rank papers by similarity in meaning to a text", "text"),
        ("similar", "rank papers by similarity in meaning to one paper", "arxiv_id"),
    ):
        command = commands.add_parser(name, help=what)
        command.add_argument(target, type=some_text)
        command.add_argument("--section", help="only papers of this section, e.g. generation.cross_modal")
        command.add_argument("--since", type=parse_date, metavar="DATE", help="only papers submitted from this date")
        command.add_argument("--limit", type=positive_int, default=10, help="how many (10)")
        command.add_argument("--json", action="store_true", help="a JSON list")
        command.set_defaults(handler=cmd_search if name == "search" else cmd_similar)
