"""Bad answers over real HTTP: each is named in the log with its URL, retried, and fails clearly or is skipped."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.settings import get_settings
from extract.arxiv_client import ArxivHarvester, FeedError
from extract.oai import OaiError, OaiHarvester

ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
    "<id>x</id><title>t</title><updated>2026-05-05T00:00:00Z</updated>"
)


def _entry(arxiv_id: str, published: bool = True) -> str:
    date = "<published>2026-05-05T00:00:00Z</published>" if published else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>T {arxiv_id}</title>"
        f"<updated>2026-05-05T00:00:00Z</updated>{date}<summary>S</summary>"
        '<category term="cs.CV" scheme="http://arxiv.org/schemas/atom"/>'
        '<arxiv:primary_category term="cs.CV"/><author><name>A B</name></author></entry>'
    )


def _feed(total: int, entries: list[str]) -> bytes:
    return (
        f"{ATOM_HEAD}<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>0</opensearch:startIndex><opensearch:itemsPerPage>100</opensearch:itemsPerPage>"
        + "".join(entries)
        + "</feed>"
    ).encode()


ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    + _feed(1, [_entry("2605.00001")]).split(b"?>", 1)[1]
)


class _Canned(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = _Canned.bodies.pop(0) if len(_Canned.bodies) > 1 else _Canned.bodies[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AVI_ARXIV_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AVI_REQUEST_RETRIES", "2")
    yield _Canned.bodies
    server.shutdown()


def _harvest() -> list[str]:
    settings = get_settings()
    return [record.arxiv_id for record in ArxivHarvester(settings.arxiv_access).search("cat:cs.CV")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe<feed>" + bytes(range(128, 256)), "not an Atom feed"),  # non-UTF-8 bytes
        (ENTITY_BOMB, "entity expansion"),
        (_feed(2, [_entry("2605.00001")]), "1 entries where 2 were due"),  # an empty or short page
    ],
    ids=["non-utf8", "entity-expansion", "short-page"],
)
def test_bad_api_answers_are_retried_then_fail_naming_url_and_problem(canned, caplog, body, problem) -> None:
    canned[:] = [body]
    with caplog.at_level(logging.WARNING), pytest.raises(FeedError, match=problem) as failure:
        _harvest()
    assert "gave up after 3 tries" in str(failure.value) and "/api/query?" in str(failure.value)
    assert any("/api/query?" in message and problem in message for message in caplog.messages)


def test_a_bad_answer_then_a_good_one_loses_nothing(canned) -> None:
    canned[:] = [ENTITY_BOMB, _feed(2, [_entry("2605.00001"), _entry("2605.00002")])]
    assert _harvest() == ["2605.00001", "2605.00002"]


def test_an_empty_feed_is_no_papers(canned) -> None:
    canned[:] = [_feed(0, [])]
    assert _harvest() == []


def test_an_entry_missing_required_fields_is_skipped_and_logged(canned, caplog) -> None:
    broken = _entry("2605.00002", published=False)
    # the client advances by the entries it could parse, so it asks again from the broken one
    canned[:] = [_feed(2, [_entry("2605.00001"), broken]), _feed(2, [broken])]
    with caplog.at_level(logging.ERROR):
        assert _harvest() == ["2605.00001"]
    assert any("1 of 2 entries lack required fields" in message for message in caplog.messages)


def test_oai_refuses_entity_expansion(canned) -> None:
    canned[:] = [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"/>'
    ]
    settings = get_settings()
    with pytest.raises(OaiError, match="entity expansion"):
        list(OaiHarvester(settings.arxiv_access).window(["cs.CV"], *[__import__("datetime").date(2026, 5, 5)] * 2))
