"""Harvesting paper metadata through the ``arxiv`` package, against arXiv or the local mirror.

Only the base URL differs between the two. The package's own client sets no timeout and retries
without backoff, so it is given our :class:`~extract.http.PoliteSession` and does no pausing itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import arxiv

from avi_radar.settings import Settings
from extract.http import polite_session

logger = logging.getLogger(__name__)

_VERSIONED_ID = re.compile(r"abs/(?P<id>.+?)v(?P<version>\d+)$")


@dataclass(frozen=True)
class PaperRecord:
    """One paper at one version, as arXiv describes it."""

    arxiv_id: str
    version: int
    title: str
    abstract: str | None
    authors: list[str]
    categories: list[str]
    primary_category: str | None
    published: datetime | None
    updated: datetime | None
    comment: str | None = None


_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_STYLE_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}$")


def date_from_id(arxiv_id: str) -> date | None:
    """The first day of the month an arXiv id was issued, from its YYMM."""
    match = _NEW_STYLE_ID.match(arxiv_id) or _OLD_STYLE_ID.match(arxiv_id)
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    year += 2000 if year < 91 else 1900
    return date(year, month, 1) if 1 <= month <= 12 else None


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


class ArxivHarvester:
    """Pages through the arXiv API for a query with the ``arxiv`` package, politely."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = arxiv.Client(
            page_size=settings.page_size, delay_seconds=0.0, num_retries=settings.request_retries
        )
        # The package builds every URL from this format string; pointing it at the mirror is all it takes.
        self.client.query_url_format = settings.arxiv_url.rstrip("/") + "/api/query?{}"
        self.client._session = polite_session(settings)

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

    def by_ids(self, arxiv_ids: list[str]) -> Iterator[PaperRecord]:
        """The newest version of each of the given papers."""
        search = arxiv.Search(id_list=arxiv_ids, max_results=len(arxiv_ids))
        for result in self.client.results(search):
            yield record_from_result(result)
