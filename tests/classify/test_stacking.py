"""The stacked relevance decision: modality term counts and a regression that can say "both"; label scores
raised by the taxonomy's key terms."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from classify.stacking import KeyTermBoost, ModalityTerms, RelevanceStacker
from classify.taxonomy import RELEVANCE_CLASSES
from tests.classify.test_head import TAXONOMY

TERMS = ModalityTerms({"audio": ["audio", "speech", "audio-visual"], "visual": ["video", "audio-visual"]})


def test_terms_are_counted_as_whole_words_in_any_case() -> None:
    features = TERMS.features(["Audio-Visual speech in VIDEO and video", "Audiobooks and videography", ""])
    named = features[:, :2]  # whether each modality is named
    counts = np.expm1(features[:, 2:4])
    assert named.tolist() == [[1, 1], [0, 0], [0, 0]]
    # "Audio-Visual" names each modality once; "Audiobooks" and "videography" name none
    assert counts[0].tolist() == pytest.approx([2, 3])
    assert features[0, 4] == 1 and np.expm1(features[0, 5]) == pytest.approx(2)  # the rarest modality
    assert features[1:, 4].tolist() == [0, 0]


def test_term_counts_survive_pickling_also_from_models_pickled_before_the_matchers_changed() -> None:
    texts = ["Audio-Visual speech in VIDEO and video", "Audiobooks and videography"]
    assert np.array_equal(pickle.loads(pickle.dumps(TERMS)).features(texts), TERMS.features(texts))
    # the layout of models trained before 2026-12-06 21:30, which kept one compiled pattern per modality
    older = ModalityTerms.__new__(ModalityTerms)
    older.__setstate__({"modalities": TERMS.modalities, "_patterns": [re.compile("audio"), re.compile("video")]})
    assert np.array_equal(older.features(texts), TERMS.features(texts))


def test_a_survey_without_modalities_has_no_term_features() -> None:
    assert ModalityTerms({}).features(["audio and video"]).shape == (1, 0)
    assert ModalityTerms({}).name_every_modality(["audio and video"]).tolist() == [False]


def test_a_text_names_every_modality_only_when_it_names_each_of_them() -> None:
    texts = ["Speech from video", "An audio-visual corpus", "Speech and audio", "Video and more video", ""]
    assert TERMS.name_every_modality(texts).tolist() == [True, True, False, False, False]
    assert TERMS.name_every_modality(texts).tolist() == (TERMS.features(texts)[:, 4] > 0).tolist()  # the rarest


def test_the_taxonomy_names_its_modalities() -> None:
    assert set(TAXONOMY.modalities) == {"audio", "visual"}
    terms = ModalityTerms(TAXONOMY.modalities)
    both, one = terms.features(["Foley sound for silent video", "Speech recognition with transformers"])
    assert both[4] == 1 and one[4] == 0


def test_the_stacker_learns_what_the_blend_cannot_say_a_paper_is_audio_visual_when_it_names_both() -> None:
    rng = np.random.default_rng(0)
    texts = [rng.choice(["audio", "video", "audio video", "neither"]) + " paper" for _ in range(400)]
    av, none = RELEVANCE_CLASSES.index("av"), RELEVANCE_CLASSES.index("none")
    classes = np.array([av if "audio video" in text else none for text in texts])
    uninformative = np.full((len(texts), 3), 1 / 3)  # the blended scores say nothing here
    label_scores = np.zeros((len(texts), 2))
    stacker = RelevanceStacker(TERMS).fit(
        uninformative, label_scores, TERMS.features(texts), classes, np.ones(len(texts))
    )
    probabilities = stacker.probabilities(uninformative, label_scores, TERMS.features(texts))
    assert probabilities.shape == (len(texts), 3)
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert (probabilities.argmax(axis=1) == classes).all()
    assert probabilities[:, RELEVANCE_CLASSES.index("context")].max() == 0  # a class never seen gets nothing


def test_a_label_named_by_its_key_terms_scores_higher_techniques_more_and_context_not_at_all() -> None:
    labels = ["generation.cross_modal.video_to_audio", "technique.generative.diffusion", "context.audio_perception"]
    key_terms = {label.id: label.key_terms for label in TAXONOMY.labels}
    assert all(key_terms[label] for label in labels)
    boost = KeyTermBoost(TAXONOMY, labels, task=0.05, technique=0.2)
    context_term = key_terms[labels[2]][0]
    texts = [
        "Benchmarking Physical VIDEO-TO-AUDIO Generation with a latent diffusion model",
        f"A study of {context_term}",
        "Video and audio, to be heard",  # the words, not the term
    ]
    scores = np.full((3, 3), 0.3)
    scores[0, 1] = 0.9
    raised = boost.apply(scores, texts)
    assert raised[0].tolist() == pytest.approx([0.35, 1.0, 0.3])  # capped at 1
    assert np.array_equal(raised[1:], scores[1:])
