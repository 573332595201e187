"""One polite HTTP session for everything avi-radar fetches from arXiv.

Every request gets a timeout; 429/5xx answers are retried with exponential backoff that honours
``Retry-After``; and requests to one host are spaced by at least ``request_delay_s`` (arXiv asks for 3 s)
within this process, and beyond it by a gate the caller hands in (the flows hand in Prefect's global rate
limit, shared by every task and worker).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from core.settings import ArxivAccess

logger = logging.getLogger(__name__)
USER_AGENT = "avi-radar/0.1 (survey maintenance; https://arxiv.org/abs/2605.04045)"
RETRY_STATUSES = (429, 500, 502, 503, 504)


RequestGate = Callable[[], None]
"""Called before every request, after the host's pause: where the caller plugs in a limit shared beyond this
process (the flows plug in Prefect's global rate limit); extract knows nothing of who enforces it."""


class PoliteSession(requests.Session):
    """A ``requests.Session`` with a default timeout, retries with backoff, and a per-host pause."""

    def __init__(
        self, timeout_s: float, retries: int, backoff_s: float, delay_s: float, gate: RequestGate | None = None
    ) -> None:
        super().__init__()
        self.gate = gate
        self.timeout_s = timeout_s
        self.delay_s = delay_s
        self._last_request_at: dict[str, float] = {}
        self._lock = threading.Lock()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_s,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = USER_AGENT

    def _wait_for_turn(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            ready_at = self._last_request_at.get(host, 0.0) + self.delay_s
            pause = max(0.0, ready_at - now)
            self._last_request_at[host] = now + pause
        if pause:
            time.sleep(pause)
        if self.gate is not None:
            self.gate()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request after this host's pause, with the session's timeout unless one is given."""
        kwargs.setdefault("timeout", self.timeout_s)
        self._wait_for_turn(str(url))
        return super().request(method, url, *args, **kwargs)


def polite_session(access: ArxivAccess, gate: RequestGate | None = None) -> PoliteSession:
    """The session ``access`` configures, passing every request through ``gate`` when one is given."""
    return PoliteSession(
        timeout_s=access.timeout_s,
        retries=access.retries,
        backoff_s=access.backoff_s,
        delay_s=access.delay_s,
        gate=gate,
    )
