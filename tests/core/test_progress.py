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


def test_a_temporary_prefect_server_gets_two_minutes_to_start_unless_the_operator_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run without PREFECT_API_URL starts its own Prefect server; on two busy cores (CI's tests beside it)
    it took more than Prefect's 20 s and the run failed."""
    variable = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    monkeypatch.setenv(variable, "")  # so that the test's end removes what it sets
    monkeypatch.delenv(variable)
    prepare_prefect(get_settings())
    read = "from prefect.settings import get_current_settings as s; print(s().server.ephemeral.startup_timeout_seconds)"
    run = subprocess.run(
        [sys.executable, "-c", read], env=dict(os.environ), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "120"  # the name Prefect reads, not a look-alike
    monkeypatch.setenv(variable, "45")
    prepare_prefect(get_settings())
    assert os.environ[variable] == "45"


def test_elsewhere_log_lines_stay_on_standard_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_LOGGING_SETTINGS_PATH", "")  # so that the test's end removes what it sets
    monkeypatch.delenv("PREFECT_LOGGING_SETTINGS_PATH")
    monkeypatch.setattr("avi_radar.commands.common.on_terminal", lambda: False)
    prepare_prefect(get_settings())
    assert "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ
