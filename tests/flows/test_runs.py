"""Run bookkeeping when the warehouse itself fails: the operator is alerted and told what to do, and a damaged
file is never published over the last good snapshot."""

from __future__ import annotations

import os
from datetime import date

import duckdb
import pytest
from prefect import flow

from avi_radar.cli import main
from core.settings import get_settings
from flows.runs import recorded_run
from tests.flows.test_ingest import _webhook
from tests.warehouse.test_restore import _published_then_one_more_run
from warehouse.db import Warehouse, published_path

pytestmark = pytest.mark.slow  # runs the nightly flow (on the session's Prefect server)


def test_a_damaged_warehouse_alerts_names_avi_restore_and_keeps_the_snapshot(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    webhook, received = _webhook(monkeypatch, "AVI_ALERT_WEBHOOK")
    monkeypatch.setenv("AVI_ARXIV_URL", "http://127.0.0.1:9")  # never reached: the warehouse fails first
    path = get_settings().db_path
    _published_then_one_more_run(path)
    snapshot = published_path(path).read_bytes()
    os.truncate(path, 16 * 1024)
    assert main(["ingest", "--since", "2026-05-05", "--until", "2026-05-05"]) == 1
    webhook.shutdown()
    said = capsys.readouterr().err
    assert f"{path} cannot be read: `avi restore` puts back the published snapshot" in said
    [alert] = received  # before any run could be recorded, the operator still hears of it
    assert alert["run_id"] is None and "`avi restore`" in alert["error"] and "Could not read" in alert["error"]
    assert published_path(path).read_bytes() == snapshot
    assert main(["restore"]) == 0
    with Warehouse(path) as warehouse:  # the restored file takes the next run's bookkeeping again
        assert warehouse.watermark() == date(2026, 5, 4)
        warehouse.start_run("ingest", date(2026, 5, 5), date(2026, 5, 5))


@pytest.mark.parametrize(
    ("failure", "published"),
    [
        (ValueError("a bad page"), True),
        (duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2"), False),
    ],
)
def test_a_run_that_fails_is_published_unless_the_file_is_damaged(failure: Exception, published: bool) -> None:
    settings = get_settings()
    _published_then_one_more_run(settings.db_path)
    snapshot = published_path(settings.db_path).read_bytes()

    @flow
    def failing() -> None:
        with recorded_run(settings, "ingest"):
            raise failure

    with pytest.raises(type(failure)):
        failing()
    assert (published_path(settings.db_path).read_bytes() != snapshot) is published
    with Warehouse(settings.db_path, read_only=True) as warehouse:
        [(status, error)] = warehouse.query("SELECT status, error FROM runs WHERE run_id = 3")[1]
    # a damaged file's run stays `running` (the next run marks it crashed); any other failure is recorded
    assert (status, error) == (("failed", "ValueError: a bad page") if published else ("running", None))
