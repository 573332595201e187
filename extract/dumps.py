"""Metadata dumps for backfills: the corpus format of ``shared/corpus`` and Kaggle's arXiv snapshot.

Both are JSON lines (gzip optional) read one row at a time, so memory stays flat however big the dump. A
line that cannot become a record (not JSON, not an object, no or a malformed arXiv id, no title, a field of
the wrong type, a date that does not parse) is handed back as a :class:`Rejected` with its file, line and
reason, and reading goes on; so does a file cut short, whose complete lines are all read.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from core.records import PaperRecord, Rejected, date_from_id, is_arxiv_id
from extract.corpus import text_lines

EXCERPT_CHARS = 200


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


def _check(row: Any) -> PaperRecord:
    """The record of one parsed line, or ValueError saying why there is none."""
    if not isinstance(row, dict):
        raise ValueError(f"not a JSON object but {type(row).__name__}")
    kaggle = "versions" in row or ("id" in row and "arxiv_id" not in row)  # Kaggle names it id
    arxiv_id = row.get("id" if kaggle else "arxiv_id")
    if not arxiv_id:
        raise ValueError("no arXiv id")
    if not isinstance(arxiv_id, str) or not is_arxiv_id(arxiv_id):
        raise ValueError(f"not an arXiv id: {arxiv_id!r}")
    title = row.get("title")
    if not title or not isinstance(title, str) or not title.strip():
        raise ValueError("no title")
    text_fields = ("abstract", "comments", "authors", "categories") if kaggle else ("abstract", "comment")
    list_fields = () if kaggle else ("authors", "categories")
    for field in (*text_fields, *list_fields):
        kind = str if field in text_fields else list
        if row.get(field) is not None and not isinstance(row[field], kind):
            raise ValueError(f"{field} is {type(row[field]).__name__}, not {'text' if kind is str else 'a list'}")
    try:
        record = record_from_kaggle_row(row) if kaggle else record_from_corpus_row(row)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ValueError(f"malformed {'Kaggle' if kaggle else 'corpus'} row: {type(error).__name__}: {error}") from None
    if record is None:
        raise ValueError("no date: neither an announcement date nor one the id tells")
    return record


def read_dump(path: Path, after_line: int = 0) -> Iterator[tuple[int, PaperRecord | Rejected]]:
    """Every line of one dump file after its first ``after_line`` lines, with its number, as a record or a
    :class:`Rejected`; a file cut short (a truncated gzip stream, a last line without its end) yields its
    complete lines and then one Rejected for the cut. Skipped lines are read but not parsed."""
    line_number = 0
    try:
        for line_number, line in text_lines(path):  # noqa: B007 - the number outlives the loop
            if line_number <= after_line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                cut = not line.endswith("\n")
                reason = "the file ends inside this line (cut short?)" if cut else f"not JSON ({error.msg})"
                excerpt = line[:EXCERPT_CHARS].rstrip()
                yield line_number, Rejected(str(path), line_number, _id_in(line), reason, excerpt)
                continue
            try:
                yield line_number, _check(row)
            except ValueError as error:
                excerpt = line[:EXCERPT_CHARS].rstrip()
                yield line_number, Rejected(str(path), line_number, _id_of(row), str(error), excerpt)
    except (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError) as error:
        reason = f"the file is cut or damaged after line {line_number}: {type(error).__name__}: {error}"
        yield line_number + 1, Rejected(str(path), line_number + 1, None, reason, "")


ANNOUNCED = re.compile(r'"announced"\s*:\s*"(\d{4}-\d{2}-\d{2})"')


def announced_span(paths: Sequence[Path]) -> tuple[date, date] | None:
    """The first and last announcement date of the corpus-format ``paths`` (None when no row has one): the
    days a mirror of them can serve. Dates are found in the raw lines, without parsing every row."""
    days = [match[1] for path in paths for _, line in text_lines(path) if (match := ANNOUNCED.search(line))]
    return (date.fromisoformat(min(days)), date.fromisoformat(max(days))) if days else None


def _id_of(row: Any) -> str | None:
    if isinstance(row, dict):
        found = row.get("arxiv_id") or row.get("id")
        return found if isinstance(found, str) and found else None
    return None


def _id_in(line: str) -> str | None:
    match = re.search(r'"(?:arxiv_id|id)"\s*:\s*"([^"]+)"', line)
    return match[1] if match else None
