"""Search by meaning over the stored embeddings of a real day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avi_radar.cli import main
from core.settings import get_settings
from warehouse.db import open_for_reading


def test_a_title_finds_its_paper_first_and_similar_finds_neighbours(
    day_warehouse: Path, day_rows: list[dict], capsys: pytest.CaptureFixture
) -> None:
    with open_for_reading(get_settings().db_path) as warehouse:
        embedded, papers = warehouse.count_embedded()
        [(arxiv_id, title)] = warehouse.query(
            "SELECT arxiv_id, title FROM papers WHERE arxiv_id IN (SELECT arxiv_id FROM paper_labels "
            "WHERE label = 'relevance:av') ORDER BY arxiv_id LIMIT 1"
        )[1]
    assert embedded == papers == len(day_rows)  # the zero-shot classifier embeds every paper
    assert main(["search", title, "--json", "--limit", "3"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found[0]["arxiv_id"] == arxiv_id and found[0]["similarity"] > 0.5 and found[0]["relevance"] == "av"
    assert [row["similarity"] for row in found] == sorted((row["similarity"] for row in found), reverse=True)

    assert main(["similar", arxiv_id, "--limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"searched {embedded} embedded papers of {papers}")
    assert len(lines) == 6 and arxiv_id not in "".join(lines[1:])  # five neighbours, not the paper itself

    with open_for_reading(get_settings().db_path) as warehouse:
        [(section,)] = warehouse.query(
            "SELECT section FROM paper_sections GROUP BY section ORDER BY count(*) DESC LIMIT 1"
        )[1]
        in_section = warehouse.query("SELECT arxiv_id FROM paper_sections WHERE section = ?", [section])[1]
    assert main(["search", title, "--section", section, "--json", "--limit", str(papers)]) == 0
    found_in_section = {row["arxiv_id"] for row in json.loads(capsys.readouterr().out)}
    assert found_in_section and found_in_section == {arxiv_id for (arxiv_id,) in in_section}
    for wrong in ("no.such_section", "technique.llm"):  # a filter that would keep nothing is refused
        assert main(["search", title, "--section", wrong]) == 2
        assert f"--section '{wrong}' is not a section of the taxonomy: perception.pixel," in capsys.readouterr().err
    assert main(["similar", "9999.99999"]) == 2
    assert "has no stored embedding" in capsys.readouterr().err
