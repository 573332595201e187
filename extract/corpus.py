"""Streaming readers for the corpus format of ``shared/corpus`` and for label files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a text file, gzipped when its name ends in ``.gz``, with their numbers
    (from 1); a line keeps its end of line, so a reader can tell a last line cut short."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                yield line_number, line


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON-lines file, gzipped or not, one at a time; a bad line raises with its number."""
    for line_number, line in text_lines(path):
        try:
            yield json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{line_number}: not valid JSON ({error.msg})") from None


def iter_corpus(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Corpus rows of several files in order."""
    for path in paths:
        yield from iter_jsonl(path)


def latest_rows(paths: Iterable[Path], wanted: Callable[[dict[str, Any]], bool]) -> dict[str, dict[str, Any]]:
    """The ``wanted`` corpus rows by ``arxiv_id``, in the order first met, streaming so memory stays small; a
    paper several files hold (a month's own file beside the daily dump) is the last file's row, so no reader
    counts it twice."""
    found: dict[str, dict[str, Any]] = {}
    for row in iter_corpus(paths):
        if wanted(row):
            found[row["arxiv_id"]] = row
    return found


def corpus_rows_by_id(paths: Iterable[Path], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The corpus rows whose ``arxiv_id`` is in ``wanted`` (:func:`latest_rows`)."""
    return latest_rows(paths, lambda row: row.get("arxiv_id") in wanted)


def rows_announced_in(paths: Iterable[Path], month: str) -> list[dict[str, Any]]:
    """The corpus rows announced in ``month`` (``YYYY-MM``), one per paper (:func:`latest_rows`); rows without
    an announcement date (older papers) belong to no month."""
    return list(latest_rows(paths, lambda row: str(row.get("announced") or "").startswith(f"{month}-")).values())
