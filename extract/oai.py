"""Harvesting through OAI-PMH (``ListRecords``, metadataPrefix ``arXiv``), the nightly source.

OAI datestamps say when a record was added or changed, new versions included, where the API's
``submittedDate`` misses papers announced days after submission. Sickle does the protocol (verbs,
resumption tokens, record objects); its requests go through our polite session, and every answer is
checked to be well-formed OAI-PMH before it is trusted, because Sickle, like the arxiv package, would
take an HTML error page or a cut-off answer at face value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import requests
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch
from sickle.response import OAIResponse

from core.records import PaperRecord
from core.settings import ArxivAccess
from extract.http import RequestGate, polite_session

logger = logging.getLogger(__name__)

_NS = {"oai": "http://www.openarchives.org/OAI/2.0/"}


class OaiError(RuntimeError):
    """An answer that is not well-formed OAI-PMH, after the last retry."""


def oai_set(category: str) -> str:
    """The OAI set holding a category: its archive (``cs.CV`` -> ``cs``; physics archives as ``physics:hep-th``)."""
    archive = category.split(".")[0]
    return archive if archive in {"cs", "eess", "math", "stat", "econ", "q-bio", "q-fin"} else f"physics:{archive}"


class PoliteSickle(Sickle):
    """Sickle whose requests use our session (timeouts, backoff, rate limit) and are validated."""

    def __init__(self, endpoint: str, session: requests.Session, retries: int, backoff_s: float) -> None:
        super().__init__(endpoint, max_retries=0)
        self.session, self.retries, self.backoff_s = session, retries, backoff_s

    def harvest(self, **kwargs: str) -> OAIResponse:
        """One OAI-PMH request, retried with backoff until the answer is well-formed OAI-PMH."""
        for attempt in range(self.retries + 1):
            try:
                response = self.session.get(self.endpoint, params=kwargs)
                if response.status_code != 200:
                    raise OaiError(f"HTTP {response.status_code}")
                if b"<!ENTITY" in response.content:
                    raise OaiError("the answer declares XML entities (refused: entity expansion)")
                root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False))
                if root.tag != f"{{{_NS['oai']}}}OAI-PMH":
                    raise OaiError(f"not an OAI-PMH answer (root {root.tag})")
                return OAIResponse(response, params=kwargs)
            except (OaiError, etree.XMLSyntaxError, requests.RequestException) as error:
                if attempt == self.retries:
                    raise OaiError(f"gave up after {attempt + 1} tries: {error}") from error
                logger.warning("bad OAI-PMH answer from %s %s: %s; retrying", self.endpoint, kwargs, error)
                time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")


def _day(text: str | None) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC) if text else None
    except ValueError:
        return None


def record_from_oai(element: etree._Element) -> PaperRecord | None:
    """A ``<record>`` in the arXiv metadata format as a record; None for deleted records."""
    header = element.find("oai:header", _NS)
    if header is not None and header.get("status") == "deleted":
        return None
    container = element.find("oai:metadata", _NS)
    if container is None or not len(container):
        return None
    metadata = container[0]
    # the arXiv format's namespace, or none: some harvested records carry the element unqualified
    namespace = {"arxiv": etree.QName(metadata).namespace or ""}

    def text(path: str) -> str | None:
        found = metadata.find(path, namespace)
        return " ".join(found.text.split()) if found is not None and found.text else None

    authors = []
    for author in metadata.findall("arxiv:authors/arxiv:author", namespace):
        parts = [author.findtext(f"arxiv:{name}", "", namespace) for name in ("forenames", "keyname", "suffix")]
        authors.append(" ".join(" ".join(part.split()) for part in parts if part.strip()))
    categories = (text("arxiv:categories") or "").split()
    created = _day(text("arxiv:created"))
    if not text("arxiv:id") or not text("arxiv:title") or created is None:
        identifier = header.findtext("oai:identifier", "?", _NS) if header is not None else "?"
        logger.error("OAI record %s lacks an id, a title or a creation date; skipped", identifier)
        return None
    return PaperRecord(
        arxiv_id=text("arxiv:id") or "",
        version=1,
        title=text("arxiv:title") or "",
        abstract=text("arxiv:abstract"),
        authors=authors,
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=created,
        updated=_day(text("arxiv:updated")) or created,
        comment=text("arxiv:comments"),
    )


class OaiHarvester:
    """Records of the configured categories whose OAI datestamp falls in a window, each once."""

    def __init__(self, access: ArxivAccess, gate: RequestGate | None = None) -> None:
        self.client = PoliteSickle(
            f"{access.url.rstrip('/')}/oai2",
            polite_session(access, gate),
            access.retries,
            access.backoff_s,
        )

    def window(self, categories: list[str], since: date, until: date) -> Iterator[PaperRecord]:
        """Every paper of the categories added or changed from ``since`` through ``until`` (cross-lists once)."""
        wanted = set(categories)
        seen: set[str] = set()
        for set_spec in sorted({oai_set(category) for category in categories}):
            try:
                records = self.client.ListRecords(
                    metadataPrefix="arXiv", set=set_spec, **{"from": f"{since}", "until": f"{until}"}
                )
                for record in records:
                    paper = record_from_oai(record.xml)
                    if paper and paper.arxiv_id not in seen and wanted.intersection(paper.categories):
                        seen.add(paper.arxiv_id)
                        yield paper
            except NoRecordsMatch:
                logger.info("no records in set %s for %s..%s", set_spec, since, until)
