"""Operator alerts: a short JSON message to ``AVI_ALERT_WEBHOOK`` when a run fails."""

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
    try:
        requests.post(settings.alert_webhook, json=payload, timeout=10).raise_for_status()
    except requests.RequestException as failure:
        logger.error("could not deliver the alert to %s: %s", settings.alert_webhook, failure)
