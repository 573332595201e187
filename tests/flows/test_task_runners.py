"""The Dask task runner gives the same warehouse as the default runner."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core import settings as settings_module
from flows.deployments import task_runner
from flows.ingest import ingest
from tests.conftest import TEST_DAY
from warehouse.db import open_for_reading

pytestmark = pytest.mark.slow  # runs the nightly flow on Dask

DAY = date.fromisoformat(TEST_DAY)
SNAPSHOT = {
    "papers": "SELECT arxiv_id, version, title, content_hash FROM papers ORDER BY 1",
    "labels": "SELECT arxiv_id, label, round(score, 5) FROM paper_labels ORDER BY 1, 2",
    "texts": "SELECT arxiv_id, status, n_pages, n_chars, n_references FROM paper_texts ORDER BY 1",
    "parts": "SELECT arxiv_id, position, part, heading FROM paper_parts ORDER BY 1, 2",
    "mentions": "SELECT arxiv_id, name, mentions FROM mentions ORDER BY 1, 2",
}


def _run(home: Path, runner_option: str | None, monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    monkeypatch.setenv("AVI_HOME", str(home))
    settings_module.reset_settings()
    runner = task_runner(runner_option)
    (ingest.with_options(task_runner=runner) if runner else ingest)(since=DAY, until=DAY)
    with open_for_reading(settings_module.get_settings().db_path) as warehouse:
        return {name: warehouse.query(sql)[1] for name, sql in SNAPSHOT.items()}


def test_one_day_on_a_local_dask_cluster_equals_the_default_runner(
    mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVI_ARXIV_URL", mirror)
    monkeypatch.setattr("flows.steps.EMBED_BATCH", 64)  # several embedding tasks to spread
    monkeypatch.setattr("flows.ingest.EXTRACT_CHUNK", 2)  # and several extraction tasks
    default = _run(tmp_path / "default", None, monkeypatch)
    dask = _run(tmp_path / "dask", "dask", monkeypatch)
    assert default["papers"] and default["texts"]
    assert dask == default


def test_unknown_task_runner_is_refused() -> None:
    with pytest.raises(ValueError, match="dask"):
        task_runner("ray")
