"""PDF download and text extraction with PyMuPDF.

Reading order is rebuilt from text blocks (``get_text(sort=True)`` is 20x slower): blocks that span
the page are kept in place, and between two of them the left column is read before the right one.
The rotated arXiv stamp in the margin is dropped. A file that is not a PDF (an HTML error page named
``.pdf``, say) is refused rather than read.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pymupdf
import requests

from avi_radar.settings import Settings

logger = logging.getLogger(__name__)

_HYPHENATED_BREAK = re.compile(r"(\w)-\n(\w)")


class PdfRefused(ValueError):
    """The bytes are not a PDF this pipeline will read; the message says why."""


@dataclass(frozen=True)
class PdfText:
    """Text read from one PDF."""

    text: str
    n_pages: int
    sha256: str


def pdf_url(settings: Settings, arxiv_id: str, version: int) -> str:
    """Where arXiv (or the mirror) serves a paper's PDF."""
    return f"{settings.arxiv_url.rstrip('/')}/pdf/{arxiv_id}v{version}"


def cache_path(settings: Settings, sha256: str) -> Path:
    """Content-addressed location of a cached PDF (safe for ids with ``/`` such as ``hep-th/9901001``)."""
    folder = settings.pdf_dir / sha256[:2]
    folder.mkdir(exist_ok=True)
    return folder / f"{sha256}.pdf"


def download_pdf(session: requests.Session, settings: Settings, arxiv_id: str, version: int) -> bytes:
    """The PDF's bytes, kept in the content-addressed cache; raises on HTTP errors and non-PDF answers."""
    response = session.get(pdf_url(settings, arxiv_id, version))
    response.raise_for_status()
    body = response.content
    if len(body) > settings.max_pdf_bytes:
        raise PdfRefused(f"PDF of {len(body)} bytes is over the {settings.max_pdf_bytes}-byte cap")
    if not body.startswith(b"%PDF"):
        raise PdfRefused(f"not a PDF (content-type {response.headers.get('Content-Type')!r})")
    path = cache_path(settings, hashlib.sha256(body).hexdigest())
    if not path.exists():
        temporary = path.with_suffix(".part")
        temporary.write_bytes(body)
        temporary.replace(path)
    return body


def _reading_order(blocks: list[tuple], page_width: float) -> list[str]:
    """Texts of one page's text blocks in reading order (wide blocks in place, columns left then right)."""
    middle = page_width / 2
    text_blocks = []
    for x0, y0, x1, y1, text, _number, block_type in blocks:
        if block_type != 0 or not text.strip():
            continue
        if (x1 - x0) < 0.05 * page_width and (y1 - y0) > 4 * (x1 - x0):
            continue  # rotated margin stamp ("arXiv:2605.01234v1 [cs.CV] ...")
        text_blocks.append((x0, y0, x1, y1, text))
    ordered: list[str] = []
    pending: list[tuple] = []

    def flush() -> None:
        left = sorted((b for b in pending if (b[0] + b[2]) / 2 < middle), key=lambda b: (b[1], b[0]))
        right = sorted((b for b in pending if (b[0] + b[2]) / 2 >= middle), key=lambda b: (b[1], b[0]))
        ordered.extend(b[4] for b in left + right)
        pending.clear()

    for block in sorted(text_blocks, key=lambda b: (b[1], b[0])):
        spans_both_columns = block[0] < middle - 0.05 * page_width and block[2] > middle + 0.05 * page_width
        if spans_both_columns:
            flush()
            ordered.append(block[4])
        else:
            pending.append(block)
    flush()
    return ordered


def extract_text(pdf_bytes: bytes) -> PdfText:
    """Text of a PDF in reading order; raises :class:`PdfRefused` for what is not a readable PDF."""
    if not pdf_bytes:
        raise PdfRefused("empty file")
    if not pdf_bytes.startswith(b"%PDF"):
        raise PdfRefused("no %PDF header")
    try:
        document = pymupdf.open(stream=pdf_bytes, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError) as error:
        raise PdfRefused(f"unreadable PDF: {error}") from None
    with document:
        if not document.is_pdf:
            raise PdfRefused("not a PDF document")
        if document.needs_pass:
            raise PdfRefused("encrypted PDF")
        pages = []
        for page in document:
            pages.append("\n".join(_reading_order(page.get_text("blocks"), page.rect.width)))
        text = _HYPHENATED_BREAK.sub(r"\1\2", "\n\n".join(pages))
        return PdfText(text=text, n_pages=document.page_count, sha256=hashlib.sha256(pdf_bytes).hexdigest())
