"""One polite HTTP session for everything avi-radar fetches from arXiv.

Every request gets a timeout; 429/5xx answers are retried with exponential backoff that honours
``Retry-After``; and requests to one host are spaced by at least ``request_delay_s`` (arXiv asks for 3 s),
within this process and, inside Prefect runs, across all tasks and workers through a Prefect global
rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from avi_radar.settings import Settings

logger = logging.getLogger(__name__)
USER_AGENT = "avi-radar/0.1 (survey maintenance; https://arxiv.org/abs/2605.04045)"
RETRY_STATUSES = (429, 500, 502, 503, 504)


def _inside_prefect_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


class PoliteSession(requests.Session):
    """A ``requests.Session`` with a default timeout, retries with backoff, and a per-host pause."""

    def __init__(
        self, timeout_s: float, retries: int, backoff_s: float, delay_s: float, rate_limit: str | None = None
    ) -> None:
        super().__init__()
        self.rate_limit = rate_limit
        self._limit_known: bool | None = None
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
        if self.rate_limit and _inside_prefect_run() and self._rate_limit_exists():
            # every task and worker of every run shares this limit (`avi serve` creates it)
            from prefect.concurrency.sync import rate_limit

            rate_limit(self.rate_limit, strict=True)

    def _rate_limit_exists(self) -> bool:
        """Whether the Prefect server has the global limit; asked once per session, not per request."""
        if self._limit_known is None:
            from prefect.client.orchestration import get_client
            from prefect.exceptions import ObjectNotFound

            try:
                with get_client(sync_client=True) as client:
                    client.read_global_concurrency_limit_by_name(self.rate_limit)
                self._limit_known = True
            except ObjectNotFound:
                logger.info("no Prefect global limit %r: requests are spaced by this process alone", self.rate_limit)
                self._limit_known = False
        return self._limit_known

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request after this host's pause, with the session's timeout unless one is given."""
        kwargs.setdefault("timeout", self.timeout_s)
        self._wait_for_turn(str(url))
        return super().request(method, url, *args, **kwargs)


def polite_session(settings: Settings) -> PoliteSession:
    """The session configured from settings."""
    return PoliteSession(
        timeout_s=settings.request_timeout_s,
        retries=settings.request_retries,
        backoff_s=settings.backoff_s,
        delay_s=settings.request_delay_s,
        rate_limit=settings.arxiv_rate_limit,
    )
