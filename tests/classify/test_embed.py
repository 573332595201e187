"""The embedder: its own batching (longest first, padded to a few lengths) gives sentence-transformers' vectors."""

from __future__ import annotations

import numpy as np

from classify.embed import SentenceEmbedder

TEXTS = [
    "Audio-visual speech separation",
    "A study of lip reading. " * 40,  # cut at the token budget
    "Sound source localization in videos with self-supervised audio-visual correspondence and attention maps",
    "",
    "Diffusion models for video-to-audio generation. We generate synchronized sound effects for silent clips.",
]


def test_vectors_match_sentence_transformers_encode_in_the_callers_order(embedder) -> None:
    exact = SentenceEmbedder(device="cpu", bf16_on_cpu=False)
    reference = exact.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    ours = exact.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    assert ours.dtype == np.float32
    assert np.all(np.sum(ours * reference, axis=1) > 0.99999)
    fast = embedder.inner.encode(TEXTS)  # the default: bf16 weights
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(fast * reference, axis=1) > 0.999)


def test_no_texts_no_vectors(embedder) -> None:
    assert embedder.inner.encode([]).shape == (0, 384)
