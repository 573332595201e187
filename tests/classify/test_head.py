"""The torch head: consistent hierarchical output, thresholds from out-of-fold scores, calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classify.head import (
    TorchHeadClassifier,
    dropped_out,
    fit_temperature,
    paper_weight,
    relevance_weight,
    word_label_regression,
)
from classify.labels import LabeledPaper, load_labeled_papers, merge_analyst_labels, unlabeled_texts
from classify.model import _THRESHOLD_GRID
from classify.taxonomy import RELEVANCE_CLASSES, is_task_label, is_technique_label, load_taxonomy, section_of
from tests.conftest import SHARED

TAXONOMY = load_taxonomy(Path(__file__).resolve().parents[2] / "classify" / "taxonomy.yaml")
CORPUS = sorted((SHARED / "corpus").glob("*.jsonl.gz"))


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> list[LabeledPaper]:
    """Every third paper of the shared training labels and of the judged stream papers."""
    folder = tmp_path_factory.mktemp("labels")
    paths = []
    for source in [SHARED / "labels" / "train.jsonl", *sorted((SHARED / "labels" / "judged").glob("*.jsonl"))]:
        paths.append(folder / source.name)
        paths[-1].write_text("\n".join(source.read_text().splitlines()[::3]) + "\n")
    return load_labeled_papers(paths, CORPUS, TAXONOMY)


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


@pytest.mark.slow  # trains the head
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


@pytest.mark.slow  # trains the head
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


@pytest.mark.slow  # trains the head
def test_the_screen_reads_a_batch_once(
    head: TorchHeadClassifier, unseen_corpus_texts: list[str], embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = unseen_corpus_texts[:300]
    screening = head.screening(texts)
    kept = [text for text, keep in zip(texts, screening.kept, strict=True) if keep]
    assert screening.relevance is not None and 0 < len(kept) < len(texts)
    features = embedder.encode(kept)
    # the relevance decision reads the screen's probability the screening had: the same scores
    np.testing.assert_array_equal(
        head.scores(features, kept, screening.relevance[screening.kept])[0], head.scores(features, kept)[0]
    )
    reads: list[int] = []
    read = head.screen.relevance
    monkeypatch.setattr(head.screen, "relevance", lambda batch: reads.append(len(batch)) or read(batch))
    head.predict(texts)
    assert reads == [len(texts)]


@pytest.mark.slow  # trains the head
def test_the_screen_keeps_the_labeled_audio_visual_papers(head: TorchHeadClassifier, papers) -> None:
    from classify.labels import paper_text

    relevant = [paper_text(paper.title, paper.abstract) for paper in papers if paper.relevance == "av"]
    assert head.screening(relevant).kept.mean() > 0.98


@pytest.mark.slow  # trains the head
def test_a_text_that_names_every_modality_is_never_screened_out(
    head: TorchHeadClassifier, unlabeled: list[str]
) -> None:
    from classify.stacking import ModalityTerms

    every = ModalityTerms(TAXONOMY.modalities).name_every_modality(unlabeled)
    both = [text for text, named in zip(unlabeled, every, strict=True) if named]
    assert head.screen is not None
    assert not head.screen.screening(both).kept.all()  # the words alone would turn some of them away
    assert head.screening(both).kept.all()
    assert head.screening(unlabeled).kept.sum() == head.screen.screening(unlabeled).kept.sum() + sum(
        not kept for kept in head.screen.screening(both).kept
    )


@pytest.mark.slow  # trains the head
def test_thresholds_come_from_the_grid_for_every_trained_label(head: TorchHeadClassifier) -> None:
    assert set(head.thresholds) == set(head.label_ids)
    assert all(threshold in _THRESHOLD_GRID for threshold in head.thresholds.values())
    # rare labels are not all left at one default: the out-of-fold search moved them
    assert len(set(head.thresholds.values())) > 3


@pytest.mark.slow  # trains the head
def test_the_word_models_fit_techniques_more_loosely_than_the_other_labels(head: TorchHeadClassifier) -> None:
    technique, task = word_label_regression(technique=True), word_label_regression(technique=False)
    assert technique.C < task.C and technique.class_weight is None and task.class_weight == "balanced"
    assert head.words is not None
    fitted = {label: model for label, model in zip(head.label_ids, head.words.label_models, strict=True) if model}
    assert any(map(is_technique_label, fitted)) and not all(map(is_technique_label, fitted))
    for label, model in fitted.items():
        assert model.get_params() == (technique if is_technique_label(label) else task).get_params(), label


@pytest.mark.slow  # trains the head
def test_the_relevance_stacker_reads_the_neighbours_and_the_screen(head: TorchHeadClassifier, embedder) -> None:
    """The stacker decides relevance from the blended scores, the modality terms, the nearest labeled texts'
    relevance and the screen's probability; a model trained before it read the last two (pickled without
    ``stack_neighbours_and_screen``) still predicts with what it was trained on."""
    import pickle

    from classify.stacking import ModalityTerms

    assert head.stacker is not None and head.stacker.model is not None
    blended = len(RELEVANCE_CLASSES) + len(head.label_ids)
    assert head.stacker.model.coef_.shape[1] == blended + ModalityTerms(TAXONOMY.modalities).width + 3 + 1
    older = TorchHeadClassifier(TAXONOMY, embedder, device="cpu", stack_neighbours_and_screen=False)
    older.fit(head.memory_papers[: len(head.memory_papers) // 2])
    state = pickle.loads(pickle.dumps(older)).__dict__
    del state["stack_neighbours_and_screen"]
    restored = TorchHeadClassifier.__new__(TorchHeadClassifier)
    restored.__setstate__(state)
    restored.embedder = embedder
    texts = ["Audio-visual speech recognition with lip movements", "A new bound for sorting networks"]
    assert restored.predict(texts) == older.predict(texts)


@pytest.mark.slow  # trains the head
def test_a_pickled_head_predicts_the_same(head: TorchHeadClassifier, embedder) -> None:
    import pickle

    restored = pickle.loads(pickle.dumps(head))
    assert restored.embedder is None
    restored.embedder = embedder
    texts = ["Audio-visual speech recognition with lip movements", "A new bound for sorting networks"]
    assert restored.predict(texts) == head.predict(texts)


@pytest.mark.slow  # trains the head
def test_nearest_labeled_papers_are_those_the_head_remembers(head: TorchHeadClassifier, papers, embedder) -> None:
    from classify.labels import paper_text

    paper = next(paper for paper in papers if paper.abstract)
    nearest = head.nearest_labeled(embedder.encode([paper_text(paper.title, paper.abstract)]), 5)
    assert nearest[0][1].arxiv_id == paper.arxiv_id and nearest[0][0] == pytest.approx(1.0, abs=0.01)
    assert len({neighbour.arxiv_id for _, neighbour in nearest}) == 5  # one row per paper, not per view
    assert [similarity for similarity, _ in nearest] == sorted((similarity for similarity, _ in nearest), reverse=True)


@pytest.mark.slow  # trains the head
def test_cross_validated_predictions_are_out_of_sample(embedder, papers: list[LabeledPaper]) -> None:
    """On relevance labels shuffled at random the network, the word models and the neighbours fit their
    training papers, but a paper's cross-validated prediction comes from models that never saw it: chance.
    The stacked relevance decision learns from out-of-fold scores that these scores are noise, so it is
    set aside to see the blend fit its training papers."""
    from dataclasses import replace

    from classify.evaluate import predict_papers, score_predictions

    sample = [paper for paper in papers if paper.abstract][:600]
    shuffled_relevance = np.random.default_rng(0).permutation([paper.relevance for paper in sample])
    shuffled = [replace(paper, relevance=str(r)) for paper, r in zip(sample, shuffled_relevance, strict=True)]
    head = TorchHeadClassifier(TAXONOMY, embedder, device="cpu", folds=3).fit(shuffled)
    out_of_sample = score_predictions(shuffled, head.cross_validated_predictions())
    head.stacker = None
    in_sample = score_predictions(shuffled, predict_papers(head, shuffled))
    assert out_of_sample.n == len(shuffled)
    assert in_sample.relevance.f1 > 0.8
    assert out_of_sample.relevance.f1 < 0.6


@pytest.mark.slow  # trains the head twice
def test_a_quick_retrain_labels_as_the_full_training_does(head: TorchHeadClassifier, papers) -> None:
    """The analyst loop's retrain keeps the full training's decisions and relearns the networks and word models:
    on the same papers it labels as the full training does, but for decisions that lie near a threshold."""
    from classify.labels import paper_text

    quick = head.refit(papers)
    assert quick.thresholds == head.thresholds and quick.temperature == head.temperature
    assert quick.screen is head.screen and quick.state is not head.state
    texts = [paper_text(paper.title, paper.abstract) for paper in papers[::4]]
    full_predictions, quick_predictions = head.predict(texts), quick.predict(texts)
    relevance_agrees = [f.relevance == q.relevance for f, q in zip(full_predictions, quick_predictions, strict=True)]
    assert np.mean(relevance_agrees) > 0.95
    pairs = [
        (label in f.labels, label in q.labels, abs(f.label_scores[label] - head.thresholds[label]))
        for f, q, agrees in zip(full_predictions, quick_predictions, relevance_agrees, strict=True)
        if agrees and f.relevance != "none"
        for label in head.label_ids
    ]
    disagreements = [distance for full, fast, distance in pairs if full != fast]
    assert len(disagreements) < 0.02 * len(pairs)
    assert not disagreements or np.median(disagreements) < 0.15  # the labels that flip lay near their thresholds


def test_temperature_scaling_softens_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, size=2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), classes] += 1.0  # informative but weak...
    assert fit_temperature(logits * 5, classes) > 3  # ...so logits blown up 5x must be cooled down
    assert 0.7 < fit_temperature(logits, classes) < 1.4


def test_dropout_zeroes_its_share_and_keeps_the_mean_reproducibly() -> None:
    import torch

    ones = torch.ones(1000, 1000)
    torch.manual_seed(7)
    dropped = dropped_out(ones, 0.3)
    zeroed = (dropped == 0).float().mean().item()
    assert abs(zeroed - 0.3) < 0.002  # 77 of 256 byte values: 0.3008
    assert dropped.unique().tolist() == [0.0, pytest.approx(256 / 179)]  # the kept ones scaled up
    assert abs(dropped.mean().item() - 1.0) < 0.005
    torch.manual_seed(7)
    assert torch.equal(dropped_out(ones, 0.3), dropped)  # the seed decides the masks, as the head's seed must
    rows = dropped_out(torch.ones(6, 100_000), 0.1)
    assert ((rows == 0).float().mean(dim=1) - 0.1).abs().max().item() < 0.005  # every row, every byte of a draw


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


def test_the_nearest_labeled_texts_vote_on_relevance_where_theirs_is_known(embedder) -> None:
    """What the relevance stacker reads of a text's neighbours: each class's similarity-weighted share among
    the nearest labeled texts whose relevance is known; a technique's example has no vote, and a text with
    no voter among its neighbours gets zeros, not a division by zero."""
    from classify.head import _known_relevance

    head = TorchHeadClassifier(TAXONOMY, embedder, neighbours=2)
    memory_papers = [
        LabeledPaper("1", "t", "a", "av", (), "hub"),
        LabeledPaper("2", "t", "a", "none", (), "judged"),
        LabeledPaper("taxonomy:gan", "GAN", None, "context", (), "taxonomy", relevance_known=False),
        LabeledPaper("taxonomy:vae", "VAE", None, "context", (), "taxonomy", relevance_known=False),
    ]
    memory_features = np.eye(4, dtype=np.float32)
    memory = (memory_features, np.zeros((4, 1), dtype=np.float32))
    texts = np.array([[0.6, 0.2, 0.0, 0.0], [0.0, 0.0, 0.7, 0.3], [0.5, 0.0, 0.4, 0.0]], dtype=np.float32)
    _, neighbour_relevance = head._blend(np.zeros((3, 1)), texts, memory, _known_relevance(memory_papers))
    av, none = (RELEVANCE_CLASSES.index(name) for name in ("av", "none"))
    assert neighbour_relevance[0, av] == pytest.approx(0.75) and neighbour_relevance[0, none] == pytest.approx(0.25)
    assert neighbour_relevance[1].tolist() == [0.0, 0.0, 0.0]  # both neighbours are examples
    assert neighbour_relevance[2, av] == pytest.approx(1.0)  # the example beside it has no vote


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
