"""`avi reclassify`: relabels the warehouse with a registered model, idempotently, keeping older models' labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from avi_radar.cli import main
from classify.registry import current_version
from classify.taxonomy import load_taxonomy
from classify.train import train_and_register
from core.settings import get_settings
from tests.conftest import SHARED, import_rows, summary_of
from warehouse.db import open_for_reading

pytestmark = pytest.mark.slow  # trains a model and runs flows

LABELS_OF = "SELECT model_version, arxiv_id, label, score FROM predictions WHERE model_version = ? ORDER BY ALL"


@pytest.fixture
def imported(day_rows: list[dict], tmp_path: Path, capsys: pytest.CaptureFixture) -> set[str]:
    """80 real papers of the test day, imported (and labelled by the zero-shot classifier)."""
    return set(import_rows(day_rows[:80], tmp_path / "corpus.jsonl.gz", capsys))


def _run(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["reclassify", *args]) == 0
    return summary_of(capsys.readouterr().out)


def test_reclassify_relabels_once_and_switches_models(
    imported: set[str], embedder, small_labels: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    first = train_and_register(settings, taxonomy, embedder, [small_labels], corpus, cv_folds=0)

    assert _run(capsys)["n_classified"] == len(imported)
    with open_for_reading(settings.db_path) as warehouse:
        first_labels = warehouse.query(LABELS_OF, [first.version])[1]
        assert warehouse.query("SELECT model_version FROM models WHERE is_current")[1] == [(first.version,)]
    assert _run(capsys)["n_classified"] == 0  # idempotent: nothing changes the second time
    with open_for_reading(settings.db_path) as warehouse:
        assert warehouse.query(LABELS_OF, [first.version])[1] == first_labels

    second = train_and_register(
        settings, taxonomy, embedder, [small_labels], corpus, kind="embedding-logreg", cv_folds=0
    )
    assert _run(capsys)["n_classified"] == len(imported)
    # back to the first model: its labels are still there, so nothing is computed again
    assert _run(capsys, "--model", first.version)["n_classified"] == 0
    assert current_version(settings.models_dir) == first.version
    with open_for_reading(settings.db_path) as warehouse:
        assert warehouse.query("SELECT model_version FROM models WHERE is_current")[1] == [(first.version,)]
        assert warehouse.query(LABELS_OF, [first.version])[1] == first_labels
        # the other model's labels stay queryable by version
        assert warehouse.query(
            "SELECT count(DISTINCT arxiv_id) FROM predictions WHERE model_version = ?", [second.version]
        )[1] == [(len(imported),)]
        # the views show the current model's labels only
        assert warehouse.query("SELECT DISTINCT model_version FROM paper_labels")[1] == [(first.version,)]


def test_reclassify_with_an_unknown_model_says_which_exist(imported: set[str], capsys: pytest.CaptureFixture) -> None:
    assert main(["reclassify", "--model", "mlp-20990101T000000-abcdef"]) == 2
    assert "is not in the registry" in capsys.readouterr().err
