"""Label consistency, training views, the taxonomy file, and a real train / register / load round trip."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest

from classify.evaluate import holdout_split, predict_papers, score_predictions
from classify.explain import explain
from classify.labels import TAXONOMY_SOURCE, LabeledPaper, files_fingerprint, load_labeled_papers, taxonomy_papers
from classify.model import TfidfSvmClassifier, ZeroShotClassifier, consistent_labels, training_views, view_folds
from classify.registry import JOBLIB_MODEL_FILE, MODEL_FILE, current_version, list_models, load_classifier
from classify.taxonomy import load_taxonomy, section_of
from classify.train import TrainingSetup, fit_classifier, train_and_register
from core.settings import get_settings
from tests.conftest import DAILY_CORPUS, SHARED

TAXONOMY = load_taxonomy(Path(__file__).resolve().parents[2] / "classify" / "taxonomy.yaml")


def test_taxonomy_has_exactly_the_label_ids_of_the_corpus_readme() -> None:
    readme = (SHARED / "corpus" / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- taxonomy:begin -->")[1].split("<!-- taxonomy:end -->")[0]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert {label.id for label in TAXONOMY.labels} == documented
    assert all(label.description and (label.key_terms or label.id == "none") for label in TAXONOMY.labels)


def test_section_of() -> None:
    assert section_of("generation.cross_modal.video_to_audio") == "generation.cross_modal"
    assert section_of("interaction.agentic") == "interaction.agentic"
    assert section_of("technique.llm.vla") is None
    assert section_of("context.audio_reasoning") is None
    assert section_of("none") is None
    assert section_of("relevance:av") is None  # the warehouse stores the relevance decision beside the labels


SCORES = {
    "generation.cross_modal.video_to_audio": 0.9,
    "perception.content.qa": 0.2,
    "technique.generative.diffusion": 0.7,
    "context.conditional_audio_generation": 0.8,
}
THRESHOLDS = dict.fromkeys(SCORES, 0.5)


def test_none_carries_no_label() -> None:
    assert consistent_labels("none", SCORES, THRESHOLDS) == {}


def test_av_drops_context_labels_and_keeps_tasks_and_techniques() -> None:
    assert consistent_labels("av", SCORES, THRESHOLDS) == {
        "generation.cross_modal.video_to_audio": 0.9,
        "technique.generative.diffusion": 0.7,
    }


def test_av_always_gets_its_best_task_label() -> None:
    low = {**SCORES, "generation.cross_modal.video_to_audio": 0.3}
    assert set(consistent_labels("av", low, THRESHOLDS)) == {
        "generation.cross_modal.video_to_audio",
        "technique.generative.diffusion",
    }


def test_context_has_no_task_label() -> None:
    assert set(consistent_labels("context", SCORES, THRESHOLDS)) == {
        "technique.generative.diffusion",
        "context.conditional_audio_generation",
    }


def test_a_label_row_without_an_arxiv_id_is_refused_with_the_reason(tmp_path: Path) -> None:
    # the shape of ``unresolved_titles.jsonl``: list entries named by title, with no id to join text on
    path = tmp_path / "titles.jsonl"
    path.write_text('{"title": "Deep Audio-visual Speech Recognition", "labels": ["perception.content.recognition"]}\n')
    with pytest.raises(ValueError, match=r"titles.jsonl: a label row lacks arxiv_id, relevance \(a paper named by"):
        load_labeled_papers([path], [], TAXONOMY)


def test_a_label_row_brings_its_own_text_when_the_corpus_lacks_the_paper(tmp_path: Path) -> None:
    with gzip.open(DAILY_CORPUS, "rt", encoding="utf-8") as corpus:
        corpus_row = json.loads(corpus.readline())
    path = tmp_path / "held_out.jsonl"
    rows = [
        {
            "arxiv_id": "2699.00001",
            "relevance": "av",
            "labels": ["generation.cross_modal.video_to_audio"],
            "title": "Foley  sound for silent video",
            "abstract": "We add sound to video.",
        },
        {"arxiv_id": corpus_row["arxiv_id"], "relevance": "none", "labels": ["none"], "title": "Another title"},
        {"arxiv_id": "2699.00002", "relevance": "none", "labels": ["none"]},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    papers = load_labeled_papers([path], [DAILY_CORPUS], TAXONOMY)
    assert [(paper.arxiv_id, paper.title, paper.abstract) for paper in papers] == [
        ("2699.00001", "Foley  sound for silent video", "We add sound to video."),
        (corpus_row["arxiv_id"], corpus_row["title"], corpus_row["abstract"]),  # the corpus's text wins
    ]


def test_title_only_views_guard_against_the_length_shortcut() -> None:
    papers = [
        LabeledPaper("1", "Foley for video", None, "av", ("generation.cross_modal.video_to_audio",), "hub"),
        LabeledPaper("2", "Graph theory", "We prove things.", "none", (), "negative_random"),
    ]
    texts, owners, groups = training_views(papers)
    assert texts == ["Foley for video", "Graph theory. We prove things.", "Graph theory"]
    assert [paper.arxiv_id for paper in owners] == ["1", "2", "2"]
    assert list(groups) == [0, 1, 1]


def test_the_seed_draws_other_folds_each_stratified_with_a_papers_views_together() -> None:
    # 40 papers (20 / 10 / 10 by relevance), then two of the taxonomy's examples, two views each
    relevance = np.append(np.repeat([0, 1, 2], [20, 10, 10]), [0, 0]).repeat(2)
    groups = np.arange(42).repeat(2)
    drawn = [view_folds(relevance, groups, 40, 5, seed) for seed in (0, 1)]
    assert not np.array_equal(*drawn)
    for fold_of in drawn:
        assert np.array_equal(fold_of[0::2], fold_of[1::2])  # both views of a paper in one fold
        assert list(fold_of[-4:]) == [-1] * 4  # examples are in no fold: every model learns from them
        for fold in range(5):
            assert np.bincount(relevance[:-4][fold_of[:-4] == fold], minlength=3).tolist() == [8, 4, 4]


def test_taxonomy_examples_speak_for_every_label_and_techniques_only_for_their_label() -> None:
    examples = taxonomy_papers(TAXONOMY)
    expected = {label.id: label for label in TAXONOMY.labels if label.kind != "none"}
    assert {paper.labels for paper in examples} == {(label_id,) for label_id in expected}
    for label_id, label in expected.items():
        own = [paper for paper in examples if paper.labels == (label_id,)]
        described = [paper for paper in own if paper.has_abstract]
        assert [paper.title for paper in described] == [label.name]
        assert label.description in described[0].abstract
        assert sorted(paper.title for paper in own if not paper.has_abstract) == sorted(label.key_terms)
        assert {paper.relevance for paper in own} == {"av" if label.kind == "task" else "context"}
        assert {paper.relevance_known for paper in own} == {label.kind != "technique"}
    assert all(paper.source == TAXONOMY_SOURCE and paper.arxiv_id.startswith("taxonomy:") for paper in examples)
    assert len({paper.arxiv_id for paper in examples}) == len(examples)


@pytest.mark.slow  # trains two models
def test_taxonomy_examples_let_a_model_predict_labels_its_papers_lack(embedder, small_labels: Path) -> None:
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    papers = load_labeled_papers([small_labels], corpus, TAXONOMY)
    logreg = "embedding-logreg"
    without = fit_classifier(TAXONOMY, embedder, papers, setup=TrainingSetup(kind=logreg, taxonomy_examples=False))
    with_examples = fit_classifier(TAXONOMY, embedder, papers, setup=TrainingSetup(kind=logreg))
    described = {paper.labels[0] for paper in taxonomy_papers(TAXONOMY)}
    assert described <= set(with_examples.thresholds)
    assert not described <= set(without.thresholds)


@pytest.mark.slow  # trains two models
def test_the_fold_seed_draws_the_folds_the_logreg_thresholds_are_chosen_on(embedder, small_labels: Path) -> None:
    papers = load_labeled_papers([small_labels], sorted((SHARED / "corpus").glob("*.jsonl.gz")), TAXONOMY)
    seeded = [
        fit_classifier(TAXONOMY, embedder, papers, setup=TrainingSetup(kind="embedding-logreg", seed=seed))
        for seed in (0, 1)
    ]
    assert set(seeded[0].thresholds) == set(seeded[1].thresholds)
    assert seeded[0].thresholds != seeded[1].thresholds  # other folds, other out-of-fold scores


@pytest.mark.slow  # trains with cross-validation
def test_train_register_load_round_trip(embedder, small_labels: Path) -> None:
    settings = get_settings()
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    info = train_and_register(settings, TAXONOMY, embedder, [small_labels], corpus, cv_folds=3)
    assert current_version(settings.models_dir) == info.version
    [listed] = list_models(settings.models_dir)
    assert listed == info  # meta.json holds everything, metrics included
    assert info.taxonomy_fingerprint == TAXONOMY.fingerprint
    assert info.labels_fingerprint == files_fingerprint([small_labels])
    assert info.embedding == embedder.name == "all-MiniLM-L6-v2"
    assert info.taxonomy_examples == len(taxonomy_papers(TAXONOMY))
    assert info.metrics is not None
    assert info.metrics.protocol.startswith(f"3-fold cross-validation over {info.n_papers} labeled papers")
    assert 0.7 < info.metrics.subsets["all"].relevance.f1 <= 1
    assert info.metrics.calibration.bins
    loaded = load_classifier(settings.models_dir, TAXONOMY, embedder)
    assert loaded.version == info.version and loaded.thresholds == info.thresholds
    predictions = loaded.predict(
        [
            "Video-to-audio generation: synthesizing Foley sound for silent videos",
            "A faster algorithm for sparse matrix multiplication on GPUs",
        ]
    )
    assert predictions[0].relevance == "av"
    assert "generation.cross_modal.video_to_audio" in predictions[0].labels
    assert predictions[1].relevance == "none" and predictions[1].labels == {}

    # a model registered before model.pkl existed (joblib's model.joblib) still loads, and predicts the same
    folder = settings.models_dir / info.version
    joblib.dump(loaded, folder / JOBLIB_MODEL_FILE)
    (folder / MODEL_FILE).unlink()
    older = load_classifier(settings.models_dir, TAXONOMY, embedder)
    again = older.predict(
        [
            "Video-to-audio generation: synthesizing Foley sound for silent videos",
            "A faster algorithm for sparse matrix multiplication on GPUs",
        ]
    )
    assert again == predictions

    # a model file cut short (a full disk, a bad copy) is named, with the ways back, not a bare unpickling error
    (folder / MODEL_FILE).write_bytes(pickle.dumps(loaded)[:4096])
    with pytest.raises(RuntimeError, match=rf"the file of model {info.version}, .*{MODEL_FILE}, cannot be read \("):
        load_classifier(settings.models_dir, TAXONOMY, embedder)


@pytest.mark.slow  # trains a model
def test_model_beats_chance_and_baseline_runs_on_a_holdout(embedder, small_labels: Path) -> None:
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    papers = load_labeled_papers([small_labels], corpus, TAXONOMY)
    train, test = holdout_split(papers, 0.3)
    model = score_predictions(test, predict_papers(fit_classifier(TAXONOMY, embedder, train), test))
    baseline = score_predictions(test, predict_papers(TfidfSvmClassifier(TAXONOMY).fit(train), test))
    assert model.n == baseline.n == len(test)
    assert model.relevance.f1 > 0.7
    assert baseline.relevance.f1 > 0.5  # the baseline learns too, if less well


def test_zero_shot_needs_no_labels(embedder) -> None:
    classifier = ZeroShotClassifier(TAXONOMY, embedder)
    [talking_head, unrelated] = classifier.predict(
        [
            "Audio-driven talking head generation: animating a portrait so its lips follow the speech",
            "Optimal transport bounds for Wasserstein gradient flows",
        ]
    )
    assert talking_head.relevance == "av"
    assert "generation.cross_modal.image_animation" in talking_head.labels
    assert unrelated.relevance == "none"


def test_explaining_a_classifier_without_labeled_papers_shows_scores_and_no_neighbours(embedder) -> None:
    explanation = explain(
        ZeroShotClassifier(TAXONOMY, embedder), embedder, "Audio-visual speech separation with lip videos", None
    )
    assert explanation.neighbours == []
    scores = [score for _, score, _, _ in explanation.label_rows]
    assert scores and scores == sorted(scores, reverse=True)


@pytest.mark.slow  # trains a model
def test_a_model_refuses_embeddings_of_another_token_budget(embedder, small_labels: Path) -> None:
    from classify.embed import embedding_name

    settings = get_settings()
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    train_and_register(settings, TAXONOMY, embedder, [small_labels], corpus, cv_folds=0)

    class ShortEmbedder:
        name = embedding_name(128)

        def encode(self, texts):  # noqa: ANN001, ANN202
            raise AssertionError("never called")

    assert embedding_name(256) == embedder.name
    with pytest.raises(ValueError, match="reads all-MiniLM-L6-v2 embeddings but the embedder makes .*@128"):
        load_classifier(settings.models_dir, TAXONOMY, ShortEmbedder())


def test_a_broken_taxonomy_file_is_refused_naming_the_file_and_the_place(tmp_path: Path) -> None:
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text("labels: [\n  - id: x\n bad", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{broken}: not valid YAML at line 2, column 3"):
        load_taxonomy(broken)
    broken.write_text("- a list\n- not a mapping\n", encoding="utf-8")
    with pytest.raises(ValueError, match="a taxonomy file is a mapping"):
        load_taxonomy(broken)
    good = TAXONOMY.path.read_text(encoding="utf-8")
    broken.write_text(good.replace('hub_heading: "Video-to-Audio Generation"', "hub_heading: [a, list]"), "utf-8")
    with pytest.raises(ValueError, match="generation.cross_modal.video_to_audio has a hub_heading that is not text"):
        load_taxonomy(broken)
    broken.write_text(good.replace("  audio: [audio,", "  audio: []\n  sound: [audio,"), "utf-8")
    with pytest.raises(ValueError, match="modalities must map each modality's name to a list of words"):
        load_taxonomy(broken)


def test_a_threshold_is_the_top_of_the_averaged_f1_curve() -> None:
    from sklearn.metrics import f1_score

    from classify.model import _THRESHOLD_GRID, _best_threshold

    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(50):
        truth = rng.random(60) < 0.3
        scores = np.clip(rng.normal(0.35 + 0.3 * truth, 0.2), 0.0, 1.0)
        curve = np.array([f1_score(truth, scores >= threshold, zero_division=0) for threshold in _THRESHOLD_GRID])
        padded = np.concatenate([[curve[0]] * 2, curve, [curve[-1]] * 2])
        averaged = np.array([padded[index : index + 5].mean() for index in range(len(curve))])
        assert _best_threshold(truth, scores, reach=0) == _THRESHOLD_GRID[np.flatnonzero(curve == curve.max())[0]]
        best = np.flatnonzero(np.isclose(averaged, averaged.max()))[0]
        assert _best_threshold(truth, scores, reach=2) == _THRESHOLD_GRID[best]
        differ += _THRESHOLD_GRID[best] != _best_threshold(truth, scores, reach=0)
    assert differ  # the averaging decides something: a lone peak loses to a range of high F1
