"""Messages to webhooks: an alert to ``AVI_ALERT_WEBHOOK`` when a run fails, the nightly digest's summary to
``AVI_DIGEST_WEBHOOK``. Delivery never fails a run: an undelivered message is logged."""

from __future__ import annotations

import logging

import requests

from core.settings import Settings

logger = logging.getLogger(__name__)


def alert_failure(settings: Settings, flow: str, run_id: int | None, error: str) -> None:
    """POST ``{"event", "flow", "run_id", "error", "home"}`` to the webhook; never raises (the run's failure wins)."""
    if not settings.alert_webhook:
        return
    payload = {
        "event": "avi-run-failed",
        "flow": flow,
        "run_id": run_id,
        "error": error[:2000],
        "home": str(settings.home_dir),
    }
    post_message(settings.alert_webhook, payload, "the alert")


def post_message(url: str, payload: dict, what: str) -> bool:
    """POST ``payload`` as JSON to ``url``; returns whether it was delivered (a failure is logged, not raised)."""
    try:
        requests.post(url, json=payload, timeout=10).raise_for_status()
    except requests.RequestException as failure:
        logger.error("could not deliver %s to %s: %s", what, url, failure)
        return False
    return True
