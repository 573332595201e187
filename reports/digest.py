"""The nightly digest of new audio-visual papers (Markdown and HTML) and the Atom feeds readers subscribe to.

Both are written from the warehouse's state, not from what one run happened to see: a rerun of a window
(after a crash, say) writes the same digest and the same feed entries. The digest of a window lists the
audio-visual papers first loaded by an ingest run over that window; a feed holds the latest audio-visual
papers of the whole warehouse (``AVI_FEED_ENTRIES``), one feed for all and one per section.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from classify.taxonomy import Taxonomy, is_task_label, section_of
from core.records import ARXIV_FIRST_DAY
from core.wording import counted
from reports.text import first_sentence

ATOM = "http://www.w3.org/2005/Atom"
ALL_FEED = "audio-visual"
_PAPERS = """
SELECT p.arxiv_id, p.title, p.abstract, p.authors, coalesce(p.updated, p.published) AS updated, p.published,
       list(l.label ORDER BY l.score DESC) FILTER (WHERE l.label NOT LIKE 'relevance:%') AS labels,
       list(l.score ORDER BY l.score DESC) FILTER (WHERE l.label NOT LIKE 'relevance:%') AS scores
FROM papers p JOIN paper_labels l USING (arxiv_id)
WHERE p.arxiv_id IN (SELECT arxiv_id FROM paper_labels WHERE label = 'relevance:av') AND NOT p.withdrawn
"""
# the audio-visual papers first loaded by an ingest run whose window ended within [since, until]
DIGEST_PAPERS = (
    _PAPERS
    + """  AND p.first_run_id IN (SELECT run_id FROM runs WHERE flow = 'ingest' AND until BETWEEN ? AND ?)
GROUP BY ALL ORDER BY p.published, p.arxiv_id"""
)
# the newest audio-visual papers, newest first
FEED_PAPERS = _PAPERS + "GROUP BY ALL ORDER BY p.published DESC, p.arxiv_id DESC LIMIT ?"


@dataclass(frozen=True)
class DigestPaper:
    """An audio-visual paper with the labels the current model named, best first."""

    arxiv_id: str
    title: str
    abstract: str | None
    authors: list[str]
    updated: datetime
    published: datetime
    labels: list[str]
    scores: list[float]

    @property
    def url(self) -> str:
        """The paper's abstract page on arxiv.org (the digest links there, never to the mirror)."""
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def sections(self) -> list[str]:
        """The survey sections of its task labels, in the order of its labels."""
        return list(dict.fromkeys(section for label in self.labels if (section := section_of(label))))


def digest_papers(rows: Sequence[tuple]) -> list[DigestPaper]:
    """The rows of :data:`DIGEST_PAPERS` or :data:`FEED_PAPERS` as papers."""
    return [
        DigestPaper(arxiv_id, title, abstract, list(authors or []), updated, published, labels or [], scores or [])
        for arxiv_id, title, abstract, authors, updated, published, labels, scores in rows
    ]


def _grouped(papers: Sequence[DigestPaper], taxonomy: Taxonomy) -> dict[str, dict[str, list[DigestPaper]]]:
    """Papers by section, then by task label (a paper under each it carries); techniques-only papers under
    ``other``."""
    groups: dict[str, dict[str, list[DigestPaper]]] = {}
    for paper in papers:
        tasks = [label for label in paper.labels if section_of(label)] or ["other"]
        for label in tasks:
            groups.setdefault(section_of(label) or "other", {}).setdefault(label, []).append(paper)
    order = list(taxonomy.sections) + ["other"]
    return {section: groups[section] for section in order if section in groups}


def digest_markdown(papers: Sequence[DigestPaper], taxonomy: Taxonomy, since: date, until: date) -> str:
    """The digest as Markdown: the window's papers by section and subsection, with scores and one line each."""
    names = taxonomy.names
    window = f"{since}" if since == until else f"{since} to {until}"
    out = [f"# New audio-visual papers, {window}", "", f"{counted(len(papers), 'paper')} for *{taxonomy.title}*.", ""]
    for section, labels in _grouped(papers, taxonomy).items():
        out += [f"## {taxonomy.sections.get(section, 'Other')}", ""]
        for label, members in labels.items():
            out += [f"### {names.get(label, 'Techniques only')}", ""]
            for paper in members:
                score = dict(zip(paper.labels, paper.scores, strict=True)).get(label)
                shown = f" ({score:.2f})" if score is not None else ""
                out.append(f"- [{paper.title}]({paper.url}){shown}: {first_sentence(paper.abstract)}")
            out.append("")
    return "\n".join(out)


def digest_html(markdown: str) -> str:
    """The digest's Markdown (headings, list items with one link) as a standalone HTML page."""
    body = []
    for line in markdown.splitlines():
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        item = re.match(r"^- \[(.+?)\]\((\S+?)\)(.*)$", line)
        if heading:
            level = len(heading[1])
            body.append(f"<h{level}>{html.escape(heading[2])}</h{level}>")
        elif item:
            link = f'<a href="{html.escape(item[2])}">{html.escape(item[1])}</a>'
            body.append(f"<li>{link}{html.escape(item[3])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('*', '')}</p>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>avi-radar digest</title></head>'
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def atom_feed(papers: Sequence[DigestPaper], taxonomy: Taxonomy, name: str, title: str) -> bytes:
    """An Atom 1.0 feed of the papers: per entry a stable id (its abstract page), title, ``updated`` (the
    paper's newest version), link, authors, its labels as categories and its abstract as summary. The feed's
    own ``updated`` is its newest entry's, so the same papers make the same bytes."""
    ElementTree.register_namespace("", ATOM)
    names = taxonomy.names

    def add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        element.text = text
        return element

    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    add(feed, "id", f"urn:avi-radar:{taxonomy.fingerprint}:{name}")
    add(feed, "title", f"{taxonomy.title}: {title}")
    newest = max((paper.updated for paper in papers), default=datetime.combine(ARXIV_FIRST_DAY, time()))
    add(feed, "updated", f"{newest:%Y-%m-%dT%H:%M:%SZ}")
    add(add(feed, "author"), "name", "avi-radar")
    add(feed, "generator", "avi-radar")
    for paper in papers:
        entry = add(feed, "entry")
        add(entry, "id", paper.url)
        add(entry, "title", " ".join(paper.title.split()))
        add(entry, "updated", f"{paper.updated:%Y-%m-%dT%H:%M:%SZ}")
        add(entry, "published", f"{paper.published:%Y-%m-%dT%H:%M:%SZ}")
        add(entry, "link", rel="alternate", href=paper.url)
        for author in paper.authors or ["unknown"]:
            add(add(entry, "author"), "name", author)
        for label in paper.labels:
            add(entry, "category", term=label, label=names.get(label, label))
        add(entry, "summary", " ".join((paper.abstract or "").split()))
    ElementTree.indent(feed)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(feed, encoding="utf-8") + b"\n"


def write_feeds(papers: Sequence[DigestPaper], taxonomy: Taxonomy, feeds_dir: Path) -> list[Path]:
    """``audio-visual.atom`` with every paper and ``<section>.atom`` per section with its papers."""
    feeds_dir.mkdir(parents=True, exist_ok=True)
    feeds = {ALL_FEED: ("new audio-visual papers", list(papers))}
    for section, name in taxonomy.sections.items():
        if is_task_label(f"{section}.any"):  # the task sections; techniques cut across them
            feeds[section] = (name, [paper for paper in papers if section in paper.sections])
    written = []
    for name, (title, members) in feeds.items():
        path = feeds_dir / f"{name}.atom"
        path.write_bytes(atom_feed(members, taxonomy, name, title))
        written.append(path)
    return written


def digest_summary(papers: Sequence[DigestPaper], taxonomy: Taxonomy, until: date, link: str) -> dict:
    """A Slack-compatible message (``text`` in Slack's markup) summarising the digest."""
    counts = {
        taxonomy.sections.get(section, "Other"): len(
            {paper.arxiv_id for members in labels.values() for paper in members}
        )
        for section, labels in _grouped(papers, taxonomy).items()
    }
    lines = [f"*{len(papers)} new audio-visual papers* ({until}) for {taxonomy.title}"]
    lines += [f"• {name}: {count}" for name, count in counts.items()]
    lines += [f"• <{paper.url}|{paper.title}>" for paper in papers[:5]]
    lines.append(f"Digest: {link}")
    return {"text": "\n".join(lines)}
