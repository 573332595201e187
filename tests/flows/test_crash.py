"""kill -9 at several moments of a run, then a rerun: the warehouse ends exactly as after an uninterrupted run."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from avi_radar.soak import run_avi
from tests.conftest import TEST_DAY
from warehouse.db import Warehouse

pytestmark = pytest.mark.slow  # kills `avi ingest` and `avi import` processes

IMPORT_BATCH = 50  # dump lines per transaction of `avi import`: several batches in a small file

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
IMPORT_STATE = {
    "rejected": "SELECT source_file, line_number, arxiv_id, reason, excerpt FROM rejected_records",
    "checkpoints": "SELECT source_file, fingerprint, lines_done, complete FROM import_checkpoints",
}


def _avi(
    home: Path, mirror: str, cache: Path, arguments: list[str], kill_after: str | None = None, times: int = 1
) -> int:
    """Run `avi ARGUMENTS` in a subprocess; with ``kill_after``, SIGKILL it once that log line has shown
    ``times`` times."""
    from prefect.settings import PREFECT_API_URL

    # the session's test server, so no run pays for starting a temporary one
    # one embedding cache for the clean run and the crashed ones: bf16 embeddings of a text vary slightly with
    # the batch it was computed in, and this test is about the pipeline, not about that
    env = {
        "AVI_HOME": str(home),
        "AVI_ARXIV_URL": mirror,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "AVI_EMBEDDING_CACHE": str(cache),
        "AVI_IMPORT_BATCH": str(IMPORT_BATCH),
    }

    def killed_now(lines: list[str]) -> bool:
        return sum(kill_after in line for line in lines) == times

    returncode, output = run_avi(arguments, env, killed_now if kill_after else None, limit_s=300)
    print(f"avi {' '.join(arguments)} -> {returncode}", *output[-40:], sep="\n")  # shown when a test fails
    return returncode


def _ingest(home: Path, mirror: str, cache: Path, kill_after: str | None = None) -> int:
    """`avi ingest` of TEST_DAY, killed after ``kill_after`` when given."""
    return _avi(home, mirror, cache, ["ingest", "--since", TEST_DAY, "--until", TEST_DAY], kill_after)


# Scores are float32 products whose last bits depend on how many papers were scored together (BLAS
# blocking), so they are compared with a tolerance; everything else must be identical.
SCORES = "SELECT arxiv_id || ' ' || label, score FROM predictions"


def _state(home: Path) -> dict[str, list]:
    with Warehouse(home / "avi.duckdb") as warehouse:
        state = {name: sorted(warehouse.query(sql)[1], key=repr) for name, sql in {**STATE, **IMPORT_STATE}.items()}
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


@pytest.fixture(scope="module")
def dump(day_rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus-format dump of 300 real papers with three bad lines among them: seven batches."""
    lines = [json.dumps(row) for row in day_rows[:300]]
    lines.insert(70, "{not json")
    lines.insert(160, json.dumps({"id": "2605.99998"}))
    lines.insert(250, json.dumps({**day_rows[0], "arxiv_id": "no id"}))
    path = tmp_path_factory.mktemp("dump") / "dump.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def clean_import(dump: Path, mirror: str, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    home = tmp_path_factory.mktemp("clean-import")
    assert _avi(home, mirror, cache, ["import", str(dump)]) == 0
    return _state(home)


@pytest.mark.parametrize(
    ("moment", "times"),
    # after the second batch, after the fifth, after the whole file (before labelling)
    [("lines up to", 2), ("lines up to", 5), ("loaded to its end", 1)],
)
def test_a_killed_import_resumes_and_ends_as_an_undisturbed_one(
    moment: str, times: int, dump: Path, mirror: str, cache: Path, clean_import, tmp_path: Path
) -> None:
    killed = _avi(tmp_path, mirror, cache, ["import", str(dump)], kill_after=moment, times=times)
    assert killed == -signal.SIGKILL
    with Warehouse(tmp_path / "avi.duckdb") as warehouse:
        [(lines_done, complete)] = warehouse.query("SELECT lines_done, complete FROM import_checkpoints")[1]
    assert (0 < lines_done < 303 and not complete) if moment == "lines up to" else (lines_done == 303 and complete)
    assert _avi(tmp_path, mirror, cache, ["import", str(dump)]) == 0
    _same(_state(tmp_path), clean_import)  # the same papers, labels and quarantined lines: none twice
    with Warehouse(tmp_path / "avi.duckdb") as warehouse:
        runs = warehouse.query("SELECT run_id, status, n_harvested FROM runs ORDER BY run_id")[1]
        rerun, status, harvested_again = runs[-1]
        [(rejected_again,)] = warehouse.query("SELECT count(*) FROM rejected_records WHERE run_id = ?", [rerun])[1]
    assert status == "success" and runs[0][1] != "success"  # the killed run is never called a success
    # the rerun read only the lines after the checkpoint
    assert harvested_again + rejected_again <= 303 - lines_done
