"""The mirror's in-memory paper records, loaded from corpus files."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The mirror maps corpus rows with its own code, not the client's: a mapping bug shared by both sides of the
# wire would look right to the tests.
_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_STYLE_ID = re.compile(r"^[a-z-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


def _timestamp_key(moment: datetime) -> int:
    return int(moment.strftime("%Y%m%d%H%M"))


@dataclass
class MirrorRecord:
    """One paper the mirror serves, with caches for query matching."""

    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str
    comment: str | None
    published: datetime
    updated: datetime
    order: int
    _normalized: dict[str, str] = field(default_factory=dict, repr=False)
    _words: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def submitted_key(self) -> int:
        """The first version's timestamp as arXiv's ``submittedDate`` ranges compare it (YYYYMMDDHHMM)."""
        return _timestamp_key(self.published)

    @property
    def updated_key(self) -> int:
        """The last version's timestamp as arXiv's ``lastUpdatedDate`` ranges compare it (YYYYMMDDHHMM)."""
        return _timestamp_key(self.updated)

    def _field_text(self, field_name: str) -> str:
        texts = {
            "ti": self.title,
            "abs": self.abstract,
            "au": " ".join(self.authors),
            "co": self.comment or "",
            "jr": "",
            "rn": "",
        }
        if field_name == "all":
            return " ".join(texts.values())
        return texts[field_name]

    def normalized(self, field_name: str) -> str:
        """Lower-cased words of a field joined by single spaces (for phrase matching)."""
        if field_name not in self._normalized:
            self._normalized[field_name] = " ".join(re.findall(r"\w+", self._field_text(field_name).lower()))
        return self._normalized[field_name]

    def words(self, field_name: str) -> frozenset[str]:
        """The set of lower-cased words of a field."""
        if field_name not in self._words:
            self._words[field_name] = frozenset(self.normalized(field_name).split())
        return self._words[field_name]


def _publication_moment(row: dict[str, Any]) -> datetime | None:
    """Midnight UTC of the row's announcement day; for older papers without one, the first of the month their
    id was issued in (YYMM)."""
    if row.get("announced"):
        return datetime.fromisoformat(row["announced"]).replace(tzinfo=UTC)
    match = _NEW_STYLE_ID.match(row["arxiv_id"]) or _OLD_STYLE_ID.match(row["arxiv_id"])
    if not match or not 1 <= int(match[2]) <= 12:
        return None
    year = int(match[1])
    return datetime(year + (2000 if year < 91 else 1900), int(match[2]), 1, tzinfo=UTC)


def record_from_row(row: dict[str, Any], order: int) -> MirrorRecord | None:
    """A mirror record for one corpus row; None for rows without a date or a title."""
    moment = _publication_moment(row)
    if moment is None or not row.get("title"):
        return None
    categories = list(row.get("categories") or []) or ["cs.LG"]
    return MirrorRecord(
        arxiv_id=row["arxiv_id"],
        version=int(row.get("version") or 1),
        title=row["title"],
        abstract=row.get("abstract") or "",
        authors=list(row.get("authors") or []),
        categories=categories,
        primary_category=row.get("primary_category") or categories[0],
        comment=row.get("comment"),
        published=moment,
        updated=moment,
        order=order,
    )


def _corpus_rows(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            yield from (json.loads(line) for line in handle if line.strip())


def load_records(paths: Iterable[Path]) -> dict[str, MirrorRecord]:
    """Records by arXiv id; a later file's row for the same id replaces an earlier one."""
    records: dict[str, MirrorRecord] = {}
    for order, row in enumerate(_corpus_rows(paths)):
        record = record_from_row(row, order)
        if record is not None:
            records[record.arxiv_id] = record
    return records
