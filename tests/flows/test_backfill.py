"""`avi import` over both dump formats: streamed in, labelled, idempotent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from avi_radar.cli import main
from core.settings import get_settings
from extract.dumps import record_from_kaggle_row
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
    with gzip.open(corpus_file, "wt") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in day_rows[:60])
    kaggle_file = tmp_path / "arxiv-metadata-oai-snapshot.json"
    kaggle_file.write_text("".join(json.dumps(_kaggle_row(row)) + "\n" for row in day_rows[60:100]))
    configured = set(get_settings().categories)
    expected = {row["arxiv_id"] for row in day_rows[:100] if configured & set(row["categories"])}

    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["n_new"] == first["n_classified"] == len(expected)
    assert main(["import", str(corpus_file), str(kaggle_file)]) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (second["n_new"], second["n_updated"], second["n_classified"]) == (0, 0, 0)
    with open_for_reading(get_settings().db_path) as warehouse:
        assert {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]} == expected
        assert warehouse.query(
            "SELECT max(version) FROM papers WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))",
            [[row["arxiv_id"] for row in day_rows[60:100]]],
        )[1] == [(2,)]
        assert warehouse.query("SELECT count(*) FROM pending_work WHERE waiting_for = 'labels'")[1] == [(0,)]
        assert warehouse.query("SELECT flow, status FROM runs")[1] == [("import", "success")] * 2
