"""kill -9 at several moments of a run, then a rerun: the warehouse ends exactly as after an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_DAY
from warehouse.db import Warehouse

pytestmark = pytest.mark.slow  # kills `avi ingest` processes

AVI = Path(sys.executable).parent / "avi"
STATE = {
    "papers": "SELECT arxiv_id, version, title, abstract, authors, categories, published, content_hash FROM papers",
    "labels": "SELECT arxiv_id, label, model_version FROM predictions",
    "decisions": "SELECT arxiv_id, relevance FROM classifications",
    "texts": "SELECT arxiv_id, version, status, pdf_sha256, n_pages, n_chars, n_references FROM paper_texts",
    "parts": "SELECT arxiv_id, position, part, heading, text FROM paper_parts",
    "citations": "SELECT citing_id, cited_id FROM citations",
    "mentions": "SELECT arxiv_id, name, kind, mentions, source FROM mentions",
    "watermark": "SELECT max(until) FROM runs WHERE status = 'success'",
}


def _ingest(home: Path, mirror: str, cache: Path, kill_after: str | None = None) -> int:
    """Run `avi ingest` for TEST_DAY in a subprocess; with ``kill_after``, SIGKILL it once that log line shows."""
    from prefect.settings import PREFECT_API_URL

    # the session's test server, so no run pays for starting a temporary one
    # one embedding cache for the clean run and the crashed ones: bf16 embeddings of a text vary slightly with
    # the batch it was computed in, and this test is about the pipeline, not about that
    env = {
        **os.environ,
        "AVI_HOME": str(home),
        "AVI_ARXIV_URL": mirror,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "AVI_EMBEDDING_CACHE": str(cache),
    }
    process = subprocess.Popen(
        [AVI, "ingest", "--since", TEST_DAY, "--until", TEST_DAY],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    for line in process.stdout:
        if kill_after and kill_after in line:
            os.kill(process.pid, signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            break
    process.wait(60)
    process.stdout.close()
    return process.returncode


# Scores are float32 products whose last bits depend on how many papers were scored together (BLAS
# blocking), so they are compared with a tolerance; everything else must be identical.
SCORES = "SELECT arxiv_id || ' ' || label, score FROM predictions"


def _state(home: Path) -> dict[str, list]:
    with Warehouse(home / "avi.duckdb") as warehouse:
        state = {name: sorted(warehouse.query(sql)[1], key=repr) for name, sql in STATE.items()}
        state["scores"] = dict(warehouse.query(SCORES)[1])
    return state


def _same(state: dict, expected: dict) -> None:
    assert {k: v for k, v in state.items() if k != "scores"} == {k: v for k, v in expected.items() if k != "scores"}
    assert state["scores"].keys() == expected["scores"].keys()
    assert all(abs(state["scores"][key] - expected["scores"][key]) < 1e-5 for key in expected["scores"])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


@pytest.fixture(scope="module")
def clean_state(mirror: str, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    home = tmp_path_factory.mktemp("clean")
    assert _ingest(home, mirror, cache) == 0
    return _state(home)


@pytest.mark.parametrize(
    "moment",
    ["harvesting", "papers:", "classified", "texts:"],  # before loading, after loading, after labels, after texts
)
def test_kill_minus_9_then_rerun_equals_a_clean_run(
    moment: str, mirror: str, cache: Path, clean_state, tmp_path: Path
) -> None:
    assert _ingest(tmp_path, mirror, cache, kill_after=moment) == -signal.SIGKILL
    assert _ingest(tmp_path, mirror, cache) == 0
    _same(_state(tmp_path), clean_state)
    with Warehouse(tmp_path / "avi.duckdb") as warehouse:
        statuses = [row[0] for row in warehouse.query("SELECT status FROM runs ORDER BY run_id")[1]]
    assert statuses[-1] == "success" and "running" not in statuses
