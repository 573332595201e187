"""Backfill files as they come: good lines become records, bad ones a reason with their line, cut files
keep every complete line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from core.records import PaperRecord, Rejected
from extract.corpus import rows_announced_in
from extract.dumps import announced_span, read_dump
from tests.conftest import write_corpus


def _kaggle(arxiv_id: str, title: object = "A paper", created: str = "Tue, 5 May 2026 17:59:59 GMT") -> dict:
    return {
        "id": arxiv_id,
        "title": title,
        "abstract": "An abstract.",
        "authors": "A. Author, B. Author",
        "categories": "cs.CV cs.SD",
        "versions": [{"version": "v1", "created": created}],
        "authors_parsed": [["Author", "A.", ""], ["Author", "B.", ""]],
    }


def test_bad_lines_are_rejected_with_their_line_and_reason_and_the_rest_loads(tmp_path: Path) -> None:
    lines = [
        json.dumps(_kaggle("2605.00001")),
        "{this is not json",
        json.dumps(["an", "array"]),
        json.dumps({"id": "2605.99998"}),
        json.dumps(_kaggle("not an id")),
        json.dumps(_kaggle("2605.00002", title=5)),
        json.dumps(_kaggle("2605.00003", created="the fifth of May")),
        "",
        json.dumps(_kaggle("2605.00004")),
    ]
    path = tmp_path / "arxiv-metadata-oai-snapshot.json"
    path.write_text("\n".join(lines) + "\n" + json.dumps(_kaggle("2605.00005"))[:40], encoding="utf-8")
    numbered = list(read_dump(path))
    items = [item for _, item in numbered]
    assert [item.arxiv_id for item in items if isinstance(item, PaperRecord)] == ["2605.00001", "2605.00004"]
    assert [number for number, _ in numbered] == [1, 2, 3, 4, 5, 6, 7, 9, 10]  # line 8 is blank
    # resuming after line 4 reads on from line 5
    assert [number for number, _ in read_dump(path, after_line=4)] == [5, 6, 7, 9, 10]
    rejected = {item.line: item for item in items if isinstance(item, Rejected)}
    assert sorted(rejected) == [2, 3, 4, 5, 6, 7, 10]
    assert rejected[2].reason.startswith("not JSON") and rejected[2].excerpt == "{this is not json"
    assert rejected[3].reason == "not a JSON object but list"
    assert (rejected[4].arxiv_id, rejected[4].reason) == ("2605.99998", "no title")
    assert rejected[5].reason == "not an arXiv id: 'not an id'"
    assert rejected[6].reason == "no title"
    assert rejected[7].arxiv_id == "2605.00003" and "malformed Kaggle row" in rejected[7].reason
    assert (
        rejected[10].reason == "the file ends inside this line (cut short?)" and rejected[10].arxiv_id == "2605.00005"
    )
    assert all(item.source == str(path) for item in rejected.values())


def test_a_truncated_gzip_loads_every_complete_line_before_the_cut(day_rows: list[dict], tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl.gz"
    write_corpus(whole, day_rows)
    cut = tmp_path / "cut.jsonl.gz"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    items = [item for _, item in read_dump(cut)]
    records = [item for item in items if isinstance(item, PaperRecord)]
    [rejected] = [item for item in items if isinstance(item, Rejected)]
    assert 0 < len(records) < len(day_rows)
    assert [record.arxiv_id for record in records] == [row["arxiv_id"] for row in day_rows[: len(records)]]
    assert rejected.line == len(records) + 1 and "cut or damaged after line" in rejected.reason


def test_corpus_rows_without_a_title_are_rejected_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"arxiv_id": "2605.00010", "announced": "2026-05-05", "title": "Kept", "categories": ["cs.CV"]},
        {"arxiv_id": "2605.00011", "announced": "2026-05-05", "title": "", "categories": ["cs.CV"]},
        {"arxiv_id": "2605.00012", "announced": "May 5", "title": "Bad date", "categories": ["cs.CV"]},
        {"arxiv_id": "2605.00013", "announced": "2026-05-05", "title": "Bad authors", "authors": "One Author"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    items = [item for _, item in read_dump(path)]
    assert isinstance(items[0], PaperRecord)
    assert [(item.line, item.arxiv_id) for item in items[1:]] == [
        (2, "2605.00011"),
        (3, "2605.00012"),
        (4, "2605.00013"),
    ]
    assert items[1].reason == "no title"
    assert "malformed corpus row: ValueError" in items[2].reason
    assert items[3].reason == "authors is str, not a list"


def test_the_announced_span_covers_every_file_and_skips_rows_without_a_date(tmp_path: Path) -> None:
    daily, older = tmp_path / "daily.jsonl.gz", tmp_path / "older.jsonl"
    days = (("2503.00001", "2025-03-18"), ("2607.00001", "2026-07-01"))
    write_corpus(daily, ({"arxiv_id": arxiv_id, "title": "T", "announced": announced} for arxiv_id, announced in days))
    older.write_text(json.dumps({"arxiv_id": "1706.03762", "title": "T", "announced": None}) + "\n")
    assert announced_span([older, daily]) == (date(2025, 3, 18), date(2026, 7, 1))
    assert announced_span([older]) is None


def test_a_month_holds_each_paper_once_as_the_last_file_has_it(tmp_path: Path) -> None:
    def row(arxiv_id: str, announced: str | None, title: str) -> dict:
        return {"arxiv_id": arxiv_id, "title": title, "announced": announced, "categories": ["cs.SD"]}

    daily = write_corpus(
        tmp_path / "daily.jsonl.gz",
        [
            row("2607.00001", "2026-07-01", "first record"),
            row("2606.00009", "2026-06-30", "June"),
            row("0909.3052", None, "old"),
        ],
    )
    month = write_corpus(
        tmp_path / "month.jsonl.gz",
        [row("2607.00002", "2026-07-02", "only here"), row("2607.00001", "2026-07-01", "fuller record")],
    )

    rows = rows_announced_in([daily, month], "2026-07")

    assert [(r["arxiv_id"], r["title"]) for r in rows] == [("2607.00001", "fuller record"), ("2607.00002", "only here")]
