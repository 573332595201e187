"""The mirror over real HTTP, read by the same arxiv package the pipeline uses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import arxiv
import pymupdf
import requests
from arxiv import _feed
from lxml import etree

from core.settings import get_settings
from extract.arxiv_client import ArxivHarvester, category_window_query
from tests.conftest import PDF_FIXTURES, SHARED, TEST_DAY

ATOM_FIXTURES = sorted((SHARED / "fixtures" / "atom_api").rglob("*_response.xml"))
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


def _element_paths(xml: bytes) -> set[str]:
    """Every element path of a feed, with namespace prefixes (``feed/entry/arxiv:comment``)."""
    prefixes = {uri: prefix for prefix, uri in NS.items()}

    def name(element: etree._Element) -> str:
        qname = etree.QName(element)
        return f"{prefixes[qname.namespace]}:{qname.localname}".removeprefix("atom:")

    root = etree.fromstring(xml)
    return {"/".join(name(e) for e in reversed([element, *element.iterancestors()])) for element in root.iter()}


def test_atom_matches_the_real_api_wire_format(mirror: str) -> None:
    assert ATOM_FIXTURES, "real API responses missing from shared/fixtures/atom_api"
    real = set().union(*(_element_paths(path.read_bytes()) for path in ATOM_FIXTURES))
    response = requests.get(f"{mirror}/api/query", params={"search_query": "cat:cs.CV", "max_results": 50}, timeout=10)
    # The corpus has no DOI or journal reference, so those two optional elements are all the mirror lacks.
    assert _element_paths(response.content) == real - {"feed/entry/arxiv:doi", "feed/entry/arxiv:journal_ref"}


def test_arxiv_package_parses_every_field(mirror: str, day_rows: list[dict]) -> None:
    row = next(r for r in day_rows if r.get("comment") and len(r["categories"]) > 1)
    body = requests.get(f"{mirror}/api/query", params={"id_list": row["arxiv_id"]}, timeout=10).content
    feed = _feed.parse(body)
    assert not feed.malformed
    assert feed.header.total_results == 1
    result = feed.results[0]
    assert result.entry_id.endswith(f"/abs/{row['arxiv_id']}v1")
    assert result.title == row["title"]
    assert result.summary == row["abstract"]
    assert [a.name for a in result.authors] == row["authors"]
    assert result.categories == row["categories"]
    assert result.primary_category == row["primary_category"]
    assert result.comment == row["comment"]
    assert result.published.date() == date.fromisoformat(TEST_DAY)
    assert result.pdf_url == f"{mirror}/pdf/{row['arxiv_id']}v1"


def test_harvester_pages_through_a_window(mirror: str, day_rows: list[dict], monkeypatch) -> None:
    monkeypatch.setenv("AVI_ARXIV_URL", mirror)
    monkeypatch.setenv("AVI_PAGE_SIZE", "50")
    settings = get_settings()
    day = date.fromisoformat(TEST_DAY)
    harvested = list(ArxivHarvester(settings.arxiv_access).window(settings.categories, day, day))
    expected = {r["arxiv_id"] for r in day_rows if set(r["categories"]) & set(settings.categories)}
    assert len(harvested) == len(expected) > 100  # several pages of 50
    assert {record.arxiv_id for record in harvested} == expected
    assert not list(
        ArxivHarvester(settings.arxiv_access).window(settings.categories, date(2026, 5, 7), date(2026, 5, 8))
    )


def test_sorting_and_paging_follow_the_api(mirror: str) -> None:
    query = category_window_query(["cs.CV"], date.fromisoformat(TEST_DAY), date.fromisoformat(TEST_DAY))
    client = arxiv.Client(page_size=7, delay_seconds=0)
    client.query_url_format = mirror + "/api/query?{}"

    def first_twenty(order: arxiv.SortOrder) -> list[str]:
        search = arxiv.Search(query=query, max_results=20, sort_by=arxiv.SortCriterion.SubmittedDate, sort_order=order)
        return [result.entry_id for result in client.results(search)]

    ascending = first_twenty(arxiv.SortOrder.Ascending)
    descending = first_twenty(arxiv.SortOrder.Descending)
    assert len(ascending) == 20 and len(set(ascending)) == 20
    assert ascending == sorted(ascending)  # same day: ties break by id
    assert descending == sorted(descending, reverse=True)
    assert descending[-1] > ascending[-1]


def test_bad_query_is_a_400_with_an_atom_error(mirror: str) -> None:
    response = requests.get(f"{mirror}/api/query", params={"search_query": "(cat:cs.CV"}, timeout=10)
    assert response.status_code == 400
    assert b"<title>Error</title>" in response.content


def test_pdf_endpoint_serves_real_and_generated_pdfs(mirror: str, day_rows: list[dict]) -> None:
    real = requests.get(f"{mirror}/pdf/2303.09119v2", timeout=10)
    assert real.status_code == 200
    assert real.content == (PDF_FIXTURES / "2303.09119v2.pdf").read_bytes()

    row = day_rows[0]
    generated = requests.get(f"{mirror}/pdf/{row['arxiv_id']}", timeout=30)
    assert generated.headers["Content-Type"] == "application/pdf"
    with pymupdf.open(stream=generated.content, filetype="pdf") as document:
        text = " ".join(page.get_text() for page in document)
    assert "Abstract" in text and "References" in text and "1 Introduction" in text
    assert " ".join(row["title"].split()[:3]) in " ".join(text.split())

    missing = requests.get(f"{mirror}/pdf/2605.99999v1", timeout=10)
    assert missing.status_code == 404


def test_fixture_pdfs_are_indexed_by_their_stamp() -> None:
    from mirror.server import index_pdf_fixtures

    index = index_pdf_fixtures(PDF_FIXTURES)
    assert index["2303.09119"] == PDF_FIXTURES / "2303.09119v2.pdf"
    assert all(isinstance(path, Path) for path in index.values())
