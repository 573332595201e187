"""The warehouse on a real DuckDB file: upserts, versions, runs, labels and the published snapshot."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from core.records import Extraction, PaperRecord, PaperStructure, content_hash
from warehouse.db import Classified, Warehouse, open_for_reading, published_path


def _record(arxiv_id: str, version: int = 1, title: str = "A paper") -> PaperRecord:
    moment = datetime(2026, 5, 5, tzinfo=UTC)
    return PaperRecord(
        arxiv_id, version, title, "An abstract.", ["A. Author"], ["cs.CV", "cs.SD"], "cs.CV", moment, moment, None
    )


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "avi.duckdb") as opened:
        yield opened


def test_upsert_is_idempotent_and_keeps_the_newest_version(warehouse: Warehouse) -> None:
    run = warehouse.start_run("ingest", date(2026, 5, 5), date(2026, 5, 5))
    assert warehouse.upsert_papers([_record("2605.00001"), _record("2605.00002")], run) == (2, 0)
    assert warehouse.upsert_papers([_record("2605.00001"), _record("2605.00002")], run) == (0, 0)
    assert warehouse.upsert_papers([_record("2605.00001", version=2, title="Renamed")], run) == (0, 1)
    assert warehouse.upsert_papers([_record("2605.00001", version=1)], run) == (0, 0)  # an older version never wins
    columns, rows = warehouse.query("SELECT arxiv_id, version, title, authors, categories FROM papers ORDER BY 1")
    assert rows == [
        ("2605.00001", 2, "Renamed", ["A. Author"], ["cs.CV", "cs.SD"]),
        ("2605.00002", 1, "A paper", ["A. Author"], ["cs.CV", "cs.SD"]),
    ]


def test_duplicates_within_one_batch_load_once(warehouse: Warehouse) -> None:
    run = warehouse.start_run("ingest", None, None)
    assert warehouse.upsert_papers([_record("2605.00001"), _record("2605.00001", version=3)], run) == (1, 0)
    assert warehouse.query("SELECT version FROM papers")[1] == [(3,)]


def test_watermark_moves_only_with_successful_runs(warehouse: Warehouse) -> None:
    assert warehouse.watermark() is None
    first = warehouse.start_run("ingest", date(2026, 5, 1), date(2026, 5, 3))
    warehouse.finish_run(first, "success", {"n_harvested": 3}, {"harvest_s": 0.1})
    failed = warehouse.start_run("ingest", date(2026, 5, 4), date(2026, 5, 9))
    warehouse.finish_run(failed, "failed", {}, {}, "HTTPError: 503")
    assert warehouse.watermark() == date(2026, 5, 3)
    assert warehouse.query("SELECT status, error FROM runs ORDER BY run_id")[1] == [
        ("success", None),
        ("failed", "HTTPError: 503"),
    ]


def test_labels_of_the_current_model_only(warehouse: Warehouse) -> None:
    run = warehouse.start_run("ingest", None, None)
    warehouse.upsert_papers([_record("2605.00001")], run)
    hash_ = content_hash("A paper", "An abstract.")
    warehouse.register_model("old", "zero-shot")
    warehouse.store_classifications("old", [Classified("2605.00001", "none", 0.9, 0.1, hash_, {})])
    assert warehouse.papers_to_classify("new") == ["2605.00001"]
    warehouse.register_model("new", "embedding-logreg")
    labels = {"generation.joint.text_to_audio_video": 0.8}
    warehouse.store_classifications("new", [Classified("2605.00001", "av", 0.7, 0.8, hash_, labels)])
    warehouse.store_classifications("new", [Classified("2605.00001", "av", 0.7, 0.8, hash_, labels)])
    assert warehouse.papers_to_classify("new") == []
    assert sorted(warehouse.query("SELECT label, score, model_version FROM paper_labels")[1]) == [
        ("generation.joint.text_to_audio_video", 0.8, "new"),
        ("relevance:av", 0.7, "new"),
    ]
    assert warehouse.query("SELECT count(*) FROM predictions WHERE model_version = 'old'")[1] == [(1,)]
    assert warehouse.query("SELECT section FROM paper_sections")[1] == [("generation.joint",)]
    assert warehouse.papers_needing_text("new") == [("2605.00001", 1)]
    older = replace(_record("2604.00001"), published=datetime(2026, 4, 1, tzinfo=UTC))
    warehouse.upsert_papers([older], run)
    warehouse.store_classifications("new", [Classified("2604.00001", "av", 0.7, 0.8, hash_, labels)])
    assert warehouse.papers_needing_text("new") == [("2605.00001", 1), ("2604.00001", 1)]  # newest first
    assert warehouse.papers_needing_text("new", limit=1) == [("2605.00001", 1)]
    assert warehouse.surest_audio_visual(date(2026, 5, 1), date(2026, 5, 5)) == "2605.00001"  # both ends included
    assert warehouse.surest_audio_visual(date(2026, 4, 1), date(2026, 4, 30)) == "2604.00001"
    assert warehouse.surest_audio_visual(date(2026, 5, 6), date(2026, 5, 31)) is None
    warehouse.store_extraction("2605.00001", 1, Extraction("refused", "no %PDF header"), run)
    assert warehouse.query("SELECT status, reason, text FROM paper_texts")[1] == [("refused", "no %PDF header", None)]
    assert warehouse.papers_needing_text("new") == [("2604.00001", 1)]
    # a new version with another text needs new labels and new text
    warehouse.upsert_papers([replace(_record("2605.00001", version=2), abstract="Changed.")], run)
    assert warehouse.papers_to_classify("new") == ["2605.00001"]


def test_a_models_figures_are_stored_once_and_kept(warehouse: Warehouse) -> None:
    warehouse.register_model("zeroshot-x", "zero-shot")
    warehouse.register_model("mlp-1", "embedding-mlp", {"all": {"relevance": {"f1": 0.91}}})
    warehouse.register_model("zeroshot-x", "zero-shot")
    warehouse.register_model("mlp-1", "embedding-mlp")  # made current again without figures: they stay
    assert warehouse.query(
        "SELECT model_version, is_current, json_extract(metrics, '$.all.relevance.f1')::DOUBLE FROM models "
        "ORDER BY model_version"
    )[1] == [("mlp-1", True, 0.91), ("zeroshot-x", False, None)]
    thresholds = {"generation.joint.text_to_audio_video": 0.35, "technique.generative.diffusion": 0.3}
    warehouse.register_model("mlp-1", "embedding-mlp", None, thresholds)
    warehouse.register_model("mlp-1", "embedding-mlp", None, thresholds)  # again, as every night does
    assert dict(warehouse.query("SELECT label, threshold FROM label_thresholds WHERE model_version = 'mlp-1'")[1]) == (
        thresholds
    )


def test_least_certain_asks_by_turns_about_relevance_and_label_margins(warehouse: Warehouse) -> None:
    ids = [f"2605.0000{number}" for number in range(1, 6)]
    warehouse.upsert_papers([_record(arxiv_id) for arxiv_id in ids], warehouse.start_run("ingest", None, None))
    hash_ = content_hash("A paper", "An abstract.")
    warehouse.register_model("m", "embedding-mlp")
    scores_and_margins = [(0.40, 0.30), (0.45, None), (0.90, 0.01), (0.95, 0.02), (0.50, 0.20)]
    warehouse.store_classifications(
        "m",
        [
            Classified(arxiv_id, "av", score, 0.5, hash_, {}, margin)
            for arxiv_id, (score, margin) in zip(ids, scores_and_margins, strict=True)
        ],
    )
    # relevance order 1, 2, 5, 3, 4 and margin order 3, 4, 5, 1 (2 has none), taken by turns, each paper once
    assert [row[0] for row in warehouse.least_certain("m", 5)] == [ids[0], ids[2], ids[1], ids[3], ids[4]]
    assert warehouse.query("SELECT label_margin FROM classifications ORDER BY arxiv_id")[1] == [
        (margin,) for _, margin in scores_and_margins
    ]


def _count_in_other_process(path: str, queue: multiprocessing.Queue) -> None:
    connection = duckdb.connect(path, read_only=True)
    queue.put(connection.execute("SELECT count(*) FROM papers").fetchone()[0])


def test_published_snapshot_is_readable_while_the_writer_holds_its_file(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "avi.duckdb") as writer:
        writer.upsert_papers([_record("2605.00001")], writer.start_run("ingest", None, None))
        writer.publish()
        writer.upsert_papers([_record("2605.00002")], 1)  # not yet published
        queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        reader = multiprocessing.get_context("spawn").Process(
            target=_count_in_other_process, args=(str(published_path(writer.path)), queue)
        )
        reader.start()
        reader.join(60)
        assert queue.get(timeout=5) == 1
    with open_for_reading(tmp_path / "avi.duckdb") as snapshot:
        assert snapshot.query("SELECT count(*) FROM papers")[1] == [(1,)]
        with pytest.raises(duckdb.Error):
            snapshot.query("DELETE FROM papers")


def test_reading_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="avi ingest"):
        open_for_reading(tmp_path / "avi.duckdb")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "avi.duckdb"
    with Warehouse(path) as warehouse:
        warehouse.connection.execute("INSERT INTO schema_version VALUES (99, now())")
    with pytest.raises(RuntimeError, match="schema version 99"):
        Warehouse(path)


def test_versions_keep_their_history_and_withdrawn_papers_stay(warehouse: Warehouse) -> None:
    run = warehouse.start_run("ingest", None, None)
    warehouse.upsert_papers([_record("2605.00001")], run)
    warehouse.upsert_papers([_record("2605.00001", version=2, title="Better title")], run)
    withdrawn = replace(_record("2605.00001", version=3), comment="This paper has been withdrawn by the authors")
    warehouse.upsert_papers([withdrawn], run)
    warehouse.upsert_papers([_record("2605.00001", version=2, title="Better title")], run)  # late, older: ignored
    assert warehouse.query("SELECT version, withdrawn FROM papers")[1] == [(3, True)]
    assert warehouse.query("SELECT version, title FROM paper_versions ORDER BY version")[1] == [
        (1, "A paper"),
        (2, "Better title"),
        (3, "A paper"),
    ]


def test_a_readable_paper_with_no_sections_and_no_other_citation_is_stored(warehouse: Warehouse) -> None:
    # a structure with nothing to insert once the paper's citation of itself is dropped (it failed a night)
    run = warehouse.start_run("ingest", None, None)
    warehouse.upsert_papers([_record("2605.00001")], run)
    structure = PaperStructure(sections=[], references=["[1] Ourselves."], cited_arxiv_ids=["2605.00001"])
    warehouse.store_extraction("2605.00001", 1, Extraction("ok", None, "sha", 1, "A text.", structure), run)
    assert warehouse.query("SELECT status, n_references FROM paper_texts")[1] == [("ok", 1)]
    assert warehouse.query("SELECT count(*) FROM citations")[1] == [(0,)]
