"""An analyst querying in a loop in another process while an ingestion run writes: no lock error, no torn state."""

from __future__ import annotations

import multiprocessing
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.settings import get_settings
from flows.ingest import ingest
from tests.conftest import NEXT_DAY, TEST_DAY
from warehouse.db import published_path

pytestmark = pytest.mark.slow  # reads while the nightly flow writes


def _analyst(published: str, stop_file: str, queue: multiprocessing.Queue, reading: multiprocessing.Event) -> None:
    readings: list[tuple[int, int]] = []
    errors: list[str] = []
    deadline = time.monotonic() + 300
    while not Path(stop_file).exists() and time.monotonic() < deadline:
        try:
            connection = duckdb.connect(published, read_only=True)
            papers = connection.execute("SELECT count(*) FROM papers").fetchone()[0]
            decided = connection.execute("SELECT count(*) FROM paper_labels WHERE label LIKE 'relevance:%'").fetchone()
            connection.close()
            readings.append((papers, decided[0]))
            reading.set()
        except Exception as error:  # noqa: BLE001 - every failure is what this test looks for
            errors.append(repr(error))
        time.sleep(0.01)
    queue.put((readings, errors))


def test_reads_never_fail_while_ingestion_writes(
    mirror: str, day_rows: list[dict], next_day_rows: list[dict], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AVI_ARXIV_URL", mirror)
    settings = get_settings()
    first = ingest(since=date.fromisoformat(TEST_DAY), until=date.fromisoformat(TEST_DAY)).counts["n_new"]

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    reading = context.Event()
    stop_file = tmp_path / "stop"
    published = str(published_path(settings.db_path))
    analyst = context.Process(target=_analyst, args=(published, str(stop_file), queue, reading))
    analyst.start()
    # A spawned interpreter can take seconds to import duckdb on a busy machine: wait until it has read once.
    assert reading.wait(120), "the analyst process never managed a first read"
    second = ingest(since=date.fromisoformat(NEXT_DAY), until=date.fromisoformat(NEXT_DAY)).counts["n_new"]
    time.sleep(1.0)  # and goes on after it published
    stop_file.touch()
    readings, errors = queue.get(timeout=60)
    analyst.join(30)

    assert errors == []
    assert all(papers == decided for papers, decided in readings), "a snapshot mixed two states"
    assert {papers for papers, _ in readings} == {first, first + second}
    assert [papers for papers, _ in readings] == sorted(papers for papers, _ in readings)
