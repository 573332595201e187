"""The GPU check of ``scripts/gpu_check.sh``: train the classifier and embed + classify the whole corpus.

Run on a CUDA machine with the project installed and ``shared/`` beside it. It prints one JSON object
(and writes it to ``--out``): the card's name, embeddings per second in fp16 (batches sized to the
card), the training time of the model ``avi train`` makes (embedding its labeled texts and the
taxonomy's examples and fitting the screen included; without the cross-validated figures ``avi train``
also computes), the classification time, and how close the fp16 embeddings are to fp32 ones. ``--device
cpu --limit N`` runs the same steps on a CPU, to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

from classify.embed import SentenceEmbedder
from classify.evaluate import score_predictions
from classify.head import TorchHeadClassifier
from classify.labels import load_labeled_papers, paper_text
from classify.taxonomy import load_taxonomy
from classify.train import fit_classifier, training_setup
from core.settings import get_settings
from extract.corpus import iter_corpus


def _synchronise(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def run_check(device: str, limit: int | None, batch_size: int | None) -> dict:
    """Every figure of the check, measured on ``device``."""
    import torch

    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    embedder = SentenceEmbedder(device, batch_size, max_tokens=settings.embed_max_tokens)
    titled = (row for row in iter_corpus(settings.default_corpus) if row.get("title"))
    texts = [paper_text(row["title"], row.get("abstract")) for row in islice(titled, limit)]
    embedder.encode(texts[:256])  # warm-up: kernels chosen, memory pools filled
    _synchronise(device)
    started = time.perf_counter()
    vectors = embedder.encode(texts)
    _synchronise(device)
    embed_s = time.perf_counter() - started

    sample = texts[:2000]
    exact = SentenceEmbedder(device, batch_size, bf16_on_cpu=False, max_tokens=settings.embed_max_tokens)
    exact.model.float()
    agreement = float(np.mean(np.sum(exact.encode(sample) * vectors[: len(sample)], axis=1)))

    papers = load_labeled_papers(settings.default_labels, settings.default_corpus, taxonomy)
    # the model `avi train` makes (taxonomy examples, screen), on this device
    setup = replace(training_setup(settings, TorchHeadClassifier.kind, settings.default_corpus, papers), device=device)

    started = time.perf_counter()
    classifier = fit_classifier(taxonomy, embedder, papers, setup=setup)  # embeds its views too
    _synchronise(device)
    train_s = time.perf_counter() - started

    started = time.perf_counter()
    predictions = [
        prediction
        for start in range(0, len(vectors), 65536)
        for prediction in classifier.predict_embeddings(vectors[start : start + 65536], texts[start : start + 65536])
    ]
    classify_s = time.perf_counter() - started
    cross_validated = score_predictions(papers, classifier.cross_validated_predictions())
    return {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "texts": len(texts),
        "batch_size": embedder.batch_size,
        "embed_s": round(embed_s, 2),
        "embeddings_per_s": round(len(texts) / embed_s, 1),
        "mean_cosine_to_fp32": round(agreement, 5),
        "labeled_papers": len(papers),
        "train_s": round(train_s, 2),
        "classify_s": round(classify_s, 2),
        "audio_visual": sum(prediction.relevance == "av" for prediction in predictions),
        # the model measures itself as it trains: its quality on this device
        "cross_validated_relevance_f1": cross_validated.relevance.f1,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m avi_radar.gpu_check [--device cpu --limit N] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--limit", type=int, help="embed only the first N corpus texts")
    parser.add_argument("--batch-size", type=int, help="default: 512 on CUDA, 16 on a CPU")
    parser.add_argument("--out", type=Path, help="folder for gpu_check.json")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("gpu_check: no CUDA device here (torch.cuda.is_available() is false)", file=sys.stderr)
            return 1
    figures = run_check(args.device, args.limit, args.batch_size)
    print(json.dumps(figures))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
