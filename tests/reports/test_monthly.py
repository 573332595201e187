"""The monthly report, written from a real warehouse of one real day."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from classify.taxonomy import is_task_label, load_taxonomy
from core.settings import get_settings
from reports.monthly import write_report
from reports.queries import month_offset, parse_month, report_queries
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
    assert len(charts) == 1 and base64.b64decode(charts[0]).startswith(b"\x89PNG")  # no month before: no trend
    assert "Appendix: the queries behind every number" in page
    assert "how good its labels are has not been measured" in markdown  # the zero-shot model has no figures
    # one day of history: the report says what it cannot compare instead of printing zeros
    assert "**no history** audio-visual vs 2026-04" in markdown and "n/a" not in markdown
    assert "The warehouse holds this month's papers submitted 2026-05-05 to 2026-05-05 only" in markdown
    assert "History starts 2026-05-05: no comparison with 2026-04 or 2025-05." in markdown
    assert "the warehouse holds 0 of them whole (history starts 2026-05-05): no growth to measure" in markdown
    assert "so no name is called new this month" in markdown
    with open_for_reading(day_warehouse) as warehouse:  # a month after the history: why it compares nothing
        write_report(warehouse, taxonomy, "2026-08", tmp_path / "later")
    later = (tmp_path / "later" / "report.md").read_text()
    assert (
        "The warehouse holds no papers submitted in 2026-08 (history runs 2026-05-05 to 2026-05-05): nothing to "
        "compare with 2026-07 or 2025-08."
    ) in later


@pytest.fixture
def year_warehouse(day_warehouse: Path) -> Path:
    """The real day's papers and labels spread over the year before May 2026 and May itself: every weekday
    holds its own twentieth of them (copies with new ids), so each month has its own counts; the labels get
    thresholds, as a trained model's do, which most of them do not reach, and half the papers fit no subsection
    well."""
    with Warehouse(day_warehouse) as warehouse:
        connection = warehouse.connection
        connection.execute(
            """CREATE TEMP TABLE spread AS
               SELECT p.arxiv_id AS original, p.arxiv_id || 'x' || strftime(d.day, '%y%m%d') AS copy, d.day
               FROM papers p,
                    (SELECT unnest(generate_series(DATE '2025-05-01', DATE '2026-05-29', INTERVAL 1 DAY))::DATE
                     AS day) d
               WHERE dayofweek(d.day) BETWEEN 1 AND 5 AND d.day <> DATE '2026-05-05'
                 AND hash(p.arxiv_id || d.day::VARCHAR) % 20 = 0"""
        )
        connection.execute(
            "INSERT INTO papers SELECT p.* REPLACE (s.copy AS arxiv_id, s.day::TIMESTAMP AS published) "
            "FROM papers p JOIN spread s ON s.original = p.arxiv_id"
        )
        for table in ("classifications", "predictions"):
            connection.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE (s.copy AS arxiv_id) FROM {table} t "
                "JOIN spread s ON s.original = t.arxiv_id"
            )
        version = warehouse.query("SELECT model_version FROM models WHERE is_current")[1][0][0]
        # half the audio-visual papers score low on every task label, and the thresholds lie at the ninth decile
        # of each label's scores: many papers fit no subsection well, and the month has emerging topics
        connection.execute(
            "UPDATE predictions SET score = score / 4 WHERE hash(arxiv_id) % 2 = 0 "
            "AND split_part(label, '.', 1) IN ('perception', 'generation', 'interaction')"
        )
        deciles = warehouse.query("SELECT label, quantile_cont(score, 0.9) FROM predictions GROUP BY label")[1]
        warehouse.register_model(version, "zero-shot", None, dict(deciles))
        warehouse.publish()
    return day_warehouse


def _appendix(markdown: str) -> dict[str, str]:
    """The appendix's queries by their titles, as the report prints them."""
    return dict(re.findall(r"^\*\*([^\n]+)\*\*\n\n```sql\n(.*?)\n```", markdown, flags=re.S | re.M))


def _part(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def _table(part: str) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in part.splitlines() if line.startswith("|")]
    return rows[2:]  # the header and its rule


def test_every_number_of_the_report_is_what_its_appendix_query_returns(year_warehouse: Path, tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(year_warehouse) as warehouse:
        html_path = write_report(warehouse, taxonomy, "2026-05", tmp_path / "out")
        markdown = (tmp_path / "out" / "report.md").read_text()
        queries = _appendix(markdown)
        assert len(queries) == len(report_queries(parse_month("2026-05"), taxonomy.survey_arxiv_id))

        def run(title_start: str) -> list[tuple]:
            [sql] = [sql for title, sql in queries.items() if title.startswith(title_start)]
            return warehouse.query(sql)[1]

        [(starts, ends)] = run("The warehouse's history")
        headline = {month: (screened, av) for month, screened, av in run("Papers screened")}
        labels = {(month, label): papers for month, label, papers in run("Papers per subsection")}
        candidates = {(label, arxiv_id): score for label, arxiv_id, _, _, score, _ in run("Candidates")}
        thresholds = dict(warehouse.query("SELECT label, threshold FROM label_thresholds")[1])
        low_fit_this_month = [row for row in run("Audio-visual papers that fit no subsection") if row[3] == 0]
    checked = 0
    assert str(starts) == "2025-05-01" and str(ends) == "2026-05-29"
    assert "no history" not in markdown and "n/a" not in markdown and "History starts" not in markdown
    screened, audio_visual = headline["2026-05"]
    previous, year_ago = headline["2026-04"][1], headline["2025-05"][1]
    assert f"- **{screened}** papers screened\n- **{audio_visual}** audio-visual papers" in markdown
    assert f"- **{audio_visual / screened:.1%}** share of the stream" in markdown
    assert f"- **{(audio_visual - previous) / previous:+.0%}** audio-visual vs 2026-04" in markdown
    assert f"- **{(audio_visual - year_ago) / year_ago:+.0%}** audio-visual vs 2025-05" in markdown
    trailing = [f"{month_offset(parse_month('2026-05'), offset):%Y-%m}" for offset in range(-11, 0)]
    growth = _table(_part(markdown, "What grew: sections and subsections"))
    assert growth
    by_name = {name: label for label, name in taxonomy.names.items()}
    for name, now, average, change in growth:
        label = by_name[name]
        before = sum(labels.get((month, label), 0) for month in trailing) / 11
        assert (now, average) == (str(labels.get(("2026-05", label), 0)), f"{before:.1f}")
        assert change == (f"{(int(now) - before) / before:+.0%}" if before else "new")
    techniques = _table(_part(markdown, "Technique trends"))
    assert techniques
    for name, in_april, in_may, in_year in techniques:
        label = by_name[name]
        assert (in_april, in_may) == (str(labels.get(("2026-04", label), 0)), str(labels.get(("2026-05", label), 0)))
        assert in_year == str(sum(labels.get((month, label), 0) for month in [*trailing, "2026-05"]))
    one = len(low_fit_this_month) == 1
    low_fit = "audio-visual paper this month fits" if one else "audio-visual papers this month fit"
    assert f"{len(low_fit_this_month)} {low_fit} no subsection well" in markdown
    topics = _part(markdown, "Emerging topics").split("\n### ")[1:]
    assert topics
    for topic in topics:  # a topic's count is the papers it lists
        count = int(re.search(r"(\d+) papers?; earlier: ", topic)[1])
        assert count == len(re.findall(r"^- \[", topic, flags=re.M))
    for block in _part(markdown, "Papers the survey should add").split("\n### ")[1:]:
        label = by_name[block.splitlines()[0]]
        for arxiv_id, score in re.findall(r"https://arxiv.org/abs/([\w.]+)\) [\w.]+, score ([\d.]+)", block):
            assert f"{candidates[label, arxiv_id]:.2f}" == score
            assert candidates[label, arxiv_id] >= thresholds[label]  # never a label below its threshold
            checked += 1
    assert checked
    assert len(re.findall(r"data:image/png;base64,", html_path.read_text())) == 3


def test_a_month_outside_the_history_is_compared_with_nothing(year_warehouse: Path, tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(year_warehouse) as warehouse:
        write_report(warehouse, taxonomy, "2026-06", tmp_path / "after")
        write_report(warehouse, taxonomy, "2024-01", tmp_path / "before")
    after = (tmp_path / "after" / "report.md").read_text()
    # May is held whole, June not at all: June's zero is no fall against May, and no subsection shrank
    assert "- **no history** audio-visual vs 2026-05" in after and "-100%" not in after
    assert (
        "The warehouse holds no papers submitted in 2026-06 (history runs 2025-05-01 to 2026-05-29): nothing to "
        "compare with 2026-05 or 2025-06."
    ) in after
    assert "What grew" not in after and "## Methods note" in after
    before = (tmp_path / "before" / "report.md").read_text()
    assert "The warehouse holds no papers submitted in 2024-01 (the warehouse holds no papers up to this month)" in (
        before
    )


def test_a_paper_fits_no_subsection_when_none_of_its_task_labels_reaches_its_threshold(year_warehouse: Path) -> None:
    queries = report_queries(parse_month("2026-05"), None)
    in_may = "p.published >= DATE '2026-05-01' AND p.published < DATE '2026-06-01'"
    with open_for_reading(year_warehouse) as warehouse:
        low_fit = {
            arxiv_id for arxiv_id, _, _, months_back in warehouse.query(queries["low_fit"].sql)[1] if not months_back
        }
        audio_visual = warehouse.query(
            "SELECT c.arxiv_id FROM classifications c JOIN papers p USING (arxiv_id)\n"
            f"WHERE c.model_version = (SELECT model_version FROM models WHERE is_current) AND c.relevance = 'av'\n"
            f"  AND {in_may}"
        )[1]
        labels = warehouse.query(
            "SELECT l.arxiv_id, l.label, l.score, t.threshold FROM paper_labels l\n"
            f"JOIN label_thresholds t USING (model_version, label) JOIN papers p USING (arxiv_id) WHERE {in_may}"
        )[1]
    fits = {arxiv_id: False for (arxiv_id,) in audio_visual}
    for arxiv_id, label, score, threshold in labels:
        if arxiv_id in fits and is_task_label(label):
            fits[arxiv_id] = fits[arxiv_id] or score >= threshold
    assert low_fit == {arxiv_id for arxiv_id, fitting in fits.items() if not fitting}
    assert low_fit and len(low_fit) < len(fits)  # both kinds are there to tell apart


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
def test_report_renders_with_its_charts_in_a_real_browser(year_warehouse: Path, tmp_path: Path) -> None:
    taxonomy = load_taxonomy(get_settings().taxonomy_file)
    with open_for_reading(year_warehouse) as warehouse:
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
