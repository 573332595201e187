"""The embedder: its own batching (longest first, padded to a few lengths) gives sentence-transformers' vectors,
and its fused bf16 kernels those of the same weights unfused."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch

from classify.embed import SMALL_WORK, CachedEmbedder, SentenceEmbedder, cpu_computes_bf16
from classify.fused_bert import PackedLinear, fuse_linear_layers
from classify.numpy_encoder import NumpyEmbedder

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
    fast = embedder.inner.encode(TEXTS)  # the default: bf16 weights where the CPU computes bf16, else fp32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(fast * reference, axis=1) > 0.999)


def test_no_texts_no_vectors(embedder) -> None:
    assert embedder.inner.encode([]).shape == (0, 384)
    assert NumpyEmbedder().encode([]).shape == (0, 384)


@pytest.mark.parametrize("max_tokens", [256, 64])
def test_the_numpy_encoder_gives_the_pipelines_vectors(max_tokens: int) -> None:
    exact = SentenceEmbedder(device="cpu", bf16_on_cpu=False, max_tokens=max_tokens).encode(TEXTS)
    numpy_encoder = NumpyEmbedder(max_tokens=max_tokens)
    ours = numpy_encoder.encode(TEXTS)
    assert numpy_encoder.name == SentenceEmbedder(max_tokens=max_tokens).name
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(ours * exact, axis=1) > 0.9999)


def test_the_default_embeds_in_bf16_only_where_the_cpu_computes_it(embedder) -> None:
    expected = torch.bfloat16 if cpu_computes_bf16() else torch.float32
    assert next(embedder.inner.model.parameters()).dtype == expected


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU's oneDNN has no bf16")
def test_fused_layers_replace_every_linear_and_keep_the_bf16_vectors() -> None:
    # oneDNN runs bf16 on any AVX-512 CPU, emulated where the CPU does not compute it: the kernels can be
    # checked there even though the default embedder stays in fp32 on such a CPU
    fused = SentenceEmbedder(device="cpu", bf16_on_cpu=False)
    fused.model.to(torch.bfloat16)
    fuse_linear_layers(fused.model[0].auto_model)
    layers = fused.model[0].auto_model.encoder
    assert not any(isinstance(module, torch.nn.Linear) for module in layers.modules())
    assert sum(isinstance(module, PackedLinear) for module in layers.modules()) == 6 * 6  # 6 linears x 6 layers

    unfused = SentenceEmbedder(device="cpu", bf16_on_cpu=False)
    unfused.model.to(torch.bfloat16)  # the same bf16 weights through torch.nn.Linear
    ours, reference = fused.encode(TEXTS), unfused.encode(TEXTS)
    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() > 0.9995 and cosines.mean() > 0.9999  # bf16 rounds the two kernels' sums differently


def test_a_damaged_embedding_cache_is_kept_aside_and_a_new_one_started(
    embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "embeddings.sqlite"
    path.write_bytes(b"not a database, " * 512)
    Path(f"{path}-wal").write_bytes(b"a journal of the damaged file")  # must not be applied to the new cache
    cache = CachedEmbedder(embedder.inner, path)  # the session's model: nothing loaded twice
    vectors = cache.encode(TEXTS[:2])
    np.testing.assert_array_equal(vectors, embedder.encode(TEXTS[:2]))
    [kept] = tmp_path.glob("embeddings.sqlite.damaged-*")
    assert kept.read_bytes() == b"not a database, " * 512
    assert f"the embedding cache {path} cannot be read (file is not a database): kept as {kept}" in caplog.text
    assert len(CachedEmbedder(embedder.inner, path).encode(TEXTS[:2])) == 2  # the new cache opens as any other


class _Constant:
    """An embedder that costs nothing: every text the same unit vector."""

    name = "constant"

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), 384), 384**-0.5, dtype=np.float32)


def test_the_cache_logs_what_it_embeds_and_how_fast(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = CachedEmbedder(_Constant(), tmp_path / "embeddings.sqlite")
    done = r"embedded {} \({} cached\) in \d+\.\d s \(\d+\.\d texts/s\)"
    with caplog.at_level(logging.INFO, logger="classify.embed"):
        cache.encode(["a", "b"])  # small work: one line when it is done
        [line] = [record.getMessage() for record in caplog.records]
        assert re.fullmatch(done.format("2 new texts", 0), line)
        caplog.clear()
        cache.encode(["a", "b", "c"])
        [line] = [record.getMessage() for record in caplog.records]
        assert re.fullmatch(done.format("1 new text", 2), line)
        caplog.clear()
        cache.encode(["a", "b", "c"])  # all cached: nothing embedded, nothing said
        assert not caplog.records
        many = [f"text {number}" for number in range(SMALL_WORK + 1)]
        cache.encode(["a", *many])  # long work: when it starts, then when it is done
        messages = [record.getMessage() for record in caplog.records]
        assert messages[0] == f"embedding {SMALL_WORK + 1} new texts (1 cached)"
        assert re.fullmatch(done.format(f"{SMALL_WORK + 1} new texts", 1), messages[1])


HELD_BY_A_THREAD = """
import sys, threading
from pathlib import Path
import numpy as np
from classify.embed import CachedEmbedder

class Constant:
    name = "constant"

    def encode(self, texts):
        return np.full((len(texts), 384), 384**-0.5, dtype=np.float32)

def hold(ready):  # as a flow's task thread does: the cache is still referenced when the process ends
    cache = CachedEmbedder(Constant(), Path(sys.argv[1]))
    cache.encode(["a", "b", "c"])
    ready.set()
    threading.Event().wait()

ready = threading.Event()
threading.Thread(target=hold, args=(ready,), daemon=True).start()
ready.wait()
"""


def test_the_cache_file_alone_holds_every_vector_once_the_process_ends(tmp_path: Path) -> None:
    # seen after `avi import`: every vector still in the write-ahead log beside a 4 KB cache file, so a copy
    # of the file (AVI_EMBEDDING_CACHE is shared between homes) held none of them
    path = tmp_path / "embeddings.sqlite"
    subprocess.run([sys.executable, "-c", HELD_BY_A_THREAD, str(path)], check=True, cwd=Path(__file__).parents[2])
    assert not Path(f"{path}-wal").exists()
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)
    with closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("SELECT count(*) FROM embeddings").fetchone() == (3,)
