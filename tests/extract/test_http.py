"""The polite session: timeouts, backoff that honours Retry-After, and spacing between requests."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from extract.http import PoliteSession


class _Flaky(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str]]] = []
    seen: list[float] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _Flaky.seen.append(time.monotonic())
        status, headers = _Flaky.answers.pop(0) if _Flaky.answers else (200, {})
        if status == 0:
            time.sleep(1.0)  # slower than the client's timeout
            status = 200
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def flaky_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Flaky.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_retry_after_on_429_is_honoured(flaky_url: str) -> None:
    _Flaky.answers[:] = [(429, {"Retry-After": "1"}), (503, {}), (200, {})]
    session = PoliteSession(timeout_s=5, retries=3, backoff_s=0.01, delay_s=0)
    response = session.get(flaky_url)
    assert response.status_code == 200
    assert len(_Flaky.seen) == 3
    assert _Flaky.seen[1] - _Flaky.seen[0] >= 0.95  # waited as long as the server asked


def test_gives_up_clearly_after_the_last_retry(flaky_url: str) -> None:
    _Flaky.answers[:] = [(503, {})] * 5
    session = PoliteSession(timeout_s=5, retries=2, backoff_s=0.01, delay_s=0)
    assert session.get(flaky_url).status_code == 503
    assert len(_Flaky.seen) == 3


def test_every_request_has_a_timeout(flaky_url: str) -> None:
    _Flaky.answers[:] = [(0, {})] * 3
    session = PoliteSession(timeout_s=0.2, retries=0, backoff_s=0.01, delay_s=0)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(flaky_url)


def test_requests_to_one_host_are_spaced(flaky_url: str) -> None:
    session = PoliteSession(timeout_s=5, retries=0, backoff_s=0.01, delay_s=0.3)
    for _ in range(3):
        session.get(flaky_url)
    gaps = [later - earlier for earlier, later in zip(_Flaky.seen, _Flaky.seen[1:], strict=False)]
    assert min(gaps) >= 0.28
