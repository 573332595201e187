"""Tools around the pipeline: one PDF read as the pipeline reads it, benchmarks, the settings."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from avi_radar.commands.common import existing_paths
from core.settings import Settings


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pipeline's extraction on one PDF and show what it found (exit 1 unless it was read)."""
    from extract.pdf import ExtractionPool

    path = existing_paths([args.path])[0]
    with ExtractionPool(1, settings.pdf_timeout_s, settings.pdf_memory_mb * 2**20, settings.max_pdf_pages) as pool:
        [(_, extraction)] = list(pool.map([(path.name, path)]))
    structure = extraction.structure
    summary = {
        "file": str(path),
        "status": extraction.status,
        "reason": extraction.reason,
        "pages": extraction.n_pages,
        "characters": len(extraction.text) if extraction.text else 0,
        "sections": [{"part": s.part, "heading": s.heading, "characters": len(s.text)} for s in structure.sections]
        if structure
        else [],
        "figures": structure.n_figures if structure else None,
        "tables": structure.n_tables if structure else None,
        "references": len(structure.references) if structure else None,
        "cited_arxiv_ids": structure.cited_arxiv_ids if structure else [],
        "mentions": [
            {"name": m.name, "kind": m.kind, "count": m.count, "introduced": m.introduced} for m in extraction.mentions
        ],
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{path.name}: {extraction.status}" + (f" ({extraction.reason})" if extraction.reason else ""))
        if structure:
            print(
                f"{extraction.n_pages} pages, {summary['figures']} figures, {summary['tables']} tables, "
                f"{summary['references']} references"
            )
            for section in summary["sections"]:
                print(f"  {section['part']:<13} {section['heading'][:60]:<60} {section['characters']:>7} chars")
            print(f"cites arXiv: {', '.join(summary['cited_arxiv_ids']) or '-'}")
            print(
                "mentions: "
                + (
                    ", ".join(
                        f"{m['name']} ({m['kind']}, {m['count']}{', introduced' if m['introduced'] else ''})"
                        for m in summary["mentions"]
                    )
                    or "-"
                )
            )
    return 0 if extraction.has_text else 1


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Measure each stage against its raw component and write docs/benchmarks.md."""
    from avi_radar import bench
    from classify.labels import paper_text

    stages = args.stages.split(",")
    known = ("embedding", "classification", "extraction", "load", "import", "train")
    unknown = set(stages) - set(known)
    if unknown:
        raise ValueError(f"unknown stages: {', '.join(sorted(unknown))} ({', '.join(known)})")
    corpus = existing_paths(args.corpus) or settings.default_corpus
    results: dict[str, dict] = {}
    if "extraction" in stages:
        pdfs = sorted((settings.shared_dir / "fixtures" / "pdf").rglob("*.pdf"))
        if not pdfs:
            raise FileNotFoundError(f"no PDFs under {settings.shared_dir / 'fixtures' / 'pdf'}")
        results["extraction"] = bench.bench_extraction(pdfs, os.cpu_count() or 1)
    if {"embedding", "classification", "load", "import"} & set(stages):
        if not corpus:
            raise FileNotFoundError(f"no corpus under {settings.shared_dir / 'corpus'}")
        records = bench.corpus_sample(corpus, max(args.texts, args.papers))
        sample_texts = [paper_text(record.title, record.abstract) for record in records[: args.texts + 64]]
        texts, warm_texts = sample_texts[: args.texts], sample_texts[args.texts :]
        if {"embedding", "classification"} & set(stages):
            embedding = bench.bench_embedding(texts, warm_texts, settings)
            if "embedding" in stages:
                results["embedding"] = embedding
        if "classification" in stages:
            results["classification"] = bench.bench_classification(texts, settings, embedding["raw_per_s"])
        if "load" in stages:
            results["load"] = bench.bench_load(records[: args.papers])
    if "import" in stages:
        results["import"] = bench.bench_import(corpus, settings)
    if "train" in stages:
        results["train"] = bench.bench_train(settings)
    if args.json:
        print(json.dumps(results))
    else:
        for stage, figures in results.items():
            if "wall_s" in figures:
                print(f"{stage:<10} {figures['wall_s']} s wall, peak RSS {figures['peak_rss_mb']} MB")
                continue
            print(
                f"{stage:<10} raw {figures['raw_per_s']:>9} {figures['unit']}/s   avi {figures['avi_per_s']:>9} "
                f"{figures['unit']}/s   ratio {figures['ratio']}"
                + (f"   model {figures['model']}" if "model" in figures else "")
            )
    if args.write_docs:
        bench.write_benchmarks_page(Path(args.write_docs), results, bench.machine_description())
    return 0


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    """Print every setting as its environment variable, its value in this environment and its meaning."""
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        shown = ",".join(value) if isinstance(value, list) else value
        print(f"AVI_{name.upper()}={'' if shown is None else shown}")
        if field.description:
            print(f"    {field.description}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this group's subcommands to ``avi``."""
    extract = commands.add_parser(
        "extract", help="read one PDF as the pipeline does and show why it failed or what it found"
    )
    extract.add_argument("path")
    extract.add_argument("--json", action="store_true")
    extract.set_defaults(handler=cmd_extract)

    bench = commands.add_parser("bench", help="each stage against its raw component, on the same data")
    bench.add_argument(
        "--stages",
        default="embedding,classification,extraction,load,import",
        help="comma-separated of embedding, classification, extraction, load, import, train (the last two: minutes)",
    )
    bench.add_argument("--corpus", action="append", help="corpus files (default: those under ../shared/corpus)")
    bench.add_argument("--texts", type=int, default=512, help="abstracts for the embedding and classification stages")
    bench.add_argument("--papers", type=int, default=20000, help="papers for the load stage")
    bench.add_argument("--json", action="store_true", help="one JSON object, a key per stage")
    bench.add_argument(
        "--write-docs",
        metavar="PATH",
        nargs="?",
        const="docs/benchmarks.md",
        help="write the figures into this page (default docs/benchmarks.md)",
    )
    bench.set_defaults(handler=cmd_bench)

    settings_command = commands.add_parser("settings", help="every AVI_ setting: its value here and its meaning")
    settings_command.set_defaults(handler=cmd_settings)
