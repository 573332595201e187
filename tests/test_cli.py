"""The ``avi`` command as users call it: outputs, formats and clear errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import socket
from datetime import date
from pathlib import Path

import pytest

from avi_radar.cli import main
from core.settings import get_settings
from extract.corpus import iter_corpus
from extract.dumps import record_from_corpus_row
from tests.conftest import SHARED, TEST_DAY, write_corpus
from warehouse.db import Warehouse


@pytest.fixture
def published(tmp_path: Path) -> None:
    with Warehouse(get_settings().db_path) as warehouse:
        run = warehouse.start_run("ingest", None, None)
        warehouse.finish_run(run, "success", {"n_harvested": 0}, {})
        warehouse.publish()


def test_check_says_when_the_warehouse_has_not_caught_up_with_the_current_model(
    capsys: pytest.CaptureFixture,
) -> None:
    settings = get_settings()
    with Warehouse(settings.db_path) as warehouse:
        warehouse.register_model("mlp-20261201T000000-aaaaaa", "embedding-mlp")
        warehouse.publish()
    assert main(["check"]) == 0
    assert "the current model is" not in capsys.readouterr().out  # no model trained since
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    (settings.models_dir / "CURRENT").write_text("mlp-20261206T000000-bbbbbb\n", encoding="utf-8")
    assert main(["check"]) == 0
    assert (
        "the current model is mlp-20261206T000000-bbbbbb, but the warehouse's labels are "
        "mlp-20261201T000000-aaaaaa's until the next `avi ingest`"
    ) in capsys.readouterr().out


def test_sql_formats(published: None, capsys: pytest.CaptureFixture) -> None:
    query = "SELECT run_id, status FROM runs"
    assert main(["sql", query, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"run_id": 1, "status": "success"}]
    assert main(["sql", query, "--format", "csv"]) == 0
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [["run_id", "status"], ["1", "success"]]
    assert main(["sql", query]) == 0
    assert "(1 rows)" in capsys.readouterr().out


def test_sql_refuses_writes_and_reports_bad_sql(published: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["sql", "DELETE FROM runs"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main(["sql", "SELECT nothing FROM nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["sql", "-- a comment, no statement"]) == 2
    assert "no SQL statement in '-- a comment, no statement'" in capsys.readouterr().err


def test_clear_errors_for_bad_input(capsys: pytest.CaptureFixture) -> None:
    assert main(["sql", "SELECT 1"]) == 2
    assert "run `avi ingest`" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ingest", "--since", "05/04/2026"])
    assert "2026-05-04" in capsys.readouterr().err
    # refused before Prefect starts: no failed run is recorded for a window that cannot exist
    assert main(["ingest", "--since", "2026-05-09", "--until", "2026-05-01"]) == 2
    assert "--since 2026-05-09 is after --until 2026-05-01" in capsys.readouterr().err
    assert not get_settings().db_path.exists()
    # a decision needs papers to be about: no empty warehouse is started for it
    assert main(["label", "--paper", "2605.00001", "--relevance", "none"]) == 2
    assert "no warehouse at" in capsys.readouterr().err
    assert main(["label"]) == 2
    assert "run `avi ingest` (or `avi import`) first" in capsys.readouterr().err
    assert main(["reclassify"]) == 2  # refused before Prefect starts
    assert "run `avi ingest` (or `avi import`) first" in capsys.readouterr().err
    assert not get_settings().db_path.exists()
    assert main(["eval", "--model", "mlp-20990101T000000-abcdef"]) == 2
    assert "is not in the registry" in capsys.readouterr().err
    assert main(["eval", "--seeds", "3", "--holdout", "0.2"]) == 2  # refused before any label is read
    assert "--seeds goes with --cv or --month" in capsys.readouterr().err
    assert main(["eval", "--baseline"]) == 2  # the baseline would train on the very papers it is scored on
    assert "add --cv, --holdout or --month, or name other papers with --labels" in capsys.readouterr().err
    assert main(["train", "--classifier", "bogus"]) == 2  # refused before any label is read
    assert "unknown classifier kind 'bogus' (one of embedding-mlp, embedding-logreg)" in capsys.readouterr().err
    # a demo month the shared corpus does not hold is refused before anything is trained
    assert main(["demo", "--month", "2027-01"]) == 2
    assert "the demo's nights 2027-01-25..2027-01-31 are not all in it" in capsys.readouterr().err
    assert not get_settings().models_dir.exists() or not any(get_settings().models_dir.iterdir())
    # a count or a score that would select nothing is refused by the parser, not answered with nothing
    for arguments, problem in (
        (["search", "lip sync", "--limit", "0"], "a whole number of at least 1, not '0'"),
        (["label", "--limit", "-3"], "a whole number of at least 1, not '-3'"),
        (["hub-patch", "--hub", "README.md", "--min-score", "2"], "a score between 0 and 1, not '2'"),
        (["eval", "--cv", "1"], "at least 2 folds, not '1'"),
        (["eval", "--holdout", "1.5"], "a fraction between 0 and 1 (0.2: a fifth), not '1.5'"),
        (["eval", "--cv", "5", "--holdout", "0.2"], "argument --holdout: not allowed with argument --cv"),
        (["mirror", "--port", "99999"], "a port from 0 to 65535, not '99999'"),
        (["search", "  "], "argument text: an empty text"),
        (["report", "--month", "2026-13"], "month must look like 2026-05, not '2026-13'"),
        (["eval", "--month", "2026-03", "--month", "March"], "month must look like 2026-05, not 'March'"),
        (["demo", "--month", "2026-05-01"], "month must look like 2026-05, not '2026-05-01'"),
    ):
        with pytest.raises(SystemExit):
            main(arguments)
        assert problem in capsys.readouterr().err


def test_the_mirror_says_when_its_port_is_taken(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        corpus = SHARED / "corpus" / "arxiv_older.jsonl.gz"
        assert main(["mirror", "--corpus", str(corpus), "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in capsys.readouterr().err


def test_models_without_training(capsys: pytest.CaptureFixture) -> None:
    assert main(["models"]) == 0
    assert "zero-shot" in capsys.readouterr().out


@pytest.mark.slow  # trains with 5-fold cross-validation
def test_eval_prints_the_documented_json(tmp_path: Path, capsys: pytest.CaptureFixture, small_labels: Path) -> None:
    corpus_args = [arg for path in sorted((SHARED / "corpus").glob("*.jsonl.gz")) for arg in ("--corpus", str(path))]
    for protocol in (["--holdout", "0.3"], ["--cv", "3", "--seeds", "2"]):
        args = ["eval", "--labels", str(small_labels), *protocol, "--baseline", "--json"]
        assert main(args + corpus_args) == 0
        output = capsys.readouterr().out.strip().splitlines()
        assert len(output) == 1
        result = json.loads(output[0])
        # small_labels holds curated papers only: no judged subset
        subsets = {"all", "abstract", "curated"}
        assert set(result["model"]) == set(result["baseline"]) == subsets | {f"{name}_confident" for name in subsets}
        for figures in (*result["model"].values(), *result["baseline"].values()):
            assert set(figures["relevance"]) == {"precision", "recall", "f1"}
            assert {"macro_f1", "per_label"} <= set(figures["section"])
            assert "macro_f1" in figures["subsection"] and "macro_f1" in figures["technique"]
        assert result["model"]["all"]["n"] == result["baseline"]["all"]["n"] > result["model"]["abstract"]["n"] > 0
        bins = result["calibration"]["bins"]
        assert sum(row["n"] for row in bins) == result["model"]["all"]["n"]
        assert 0 <= result["calibration"]["expected_calibration_error"] < 0.2
        label_calibration = result["label_calibration"]
        assert label_calibration["bins"] and 0 <= label_calibration["expected_calibration_error_all_scores"] < 0.2
    assert result["protocol"] == (
        f"3-fold cross-validation over {result['model']['all']['n']} labeled papers "
        "(each fold's thresholds, relevance stacker and temperature chosen on the other folds)"
    )
    # --seeds 2: the figures above are fold seed 0's; each figure's spread over seeds 0 and 1 beside them
    assert result["fold_seeds"]["seeds"] == [0, 1]
    for measured in ("model", "baseline"):
        spread = result["fold_seeds"][measured]["all"]
        assert spread["relevance_f1"]["per_seed"][0] == result[measured]["all"]["relevance"]["f1"]
        assert spread["section"]["per_seed"][0] == result[measured]["all"]["section"]["macro_f1"]
        for figure in spread.values():
            assert figure["mean"] is None or figure["low"] <= figure["mean"] <= figure["high"]
        # seed 1 draws other folds: some figure moves
        assert any(figure["low"] < figure["high"] for figure in spread.values())
    # without --json: a table to read, each subset's row with the baseline's below it
    assert main(["eval", "--labels", str(small_labels), "--holdout", "0.3", "--baseline", *corpus_args]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("trained on ") and "evaluated on a held-out 30%" in table[0]
    assert table[2].split()[:2] == ["subset", "papers"]
    assert table[3].startswith("all ") and table[4].startswith("  baseline")


@pytest.mark.slow  # trains twice
def test_eval_month_with_seeds_scores_the_month_once_per_fold_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture, small_labels: Path, day_rows: list[dict]
) -> None:
    # a corpus of the labeled papers and one day of May 2026: the month's papers, and no other unlabeled text
    labeled = {json.loads(line)["arxiv_id"] for line in small_labels.open()}
    rows = [row for row in iter_corpus(sorted((SHARED / "corpus").glob("*.jsonl.gz"))) if row["arxiv_id"] in labeled]
    corpus = tmp_path / "day.jsonl.gz"
    write_corpus(corpus, [*rows, *day_rows])
    args = ["eval", "--labels", str(small_labels), "--corpus", str(corpus), "--month", "2026-05", "--seeds", "2"]
    assert main([*args, "--json"]) == 0
    month = json.loads(capsys.readouterr().out)["months"]["2026-05"]
    in_month = [row for row in [*rows, *day_rows] if (row.get("announced") or "").startswith("2026-05-")]
    harvested = [row for row in in_month if set(get_settings().categories) & set(row["categories"])]
    assert month["model"]["n"] == len(harvested) > 0
    assert month["model"]["trained_on"] == len(
        {row["arxiv_id"] for row in rows} - {row["arxiv_id"] for row in in_month}
    )
    spread = month["fold_seeds"]
    assert spread["seeds"] == [0, 1]
    assert spread["model"]["relevance_recall"]["per_seed"][0] == month["model"]["relevance"]["recall"]
    assert spread["model"]["section"]["per_seed"][0] == month["model"]["section"]["macro_f1"]
    for figure in spread["model"].values():
        assert len(figure["per_seed"]) == 2
        assert figure["mean"] is None or figure["low"] <= figure["mean"] <= figure["high"]
    # without --json: the month's row, its section counts and the seeds' spread, to read
    assert main(args) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("2026-05 "))
    assert row.split()[:4] == ["2026-05", *(str(month["model"][count]) for count in ("n", "labeled", "trained_on"))]
    assert "2026-05: audio-visual papers per section, counted / labeled" in table
    assert "2026-05 over fold seeds 0-1: mean (lowest-highest)" in table


@pytest.mark.slow  # trains, imports, runs the nightly flow and writes a report, twice
def test_demo_on_a_fresh_machine_trains_backfills_ingests_and_reports(
    small_shared: Path, two_days_rows: list[dict], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # the README's main command from a home with no model; the demo points the flow at its own mirror
    # whatever the environment says, and leaves the environment as it found it
    monkeypatch.setenv("AVI_ARXIV_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AVI_REQUEST_DELAY_S", "3")
    monkeypatch.setenv("AVI_TRAIN_CV_FOLDS", "0")  # the training itself, without its cross-validated figures
    # a small corpus in place of the real one: the labeled papers' rows, a sample of two earlier months and the
    # test days
    labeled = {json.loads(line)["arxiv_id"] for line in (small_shared / "labels" / "train.jsonl").open()}
    rows = [*two_days_rows]
    for path in sorted((SHARED / "corpus").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                row = json.loads(line)
                earlier = row.get("announced") or ""
                if row["arxiv_id"] in labeled or (earlier[:7] in ("2025-11", "2026-04") and number % 60 == 0):
                    rows.append(row)
    (small_shared / "corpus").unlink()
    (small_shared / "corpus").mkdir()
    write_corpus(small_shared / "corpus" / "sample.jsonl.gz", rows)
    configured = set(get_settings().categories)
    records = [record for record in map(record_from_corpus_row, rows) if record]
    backfilled = {
        record.arxiv_id
        for record in records
        if date(2025, 5, 1) <= record.published.date() < date.fromisoformat(TEST_DAY)
        and (not record.categories or configured & set(record.categories))
    }
    night = {row["arxiv_id"] for row in two_days_rows if row["announced"] == TEST_DAY}
    assert main(["demo", "--since", TEST_DAY, "--until", TEST_DAY]) == 0
    assert os.environ["AVI_ARXIV_URL"] == "http://127.0.0.1:9" and get_settings().arxiv_url == "http://127.0.0.1:9"
    out = capsys.readouterr().out
    assert "it is now the current model" in out and "report for 2026-05 written to" in out
    assert "backfilling papers submitted 2025-05-01..2026-05-04" in out and re.search(r"avi explain \d{4}\.\d{5} ", out)
    settings = get_settings()
    assert (settings.reports_dir / "2026-05" / "report.html").stat().st_size > 10_000
    assert main(["sql", "SELECT arxiv_id, published::DATE::VARCHAR AS day FROM papers", "--format", "json"]) == 0
    papers = json.loads(capsys.readouterr().out)
    assert {paper["arxiv_id"] for paper in papers if paper["day"] < TEST_DAY} == backfilled
    assert {paper["arxiv_id"] for paper in papers if paper["day"] >= TEST_DAY} <= night  # NEXT_DAY is not a night
    # a second demo trains nothing, reads no corpus line again and runs no night again
    assert main(["demo", "--since", TEST_DAY, "--until", TEST_DAY]) == 0
    out = capsys.readouterr().out
    assert "step 1 of 4" not in out and "report for 2026-05 written to" in out
    assert "the nights 2026-05-05..2026-05-05 were ingested before: not again" in out
    [imported] = [json.loads(line) for line in out.splitlines() if line.startswith('{"run_id"')]
    assert (imported["n_harvested"], imported["n_new"]) == (0, 0)
    assert main(["models"]) == 0
    assert "*" in capsys.readouterr().out


def test_settings_names_every_variable_with_its_meaning(capsys: pytest.CaptureFixture) -> None:
    from core.settings import Settings

    assert main(["settings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    variables = [line.split("=")[0] for line in lines if line.startswith("AVI_")]
    assert variables == [f"AVI_{name.upper()}" for name in Settings.model_fields]
    # each variable is followed by its description
    assert all(lines[lines.index(line) + 1].startswith("    ") for line in lines if line.startswith("AVI_"))


def test_an_empty_variable_means_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``AVI_EMBEDDING_CACHE=`` was the path ".", and training stopped on it."""
    from core.settings import Settings

    monkeypatch.setenv("AVI_HOME", str(tmp_path))
    monkeypatch.delenv("AVI_CATEGORIES", raising=False)
    defaults = Settings()
    monkeypatch.setenv("AVI_EMBEDDING_CACHE", "")
    monkeypatch.setenv("AVI_CATEGORIES", "")
    blanked = Settings()
    assert blanked.embedding_cache_path == tmp_path.resolve() / "cache" / "embeddings.sqlite"
    assert blanked.categories == defaults.categories and len(defaults.categories) > 1


def test_a_bad_setting_or_config_file_is_named_with_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from core.settings import reset_settings

    config = tmp_path / "avi.toml"
    config.write_text('page_size = "many"\n', encoding="utf-8")
    monkeypatch.setenv("AVI_CONFIG_FILE", str(config))
    reset_settings()
    assert main(["settings"]) == 2
    assert f"bad settings in {config} and the AVI_ variables: AVI_PAGE_SIZE:" in capsys.readouterr().err
    config.write_text('home = "unclosed\n', encoding="utf-8")
    reset_settings()
    assert main(["settings"]) == 2
    error = capsys.readouterr().err
    assert f"{config}: not valid TOML: " in error and "(at line 1, column" in error
    config.write_text("text_per_run = 100\n", encoding="utf-8")  # a misspelt setting would keep its default
    reset_settings()
    assert main(["settings"]) == 2
    assert f"{config}: no such setting: text_per_run (did you mean texts_per_run?)" in capsys.readouterr().err
    monkeypatch.setenv("AVI_CONFIG_FILE", str(tmp_path / "missing.toml"))
    reset_settings()
    assert main(["settings"]) == 2
    assert f"AVI_CONFIG_FILE names {tmp_path / 'missing.toml'}, which is not a file" in capsys.readouterr().err
    monkeypatch.delenv("AVI_CONFIG_FILE")
    monkeypatch.setenv("AVI_DEVICE", "tpu")
    reset_settings()
    assert main(["settings"]) == 2
    assert "AVI_DEVICE: String should match pattern" in capsys.readouterr().err
