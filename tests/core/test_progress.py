"""Progress bars and log lines: on a terminal the log lines go to a file, so they never cut a bar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avi_radar.commands.common import prepare_prefect
from core import progress
from core.settings import get_settings


def test_bars_show_only_on_a_terminal_and_only_for_long_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "on_terminal", lambda: True)
    assert not progress.progress_bar(range(3), desc="stage", unit="item").disable
    assert progress.progress_bar(range(3), desc="stage", unit="item", small=True).disable
    monkeypatch.setattr(progress, "on_terminal", lambda: False)
    assert progress.progress_bar(range(3), desc="stage", unit="item").disable


def test_on_a_terminal_prefects_log_lines_go_to_the_log_file_and_warnings_still_show(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("PREFECT_LOGGING_SETTINGS_PATH", "")  # so that the test's end removes what it sets
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH")
    monkeypatch.setattr("avi_radar.commands.common.on_terminal", lambda: True)
    settings = get_settings()
    prepare_prefect(settings)
    log_file = settings.logs_dir / "avi.log"
    assert f"log lines go to {log_file}" in capsys.readouterr().err
    # a fresh interpreter configures Prefect's logging from the file prepare_prefect named, as a run would
    lines = "import logging; log = logging.getLogger('prefect.avi'); log.info('an info line'); log.warning('a warning')"
    setup = "from prefect.logging.configuration import setup_logging; setup_logging(); "
    run = subprocess.run(
        [sys.executable, "-c", setup + lines], env=dict(os.environ), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "an info line" not in run.stderr and "a warning" in run.stderr
    logged = log_file.read_text(encoding="utf-8")
    assert "INFO    | prefect.avi - an info line" in logged and "WARNING | prefect.avi - a warning" in logged


def test_elsewhere_log_lines_stay_on_standard_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_LOGGING_SETTINGS_PATH", "")  # so that the test's end removes what it sets
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH")
    monkeypatch.setattr("avi_radar.commands.common.on_terminal", lambda: False)
    prepare_prefect(get_settings())
    assert "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ
