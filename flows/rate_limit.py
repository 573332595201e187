"""The one limit on requests to arXiv shared by every task and worker of every run: a Prefect global
concurrency limit that ``avi serve`` creates, plugged into extract's HTTP session as its request gate."""

from __future__ import annotations

import logging

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import rate_limit
from prefect.context import FlowRunContext, TaskRunContext
from prefect.exceptions import ObjectNotFound

from core.settings import Settings
from extract.http import RequestGate

logger = logging.getLogger(__name__)


def ensure_rate_limit(settings: Settings) -> None:
    """Create (or update) the global limit that spaces requests to arXiv by ``request_delay_s``."""
    decay = 1.0 / settings.request_delay_s if settings.request_delay_s > 0 else 1000.0
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(settings.arxiv_rate_limit, limit=1, slot_decay_per_second=decay)


def arxiv_gate(settings: Settings) -> RequestGate:
    """A request gate that takes a slot of the global limit before each request, inside Prefect runs where the
    server has the limit; elsewhere the session's own per-host pause is the only spacing."""
    limit_exists: bool | None = None  # asked of the server once per gate, not per request

    def gate() -> None:
        nonlocal limit_exists
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        if limit_exists is None:
            try:
                with get_client(sync_client=True) as client:
                    client.read_global_concurrency_limit_by_name(settings.arxiv_rate_limit)
                limit_exists = True
            except ObjectNotFound:
                logger.info(
                    "no Prefect global limit %r: requests are spaced by this process alone", settings.arxiv_rate_limit
                )
                limit_exists = False
        if limit_exists:
            rate_limit(settings.arxiv_rate_limit, strict=True)

    return gate
