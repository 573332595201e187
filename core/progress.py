"""Progress bars and log lines that do not write over each other.

On a terminal, long work shows one progress bar per stage and the log lines of Prefect and of avi-radar's own
modules go to ``$AVI_HOME/logs/avi.log`` (warnings and errors still show on the terminal): a log line printed
while a bar redraws would cut the bar in two. Anywhere else (cron, CI, a file) there are no bars, whose
redraws would fill a log, and every log line goes to standard error as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

from tqdm import tqdm


def on_terminal() -> bool:
    """Whether standard error is a terminal a person watches."""
    return sys.stderr.isatty()


def progress_bar(
    iterable: Iterable[Any] | None = None, *, desc: str, unit: str, total: int | None = None, small: bool = False
) -> tqdm:
    """A progress bar for one stage of long work, shown only on a terminal and only when the work is not
    ``small`` (a bar that appears and is gone at once is noise)."""
    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=small or not on_terminal(), dynamic_ncols=True)


def file_logging_config(log_file: Path) -> dict[str, Any]:
    """Prefect's own logging configuration with its console handler writing to ``log_file`` instead, and a
    second handler that still shows warnings and errors on standard error."""
    import yaml

    config = yaml.safe_load(files("prefect.logging").joinpath("logging.yml").read_text(encoding="utf-8"))
    config["handlers"]["console"] = {
        "level": 0,
        "class": "logging.FileHandler",
        "formatter": "standard",
        "filename": str(log_file),
        "encoding": "utf-8",
    }
    config["handlers"]["terminal_warnings"] = {
        "level": "WARNING",
        "class": "logging.StreamHandler",
        "formatter": "standard",
        "stream": "ext://sys.stderr",
    }
    config["root"]["handlers"] = ["console", "terminal_warnings"]
    return config
