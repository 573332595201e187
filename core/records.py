"""The records that cross packages: a paper as arXiv describes it, what was read from its PDF, and the rules
that belong to a paper rather than to any one step (when it is withdrawn, what its content hash is).

Every package may import this module; it imports none of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime

ARXIV_FIRST_DAY = date(1991, 8, 14)  # the first paper's day: an open window's start


@dataclass(frozen=True)
class PaperRecord:
    """One paper at one version, as arXiv describes it."""

    arxiv_id: str
    version: int
    title: str
    abstract: str | None
    authors: list[str]
    categories: list[str]
    primary_category: str | None
    published: datetime | None
    updated: datetime | None
    comment: str | None = None


_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_STYLE_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


def is_arxiv_id(text: str) -> bool:
    """Whether ``text`` is an arXiv id without version: ``2605.04045`` or ``hep-th/9901001``."""
    return bool(_NEW_STYLE_ID.match(text) or _OLD_STYLE_ID.match(text))


def date_from_id(arxiv_id: str) -> date | None:
    """The first day of the month an arXiv id was issued, from its YYMM."""
    match = _NEW_STYLE_ID.match(arxiv_id) or _OLD_STYLE_ID.match(arxiv_id)
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    year += 2000 if year < 91 else 1900
    return date(year, month, 1) if 1 <= month <= 12 else None


@dataclass
class Section:
    """A part of the paper under one top-level heading."""

    part: str
    heading: str
    text: str


@dataclass
class PaperStructure:
    """What the structure reader found in one paper."""

    sections: list[Section] = field(default_factory=list)
    n_figures: int = 0
    n_tables: int = 0
    references: list[str] = field(default_factory=list)
    cited_arxiv_ids: list[str] = field(default_factory=list)

    def part(self, name: str) -> str:
        """The text of every section of a part joined (empty when the paper has none)."""
        return "\n\n".join(section.text for section in self.sections if section.part == name)


@dataclass(frozen=True)
class Mention:
    """One name found in one paper."""

    name: str
    kind: str  # dataset | benchmark | metric
    count: int
    introduced: bool  # the paper says it introduces this name


@dataclass(frozen=True)
class Extraction:
    """The outcome of reading one PDF: status ok, repaired, refused or failed, with a reason when not ok."""

    status: str
    reason: str | None = None
    sha256: str | None = None
    n_pages: int | None = None
    text: str | None = None
    structure: PaperStructure | None = None
    mentions: list[Mention] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        """Whether the text was read, from a sound PDF or one PyMuPDF had to repair."""
        return self.status in {"ok", "repaired"}


@dataclass(frozen=True)
class Rejected:
    """A dump line that could not be loaded: where it was, the arXiv id if one could be read, and why."""

    source: str
    line: int  # 1-based; for a cut file, the line the cut fell in
    arxiv_id: str | None
    reason: str
    excerpt: str


_WITHDRAWN = re.compile(
    r"\b(this (paper|article|submission) (has been|is) withdrawn|withdrawn by the authors?)\b", re.I
)


def is_withdrawn(record: PaperRecord) -> bool:
    """arXiv withdraws a paper with a new version whose comment (or abstract) says so."""
    return bool(_WITHDRAWN.search(record.comment or "") or _WITHDRAWN.search(record.abstract or ""))


def content_hash(title: str, abstract: str | None) -> str:
    """Hash of the text a paper is classified by: a new version with the same text needs no new labels."""
    return hashlib.sha256(f"{title}\0{abstract or ''}".encode()).hexdigest()[:16]
