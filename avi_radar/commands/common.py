"""What every command group shares: argument types and the Prefect environment of a run."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from difflib import get_close_matches
from pathlib import Path

import yaml

from core.progress import file_logging_config, on_terminal
from core.settings import Settings
from reports.queries import parse_month


def prepare_prefect(settings: Settings) -> None:
    """Keep Prefect's state under AVI_HOME and its analytics off, and give a temporary Prefect server two
    minutes to start, unless the operator chose otherwise; on a terminal, send the log lines to
    ``AVI_HOME/logs/avi.log`` so that they do not cut the progress bars."""
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # without PREFECT_API_URL each run starts its own server; on two busy cores that took longer than
    # Prefect's 20 s and the run failed ("Timed out while attempting to connect to ephemeral Prefect API server")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    if on_terminal() and "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ:
        log_file = settings.logs_dir / "avi.log"
        config = settings.logs_dir / "logging.yml"
        config.write_text(yaml.safe_dump(file_logging_config(log_file)), encoding="utf-8")
        os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(config)
        print(f"avi: progress shows here; log lines go to {log_file} (warnings show here too)", file=sys.stderr)


def run_failed(command: str, error: Exception, settings: Settings) -> int:
    """Say that a flow's run failed (the flow logged it, recorded it in ``runs`` and alerted) and what to do
    when the warehouse file is damaged; the exit status of a failed run."""
    from warehouse.db import describe_failure

    print(f"avi {command}: the run failed: {describe_failure(error, settings.db_path)}", file=sys.stderr)
    return 1


def require_known(option: str, value: str, known: Sequence[str], what: str, listed_in: Path) -> None:
    """Refuse an option's value that is none of ``known`` (``what`` they are): as a filter it would select
    nothing, silently. Names them all when they are few, else the nearest ones or where they are listed."""
    if value in known:
        return
    close = get_close_matches(value, known, 3, 0.5)
    if len(known) <= 12:
        hint = f": {', '.join(known)}"
    elif close:
        hint = f"; did you mean {' or '.join(close)}?"
    else:
        hint = f" ({listed_in} lists them)"
    raise ValueError(f"{option} {value!r} is not {what}{hint}")


def whole_number(low: int, high: int | None, what: str) -> Callable[[str], int]:
    """An argparse type for a whole number from ``low`` to ``high`` (None: no bound), ``what`` it is in
    words; argparse reports anything else."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < low or (high is not None and int(text) > high):
            raise argparse.ArgumentTypeError(f"{what}, not {text!r}")
        return int(text)

    return parse


def number_where(accepted: Callable[[float], bool], what: str) -> Callable[[str], float]:
    """An argparse type for a number that ``accepted`` holds for, ``what`` it is in words."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan  # accepted by no range
        if not accepted(value):
            raise argparse.ArgumentTypeError(f"{what}, not {text!r}")
        return value

    return parse


positive_int = whole_number(1, None, "a whole number of at least 1")
fold_count = whole_number(2, None, "at least 2 folds")
port_number = whole_number(0, 65535, "a port from 0 to 65535")
fraction = number_where(lambda value: 0.0 < value < 1.0, "a fraction between 0 and 1 (0.2: a fifth)")
score = number_where(lambda value: 0.0 <= value <= 1.0, "a score between 0 and 1")


def some_text(text: str) -> str:
    """A text argument that says something; argparse refuses an empty or blank one."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty text")
    return text


def parse_date(text: str) -> date:
    """An ISO date argument; argparse reports a bad one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"dates look like 2026-05-04, not {text!r}") from None


def year_month(text: str) -> str:
    """A ``YYYY-MM`` argument, as ``YYYY-MM``; argparse reports anything else."""
    try:
        return f"{parse_month(text):%Y-%m}"
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def existing_paths(values: list[str] | None) -> list[Path]:
    """The given paths, all of which must exist (else the command stops naming the missing ones)."""
    paths = [Path(value) for value in values or []]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise SystemExit(f"avi: no such file: {', '.join(missing)}")
    return paths
