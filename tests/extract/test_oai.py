"""OAI-PMH: the parser on real arXiv records, and harvesting from the mirror through Sickle, faults included."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from core.settings import get_settings
from extract.arxiv_client import ArxivHarvester
from extract.oai import OaiError, OaiHarvester, oai_set, record_from_oai
from mirror.server import Faults, MirrorServer, load_mirror_data
from tests.conftest import PDF_FIXTURES, SHARED, TEST_DAY

FIXTURES = SHARED / "fixtures" / "oai_pmh" / "inspirehep_hepcrawl"
DAY = date.fromisoformat(TEST_DAY)
OAI = "{http://www.openarchives.org/OAI/2.0/}"


def _records(name: str) -> list:
    root = etree.parse(FIXTURES / name).getroot()
    return [record_from_oai(element) for element in root.iter(f"{OAI}record")]


def test_parses_real_list_records() -> None:
    records = _records("tests_functional_arxiv_fixtures_http_server_records_arxiv-physics-hep-th.xml")
    first = records[0]
    assert first.arxiv_id == "1412.8323"
    assert first.title == "Toolbox for reconstructing quantum theory from rules on information acquisition"
    assert first.authors == ["Philipp A Hoehn"]
    assert first.categories[:3] == ["quant-ph", "gr-qc", "hep-th"] and first.primary_category == "quant-ph"
    assert (str(first.published.date()), str(first.updated.date())) == ("2014-12-29", "2017-12-13")
    assert first.abstract.startswith("We develop an operational approach for reconstructing")
    assert first.comment.startswith("78 pages")


def test_parses_a_record_whose_arxiv_element_is_unqualified() -> None:
    [record] = _records("tests_unit_responses_arxiv_sample_arxiv_record0.xml")
    assert record.arxiv_id == "1601.03238"
    assert record.authors[:2] == ["Planck Collaboration", "Jieci Wang"]
    assert record.title == "Irreversible degradation of quantum coherence under relativistic motion"


def test_sets_are_archives() -> None:
    assert [oai_set(c) for c in ("cs.CV", "eess.AS", "hep-th", "math.MP")] == ["cs", "eess", "physics:hep-th", "math"]


@pytest.fixture(scope="module")
def data(day_corpus: Path):
    return load_mirror_data([day_corpus], PDF_FIXTURES)


def _mirror(data, monkeypatch: pytest.MonkeyPatch, faults: Faults | None = None) -> MirrorServer:
    server = MirrorServer(data, faults=faults)
    server.start_in_thread()
    monkeypatch.setenv("AVI_ARXIV_URL", server.base_url)
    monkeypatch.setenv("AVI_REQUEST_TIMEOUT_S", "0.5")
    return server


def test_oai_harvest_equals_the_api_harvest_and_lists_cross_lists_once(data, monkeypatch) -> None:
    server = _mirror(data, monkeypatch)
    monkeypatch.setattr("mirror.oai.PAGE_SIZE", 40)  # several resumption tokens
    settings = get_settings()
    try:
        oai = [record.arxiv_id for record in OaiHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY)]
        api = {
            record.arxiv_id for record in ArxivHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY)
        }
        assert not list(
            OaiHarvester(settings.arxiv_access).window(settings.categories, date(2026, 5, 7), date(2026, 5, 8))
        )
    finally:
        server.shutdown()
    assert len(oai) == len(set(oai)) and set(oai) == api
    cross_listed = [r for r in data.records.values() if {"cs", "eess"} <= {c.split(".")[0] for c in r.categories}]
    wanted = set(settings.categories)
    day_cross_listed = {r.arxiv_id for r in cross_listed if r.published.date() == DAY and wanted & set(r.categories)}
    assert day_cross_listed and day_cross_listed <= set(oai)  # in both sets' pages, listed once


@pytest.mark.parametrize("fault", Faults.CLASSES)
def test_oai_harvest_recovers_from_each_fault_class(fault: str, data, monkeypatch) -> None:
    server = _mirror(data, monkeypatch, Faults(schedule={0: fault, 3: fault}, slow_s=1.5))
    monkeypatch.setattr("mirror.oai.PAGE_SIZE", 40)
    settings = get_settings()
    try:
        harvested = [
            record.arxiv_id for record in OaiHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY)
        ]
    finally:
        server.shutdown()
    clean = {
        r.arxiv_id
        for r in data.records.values()
        if r.published.date() == DAY and set(settings.categories) & set(r.categories)
    }
    assert len(harvested) == len(set(harvested)) and set(harvested) == clean


def test_oai_fails_clearly_after_the_last_try(data, monkeypatch) -> None:
    server = _mirror(data, monkeypatch, Faults(schedule=dict.fromkeys(range(50), "html200")))
    settings = get_settings()
    try:
        with pytest.raises(OaiError, match="gave up after 5 tries"):
            list(OaiHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY))
    finally:
        server.shutdown()
