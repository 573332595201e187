"""A patch for the survey's hub README: the new audio-visual papers under the hub's own headings, in its
own line format, as a README, a unified diff and a pull-request body.

The hub (JavisVerse/Awesome-AVI for the AVI survey) is a Markdown list organised by the taxonomy's
headings, one line per paper. Each taxonomy label names its heading (``hub_heading`` in the taxonomy
file), so another survey's hub needs only its own taxonomy. The patch only adds lines: a paper the hub
lists already (by arXiv id, any version, ``abs`` or ``pdf`` link, or by a near-identical title) is never
added, so applying the patch to its own output adds nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from classify.taxonomy import Taxonomy
from core.wording import counted
from reports.text import first_sentence
from warehouse.db import Warehouse

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
ARXIV_LINK = re.compile(r"arxiv\.org/(?:abs|pdf)/([0-9]{4}\.[0-9]{4,5}|[a-z][a-z.-]*/[0-9]{7})(?:v[0-9]+)?", re.I)
ENTRY_TITLE = re.compile(r"^\s*[+*-]\s+\[\*\*(.+?)\*\*\]")
GITHUB_REPO = re.compile(r"github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/([A-Za-z0-9_.-]+)")
DEFAULT_MIN_SCORE = 0.5  # a label named with a lower score is the model's guess, not a placement
SAME_TITLE = 0.92  # difflib ratio above which two normalised titles are the same paper's
ARXIV_BADGE = "[![Paper](https://img.shields.io/badge/arxiv-b22222)]()"


class HubError(ValueError):
    """The file given as the hub README is not one this taxonomy can place papers in."""


def heading_key(text: str) -> str:
    """A heading without its emoji, punctuation and case: ``🎨 Audio-Visual Generation`` and ``audio visual
    generation`` are the same heading."""
    return " ".join(re.sub(r"[^0-9a-z+]+", " ", text.casefold()).split())


def title_key(title: str) -> str:
    """A title reduced to its letters and digits, for telling near-identical titles apart."""
    return re.sub(r"[^0-9a-z]+", "", title.casefold())


@dataclass(frozen=True)
class Heading:
    """A heading of the hub README: its level, text, line index and the taxonomy label it maps to."""

    level: int
    text: str
    line: int
    label: str | None


@dataclass(frozen=True)
class Hub:
    """A hub README read into its lines, headings and the papers it lists."""

    path: Path
    lines: list[str]
    headings: list[Heading]
    listed_ids: frozenset[str]
    listed_titles: frozenset[str]

    def lists(self, arxiv_id: str, title: str) -> bool:
        """True when the hub lists the paper: by id, or by a title near-identical to one it lists."""
        if arxiv_id in self.listed_ids:
            return True
        key = title_key(title)
        if key in self.listed_titles:
            return True
        matcher = difflib.SequenceMatcher(a=key)
        for listed in self.listed_titles:
            matcher.set_seq2(listed)
            if matcher.real_quick_ratio() >= SAME_TITLE and matcher.ratio() >= SAME_TITLE:
                return True
        return False


def read_hub(path: Path, taxonomy: Taxonomy) -> Hub:
    """Read a hub README and map its headings to the taxonomy's labels; raises :class:`HubError` when no
    heading maps (not a hub of this survey) and ``OSError`` when the file cannot be read."""
    lines = path.read_text(encoding="utf-8").splitlines()
    by_heading = {heading_key(label.hub_heading): label.id for label in taxonomy.labels if label.hub_heading}
    headings, in_code = [], False
    for index, line in enumerate(lines):
        in_code ^= line.lstrip().startswith("```")
        match = None if in_code else HEADING.match(line)
        if match:
            text = match[2]
            headings.append(Heading(len(match[1]), text, index, by_heading.get(heading_key(text))))
    if not any(heading.label for heading in headings):
        raise HubError(
            f"{path} is not a hub README of the survey {taxonomy.title!r}: none of its "
            f"{counted(len(headings), 'heading')} is a hub_heading of {taxonomy.path}"
        )
    titles = {title_key(match[1]) for line in lines if (match := ENTRY_TITLE.match(line))}
    ids = {match[1].lower() for line in lines for match in ARXIV_LINK.finditer(line)}
    return Hub(path, lines, headings, frozenset(ids), frozenset(titles))


@dataclass(frozen=True)
class HubCandidate:
    """An audio-visual paper the warehouse holds, with the labels the current model named and their scores."""

    arxiv_id: str
    title: str
    abstract: str | None
    comment: str | None
    published: datetime
    labels: dict[str, float]


# the audio-visual papers of the current model and the labels it named, submitted in [since, until]: the labels
# that passed their thresholds, not the best label an audio-visual paper gets when none passed
HUB_CANDIDATES = """
SELECT p.arxiv_id, p.title, p.abstract, p.comment, p.published, l.label, l.score
FROM papers p
JOIN paper_labels l USING (arxiv_id)
LEFT JOIN label_thresholds t ON t.model_version = l.model_version AND t.label = l.label
WHERE NOT p.withdrawn
  AND p.arxiv_id IN (SELECT arxiv_id FROM paper_labels WHERE label = 'relevance:av')
  AND l.label NOT LIKE 'relevance:%'
  AND l.score >= coalesce(t.threshold, 0)
  AND p.published >= ?::DATE AND p.published < ?::DATE + INTERVAL 1 DAY
ORDER BY p.published, p.arxiv_id, l.label
"""


def hub_candidates(rows: Sequence[tuple]) -> list[HubCandidate]:
    """The rows of :data:`HUB_CANDIDATES` as one candidate per paper, its labels gathered."""
    papers: dict[str, HubCandidate] = {}
    for arxiv_id, title, abstract, comment, published, label, score in rows:
        paper = papers.setdefault(arxiv_id, HubCandidate(arxiv_id, title, abstract, comment, published, {}))
        paper.labels[label] = float(score)
    return list(papers.values())


def github_repository(candidate: HubCandidate) -> str | None:
    """``owner/name`` of the first GitHub repository the paper's abstract or comment names."""
    for text in (candidate.abstract, candidate.comment):
        match = GITHUB_REPO.search(text or "")
        if match:
            return f"{match[1]}/{match[2].removesuffix('.git').rstrip('.')}"
    return None


def hub_line(candidate: HubCandidate) -> str:
    """The paper as one line in the hub's format: bold title linked to its abstract page, the arXiv badge,
    a Star badge when it names a GitHub repository, and its submission month as ``<!-- MM-YY -->``."""
    title = " ".join(candidate.title.split()).replace("**", "")
    parts = [f"+ [**{title}**](https://arxiv.org/abs/{candidate.arxiv_id})", ARXIV_BADGE]
    repository = github_repository(candidate)
    if repository:
        parts.append(
            f"[![Star](https://img.shields.io/github/stars/{repository}.svg?style=social&label=Star)]"
            f"(https://github.com/{repository})"
        )
    return " ".join(parts) + f"  <!-- {candidate.published:%m-%y} -->"


@dataclass
class HubPatch:
    """What ``avi hub-patch`` writes and reports."""

    readme: str
    diff: str
    added: dict[str, list[HubCandidate]] = field(default_factory=dict)  # per label, in the order added
    already_listed: list[HubCandidate] = field(default_factory=list)
    unplaced: list[HubCandidate] = field(default_factory=list)  # audio-visual, but no label with a heading
    headings_without_label: list[str] = field(default_factory=list)
    labels_without_heading: list[str] = field(default_factory=list)

    @property
    def papers(self) -> set[str]:
        """The arXiv ids the patch adds (a paper under two headings counts once)."""
        return {candidate.arxiv_id for candidates in self.added.values() for candidate in candidates}

    @property
    def lines_added(self) -> int:
        """Lines the diff adds to the hub README (its file header not counted)."""
        return sum(line.startswith("+") and not line.startswith("+++") for line in self.diff.splitlines())

    @property
    def lines_removed(self) -> int:
        """Lines the diff removes from the hub README: 0, as the patch only adds; the report says so."""
        return sum(line.startswith("-") and not line.startswith("---") for line in self.diff.splitlines())


def _end_of_entries(hub: Hub, heading: Heading) -> int:
    """The line index after which a heading's new entries go: after its last non-blank line before the next
    heading, or after the heading itself."""
    following = [other.line for other in hub.headings if other.line > heading.line]
    end = following[0] if following else len(hub.lines)
    last = heading.line
    for index in range(heading.line + 1, end):
        if hub.lines[index].strip():
            last = index
    return last


def build_patch(hub: Hub, taxonomy: Taxonomy, candidates: Sequence[HubCandidate], min_score: float) -> HubPatch:
    """Place every candidate the hub does not list under each heading of a label it carries with at least
    ``min_score`` (oldest first, after the heading's last entry). Only lines are added."""
    mapped = {heading.label: heading for heading in hub.headings if heading.label}
    patch = HubPatch(readme="", diff="")
    patch.headings_without_label = [h.text for h in hub.headings if h.level >= 3 and not h.label]
    patch.labels_without_heading = [
        label.id for label in taxonomy.labels if label.kind in {"task", "technique"} and label.id not in mapped
    ]
    ends = {label: _end_of_entries(hub, heading) for label, heading in mapped.items()}
    inserts: dict[int, list[str]] = {}
    for candidate in sorted(candidates, key=lambda paper: (paper.published, paper.arxiv_id)):
        if hub.lists(candidate.arxiv_id, candidate.title):
            patch.already_listed.append(candidate)
            continue
        placed = [label for label, score in candidate.labels.items() if label in mapped and score >= min_score]
        placed = [label for label in placed if not label.startswith("context.")]  # background is never added
        if not placed:
            patch.unplaced.append(candidate)
            continue
        for label in sorted(placed, key=lambda label: mapped[label].line):
            inserts.setdefault(ends[label], []).append(hub_line(candidate))
            patch.added.setdefault(label, []).append(candidate)
    new_lines: list[str] = []
    for index, line in enumerate(hub.lines):
        new_lines.append(line)
        if index in inserts:
            if HEADING.match(line):  # a heading with no entry yet
                new_lines.append("")
            new_lines.extend(inserts[index])
    patch.readme = "\n".join(new_lines) + "\n"
    patch.diff = "".join(
        difflib.unified_diff(
            [line + "\n" for line in hub.lines],
            [line + "\n" for line in new_lines],
            fromfile=f"a/{hub.path.name}",
            tofile=f"b/{hub.path.name}",
        )
    )
    return patch


def pull_request_body(patch: HubPatch, taxonomy: Taxonomy, how: str, query: str) -> str:
    """``PR.md``: per subsection the added papers with their label score and one line of abstract, what
    was not placed and why, and how the papers were chosen (with the query that reproduces the list)."""
    names = {label.id: label.hub_heading or label.name for label in taxonomy.labels}
    papers = patch.papers
    out = [
        f"# New papers for {taxonomy.title}",
        "",
        f"{counted(len(papers), 'paper')}, {counted(patch.lines_added, 'line')} added under "
        f"{counted(len(patch.added), 'heading')}, "
        f"{counted(patch.lines_removed, 'line')} removed. {how}",
        "",
    ]
    for label, candidates in sorted(patch.added.items(), key=lambda item: names[item[0]]):
        out += [f"## {names[label]} ({len(candidates)})", ""]
        for candidate in candidates:
            out.append(
                f"- [{candidate.title}](https://arxiv.org/abs/{candidate.arxiv_id}) - score "
                f"{candidate.labels[label]:.2f}. {first_sentence(candidate.abstract)}"
            )
        out.append("")
    if patch.unplaced:
        out += [
            f"## Audio-visual, but under no heading ({len(patch.unplaced)})",
            "",
            "The model calls these audio-visual, but none of their labels has a hub heading or reaches the "
            "minimum score; a maintainer may place them by hand.",
            "",
        ]
        out += [f"- [{c.title}](https://arxiv.org/abs/{c.arxiv_id})" for c in patch.unplaced] + [""]
    if patch.labels_without_heading or patch.headings_without_label:
        out += ["## Taxonomy and hub, side by side", ""]
        if patch.labels_without_heading:
            out.append(f"Labels with no heading in the hub: {', '.join(patch.labels_without_heading)}.")
        if patch.headings_without_label:
            out.append(f"Hub headings with no label: {', '.join(patch.headings_without_label)}.")
        out.append("")
    out += ["## How they were chosen", "", "```sql", query.strip(), "```", ""]
    return "\n".join(out)


def write_patch(patch: HubPatch, pull_request: str, out_dir: Path) -> list[Path]:
    """Write ``README.md``, ``hub.diff`` and ``PR.md`` into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"README.md": patch.readme, "hub.diff": patch.diff, "PR.md": pull_request}
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return [out_dir / name for name in files]


def write_hub_patch(
    warehouse: Warehouse, taxonomy: Taxonomy, hub: Hub, since: date, until: date, min_score: float, out_dir: Path
) -> HubPatch:
    """The patch for the audio-visual papers submitted from ``since`` to ``until``, written into ``out_dir``
    (``README.md``, ``hub.diff``, ``PR.md``)."""
    candidates = hub_candidates(warehouse.query(HUB_CANDIDATES, [since, until])[1])
    patch = build_patch(hub, taxonomy, candidates, min_score)
    how = (
        f"Audio-visual papers submitted {since} to {until} by the current model of avi-radar, each under every "
        f"heading of a label whose score passed the label's threshold and is at least {min_score:.2f}; "
        f"{len(patch.already_listed)} such papers the hub lists already (by arXiv id or a near-identical title) "
        "were left out."
    )
    query = HUB_CANDIDATES.replace("?::DATE", f"'{since}'::DATE", 1).replace("?::DATE", f"'{until}'::DATE", 1)
    write_patch(patch, pull_request_body(patch, taxonomy, how, query), out_dir)
    return patch
