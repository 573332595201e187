"""BibTeX entries for papers of the warehouse, as arXiv recommends citing a preprint (``@misc`` with
``eprint``, ``archivePrefix`` and ``primaryClass``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

PAPER_COLUMNS = "p.arxiv_id, p.title, p.authors, p.primary_category, p.published"
# papers chosen three ways; every query returns PAPER_COLUMNS in submission order
BY_IDS = f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY p.published"
BY_LABEL = (
    f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.arxiv_id IN (SELECT arxiv_id FROM paper_labels WHERE label = ?) "
    "ORDER BY p.published, p.arxiv_id"
)
BY_MONTH = (
    f"SELECT {PAPER_COLUMNS} FROM papers p "
    "WHERE p.arxiv_id IN (SELECT arxiv_id FROM paper_labels WHERE label = 'relevance:av') "
    "AND strftime(p.published, '%Y-%m') = ? ORDER BY p.published, p.arxiv_id"
)
_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}


def _latex(text: str) -> str:
    """Text with LaTeX's special characters escaped and whitespace collapsed."""
    return "".join(_LATEX_SPECIAL.get(character, character) for character in " ".join(text.split()))


def _ascii_word(text: str) -> str:
    """The letters of ``text`` without accents, lower case (``Müller`` -> ``muller``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def citation_key(authors: Sequence[str], published: datetime, title: str) -> str:
    """``lastnameYEARfirstword``, as Google Scholar makes them: ``cheng2025mmaudio``."""
    last_name = _ascii_word(authors[0].split()[-1]) if authors else "anonymous"
    words = [_ascii_word(word) for word in title.split()]
    first_word = next((word for word in words if word and word not in {"a", "an", "the", "on", "of"}), "paper")
    return f"{last_name}{published:%Y}{first_word}"


def bibtex_entries(rows: Sequence[tuple]) -> str:
    """One ``@misc`` entry per row of ``PAPER_COLUMNS``; keys made unique with a letter where they collide."""
    entries, used = [], set()
    for arxiv_id, title, authors, primary_category, published in rows:
        key = base = citation_key(authors or [], published, title)
        suffix = iter("bcdefghijklmnopqrstuvwxyz")
        while key in used:
            key = base + next(suffix)
        used.add(key)
        fields = {
            "title": "{" + _latex(title) + "}",  # double braces keep the title's capitals
            "author": " and ".join(_latex(author) for author in authors or []) or "Anonymous",
            "year": f"{published:%Y}",
            "eprint": arxiv_id,
            "archivePrefix": "arXiv",
            "primaryClass": primary_category or "",
            "url": f"https://arxiv.org/abs/{arxiv_id}",
        }
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items() if value)
        entries.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(entries)
