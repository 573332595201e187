"""The analyst in the loop: `avi label` (given and interactive), analyst labels in training, `avi explain`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avi_radar.analyst import label_session
from avi_radar.cli import main
from avi_radar.commands.model import _analyst_rows
from classify.registry import list_models
from classify.taxonomy import load_taxonomy
from classify.train import train_and_register
from core.settings import Settings, get_settings
from tests.conftest import SHARED, import_rows
from warehouse.db import Warehouse, open_for_reading

pytestmark = pytest.mark.slow  # trains a model and imports through the flow

V2A = "generation.cross_modal.video_to_audio"


@pytest.fixture(scope="module")
def trained_registry(tmp_path_factory: pytest.TempPathFactory, embedder, small_labels: Path) -> Path:
    """A registry holding one model trained on a few shared labels: trained once, copied by every test."""
    settings = Settings(home=tmp_path_factory.mktemp("trained-home"))
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    train_and_register(settings, load_taxonomy(settings.taxonomy_file), embedder, [small_labels], corpus, cv_folds=0)
    return settings.models_dir


@pytest.fixture
def labelled_warehouse(day_rows: list[dict], tmp_path: Path, trained_registry: Path, capsys) -> list[str]:
    """40 real papers imported and labelled by the trained model; returns their ids."""
    shutil.copytree(trained_registry, get_settings().models_dir, dirs_exist_ok=True)
    return import_rows(day_rows[:40], tmp_path / "corpus.jsonl.gz", capsys)


def test_decisions_from_the_command_line(labelled_warehouse: list[str], capsys) -> None:
    paper = labelled_warehouse[0]
    assert main(["label", "--paper", paper, "--relevance", "av", "--labels", V2A, "--note", "Foley"]) == 0
    assert main(["label", "--paper", paper, "--relevance", "none", "--labels", V2A]) == 2
    assert "carries no label" in capsys.readouterr().err
    assert main(["label", "--paper", paper, "--relevance", "av", "--labels", "perception.telepathy"]) == 2
    assert "outside the taxonomy" in capsys.readouterr().err
    assert main(["label", "--paper", "2605.99999", "--relevance", "none"]) == 2
    assert "not in the warehouse" in capsys.readouterr().err
    with open_for_reading(get_settings().db_path) as warehouse:  # published at once
        assert warehouse.query("SELECT arxiv_id, relevance, labels, note FROM analyst_labels")[1] == [
            (paper, "av", [V2A], "Foley")
        ]


def test_an_interactive_session_shows_the_least_certain_first(labelled_warehouse: list[str]) -> None:
    settings = get_settings()
    with Warehouse(settings.db_path) as warehouse:
        version = warehouse.query("SELECT model_version FROM models WHERE is_current")[1][0][0]
        expected = [row[0] for row in warehouse.least_certain(version, 3)]
        scores = [row[4] for row in warehouse.least_certain(version, 40)]
        margins = warehouse.query(
            "SELECT relevance = 'none', label_margin IS NULL FROM classifications WHERE model_version = ?", [version]
        )[1]
    assert scores[0] == min(scores)  # the least certain relevance decision comes first
    assert margins and all(is_none == no_margin for is_none, no_margin in margins)  # a margin for every labelled paper
    answers = iter(["a", V2A, "s", "n", "q"])
    shown: list[str] = []
    assert label_session(settings, 3, lambda prompt: next(answers), shown.append) == 2
    assert sum(expected[0] in line for line in shown) == 1 and any(expected[2] in line for line in shown)
    rows = {row[0]: (row[1], row[2]) for row in _analyst_rows(settings)}
    assert rows == {expected[0]: ("av", [V2A]), expected[2]: ("none", [])}
    with Warehouse(settings.db_path) as warehouse:  # decided papers are not asked again
        assert not {row[0] for row in warehouse.least_certain(version, 40)} & set(rows)


def test_a_session_refuses_a_number_no_label_has_and_ends_with_its_input(labelled_warehouse: list[str]) -> None:
    replies = iter(["a", "0", "a", "99", "a", V2A])

    def ask(prompt: str) -> str:
        try:
            return next(replies)
        except StopIteration:
            raise EOFError from None  # Ctrl-D, or the end of piped answers

    shown: list[str] = []
    assert label_session(get_settings(), 4, ask, shown.append) == 1
    assert sum("not recorded: no proposed label is numbered" in line for line in shown) == 2
    assert [row[1:3] for row in _analyst_rows(get_settings())] == [("av", [V2A])]


def test_training_uses_analyst_labels_over_seed_labels(labelled_warehouse: list[str], embedder, small_labels) -> None:
    settings = get_settings()
    seed_ids = {json.loads(line)["arxiv_id"] for line in small_labels.read_text().splitlines()}
    paper = labelled_warehouse[1]
    assert paper not in seed_ids
    assert main(["label", "--paper", paper, "--relevance", "av", "--labels", V2A]) == 0
    taxonomy = load_taxonomy(settings.taxonomy_file)
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    (without,) = list_models(settings.models_dir)  # the model the warehouse was labelled with: seed labels only
    with_analyst = train_and_register(
        settings, taxonomy, embedder, [small_labels], corpus, analyst_rows=_analyst_rows(settings), cv_folds=0
    )
    assert with_analyst.n_papers == without.n_papers + 1
    assert with_analyst.labels_fingerprint != without.labels_fingerprint
    shown: list[str] = []  # the new model has labelled nothing yet: the loop says what to run
    assert label_session(settings, 3, lambda prompt: "q", shown.append) == 0
    assert shown == [
        f"{len(labelled_warehouse)} papers carry no labels of the current model {with_analyst.version} yet: "
        "`avi reclassify` labels them from the cached embeddings (nothing is downloaded), then `avi label` asks"
    ]
    assert main(["reclassify"]) == 0
    with Warehouse(settings.db_path) as warehouse:
        assert len(warehouse.least_certain(with_analyst.version, 40)) == len(labelled_warehouse) - 1  # one decided


def test_explain_shows_scores_and_neighbours(labelled_warehouse: list[str], capsys) -> None:
    assert main(["explain", labelled_warehouse[0]]) == 0
    output = capsys.readouterr().out
    assert output.startswith(labelled_warehouse[0])
    assert "label scores (threshold; * predicted):" in output
    neighbours = output.split("nearest labeled papers (cosine similarity):\n")[1].strip().splitlines()
    assert len(neighbours) == 5
    similarities = [float(line.split()[0]) for line in neighbours]
    assert similarities == sorted(similarities, reverse=True)
    assert main(["explain", "2605.99999"]) == 2


def test_eval_of_the_current_model_says_when_its_figures_are_in_sample(
    trained_registry: Path, small_shared: Path, small_labels: Path, tmp_path: Path, capsys
) -> None:
    settings = get_settings()
    shutil.copytree(trained_registry, settings.models_dir, dirs_exist_ok=True)
    [version] = [model.version for model in list_models(settings.models_dir)]
    in_sample = (
        f"model {version} on the given labels, the labels it learnt from: in-sample figures; "
        "--cv or --month measure quality"
    )
    for named in ([], ["--labels", str(small_labels)]):  # the shared labels here, named or not, are the model's
        assert main(["eval", *named]) == 0
        assert capsys.readouterr().out.splitlines()[0] == in_sample
    other = tmp_path / "other.jsonl"
    other.write_text("".join(small_labels.read_text(encoding="utf-8").splitlines(keepends=True)[:30]))
    assert main(["eval", "--labels", str(other), "--baseline"]) == 0  # other label files: no such claim
    table = capsys.readouterr().out.splitlines()
    assert table[0] == f"model {version} on the given labels"
    # the baseline learnt from the shared labels the given ones leave out, and is scored on the given 30
    assert table[3].split()[:2] == ["all", "30"] and table[4].startswith("  baseline")


def test_models_says_which_model_has_no_figures_of_its_own(trained_registry: Path, small_shared: Path, capsys) -> None:
    shutil.copytree(trained_registry, get_settings().models_dir, dirs_exist_ok=True)
    assert main(["train", "--no-cv"]) == 0  # a quick retrain of the registry's model on the same labels
    capsys.readouterr()
    assert main(["models"]) == 0
    [measured, figures, quick, not_measured] = capsys.readouterr().out.splitlines()
    assert measured.startswith("  mlp-") and "cross-validation over" in figures
    assert quick.startswith("* mlp-")  # the quick retrain is current
    assert not_measured == "  not measured: a quick retrain (--no-cv) keeps the decisions of the model it started from"
