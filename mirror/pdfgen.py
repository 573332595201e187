"""Stand-in PDFs for papers the mirror has no real PDF of, laid out like an arXiv preprint.

Title and authors across the top, then two columns: an Abstract heading, a few numbered sections
made of the abstract's sentences, and References that cite other corpus papers by arXiv id. The left
margin carries an arXiv-style stamp, as real arXiv PDFs do.
"""

from __future__ import annotations

import io
import re
from html import escape

import pymupdf

from mirror.records import MirrorRecord

_PAGE = pymupdf.paper_rect("letter")
_MARGIN = 54
_GUTTER = 18
_CSS = """
* {font-family: sans-serif; font-size: 9pt; line-height: 1.25;}
h1 {font-size: 15pt; text-align: center; margin-bottom: 6pt;}
p.authors {text-align: center; font-size: 10pt;}
h2 {font-size: 11pt; margin-top: 8pt; margin-bottom: 3pt;}
p {text-align: justify; margin-bottom: 4pt;}
"""
_SECTIONS = ("1 Introduction", "2 Method", "3 Experiments", "4 Conclusion")


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]


def _body_html(record: MirrorRecord, references: list[MirrorRecord]) -> str:
    sentences = _sentences(record.abstract) or [record.title]
    per_section = max(1, -(-len(sentences) // len(_SECTIONS)))
    html = [f"<h2>Abstract</h2><p>{escape(record.abstract or record.title)}</p>"]
    for index, heading in enumerate(_SECTIONS):
        chunk = sentences[index * per_section : (index + 1) * per_section] or sentences[-1:]
        html.append(f"<h2>{heading}</h2><p>{escape(' '.join(chunk))}</p>")
    html.append("<h2>References</h2>")
    for number, cited in enumerate(references, start=1):
        authors = ", ".join(cited.authors[:3]) + (" et al." if len(cited.authors) > 3 else "")
        html.append(
            f"<p>[{number}] {escape(authors)}. {escape(cited.title)}. "
            f"arXiv:{cited.arxiv_id}, {cited.published.year}.</p>"
        )
    return "".join(html)


def _fill(story: pymupdf.Story, device: pymupdf.Device, rects: list[pymupdf.Rect]) -> bool:
    """Fill rectangles of one page in order; True while the story has more to place."""
    for rect in rects:
        more, _ = story.place(rect)
        story.draw(device)
        if not more:
            return False
    return True


def _columns(top: float) -> list[pymupdf.Rect]:
    width = (_PAGE.width - 2 * _MARGIN - _GUTTER) / 2
    lefts = (_MARGIN, _MARGIN + width + _GUTTER)
    return [pymupdf.Rect(left, top, left + width, _PAGE.height - _MARGIN) for left in lefts]


def generate_pdf(record: MirrorRecord, references: list[MirrorRecord]) -> bytes:
    """A two-column PDF built from the record's title, authors and abstract."""
    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    header = pymupdf.Story(
        html=f"<h1>{escape(record.title)}</h1><p class='authors'>{escape(', '.join(record.authors))}</p>",
        user_css=_CSS,
    )
    body = pymupdf.Story(html=_body_html(record, references), user_css=_CSS)

    device = writer.begin_page(_PAGE)
    _, filled = header.place(pymupdf.Rect(_MARGIN, _MARGIN, _PAGE.width - _MARGIN, _MARGIN + 160))
    header.draw(device)
    more = _fill(body, device, _columns(pymupdf.Rect(filled).y1 + 12))
    writer.end_page()
    while more:
        more = _fill(body, writer.begin_page(_PAGE), _columns(_MARGIN))
        writer.end_page()
    writer.close()

    document = pymupdf.open("pdf", buffer.getvalue())
    stamp = f"arXiv:{record.arxiv_id}v{record.version}  [{record.primary_category}]  {record.published:%d %b %Y}"
    document[0].insert_text((28, _PAGE.height - 200), stamp, fontsize=14, rotate=90, color=(0.5, 0.5, 0.5))
    # the same paper must always be the same bytes, as on arXiv: fixed dates, no fresh file id
    stamp_date = f"D:{record.published:%Y%m%d%H%M%S}Z"
    document.set_metadata(
        {
            "title": record.title,
            "author": ", ".join(record.authors[:10]),
            "producer": "avi-radar mirror",
            "creationDate": stamp_date,
            "modDate": stamp_date,
        }
    )
    return document.tobytes(garbage=3, deflate=True, no_new_id=True)
