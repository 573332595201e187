"""The monthly report, written from a real warehouse of one real day."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from classify.taxonomy import load_taxonomy
from core.settings import get_settings
from reports.monthly import write_report
from reports.queries import month_offset, parse_month
from warehouse.db import Warehouse, open_for_reading


def test_report_numbers_come_from_the_warehouse(day_warehouse: Path, day_rows: list[dict], tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(day_warehouse) as warehouse:
        html_path = write_report(warehouse, taxonomy, "2026-05", tmp_path / "out")
        audio_visual = warehouse.query("SELECT count(*) FROM paper_labels WHERE label = 'relevance:av'")[1][0][0]
        top = warehouse.query("SELECT arxiv_id FROM paper_sections")[1]
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert f"- **{len(day_rows)}** papers screened\n- **{audio_visual}** audio-visual papers" in markdown
    assert audio_visual > 0
    # every listed paper links to arXiv and is one of the labelled papers
    linked = set(re.findall(r"https://arxiv.org/abs/([\d.]+)", markdown))
    assert linked and linked <= {row[0] for row in top} | {row["arxiv_id"] for row in day_rows}
    page = html_path.read_text()
    charts = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(charts) >= 3 and all(base64.b64decode(chart).startswith(b"\x89PNG") for chart in charts)
    assert (tmp_path / "out" / "sections_by_month.png").read_bytes().startswith(b"\x89PNG")
    assert "Appendix: the queries behind every number" in page
    assert "how good its labels are has not been measured" in markdown  # the zero-shot model has no figures


def test_methods_note_quotes_the_current_models_cross_validated_figures(day_warehouse: Path, tmp_path: Path) -> None:
    figures = {
        "all": {
            "relevance": {"precision": 0.9222, "recall": 0.9034, "f1": 0.9127},
            "section": {"macro_f1": 0.6328},
            "subsection": {"macro_f1": 0.5633},
            "technique": {"macro_f1": 0.2795},
        },
        "judged": {"relevance": {"f1": 0.8844}},
    }
    metrics = {
        "protocol": "5-fold cross-validation over 1933 labeled papers",
        **figures,
        "label_calibration": {"expected_calibration_error": 0.0337},
    }
    with Warehouse(day_warehouse) as warehouse:
        warehouse.register_model("mlp-test", "embedding-mlp", metrics)
        warehouse.publish()
    with open_for_reading(day_warehouse) as warehouse:
        write_report(warehouse, load_taxonomy(get_settings().taxonomy_file), "2026-05", tmp_path / "out")
    note = " ".join((tmp_path / "out" / "report.md").read_text().split())
    assert (
        "from the model's 5-fold cross-validation over 1933 labeled papers at training time: audio-visual papers"
        " are found with precision 0.92 and recall 0.90 (F1 0.91; 0.88 on the stream's judged borderline papers);"
        " section macro-F1 0.63, subsection 0.56, technique 0.28; a named label's score is on average 0.03 from"
        " how often such labels are right." in note
    )


def test_month_arithmetic_and_validation() -> None:
    assert str(month_offset(parse_month("2026-05"), -11)) == "2025-06-01"
    assert str(month_offset(parse_month("2026-01"), -1)) == "2025-12-01"
    with pytest.raises(ValueError, match="2026-05"):
        parse_month("May 2026")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
@pytest.mark.slow  # drives a browser
def test_report_renders_with_its_charts_in_a_real_browser(day_warehouse: Path, tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(day_warehouse) as warehouse:
        html_path = write_report(warehouse, taxonomy, "2026-05", tmp_path / "out")
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, *profile, "--virtual-time-budget=5000", "--dump-dom", html_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    charts = re.search(r'data-charts-loaded="(\d+)" data-charts="(\d+)"', dom.stdout)
    assert charts, dom.stderr[-2000:]
    assert int(charts[1]) == int(charts[2]) >= 3  # every chart image decoded in the browser
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            *profile,
            f"--screenshot={screenshot}",
            "--window-size=1200,1800",
            html_path.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 50_000


def _should_add(markdown: str) -> list[str]:
    """The arXiv ids listed under "Papers the survey should add", in order."""
    section = markdown.split("## Papers the survey should add", 1)[1].split("## Methods note", 1)[0]
    return re.findall(r"https://arxiv.org/abs/([\d.]+)", section)


def test_the_survey_never_asks_to_add_itself_or_what_it_cites(day_warehouse: Path, tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(day_warehouse) as warehouse:
        write_report(warehouse, replace(taxonomy, survey_arxiv_id=None), "2026-05", tmp_path / "all")
    listed = _should_add((tmp_path / "all" / "report.md").read_text())
    assert len(set(listed)) >= 2
    survey, cited = listed[0], next(arxiv_id for arxiv_id in listed if arxiv_id != listed[0])
    with Warehouse(day_warehouse) as warehouse:
        warehouse.connection.execute("INSERT INTO citations VALUES (?, ?)", [survey, cited])
        warehouse.publish()
    with open_for_reading(day_warehouse) as warehouse:
        write_report(warehouse, replace(taxonomy, survey_arxiv_id=survey), "2026-05", tmp_path / "survey")
    markdown = (tmp_path / "survey" / "report.md").read_text()
    left = _should_add(markdown)
    assert survey not in left and cited not in left
    assert set(listed) - {survey, cited} <= set(left)  # the others stay (and free places may bring in more)
    assert f"AND p.arxiv_id <> '{survey}'" in markdown  # the appendix shows the exclusion with the query


def test_a_survey_id_that_is_not_an_arxiv_id_is_refused(tmp_path: Path) -> None:
    source = get_settings().taxonomy_file.read_text(encoding="utf-8")
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text(source.replace('arxiv_id: "2605.04045"', 'arxiv_id: "2605.04045\' OR 1=1"'), encoding="utf-8")
    with pytest.raises(ValueError, match="is not an arXiv id"):
        load_taxonomy(broken)
    broken.write_text(source.replace('arxiv_id: "2605.04045"', "arxiv_id: 2605.04050"), encoding="utf-8")
    with pytest.raises(ValueError, match="in quotes"):
        load_taxonomy(broken)
    assert load_taxonomy(get_settings().taxonomy_file).survey_arxiv_id == "2605.04045"


def test_the_report_links_the_months_hub_patch_and_the_feeds(day_warehouse: Path, tmp_path: Path) -> None:
    from reports.hub import read_hub
    from tests.conftest import SHARED

    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    hub = read_hub(SHARED / "fixtures" / "hub" / "README.md", taxonomy)
    with open_for_reading(day_warehouse) as warehouse:
        write_report(warehouse, taxonomy, "2026-05", tmp_path / "out", hub, tmp_path / "feeds")
    markdown = (tmp_path / "out" / "report.md").read_text()
    diff = (tmp_path / "out" / "hub-patch" / "hub.diff").read_text()
    added = sum(line.startswith("+") and not line.startswith("+++") for line in diff.splitlines())
    assert added > 0 and f"({added} lines, none removed)" in markdown
    assert "hub-patch/PR.md" in markdown and f"Atom feeds in {tmp_path / 'feeds'}" in markdown
