"""The mirror's in-memory paper records, loaded from corpus files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from extract.corpus import iter_corpus
from extract.dumps import record_from_corpus_row


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
        return _timestamp_key(self.published)

    @property
    def updated_key(self) -> int:
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


def record_from_row(row: dict[str, Any], order: int) -> MirrorRecord | None:
    """A mirror record for one corpus row; None for rows without a date or a title."""
    paper = record_from_corpus_row(row)
    if paper is None:
        return None
    categories = paper.categories or ["cs.LG"]
    return MirrorRecord(
        arxiv_id=paper.arxiv_id,
        version=paper.version,
        title=row["title"],
        abstract=row.get("abstract") or "",
        authors=paper.authors,
        categories=categories,
        primary_category=paper.primary_category or categories[0],
        comment=paper.comment,
        published=paper.published,
        updated=paper.updated,
        order=order,
    )


def load_records(paths: Iterable[Path]) -> dict[str, MirrorRecord]:
    """Records by arXiv id; a later file's row for the same id replaces an earlier one."""
    records: dict[str, MirrorRecord] = {}
    for order, row in enumerate(iter_corpus(paths)):
        record = record_from_row(row, order)
        if record is not None:
            records[record.arxiv_id] = record
    return records
