"""Every fault class of the mirror, over real HTTP: the harvester and the PDF download recover or fail loudly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import requests

from core.settings import get_settings
from extract.arxiv_client import ArxivHarvester, FeedError
from extract.http import polite_session
from extract.pdf import download_pdf
from mirror.server import Faults, MirrorServer, load_mirror_data
from tests.conftest import PDF_FIXTURES, TEST_DAY

DAY = date.fromisoformat(TEST_DAY)


@pytest.fixture(scope="module")
def mirror_data(day_corpus: Path):
    return load_mirror_data([day_corpus], PDF_FIXTURES)


@pytest.fixture
def faulty_mirror(mirror_data, monkeypatch: pytest.MonkeyPatch):
    """Start a mirror with the given faults; the client times out after 0.5 s and backs off briefly."""
    servers = []
    monkeypatch.setenv("AVI_REQUEST_TIMEOUT_S", "0.5")
    monkeypatch.setenv("AVI_REQUEST_RETRIES", "3")
    monkeypatch.setenv("AVI_PAGE_SIZE", "100")

    def start(faults: Faults) -> str:
        server = MirrorServer(mirror_data, faults=faults)
        server.start_in_thread()
        servers.append(server)
        monkeypatch.setenv("AVI_ARXIV_URL", server.base_url)
        return server.base_url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _expected(day_rows: list[dict]) -> set[str]:
    configured = set(get_settings().categories)
    return {row["arxiv_id"] for row in day_rows if configured & set(row["categories"])}


@pytest.mark.parametrize("fault", Faults.CLASSES)
def test_harvest_recovers_from_each_fault_class(fault: str, faulty_mirror, day_rows: list[dict]) -> None:
    # the first page and a later one both fail once
    faulty_mirror(Faults(schedule={0: fault, 2: fault}, slow_s=1.5))
    settings = get_settings()
    harvested = [
        record.arxiv_id for record in ArxivHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY)
    ]
    assert len(harvested) == len(set(harvested))  # nothing twice
    assert set(harvested) == _expected(day_rows)  # nothing lost


def test_harvest_fails_clearly_after_the_last_try(faulty_mirror) -> None:
    faulty_mirror(Faults(schedule=dict.fromkeys(range(50), "html200")))
    settings = get_settings()
    with pytest.raises(FeedError, match="gave up after 4 tries: not an Atom feed"):
        list(ArxivHarvester(settings.arxiv_access).window(settings.categories, DAY, DAY))


@pytest.mark.parametrize("fault", ["429", "503", "slow", "truncated", "html200"])
def test_pdf_download_recovers_from_each_fault_class(fault: str, faulty_mirror, avi_home: Path) -> None:
    faulty_mirror(Faults(schedule={0: fault}, slow_s=1.5))
    settings = get_settings()
    path = download_pdf(
        polite_session(settings.arxiv_access),
        settings.arxiv_access,
        settings.pdf_dir,
        settings.max_pdf_bytes,
        "2303.09119",
        2,
    )
    assert path.read_bytes() == (PDF_FIXTURES / "2303.09119v2.pdf").read_bytes()


def test_pdf_download_gives_up_after_the_last_try(faulty_mirror, avi_home: Path) -> None:
    faulty_mirror(Faults(schedule=dict.fromkeys(range(10), "503")))
    settings = get_settings()
    with pytest.raises(requests.HTTPError, match="503"):
        download_pdf(
            polite_session(settings.arxiv_access),
            settings.arxiv_access,
            settings.pdf_dir,
            settings.max_pdf_bytes,
            "2303.09119",
            2,
        )


def test_random_faults_are_drawn_from_every_class() -> None:
    faults = Faults(rate=0.5, seed=3)
    draws = [faults.draw() for _ in range(400)]
    assert set(faults.drawn) == set(Faults.CLASSES)
    assert 150 < sum(draw is not None for draw in draws) < 250
