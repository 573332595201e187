"""What every command group shares: argument types and the Prefect environment of a run."""

from __future__ import annotations

import argparse
import os
import re
from datetime import date
from pathlib import Path

from core.settings import Settings

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def prepare_prefect(settings: Settings) -> None:
    """Keep Prefect's state under AVI_HOME and its analytics off, unless the operator chose otherwise."""
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")


def parse_date(text: str) -> date:
    """An ISO date argument; argparse reports a bad one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"dates look like 2026-05-04, not {text!r}") from None


def existing_paths(values: list[str] | None) -> list[Path]:
    """The given paths, all of which must exist (else the command stops naming the missing ones)."""
    paths = [Path(value) for value in values or []]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise SystemExit(f"avi: no such file: {', '.join(missing)}")
    return paths
