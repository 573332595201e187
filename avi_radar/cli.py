"""The ``avi`` command: one subcommand per job, each a thin layer over the packages (``avi_radar.commands``)."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import version as package_version

import duckdb

from avi_radar.commands import model, pipeline, survey, tools, warehouse
from core.settings import get_settings
from warehouse.db import damage_advice


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``avi``."""
    parser = argparse.ArgumentParser(
        prog="avi",
        description="avi-radar keeps a research survey current: nightly arXiv ingestion, classification into the "
        "survey's taxonomy, a DuckDB warehouse for analysts, a monthly report. New here? `avi demo` runs it all "
        "on the shared data; `avi COMMAND -h` explains each command; `avi settings` lists the configuration.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version('avi-radar')}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (pipeline, model, warehouse, survey, tools):
        group.register(commands)
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
    try:
        return args.handler(args, get_settings())
    except (FileNotFoundError, ValueError, RuntimeError, duckdb.Error) as error:
        advice = damage_advice(error, get_settings().db_path) if isinstance(error, duckdb.Error) else ""
        print(f"avi {args.command}: {error}{advice}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
