"""`avi import` over both dump formats: streamed in, labelled, idempotent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from avi_radar.cli import main
from core.settings import get_settings
from extract.dumps import record_from_kaggle_row
from tests.conftest import summary_of, write_corpus
from warehouse.db import open_for_reading

pytestmark = pytest.mark.slow  # runs the import flow


def _kaggle_row(row: dict) -> dict:
    """A corpus row rewritten in the shape of Kaggle's arxiv-metadata-oai-snapshot.json, as version 2."""
    return {
        "id": row["arxiv_id"],
        "submitter": row["authors"][0],
        "authors": ", ".join(row["authors"]),
        "title": row["title"],
        "comments": row["comment"],
        "categories": " ".join(row["categories"]),
        "abstract": row["abstract"],
        "update_date": "2026-05-07",
        "versions": [
            {"version": "v1", "created": "Tue, 5 May 2026 17:59:59 GMT"},
            {"version": "v2", "created": "Thu, 7 May 2026 09:00:00 GMT"},
        ],
        "authors_parsed": [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in row["authors"]],
    }


def test_kaggle_rows_become_records_at_their_newest_version(day_rows: list[dict]) -> None:
    row = day_rows[0]
    record = record_from_kaggle_row(_kaggle_row(row))
    assert (record.arxiv_id, record.version, record.title) == (row["arxiv_id"], 2, row["title"])
    assert record.authors == row["authors"] and record.categories == row["categories"]
    assert str(record.published.date()) == "2026-05-05" and str(record.updated.date()) == "2026-05-07"


def test_import_both_formats_twice(day_rows: list[dict], tmp_path: Path, capsys) -> None:
    corpus_file = tmp_path / "corpus.jsonl.gz"
    write_corpus(corpus_file, day_rows[:60])
    kaggle_file = tmp_path / "arxiv-metadata-oai-snapshot.json"
    kaggle_file.write_text("".join(json.dumps(_kaggle_row(row)) + "\n" for row in day_rows[60:100]))
    configured = set(get_settings().categories)
    expected = {row["arxiv_id"] for row in day_rows[:100] if configured & set(row["categories"])}

    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    captured = capsys.readouterr()
    assert "no trained model" in captured.err and "Run `avi train` first" in captured.err
    first = summary_of(captured.out)
    assert first["n_new"] == first["n_classified"] == len(expected)
    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    second = summary_of(capsys.readouterr().out)
    # both files were loaded whole and are unchanged: neither is read again
    assert (second["n_harvested"], second["n_new"], second["n_updated"], second["n_classified"]) == (0, 0, 0, 0)
    # a file only touched (provisioned again, say) is the same file: not read again
    os.utime(kaggle_file, ns=(kaggle_file.stat().st_atime_ns, kaggle_file.stat().st_mtime_ns + 10**9))
    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    touched = summary_of(capsys.readouterr().out)
    assert touched["n_harvested"] == 0
    # a file whose content changed since (here the order of its rows) is read again from its start
    kaggle_file.write_text("".join(json.dumps(_kaggle_row(row)) + "\n" for row in reversed(day_rows[60:100])))
    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    third = summary_of(capsys.readouterr().out)
    in_kaggle_file = {row["arxiv_id"] for row in day_rows[60:100]} & expected
    assert (third["n_harvested"], third["n_new"], third["n_updated"]) == (len(in_kaggle_file), 0, 0)
    with open_for_reading(get_settings().db_path) as warehouse:
        assert {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]} == expected
        assert warehouse.query(
            "SELECT max(version) FROM papers WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))",
            [[row["arxiv_id"] for row in day_rows[60:100]]],
        )[1] == [(2,)]
        assert warehouse.query("SELECT count(*) FROM pending_work WHERE waiting_for = 'labels'")[1] == [(0,)]
        assert warehouse.query("SELECT flow, status FROM runs")[1] == [("import", "success")] * 4


def test_import_quarantines_bad_lines_and_loads_the_rest(day_rows: list[dict], tmp_path: Path, capsys) -> None:
    configured = set(get_settings().categories)
    good = [row for row in day_rows if configured & set(row["categories"])][:20]
    lines = [json.dumps(row) for row in good[:10]]
    lines += ["{not json", json.dumps({"id": "2605.99998"}), json.dumps({**good[10], "announced": "someday"})]
    lines += [json.dumps(row) for row in good[11:]]
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cut = tmp_path / "cut.jsonl.gz"
    write_corpus(cut, day_rows[:200])
    cut.write_bytes(cut.read_bytes()[:-2000])

    assert main(["import", "--strict", str(dump)]) == 1
    assert "dump.jsonl:11: not JSON" in capsys.readouterr().err
    assert main(["import", str(dump), str(cut)]) == 0
    captured = capsys.readouterr()
    summary = summary_of(captured.out)
    assert "4 lines could not be loaded" in captured.err and "rejected_records" in captured.err
    with open_for_reading(get_settings().db_path) as warehouse:
        rejected = warehouse.query(
            "SELECT source_file, line_number, arxiv_id, reason FROM rejected_records ORDER BY source_file, line_number"
        )[1]
        papers = {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]}
    assert [(Path(source).name, line, arxiv_id) for source, line, arxiv_id, _ in rejected] == [
        ("cut.jsonl.gz", rejected[0][1], None),
        ("dump.jsonl", 11, None),
        ("dump.jsonl", 12, "2605.99998"),
        ("dump.jsonl", 13, good[10]["arxiv_id"]),
    ]
    assert "cut or damaged" in rejected[0][3] and rejected[1][3].startswith("not JSON") and rejected[2][3] == "no title"
    complete_before_cut = rejected[0][1] - 1
    expected = {row["arxiv_id"] for row in good if row is not good[10]}
    expected |= {row["arxiv_id"] for row in day_rows[:complete_before_cut] if configured & set(row["categories"])}
    assert papers == expected and summary["n_rejected"] == 4


def test_import_keeps_the_submission_window_and_a_wider_one_loads_the_rest(
    two_days_rows: list[dict], tmp_path: Path, capsys
) -> None:
    configured = set(get_settings().categories)
    rows = [row for row in two_days_rows if configured & set(row["categories"])][::20]  # both days, a few papers
    corpus_file = tmp_path / "corpus.jsonl.gz"
    write_corpus(corpus_file, rows)
    last_day = max(row["announced"] for row in rows)  # the corpus's announcement date stands for the submission
    inside = {row["arxiv_id"] for row in rows if row["announced"] == last_day}
    assert 0 < len(inside) < len(rows)

    assert main(["import", "--since", last_day, "--until", last_day, str(corpus_file)]) == 0
    assert summary_of(capsys.readouterr().out)["n_new"] == len(inside)
    with open_for_reading(get_settings().db_path) as warehouse:
        assert {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]} == inside
    # the same file under another window is another import: it is read again, and only the new papers count
    assert main(["import", "--until", last_day, str(corpus_file)]) == 0
    assert summary_of(capsys.readouterr().out)["n_new"] == len(rows) - len(inside)
