"""PDF download and structured text extraction with PyMuPDF, safe against hostile files.

Reading order is rebuilt from text blocks (``get_text(sort=True)`` is far slower): blocks that span
the page are kept in place, and between two of them the left column is read before the right one.
The rotated arXiv stamp, running headers and footers and page numbers are dropped, and words broken by
a hyphen at a line end are joined.

Every extraction runs in a worker process under a time and a memory limit (:class:`ExtractionPool`),
so a PDF that makes MuPDF spin or swell becomes a row with a reason, never a crashed run. What is not
a PDF (an HTML error page named ``.pdf``), an encrypted file or one over the page cap is refused; a
truncated file that MuPDF silently repaired is read and flagged ``repaired``.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import re
import resource
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pymupdf
import requests

from core.records import Extraction
from core.settings import ArxivAccess
from extract.mentions import MentionDictionary, find_mentions
from extract.structure import read_structure

logger = logging.getLogger(__name__)

_HYPHENATED_BREAK = re.compile(r"([a-z])-\n([a-z])")
_MARGIN_SHARE = 0.08  # top and bottom share of a page where running headers and footers live


class PdfRefused(ValueError):
    """The bytes are not a PDF this pipeline will read; the message says why."""


def pdf_url(arxiv_url: str, arxiv_id: str, version: int) -> str:
    """Where arXiv (or the mirror) at ``arxiv_url`` serves a paper's PDF."""
    return f"{arxiv_url.rstrip('/')}/pdf/{arxiv_id}v{version}"


def cache_path(pdf_dir: Path, sha256: str) -> Path:
    """Content-addressed location of a cached PDF (safe for ids with ``/`` such as ``hep-th/9901001``)."""
    folder = pdf_dir / sha256[:2]
    folder.mkdir(exist_ok=True)
    return folder / f"{sha256}.pdf"


def download_pdf(
    session: requests.Session, access: ArxivAccess, pdf_dir: Path, max_bytes: int, arxiv_id: str, version: int
) -> Path:
    """Fetch a PDF into the content-addressed cache under ``pdf_dir``; raises on HTTP errors, PDFs over
    ``max_bytes`` and non-PDF answers.

    A body cut short or an error page instead of the PDF is fetched again, with backoff, before giving up.
    """
    for attempt in range(access.retries + 1):
        try:
            response = session.get(pdf_url(access.url, arxiv_id, version))
            response.raise_for_status()
            body = response.content
            if not body.startswith(b"%PDF"):
                raise PdfRefused(f"not a PDF (content-type {response.headers.get('Content-Type')!r})")
            break
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError, PdfRefused):
            # HTTP error statuses were already retried by the session; these come from the body itself
            if attempt == access.retries:
                raise
            time.sleep(access.backoff_s * 2**attempt)
    if len(body) > max_bytes:
        raise PdfRefused(f"PDF of {len(body)} bytes is over the {max_bytes}-byte cap")
    path = cache_path(pdf_dir, hashlib.sha256(body).hexdigest())
    if not path.exists():
        temporary = path.with_suffix(".part")
        temporary.write_bytes(body)
        temporary.replace(path)
    return path


def discard_read_pdfs(pdf_dir: Path, read: set[str]) -> int:
    """Remove the cached PDFs under ``pdf_dir`` whose SHA-256 is in ``read`` (their text is stored), leaving
    those whose text could not be read; returns how many were removed. The whole cache is swept, not one
    run's downloads, so the PDFs of a run stopped between storing their texts and removing them go too."""
    removed = 0
    for path in pdf_dir.glob("*/*.pdf"):
        if path.stem in read:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _reading_order(blocks: list[tuple], page_width: float) -> list[tuple]:
    """One page's text blocks in reading order (wide blocks in place, columns left then right)."""
    middle = page_width / 2
    text_blocks = []
    for x0, y0, x1, y1, text, _number, block_type in blocks:
        if block_type != 0 or not text.strip():
            continue
        if (x1 - x0) < 0.05 * page_width and (y1 - y0) > 4 * (x1 - x0):
            continue  # rotated margin stamp ("arXiv:2605.01234v1 [cs.CV] ...")
        text_blocks.append((x0, y0, x1, y1, text))
    ordered: list[tuple] = []
    pending: list[tuple] = []

    def flush() -> None:
        ordered.extend(sorted((b for b in pending if (b[0] + b[2]) / 2 < middle), key=lambda b: (b[1], b[0])))
        ordered.extend(sorted((b for b in pending if (b[0] + b[2]) / 2 >= middle), key=lambda b: (b[1], b[0])))
        pending.clear()

    for block in sorted(text_blocks, key=lambda b: (b[1], b[0])):
        if block[0] < middle - 0.05 * page_width and block[2] > middle + 0.05 * page_width:
            flush()
            ordered.append(block)
        else:
            pending.append(block)
    flush()
    return ordered


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split()))


def _drop_running_lines(pages: list[tuple[float, list[tuple]]]) -> list[str]:
    """Block texts of all pages without headers, footers and page numbers (repeated margin lines)."""
    in_margin: Counter[str] = Counter()
    for height, blocks in pages:
        for block in blocks:
            if block[3] < height * _MARGIN_SHARE or block[1] > height * (1 - _MARGIN_SHARE):
                in_margin[_margin_key(block[4])] += 1
    repeated = {key for key, count in in_margin.items() if count >= max(2, len(pages) // 3)}
    kept = []
    for height, blocks in pages:
        for block in blocks:
            margin = block[3] < height * _MARGIN_SHARE or block[1] > height * (1 - _MARGIN_SHARE)
            key = _margin_key(block[4])
            if margin and (key in repeated or re.fullmatch(r"[#\s\-–]*", key)):
                continue
            kept.append(_HYPHENATED_BREAK.sub(r"\1\2", block[4].strip()))
    return kept


@cache
def _dictionary() -> MentionDictionary:
    return MentionDictionary()


def extract_document(pdf_bytes: bytes, max_pages: int = 300) -> Extraction:
    """Structured text of a PDF; raises :class:`PdfRefused` for what is not a readable PDF."""
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
        if document.page_count > max_pages:
            raise PdfRefused(f"{document.page_count} pages is over the {max_pages}-page cap")
        if document.page_count == 0:
            raise PdfRefused("no pages")
        pages = [(page.rect.height, _reading_order(page.get_text("blocks"), page.rect.width)) for page in document]
        repaired = document.is_repaired
        n_pages = document.page_count
    blocks = _drop_running_lines(pages)
    text = "\n\n".join(blocks)
    return Extraction(
        status="repaired" if repaired else "ok",
        reason="MuPDF repaired a damaged file (truncated?)" if repaired else None,
        sha256=hashlib.sha256(pdf_bytes).hexdigest(),
        n_pages=n_pages,
        text=text,
        structure=read_structure(blocks),
        mentions=find_mentions(text, _dictionary()),
    )


def extract_file(path: Path, max_pages: int = 300) -> Extraction:
    """Like :func:`extract_document` for a file, turning every failure into an Extraction with a reason."""
    try:
        return extract_document(Path(path).read_bytes(), max_pages)
    except PdfRefused as refusal:
        return Extraction(status="refused", reason=str(refusal))
    except MemoryError:
        return Extraction(status="failed", reason="memory limit exceeded")
    except Exception as error:  # noqa: BLE001 - any MuPDF failure becomes a row, never a crashed run
        return Extraction(status="failed", reason=f"{type(error).__name__}: {error}")


def _limit_worker_memory(headroom_bytes: int) -> None:
    """Cap the worker's address space at its size now plus ``headroom_bytes`` (what one extraction may use)."""
    size_now = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    limit = size_now + headroom_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class ExtractionPool:
    """Worker processes that extract PDFs in parallel, each file under a time and a memory limit.

    ``memory_bytes`` is what a worker may allocate beyond its size at start.
    """

    def __init__(self, workers: int, timeout_s: float, memory_bytes: int, max_pages: int = 300) -> None:
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.max_pages = max_pages
        # forkserver: never fork a parent that holds torch's threads
        self._context = multiprocessing.get_context("forkserver")
        self._pool: multiprocessing.pool.Pool | None = None

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def _workers(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            self._pool = self._context.Pool(
                self.workers, initializer=_limit_worker_memory, initargs=(self.memory_bytes,), maxtasksperchild=100
            )
        return self._pool

    def map(self, items: Iterable[tuple[str, Path]]) -> Iterator[tuple[str, Extraction]]:
        """(key, extraction) for each (key, path), each once; a file over the time limit fails with a reason."""
        pending = list(items)
        while pending:
            paths = dict(pending)
            pool = self._workers()
            submitted = [(key, pool.apply_async(extract_file, (path, self.max_pages))) for key, path in pending]
            pending = []
            for index, (key, result) in enumerate(submitted):
                try:
                    yield key, result.get(timeout=self.timeout_s)
                except multiprocessing.TimeoutError:
                    yield key, Extraction(status="failed", reason=f"extraction took over {self.timeout_s:g}s")
                    # a stuck worker cannot be interrupted: keep what finished, replace the pool, redo the rest
                    later = submitted[index + 1 :]
                    finished = [(k, r) for k, r in later if r.ready()]
                    pending = [(k, paths[k]) for k, r in later if not r.ready()]
                    pool.terminate()
                    self._pool = None
                    for finished_key, finished_result in finished:
                        yield finished_key, finished_result.get()
                    break
