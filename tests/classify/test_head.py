"""The torch head: consistent hierarchical output, thresholds from out-of-fold scores, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classify.head import TorchHeadClassifier, fit_temperature, paper_weight, relevance_weight
from classify.labels import LabeledPaper, load_labeled_papers, merge_analyst_labels, unlabeled_texts
from classify.model import _THRESHOLD_GRID
from classify.taxonomy import is_task_label, load_taxonomy, section_of
from tests.conftest import SHARED

TAXONOMY = load_taxonomy(Path(__file__).resolve().parents[2] / "classify" / "taxonomy.yaml")
CORPUS = sorted((SHARED / "corpus").glob("*.jsonl.gz"))


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> list[LabeledPaper]:
    """Every third paper of the shared training labels, and the judged stream papers."""
    rows = [json.loads(line) for line in (SHARED / "labels" / "train.jsonl").read_text().splitlines()][::3]
    path = tmp_path_factory.mktemp("labels") / "train.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    judged = sorted((SHARED / "labels" / "judged").glob("*.jsonl"))
    return load_labeled_papers([path, *judged], CORPUS, TAXONOMY)


BACKGROUND = 3000  # unlabeled corpus papers the test head's screen learns from


@pytest.fixture(scope="module")
def unlabeled(papers: list[LabeledPaper]) -> list[str]:
    """Unlabeled corpus texts, read once: the screen's background first, then 600 it never saw
    (``unlabeled_texts`` returns the same texts in the same order, so a smaller limit gives a prefix)."""
    return unlabeled_texts(CORPUS, {paper.arxiv_id for paper in papers}, BACKGROUND + 600)


@pytest.fixture(scope="module")
def head(embedder, papers: list[LabeledPaper], unlabeled: list[str]) -> TorchHeadClassifier:
    """The head as ``avi train`` builds it, with a screen that learned from 3,000 unlabeled corpus papers."""
    head = TorchHeadClassifier(TAXONOMY, embedder, device="cpu", screen_max_loss=0.005)
    return head.fit(papers, unlabeled[:BACKGROUND])


@pytest.fixture(scope="module")
def unseen_corpus_texts(unlabeled: list[str]) -> list[str]:
    """600 unlabeled corpus papers outside the screen's sample."""
    sample = set(unlabeled[:BACKGROUND])
    return [text for text in unlabeled[BACKGROUND:] if text not in sample]


def test_predictions_are_consistent_with_the_hierarchy(head: TorchHeadClassifier, papers: list[LabeledPaper]) -> None:
    from classify.labels import paper_text

    predictions = head.predict([paper_text(paper.title, paper.abstract) for paper in papers[:300]])
    assert {prediction.relevance for prediction in predictions} == {"av", "context", "none"}
    for prediction in predictions:
        if prediction.relevance == "none":
            assert prediction.labels == {}
        elif prediction.relevance == "context":
            assert not any(is_task_label(label) for label in prediction.labels)
        else:
            assert any(section_of(label) for label in prediction.labels)
            assert not any(label.startswith("context.") for label in prediction.labels)
        assert set(prediction.label_scores) in (set(head.label_ids), set())  # none: the screen turned it away
        assert 1 / 3 <= prediction.relevance_score <= 1


def test_the_screen_turns_away_ordinary_papers_without_their_embeddings(
    head: TorchHeadClassifier, unseen_corpus_texts: list[str], embedder
) -> None:
    assert head.screen is not None and head.screen.threshold > 0
    kept = head.screening(unseen_corpus_texts).kept
    assert 0.3 < 1 - kept.mean() < 1  # most of the stream is plainly unrelated, not all of it
    turned_away = [text for text, keep in zip(unseen_corpus_texts, kept, strict=True) if not keep]
    blind = head.predict_embeddings(np.zeros((len(turned_away), 384), dtype=np.float32), turned_away)
    assert blind == head.predict_embeddings(embedder.encode(turned_away), turned_away) == head.predict(turned_away)
    assert all(p.relevance == "none" and p.relevance_score >= 1 - head.screen.threshold for p in blind)


def test_the_screen_keeps_the_labeled_audio_visual_papers(head: TorchHeadClassifier, papers) -> None:
    from classify.labels import paper_text

    relevant = [paper_text(paper.title, paper.abstract) for paper in papers if paper.relevance == "av"]
    assert head.screening(relevant).kept.mean() > 0.98


def test_thresholds_come_from_the_grid_for_every_trained_label(head: TorchHeadClassifier) -> None:
    assert set(head.thresholds) == set(head.label_ids)
    assert all(threshold in _THRESHOLD_GRID for threshold in head.thresholds.values())
    # rare labels are not all left at one default: the out-of-fold search moved them
    assert len(set(head.thresholds.values())) > 3


def test_a_pickled_head_predicts_the_same(head: TorchHeadClassifier, embedder) -> None:
    import pickle

    restored = pickle.loads(pickle.dumps(head))
    assert restored.embedder is None
    restored.embedder = embedder
    texts = ["Audio-visual speech recognition with lip movements", "A new bound for sorting networks"]
    assert restored.predict(texts) == head.predict(texts)


def test_nearest_labeled_papers_are_those_the_head_remembers(head: TorchHeadClassifier, papers, embedder) -> None:
    from classify.labels import paper_text

    paper = next(paper for paper in papers if paper.abstract)
    nearest = head.nearest_labeled(embedder.encode([paper_text(paper.title, paper.abstract)]), 5)
    assert nearest[0][1].arxiv_id == paper.arxiv_id and nearest[0][0] == pytest.approx(1.0, abs=0.01)
    assert len({neighbour.arxiv_id for _, neighbour in nearest}) == 5  # one row per paper, not per view
    assert [similarity for similarity, _ in nearest] == sorted((similarity for similarity, _ in nearest), reverse=True)


def test_temperature_scaling_softens_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, size=2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), classes] += 1.0  # informative but weak...
    assert fit_temperature(logits * 5, classes) > 3  # ...so logits blown up 5x must be cooled down
    assert 0.7 < fit_temperature(logits, classes) < 1.4


def test_uncertain_and_noisy_labels_weigh_less() -> None:
    clean = LabeledPaper("1", "t", "a", "av", (), "hub")
    assert paper_weight(clean) == 1.0
    assert paper_weight(LabeledPaper("2", "t", "a", "av", (), "judged", confidence="low")) == 0.5
    noisy = LabeledPaper("3", "t", None, "av", (), "list", flags=("weak_av_evidence_in_title_abstract",))
    assert paper_weight(noisy) == 0.5
    assert relevance_weight(noisy) == 0.5


def test_an_example_of_unknown_relevance_trains_its_labels_only() -> None:
    technique = LabeledPaper(
        "taxonomy:t", "GAN", None, "context", ("technique.generative.gan",), "taxonomy", relevance_known=False
    )
    assert paper_weight(technique) == 1.0
    assert relevance_weight(technique) == 0.0


def test_analyst_labels_override_seed_labels() -> None:
    seed = [
        LabeledPaper("2605.00001", "Foley", None, "none", (), "negative_random"),
        LabeledPaper("2605.00002", "Graphs", "abstract", "none", (), "negative_random"),
    ]
    analyst = [("2605.00001", "av", ["generation.cross_modal.video_to_audio"], "Foley", "An abstract.")]
    merged = {paper.arxiv_id: paper for paper in merge_analyst_labels(seed, analyst)}
    assert merged["2605.00001"].relevance == "av"
    assert merged["2605.00001"].labels == ("generation.cross_modal.video_to_audio",)
    assert merged["2605.00001"].source == "analyst" and merged["2605.00001"].abstract == "An abstract."
    assert merged["2605.00002"] == seed[1]
    assert len(merged) == 2
