"""An arXiv-compatible HTTP server over real corpus metadata, for tests and demos.

``/api/query`` answers the arXiv API (search_query, id_list, start, max_results, sortBy, sortOrder)
in Atom; ``/pdf/<id>[v<n>]`` serves the real PDF from the fixtures folder when there is one, else a
generated one. A paper's ``announced`` date stands for its submission date. With faults switched on,
a share of requests fails the way arXiv and networks do: 429 with Retry-After, 503, an answer slower
than the client's timeout, a body cut short, malformed XML, or an HTML error page sent with status 200.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import sys
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mirror import oai
from mirror.atom import render_error, render_feed
from mirror.pdfgen import generate_pdf
from mirror.query import QueryError, parse_query
from mirror.records import MirrorRecord, load_records

logger = logging.getLogger(__name__)

_ATOM = "application/atom+xml; charset=utf-8"
_XML = "text/xml; charset=utf-8"
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
        self.by_datestamp = sorted(self.records.values(), key=lambda record: (record.updated, record.arxiv_id))
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

    def _send(self, answer: Answer, cut_at: int | None = None) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body if cut_at is None else answer.body[:cut_at])
        if cut_at is not None:
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        url = urlsplit(self.path)
        fault = self.server.faults.draw()
        try:
            if url.path in {"/api/query", "/api/query/"}:
                answer = self._api(parse_qs(url.query))
            elif url.path.startswith("/pdf/"):
                answer = self._pdf(url.path)
            elif url.path in {"/oai2", "/oai"}:
                answer = self._oai({key: values[0] for key, values in parse_qs(url.query).items()})
            else:
                answer = Answer(404, b"not found", "text/plain")
        except Exception:  # a bug in the mirror must answer 500, as a real server would, not drop the socket
            logger.exception("mirror failed on %s", self.path)
            answer = Answer(500, b"internal error", "text/plain")
        if fault:
            logger.info("mirror: fault %s on %s", fault, self.path)
            self._send_with_fault(fault, answer)
        else:
            self._send(answer)

    def _send_with_fault(self, fault: str, answer: Answer) -> None:
        if fault == "429":
            self._send(Answer(429, b"Rate exceeded.", "text/plain", {"Retry-After": "1"}))
        elif fault == "503":
            self._send(Answer(503, b"<html><body>Service Unavailable</body></html>", "text/html"))
        elif fault == "html200":
            self._send(Answer(200, b"<html><body><h1>arXiv is busy</h1>Please retry.</body></html>", "text/html"))
        elif fault == "slow":
            time.sleep(self.server.faults.slow_s)
            self._send(answer)
        elif fault == "truncated" or (fault == "malformed" and answer.content_type not in {_ATOM, _XML}):
            self._send(answer, cut_at=len(answer.body) // 2)
        else:  # malformed XML: a slice taken out of the middle, sent with a length that matches
            middle = len(answer.body) // 2
            self._send(
                Answer(
                    answer.status,
                    answer.body[: middle - 40] + answer.body[middle + 40 :],
                    answer.content_type,
                    answer.headers,
                )
            )

    def _api(self, params: dict[str, list[str]]) -> Answer:
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
            return Answer(400, render_error("start and max_results must be non-negative integers", base_url), _ATOM)
        if sort_by not in _SORT_KEYS or sort_order not in {"ascending", "descending"}:
            return Answer(400, render_error(f"unknown sortBy/sortOrder {sort_by}/{sort_order}", base_url), _ATOM)
        try:
            matches = self._matches(search_query, id_list, sort_by, sort_order)
        except QueryError as error:
            return Answer(400, render_error(str(error), base_url), _ATOM)
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
        return Answer(200, body, _ATOM)

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

    def _oai(self, params: dict[str, str]) -> Answer:
        base_url = self.server.base_url
        verb = params.get("verb")
        if verb == "ListRecords":
            return Answer(
                200, oai.list_records(self.server.data.by_datestamp, params, base_url, self.server.oai_page_size), _XML
            )
        if verb == "Identify":
            return Answer(200, oai.identify(base_url), _XML)
        return Answer(200, oai.error("badVerb", f"unsupported verb {verb!r}", base_url), _XML)

    def _pdf(self, path: str) -> Answer:
        match = _PDF_PATH.match(path)
        body = self.server.data.pdf_bytes(match["id"]) if match else None
        if body is None:
            return Answer(404, b"<html><body>Paper not found</body></html>", "text/html")
        return Answer(200, body, "application/pdf")


@dataclass(frozen=True)
class Answer:
    """A response before it is sent (so a fault can be applied to it)."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class Faults:
    """Which requests fail and how: a seeded draw per request, or a fixed schedule by request number."""

    CLASSES = ("429", "503", "slow", "truncated", "malformed", "html200")

    def __init__(
        self,
        rate: float = 0.0,
        classes: tuple[str, ...] = CLASSES,
        slow_s: float = 31.0,
        seed: int = 0,
        schedule: dict[int, str] | None = None,
    ) -> None:
        unknown = (set(classes) | set((schedule or {}).values())) - set(self.CLASSES)
        if unknown or not 0 <= rate <= 1:
            raise ValueError(f"fault rate must be in [0, 1] and classes among {self.CLASSES}")
        self.rate, self.classes, self.slow_s = rate, classes, slow_s
        self.schedule = schedule or {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._requests = 0
        self.drawn: Counter[str] = Counter()

    def draw(self) -> str | None:
        """The fault for the next request, or None."""
        with self._lock:
            number, self._requests = self._requests, self._requests + 1
            fault = self.schedule.get(number)
            if fault is None and self.rate and self._random.random() < self.rate:
                fault = self._random.choice(self.classes)
            if fault:
                self.drawn[fault] += 1
            return fault


class MirrorServer(ThreadingHTTPServer):
    """The mirror's HTTP server; ``base_url`` is where clients reach it."""

    daemon_threads = True

    def __init__(
        self,
        data: MirrorData,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        oai_page_size: int = oai.PAGE_SIZE,
    ) -> None:
        super().__init__((host, port), _Handler)
        self.data = data
        self.faults = faults or Faults()
        self.oai_page_size = oai_page_size  # smaller pages: more requests for faults to fall on

    @property
    def base_url(self) -> str:
        """The URL to give the client as ``AVI_ARXIV_URL`` (the port is the one bound, also when 0 was asked)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that went away mid-answer (killed, or timed out on a slow fault) is routine here: say so in
        one log line instead of a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.info("mirror: client %s:%s went away (%s)", *client_address[:2], type(error).__name__)
            return
        super().handle_error(request, client_address)

    def start_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests); stop with ``shutdown()``."""
        thread = threading.Thread(target=self.serve_forever, name="avi-mirror", daemon=True)
        thread.start()
        return thread
