"""A tiny document model rendered to both Markdown and self-contained HTML, so the two never disagree."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    """A heading; level 2 is a section of the document (level 1 is its title)."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Plain text: written as it is in Markdown, escaped in HTML."""

    text: str


@dataclass(frozen=True)
class Numbers:
    """Headline figures shown as tiles: (value, caption)."""

    tiles: list[tuple[str, str]]


@dataclass(frozen=True)
class Table:
    """Rows of cells already formatted as text, one per column."""

    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    """A chart: referenced by file name in Markdown, embedded as data in the HTML."""

    path: Path
    alt: str


@dataclass(frozen=True)
class Links:
    """A list of (text, url, note) items."""

    items: list[tuple[str, str, str]]


@dataclass(frozen=True)
class Code:
    """A query behind a number, under a title that says which number."""

    title: str
    sql: str


Block = Heading | Paragraph | Numbers | Table | Image | Links | Code


@dataclass
class Document:
    """A title, a subtitle and blocks in order."""

    title: str
    subtitle: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        """Append blocks at the end."""
        self.blocks.extend(blocks)


def to_markdown(document: Document) -> str:
    """Markdown with images referenced by file name (they lie beside it)."""
    parts = [f"# {document.title}", f"_{document.subtitle}_"]
    for block in document.blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Numbers):
            parts.append("\n".join(f"- **{value}** {caption}" for value, caption in block.tiles))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(block.columns) + " |", "|" + "---|" * len(block.columns)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in block.rows]
            parts.append("\n".join(lines))
        elif isinstance(block, Image):
            parts.append(f"![{block.alt}]({block.path.name})")
        elif isinstance(block, Links):
            parts.append("\n".join(f"- [{text}]({url}){f' {note}' if note else ''}" for text, url, note in block.items))
        elif isinstance(block, Code):
            parts.append(f"**{block.title}**\n\n```sql\n{block.sql}\n```")
    return "\n\n".join(parts) + "\n"


_CSS = """
body {font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222;
line-height: 1.45;} h1 {margin-bottom: 0.2em;} .sub {color: #666; margin-top: 0;}
.numbers {display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0;} .numbers div {background: #f3f5f8;
padding: 0.7em 1.1em; border-radius: 6px; min-width: 9em;} .numbers b {font-size: 1.5em; display: block;}
table {border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em;} th, td {border-bottom: 1px solid #ddd;
padding: 0.3em 0.7em; text-align: left; vertical-align: top;} th {background: #f3f5f8;}
img {max-width: 100%;} pre {background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.82em;}
li {margin-bottom: 0.3em;} small {color: #666;}
"""
# Lets a browser test tell that every chart decoded: the body gets data-charts-loaded="N".
_CHART_CHECK = """<script>window.addEventListener('load', () => {
const images = [...document.querySelectorAll('img')];
document.body.dataset.chartsLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
document.body.dataset.charts = images.length;});</script>"""


def to_html(document: Document) -> str:
    """One self-contained HTML file: charts embedded as data URIs."""
    escape = html.escape
    body = [f"<h1>{escape(document.title)}</h1><p class='sub'>{escape(document.subtitle)}</p>"]
    for block in document.blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{escape(block.text)}</p>")
        elif isinstance(block, Numbers):
            tiles = "".join(f"<div><b>{escape(value)}</b>{escape(caption)}</div>" for value, caption in block.tiles)
            body.append(f"<div class='numbers'>{tiles}</div>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{escape(column)}</th>" for column in block.columns)
            rows = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Image):
            data = base64.b64encode(block.path.read_bytes()).decode()
            body.append(f"<img alt='{escape(block.alt)}' src='data:image/png;base64,{data}'>")
        elif isinstance(block, Links):
            items = "".join(
                f"<li><a href='{escape(url)}'>{escape(text)}</a>"
                + (f" <small>{escape(note)}</small>" if note else "")
                + "</li>"
                for text, url, note in block.items
            )
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Code):
            body.append(f"<p><b>{escape(block.title)}</b></p><pre>{escape(block.sql)}</pre>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(document.title)}</title>"
        f"<style>{_CSS}</style>{_CHART_CHECK}</head><body>{''.join(body)}</body></html>"
    )
