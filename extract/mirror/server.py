"""An arXiv-compatible HTTP server over real corpus metadata, for tests and demos.

``/api/query`` answers the arXiv API (search_query, id_list, start, max_results, sortBy, sortOrder)
in Atom; ``/pdf/<id>[v<n>]`` serves the real PDF from the fixtures folder when there is one, else a
generated one. A paper's ``announced`` date stands for its submission date.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from extract.mirror.atom import render_error, render_feed
from extract.mirror.pdfgen import generate_pdf
from extract.mirror.query import QueryError, parse_query
from extract.mirror.records import MirrorRecord, load_records

logger = logging.getLogger(__name__)

_MAX_RESULTS_CAP = 30_000  # arXiv refuses larger slices
_PDF_PATH = re.compile(r"^/pdf/(?P<id>.+?)(?:v(?P<version>\d+))?(?:\.pdf)?$")
_REFERENCES_PER_PAPER = 5
_SORT_KEYS = {
    "submittedDate": lambda record: (record.published, record.arxiv_id),
    "lastUpdatedDate": lambda record: (record.updated, record.arxiv_id),
    "relevance": lambda record: record.order,
}


@dataclass
class MirrorData:
    """What the mirror serves: records and real PDFs, with a small cache of query results."""

    records: dict[str, MirrorRecord]
    pdf_files: dict[str, Path]

    def __post_init__(self) -> None:
        self._by_category: dict[str, list[MirrorRecord]] = {}
        for record in sorted(self.records.values(), key=lambda item: item.arxiv_id):
            self._by_category.setdefault(record.primary_category, []).append(record)
        self._cache: OrderedDict[tuple[str, str, str], list[MirrorRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, query: str, sort_by: str, sort_order: str) -> list[MirrorRecord]:
        """All records matching ``query`` in the requested order (cached: clients page through them)."""
        key = (query, sort_by, sort_order)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        predicate = parse_query(query)
        matches = [record for record in self.records.values() if predicate(record)]
        matches.sort(key=_SORT_KEYS[sort_by], reverse=sort_order == "descending")
        with self._lock:
            self._cache[key] = matches
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return matches

    def references_for(self, record: MirrorRecord) -> list[MirrorRecord]:
        """Earlier papers of the same primary category, picked deterministically, as the paper's references."""
        same_category = self._by_category.get(record.primary_category, [])
        earlier = [item for item in same_category if item.arxiv_id < record.arxiv_id]
        if not earlier:
            return []
        seed = int(hashlib.sha256(record.arxiv_id.encode()).hexdigest(), 16)
        picks = {earlier[(seed >> (8 * index)) % len(earlier)].arxiv_id: None for index in range(_REFERENCES_PER_PAPER)}
        return [self.records[arxiv_id] for arxiv_id in picks]

    def pdf_bytes(self, arxiv_id: str) -> bytes | None:
        """The paper's PDF: the real file if the fixtures hold it, else a generated one; None if unknown."""
        if arxiv_id in self.pdf_files:
            return self.pdf_files[arxiv_id].read_bytes()
        record = self.records.get(arxiv_id)
        if record is None:
            return None
        return generate_pdf(record, self.references_for(record))


def index_pdf_fixtures(pdf_dir: Path | None) -> dict[str, Path]:
    """Real PDFs named ``<id>v<n>.pdf`` in ``pdf_dir``, by arXiv id."""
    if pdf_dir is None or not pdf_dir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(pdf_dir.glob("*.pdf")):
        match = re.fullmatch(r"(?P<id>\d{4}\.\d{4,5})v\d+", path.stem)
        if match:
            found[match["id"]] = path
    return found


def load_mirror_data(corpus: Iterable[Path], pdf_dir: Path | None) -> MirrorData:
    """Read the corpus files and index the real PDFs."""
    return MirrorData(records=load_records(corpus), pdf_files=index_pdf_fixtures(pdf_dir))


class _Handler(BaseHTTPRequestHandler):
    server: MirrorServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        logger.debug("mirror: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        url = urlsplit(self.path)
        try:
            if url.path in {"/api/query", "/api/query/"}:
                self._api(parse_qs(url.query))
            elif url.path.startswith("/pdf/"):
                self._pdf(url.path)
            else:
                self._send(404, b"not found", "text/plain")
        except Exception:  # a bug in the mirror must answer 500, as a real server would, not drop the socket
            logger.exception("mirror failed on %s", self.path)
            self._send(500, b"internal error", "text/plain")

    def _api(self, params: dict[str, list[str]]) -> None:
        base_url = self.server.base_url
        search_query = params.get("search_query", [""])[0]
        id_list = params.get("id_list", [""])[0]
        sort_by = params.get("sortBy", ["relevance"])[0]
        sort_order = params.get("sortOrder", ["descending"])[0]
        try:
            start = int(params.get("start", ["0"])[0])
            max_results = int(params.get("max_results", ["10"])[0])
            if start < 0 or max_results < 0:
                raise ValueError
        except ValueError:
            self._send(
                400,
                render_error("start and max_results must be non-negative integers", base_url),
                "application/atom+xml",
            )
            return
        if sort_by not in _SORT_KEYS or sort_order not in {"ascending", "descending"}:
            self._send(
                400, render_error(f"unknown sortBy/sortOrder {sort_by}/{sort_order}", base_url), "application/atom+xml"
            )
            return
        try:
            matches = self._matches(search_query, id_list, sort_by, sort_order)
        except QueryError as error:
            self._send(400, render_error(str(error), base_url), "application/atom+xml")
            return
        page = matches[start : start + min(max_results, _MAX_RESULTS_CAP)]
        body = render_feed(
            page,
            search_query=search_query,
            id_list=id_list,
            start=start,
            max_results=max_results,
            total=len(matches),
            base_url=base_url,
        )
        self._send(200, body, "application/atom+xml; charset=utf-8")

    def _matches(self, search_query: str, id_list: str, sort_by: str, sort_order: str) -> list[MirrorRecord]:
        data = self.server.data
        if id_list:
            wanted = [re.sub(r"v\d+$", "", item.strip()) for item in id_list.split(",") if item.strip()]
            records = [data.records[item] for item in wanted if item in data.records]
            if search_query:
                predicate = parse_query(search_query)
                records = [record for record in records if predicate(record)]
            return records
        if not search_query:
            return []
        return data.search(search_query, sort_by, sort_order)

    def _pdf(self, path: str) -> None:
        match = _PDF_PATH.match(path)
        body = self.server.data.pdf_bytes(match["id"]) if match else None
        if body is None:
            self._send(404, b"<html><body>Paper not found</body></html>", "text/html")
            return
        self._send(200, body, "application/pdf")


class MirrorServer(ThreadingHTTPServer):
    """The mirror's HTTP server; ``base_url`` is where clients reach it."""

    daemon_threads = True

    def __init__(self, data: MirrorData, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.data = data

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, name="avi-mirror", daemon=True)
        thread.start()
        return thread
