"""The stacked relevance decision: modality term counts and a regression that can say "both"."""

from __future__ import annotations

import numpy as np
import pytest

from classify.stacking import ModalityTerms, RelevanceStacker
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


def test_a_survey_without_modalities_has_no_term_features() -> None:
    assert ModalityTerms({}).features(["audio and video"]).shape == (1, 0)


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
