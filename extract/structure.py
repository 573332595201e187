"""Structure of a paper's text: sections, figure and table counts, references and the arXiv ids they cite.

Works on the text blocks in reading order that :mod:`extract.pdf` produces. Headings are recognised by
their shape (``3 Method``, ``2.1. Setup``, ``IV. RESULTS``, ACM's ``1`` + ``INTRODUCTION`` on two lines,
or a bare ``Abstract`` / ``References``); only top-level headings open a new part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.records import PaperStructure, Section

# Letter-numbered headings (``A. Setup``) are subsections or appendices, so they never open a part.
_NUMBERED = re.compile(r"^(?P<number>\d{1,2}(?:\.\d{1,2})*|[IVX]{1,5})\.?\s*\n?\s*(?P<title>[A-Z][^\n]{1,70})$")
_KEYWORD_ONLY = re.compile(
    r"^(abstract|references|bibliography|acknowledge?ments?|conclusions?|introduction|related work|appendix"
    r"|keywords)\s*:?$",
    re.IGNORECASE,
)
_PART_KEYWORDS = (
    ("abstract", ("abstract",)),
    ("introduction", ("introduction", "motivation")),
    ("related_work", ("related work", "background", "prior work", "literature", "previous work")),
    (
        "experiments",
        (
            "experiment",
            "evaluation",
            "results",
            "ablation",
            "user study",
            "benchmark",
            "implementation details",
            "empirical",
        ),
    ),
    ("conclusion", ("conclusion", "discussion", "summary", "future work", "limitation", "concluding")),
    ("references", ("references", "bibliography")),
    ("appendix", ("appendix", "supplementary")),
    (
        "method",
        (
            "method",
            "approach",
            "model",
            "framework",
            "architecture",
            "proposed",
            "formulation",
            "preliminar",
            "overview",
            "system",
            "design",
            "algorithm",
            "representation",
            "learning",
        ),
    ),
)
_CAPTION = re.compile(r"^(?P<kind>fig\.|figure|table)\s*(?P<number>\d+|[IVX]+)\s*[:.|]", re.IGNORECASE)
_ARXIV_ID = re.compile(
    r"(?:arxiv(?:\.org/(?:abs|pdf))?[:/\s]*|abs/)(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)
_BRACKET_MARK = re.compile(r"(?:^|\n)\s*\[(\d{1,3})\]")
_NUMBER_MARK = re.compile(r"(?:^|\n)\s*(\d{1,3})\.\s+[A-Z]")


@dataclass(frozen=True)
class Heading:
    """A heading line: its number (``3``, ``2.1``, ``IV``; empty for a bare keyword) and title."""

    number: str
    title: str

    @property
    def top_level(self) -> bool:
        """True for a numbered section (\"3\"), False for a subsection (\"3.1\")."""
        return "." not in self.number


def parse_heading(block: str) -> tuple[Heading, str] | None:
    """The heading a block starts with and the rest of the block, or None when it starts with prose."""
    lines = block.strip().split("\n")
    candidates = []
    if len(lines) >= 2 and re.fullmatch(r"\d{1,2}(?:\.\d{1,2})*\.?", lines[0].strip()):
        candidates.append((f"{lines[0].strip()} {lines[1].strip()}", 2))  # ACM: number and title on two lines
    candidates.append((lines[0].strip(), 1))
    for text, used in candidates:
        keyword = _KEYWORD_ONLY.match(text)
        if keyword:
            return Heading("", keyword[1].strip()), "\n".join(lines[used:])
        numbered = _NUMBERED.match(text)
        if numbered and _looks_like_title(numbered["title"]):
            return Heading(numbered["number"], numbered["title"].strip()), "\n".join(lines[used:])
    return None


def _looks_like_title(title: str) -> bool:
    words = title.split()
    return (
        0 < len(words) <= 10
        and sum(character.isalpha() for character in words[0]) >= 2  # not "D Pose" from "2 D Pose" (2D)
        and not title.rstrip().endswith((".", ",", ";"))
        and sum(word[:1].isupper() or not word[:1].isalpha() for word in words) >= max(1, len(words) // 2)
        and not re.search(r"\d{3,}", title)
    )


def part_of(heading: Heading, previous_part: str) -> str:
    """The canonical part a top-level heading opens; unknown headings continue the paper's flow."""
    title = heading.title.lower()
    for part, keywords in _PART_KEYWORDS:
        if any(keyword in title for keyword in keywords):
            return part
    if "acknowledg" in title or title == "keywords":
        return "other"
    # An unnamed section between the introduction and the experiments is the method.
    return "method" if previous_part in {"introduction", "related_work", "method"} else previous_part


def _count_captions(blocks: list[str]) -> tuple[int, int]:
    figures: set[str] = set()
    tables: set[str] = set()
    for block in blocks:
        match = _CAPTION.match(block.strip())
        if match:
            (tables if match["kind"].lower() == "table" else figures).add(match["number"].upper())
    return len(figures), len(tables)


def split_references(text: str, blocks: list[str]) -> list[str]:
    """Reference entries: by ``[n]`` or ``n.`` markers when numbered, else one per text block."""
    for marker in (_BRACKET_MARK, _NUMBER_MARK):
        numbers = [int(found) for found in marker.findall(text)]
        # a real numbered list counts up from 1; stray matches do not
        in_sequence = sum(later == earlier + 1 for earlier, later in zip(numbers, numbers[1:], strict=False))
        if len(numbers) >= 3 and numbers[0] == 1 and in_sequence >= 0.8 * (len(numbers) - 1):
            starts = [match.start() for match in marker.finditer(text)]
            return [text[start:end].strip() for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [block.strip() for block in blocks if len(block.strip()) > 20]


def cited_arxiv_ids(text: str) -> list[str]:
    """arXiv ids named in a text (``arXiv:2106.14736``, ``arxiv.org/abs/...``, ``CoRR abs/...``), in order, once."""
    flattened = re.sub(r"\s*\n\s*", " ", text)
    return list(dict.fromkeys(match["id"] for match in _ARXIV_ID.finditer(flattened)))


def read_structure(blocks: list[str]) -> PaperStructure:
    """Sections, captions and references of a paper from its blocks in reading order."""
    structure = PaperStructure()
    current = Section("front", "", "")
    texts: list[str] = []
    reference_blocks: list[str] = []
    for block in blocks:
        found = parse_heading(block)
        if found and (found[0].top_level or not found[0].number):
            heading, rest = found
            current.text = "\n".join(texts).strip()
            structure.sections.append(current)
            part = part_of(heading, current.part)
            current = Section(part, f"{heading.number} {heading.title}".strip(), "")
            texts = [rest] if rest.strip() else []
            if part == "references" and rest.strip():
                reference_blocks.append(rest)
            continue
        texts.append(block)
        if current.part == "references":
            reference_blocks.append(block)
    current.text = "\n".join(texts).strip()
    structure.sections.append(current)
    structure.sections = [s for s in structure.sections if s.text or s.heading]
    structure.n_figures, structure.n_tables = _count_captions(blocks)
    references_text = structure.part("references")
    if references_text:
        structure.references = split_references(references_text, reference_blocks)
        structure.cited_arxiv_ids = cited_arxiv_ids(references_text)
    return structure
