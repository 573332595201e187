"""Metadata dumps for backfills: the corpus format of ``shared/corpus`` and Kaggle's arXiv snapshot.

Both are JSON lines (gzip optional) read one row at a time, so memory stays flat however big the dump.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from core.records import PaperRecord, date_from_id
from extract.corpus import iter_jsonl


def _moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def record_from_corpus_row(row: dict[str, Any]) -> PaperRecord | None:
    """A corpus row (``arxiv_id``, ``announced``, ...) as a record; None without a title or a date."""
    day = date.fromisoformat(row["announced"]) if row.get("announced") else date_from_id(row["arxiv_id"])
    if day is None or not row.get("title"):
        return None
    categories = list(row.get("categories") or [])
    return PaperRecord(
        arxiv_id=row["arxiv_id"],
        version=int(row.get("version") or 1),
        title=" ".join(row["title"].split()),
        abstract=" ".join(row["abstract"].split()) if row.get("abstract") else None,
        authors=list(row.get("authors") or []),
        categories=categories,
        primary_category=row.get("primary_category") or (categories[0] if categories else None),
        published=_moment(day),
        updated=_moment(day),
        comment=row.get("comment"),
    )


def record_from_kaggle_row(row: dict[str, Any]) -> PaperRecord | None:
    """A row of Kaggle's ``arxiv-metadata-oai-snapshot.json`` as a record at its newest version."""
    versions = row.get("versions") or []
    if not row.get("title") or not versions:
        return None
    first = parsedate_to_datetime(versions[0]["created"])
    last = parsedate_to_datetime(versions[-1]["created"])
    categories = (row.get("categories") or "").split()
    authors = [
        " ".join(part for part in reversed(names[:2]) if part).strip() for names in row.get("authors_parsed", [])
    ]
    return PaperRecord(
        arxiv_id=row["id"],
        version=int(versions[-1]["version"].lstrip("v")),
        title=" ".join(row["title"].split()),
        abstract=" ".join(row["abstract"].split()) if row.get("abstract") else None,
        authors=authors or [name.strip() for name in (row.get("authors") or "").split(",") if name.strip()],
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=first,
        updated=last,
        comment=row.get("comments"),
    )


def iter_dump_records(paths: Iterable[Path]) -> Iterator[PaperRecord]:
    """Records from dump files of either format (told apart row by row); rows without title or date skipped."""
    for path in paths:
        for row in iter_jsonl(path):
            record = record_from_kaggle_row(row) if "versions" in row else record_from_corpus_row(row)
            if record is not None:
                yield record
