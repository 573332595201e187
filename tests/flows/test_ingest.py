"""One real day of the corpus, through the mirror over HTTP, into a real DuckDB file, twice."""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import pytest

import flows.ingest
from core.settings import get_settings
from flows.ingest import ingest
from tests.conftest import TEST_DAY
from tests.warehouse.test_schema_doc import example_queries
from warehouse.db import Warehouse, open_for_reading

pytestmark = pytest.mark.slow  # runs the nightly flow through the mirror

DAY = date.fromisoformat(TEST_DAY)
TOTALS = "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM predictions), (SELECT count(*) FROM paper_texts)"


@pytest.fixture
def against_mirror(mirror: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AVI_ARXIV_URL", mirror)
    return mirror


def test_ingest_one_day_twice(against_mirror: str, day_rows: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    webhook, digests_sent = _webhook(monkeypatch, "AVI_DIGEST_WEBHOOK")
    settings = get_settings()
    expected = {row["arxiv_id"] for row in day_rows if set(row["categories"]) & set(settings.categories)}

    first = ingest(since=DAY, until=DAY)
    assert first.counts["n_harvested"] == first.counts["n_new"] == len(expected)

    with open_for_reading(settings.db_path) as warehouse:
        assert {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]} == expected
        # every paper has exactly one relevance label from the current model
        assert warehouse.query(
            "SELECT count(*), count(DISTINCT arxiv_id) FROM paper_labels WHERE label LIKE 'relevance:%'"
        )[1] == [(len(expected), len(expected))]
        relevant = {
            row[0] for row in warehouse.query("SELECT arxiv_id FROM paper_labels WHERE label = 'relevance:av'")[1]
        }
        assert relevant, "the day holds audio-visual papers"
        texts = dict(warehouse.query("SELECT arxiv_id, status FROM paper_texts")[1])
        assert set(texts) == relevant and set(texts.values()) == {"ok"}
        assert not list(settings.pdf_dir.rglob("*.pdf"))  # every text read and stored: no PDF kept (AVI_KEEP_PDFS)
        assert warehouse.query("SELECT min(n_chars) > 500 FROM paper_texts")[1] == [(True,)]
        # the mirror's generated PDFs have an Abstract, four numbered sections and References
        parts = warehouse.query("SELECT arxiv_id, list(part ORDER BY position) FROM paper_parts GROUP BY arxiv_id")[1]
        assert {arxiv_id for arxiv_id, _ in parts} == relevant
        assert all(
            p[-6:] == ["abstract", "introduction", "method", "experiments", "conclusion", "references"]
            for _, p in parts
        )
        assert warehouse.query("SELECT min(n_references) FROM paper_texts")[1] == [(5,)]
        snapshot_before = warehouse.query(TOTALS)[1]
        # the schema document's examples run on a real warehouse, and those about what a day holds (its run,
        # its sections, its label trends) answer with rows; the day's papers name no dataset or benchmark and a
        # clean run leaves no failed PDF and no pending work, so the other examples may come back empty
        answers = {query: warehouse.query(query)[1] for query in example_queries()}
        answered = {
            view
            for view in ("latest_run", "paper_sections", "label_trends")
            for q, rows in answers.items()
            if view in q and rows
        }
        assert answered == {"latest_run", "paper_sections", "label_trends"}

    # the night's digest lists its audio-visual papers; the feeds hold them, valid Atom a feed reader accepts
    digest = (settings.digests_dir / f"{DAY}.md").read_text()
    assert set(re.findall(r"arxiv\.org/abs/([\d.]+)\)", digest)) == relevant
    assert (settings.digests_dir / f"{DAY}.html").read_text().count('<a href="https://arxiv.org/abs/') >= len(relevant)
    feed = feedparser.parse(settings.feeds_dir / "audio-visual.atom")
    assert not feed.bozo and feed.version == "atom10"
    assert feed.feed.id and feed.feed.title and feed.feed.updated
    assert {entry.id.rsplit("/", 1)[1] for entry in feed.entries} == relevant
    for entry in feed.entries:
        assert entry.title and entry.updated and entry.link == entry.id and entry.authors and entry.summary
        assert any(tag.term.startswith(("perception.", "generation.", "interaction.")) for tag in entry.tags)
    section_feeds = sorted(path.name for path in settings.feeds_dir.glob("*.atom"))
    assert "generation.cross_modal.atom" in section_feeds and len(section_feeds) == 9  # all + 8 task sections
    [message] = digests_sent
    assert message["text"].startswith(f"*{len(relevant)} new audio-visual papers* ({DAY})")
    feeds_before = {path.name: path.read_bytes() for path in settings.feeds_dir.glob("*.atom")}

    second = ingest(since=DAY, until=DAY)
    assert second.counts == {
        "n_harvested": len(expected),
        "n_new": 0,
        "n_updated": 0,
        "n_classified": 0,
        "n_relevant": 0,
        "n_text_ok": 0,
        "n_text_failed": 0,
    }
    with open_for_reading(settings.db_path) as warehouse:
        assert warehouse.query(TOTALS)[1] == snapshot_before
        assert warehouse.query("SELECT run_id, status, since, until FROM runs ORDER BY run_id")[1] == [
            (1, "success", DAY, DAY),
            (2, "success", DAY, DAY),
        ]
        assert warehouse.watermark() == DAY
    # a rerun of the window changes no entry and no digest line
    assert {path.name: path.read_bytes() for path in settings.feeds_dir.glob("*.atom")} == feeds_before
    assert (settings.digests_dir / f"{DAY}.md").read_text() == digest
    webhook.shutdown()


def _webhook(monkeypatch: pytest.MonkeyPatch, variable: str) -> tuple[ThreadingHTTPServer, list[dict]]:
    """A local HTTP server that keeps the JSON bodies POSTed to it, named by the setting ``variable``."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(variable, f"http://127.0.0.1:{server.server_address[1]}/hook")
    return server, received


def test_a_failed_run_is_recorded_with_its_error_and_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    webhook, received = _webhook(monkeypatch, "AVI_ALERT_WEBHOOK")
    monkeypatch.setenv("AVI_ARXIV_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AVI_REQUEST_RETRIES", "0")
    monkeypatch.setattr(flows.ingest, "harvest", flows.ingest.harvest.with_options(retries=0))
    with pytest.raises(Exception, match="Connection refused|Max retries"):
        ingest(since=DAY, until=DAY)
    with Warehouse(get_settings().db_path, read_only=True) as warehouse:
        [(status, error)] = warehouse.query("SELECT status, error FROM runs")[1]
    assert status == "failed" and "ConnectionError" in error
    webhook.shutdown()
    [alert] = received
    assert alert["event"] == "avi-run-failed" and alert["run_id"] == 1 and "ConnectionError" in alert["error"]


def test_a_faulty_mirror_loads_exactly_the_same_papers(
    day_corpus, day_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mirror.server import Faults, MirrorServer, load_mirror_data
    from tests.conftest import PDF_FIXTURES

    faults = Faults(rate=0.3, slow_s=1.5, seed=7)
    server = MirrorServer(load_mirror_data([day_corpus], PDF_FIXTURES), faults=faults)
    server.start_in_thread()
    monkeypatch.setenv("AVI_ARXIV_URL", server.base_url)
    monkeypatch.setenv("AVI_REQUEST_TIMEOUT_S", "1")
    monkeypatch.setenv("AVI_PAGE_SIZE", "50")
    try:
        report = ingest(since=DAY, until=DAY)
    finally:
        server.shutdown()
        server.server_close()
    expected = {row["arxiv_id"] for row in day_rows if set(row["categories"]) & set(get_settings().categories)}
    assert len(faults.drawn) >= 4, faults.drawn  # several fault classes were really served
    with open_for_reading(get_settings().db_path) as warehouse:
        assert {row[0] for row in warehouse.query("SELECT arxiv_id FROM papers")[1]} == expected
        assert warehouse.query("SELECT DISTINCT status FROM paper_texts")[1] == [("ok",)]
    assert report.counts["n_text_failed"] == 0
