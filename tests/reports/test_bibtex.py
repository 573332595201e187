"""BibTeX entries for the warehouse's papers."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from avi_radar.cli import main
from core.settings import get_settings
from reports.bibtex import bibtex_entries
from warehouse.db import open_for_reading


def test_entries_escape_latex_and_keep_keys_unique() -> None:
    when = datetime(2026, 5, 4)
    rows = [
        ("2605.00001", "Sound & Vision: 100% of {it}", ["Jörg Müller", "Ana Li"], "cs.CV", when),
        ("2605.00002", "Sound and the Fury", ["Karl Müller"], "cs.SD", when),
    ]
    text = bibtex_entries(rows)
    assert "@misc{muller2026sound," in text and "@misc{muller2026soundb," in text
    assert r"title = {{Sound \& Vision: 100\% of \{it\}}}" in text
    assert "author = {Jörg Müller and Ana Li}" in text
    assert "eprint = {2605.00002}" in text and "archivePrefix = {arXiv}" in text and "primaryClass = {cs.SD}" in text
    assert text.count("{") == text.count("}")


def test_bibtex_of_a_month_and_of_ids(day_warehouse: Path, capsys: pytest.CaptureFixture) -> None:
    with open_for_reading(get_settings().db_path) as warehouse:
        audio_visual = warehouse.query("SELECT arxiv_id FROM paper_labels WHERE label = 'relevance:av'")[1]
    assert main(["bibtex", "--month", "2026-05"]) == 0
    printed = capsys.readouterr()
    assert sorted(re.findall(r"eprint = \{([\d.]+)\}", printed.out)) == sorted(row[0] for row in audio_visual)
    assert f"{len(audio_visual)} entries" in printed.err
    assert main(["bibtex", "--ids", audio_visual[0][0], "9999.99999"]) == 2
    assert "not in the warehouse: 9999.99999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["bibtex", "--month", "May"])
    assert refused.value.code == 2
    assert "month must look like 2026-05, not 'May'" in capsys.readouterr().err
    assert main(["bibtex", "--label", "generation.cross_modal.video2audio"]) == 2
    assert "did you mean generation.cross_modal.video_to_audio" in capsys.readouterr().err
