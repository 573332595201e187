"""Harvesting paper metadata through the ``arxiv`` package, against arXiv or the local mirror.

Only the base URL differs between the two. The package's own client sets no timeout and retries
without backoff, so it is given our :class:`~extract.http.PoliteSession` and does no pausing itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import date
from urllib.parse import parse_qs, urlsplit

import arxiv
import requests
from arxiv import _feed as arxiv_feed
from lxml import etree

from core.records import PaperRecord
from core.settings import ArxivAccess
from extract.http import RequestGate, polite_session

logger = logging.getLogger(__name__)

_VERSIONED_ID = re.compile(r"abs/(?P<id>.+?)v(?P<version>\d+)$")


def split_versioned_id(entry_id: str) -> tuple[str, int]:
    """``('2605.04045', 2)`` for ``http://arxiv.org/abs/2605.04045v2``; version 1 when none is given."""
    match = _VERSIONED_ID.search(entry_id)
    if match:
        return match["id"], int(match["version"])
    return entry_id.rsplit("/abs/", 1)[-1], 1


def record_from_result(result: arxiv.Result) -> PaperRecord:
    """Convert the arxiv package's ``Result`` into a :class:`PaperRecord`."""
    arxiv_id, version = split_versioned_id(result.entry_id)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=" ".join(result.title.split()),
        abstract=" ".join(result.summary.split()) or None,
        authors=[author.name for author in result.authors],
        categories=list(result.categories),
        primary_category=result.primary_category or None,
        published=result.published,
        updated=result.updated,
        comment=result.comment,
    )


def category_window_query(categories: list[str], since: date, until: date) -> str:
    """The API query for papers of any of ``categories`` submitted from ``since`` through ``until``."""
    if not categories:
        raise ValueError("no arXiv categories configured (AVI_CATEGORIES)")
    cats = " OR ".join(f"cat:{category}" for category in categories)
    window = f"submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]"
    return f"({cats}) AND {window}"


class FeedError(RuntimeError):
    """An API answer that is not the complete Atom page asked for (HTML error page, cut or malformed XML)."""


class ValidatingClient(arxiv.Client):
    """The ``arxiv`` package's client with every page checked before it is trusted.

    The package treats an empty first page as "no results" and parses broken XML leniently, so an HTML
    error page with status 200 or a cut-off response would silently lose papers. Here a page must be an
    Atom feed with ``opensearch:totalResults`` and exactly the entries its position implies; anything else
    is retried with backoff and, after the last try, fails the run loudly.
    """

    def __init__(self, session: requests.Session, page_size: int, retries: int, backoff_s: float) -> None:
        super().__init__(page_size=page_size, delay_seconds=0.0, num_retries=retries)
        self._session = session
        self.backoff_s = backoff_s

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> arxiv_feed.ParsedFeed:
        for attempt in range(self.num_retries + 1):
            try:
                return self._fetch_page(url)
            except (FeedError, requests.RequestException) as error:
                if attempt == self.num_retries:
                    raise FeedError(f"gave up after {attempt + 1} tries: {error} ({url})") from error
                pause = self.backoff_s * 2**attempt
                logger.warning("bad API page from %s: %s; retrying in %.1fs", url, error, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _fetch_page(self, url: str) -> arxiv_feed.ParsedFeed:
        response = self._session.get(url)
        if response.status_code != 200:
            raise FeedError(f"HTTP {response.status_code}")
        body = response.content
        if b"<!ENTITY" in body:
            raise FeedError("the answer declares XML entities (refused: entity expansion)")
        if b"<feed" not in body[:500] or b"opensearch:totalResults" not in body:
            raise FeedError(f"not an Atom feed ({response.headers.get('Content-Type')!r}, {len(body)} bytes)")
        if not body.rstrip().endswith(b"</feed>"):
            raise FeedError("the feed is cut off")
        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as error:
            raise FeedError(f"malformed XML: {error}") from None
        feed = arxiv_feed.parse(body)
        query = parse_qs(urlsplit(url).query)
        start, asked = int(query.get("start", ["0"])[0]), int(query.get("max_results", ["10"])[0])
        expected = max(0, min(asked, feed.header.total_results - start))
        entries = len(root.findall("{http://www.w3.org/2005/Atom}entry"))
        if entries != expected:
            raise FeedError(f"{entries} entries where {expected} were due")
        if len(feed.results) < entries:  # the package skipped entries lacking an id or a date
            logger.error(
                "%s: %d of %d entries lack required fields and were skipped", url, entries - len(feed.results), entries
            )
        return feed


class ArxivHarvester:
    """Pages through the arXiv API for a query with the ``arxiv`` package, politely."""

    def __init__(self, access: ArxivAccess, gate: RequestGate | None = None) -> None:
        self.client = ValidatingClient(polite_session(access, gate), access.page_size, access.retries, access.backoff_s)
        # The package builds every URL from this format string; pointing it at the mirror is all it takes.
        self.client.query_url_format = access.url.rstrip("/") + "/api/query?{}"

    def search(self, query: str) -> Iterator[PaperRecord]:
        """Every paper matching ``query``, oldest submission first."""
        search = arxiv.Search(
            query=query,
            max_results=None,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Ascending,
        )
        for result in self.client.results(search):
            yield record_from_result(result)

    def window(self, categories: list[str], since: date, until: date) -> Iterator[PaperRecord]:
        """Every paper of the categories submitted in the window (both ends included)."""
        query = category_window_query(categories, since, until)
        logger.info("harvesting %s", query)
        yield from self.search(query)
