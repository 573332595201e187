"""``avi check`` catches broken invariants; ``avi export`` writes Parquet partitioned by month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from core.records import Extraction, PaperRecord, content_hash
from warehouse.checks import run_checks, text_backlog
from warehouse.db import Classified, Warehouse
from warehouse.export import export_parquet


def _record(arxiv_id: str, month: int) -> PaperRecord:
    moment = datetime(2026, month, 5, tzinfo=UTC)
    return PaperRecord(arxiv_id, 1, "Title", "Abstract", ["A"], ["cs.CV"], "cs.CV", moment, moment, None)


@pytest.fixture
def healthy(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "avi.duckdb")
    run = warehouse.start_run("ingest", date(2026, 4, 1), date(2026, 5, 31))
    warehouse.upsert_papers([_record("2604.00001", 4), _record("2605.00001", 5)], run)
    warehouse.register_model("m1", "embedding-logreg")
    hash_ = content_hash("Title", "Abstract")
    warehouse.store_classifications(
        "m1",
        [
            Classified("2604.00001", "none", 0.9, 0.1, hash_, {}),
            Classified("2605.00001", "av", 0.8, 0.9, hash_, {"perception.pixel.segmentation": 0.9}),
        ],
    )
    warehouse.store_extraction("2605.00001", 1, Extraction("ok", None, "sha", 2, "text"), run)
    warehouse.finish_run(run, "success", {}, {})
    yield warehouse
    warehouse.close()


TEXT_CHECK = "every audio-visual paper has its text or an extraction error, or waits for a night with room to read it"


def _failures(warehouse: Warehouse, texts_per_run: int = 300) -> dict[str, int]:
    return {check.name: broken for check, broken in run_checks(warehouse, texts_per_run) if broken}


def test_a_healthy_warehouse_passes_every_check(healthy: Warehouse) -> None:
    assert _failures(healthy) == {}


@pytest.mark.parametrize(
    ("damage", "broken"),
    [
        ("INSERT INTO predictions VALUES ('9999.00001', 'm1', 'relevance:av', 0.9)", "every label belongs to a paper"),
        (
            "INSERT INTO predictions VALUES ('2604.00001', 'ghost', 'relevance:av', 0.9)",
            "every prediction names a registered model version",
        ),
        ("DELETE FROM paper_texts", TEXT_CHECK),
        ("UPDATE runs SET status = 'running'", "no run was left unfinished (a crash the runs table did not record)"),
        ("UPDATE runs SET until = DATE '2026-04-30'", "the watermark covers every ingested paper"),
        ("DELETE FROM classifications WHERE arxiv_id = '2604.00001'", "every paper has labels from the current model"),
    ],
)
def test_each_broken_invariant_is_reported(healthy: Warehouse, damage: str, broken: str) -> None:
    healthy.connection.execute(damage)
    assert broken in _failures(healthy)


def test_papers_waiting_for_a_night_with_room_to_read_them_are_a_backlog_not_a_failure(healthy: Warehouse) -> None:
    healthy.connection.execute("DELETE FROM paper_texts")
    assert text_backlog(healthy) == 1
    healthy.connection.execute("UPDATE runs SET n_text_ok = 1")  # the night read as many PDFs as it may
    assert TEXT_CHECK not in _failures(healthy, texts_per_run=1)
    assert _failures(healthy, texts_per_run=2) == {TEXT_CHECK: 1}  # it had room for the paper and left it
    # classified after the last night (a backfill, a new model): the next night reads it
    healthy.connection.execute("UPDATE classifications SET classified_at = classified_at + INTERVAL 1 DAY")
    assert TEXT_CHECK not in _failures(healthy, texts_per_run=2)


def test_export_writes_every_object_partitioned_by_month(healthy: Warehouse, tmp_path: Path) -> None:
    written = export_parquet(healthy, tmp_path / "export")
    assert written["papers"] == 2 and written["paper_labels"] == 3
    assert sorted(p.name for p in (tmp_path / "export" / "papers").iterdir()) == ["month=2026-04", "month=2026-05"]
    read_back = duckdb.sql(
        f"SELECT month, count(*) FROM read_parquet('{tmp_path}/export/paper_labels/*/*.parquet', hive_partitioning=1)"
        " GROUP BY month ORDER BY month"
    ).fetchall()
    assert read_back == [("2026-04", 1), ("2026-05", 2)]
    assert (tmp_path / "export" / "models" / "data.parquet").exists()
