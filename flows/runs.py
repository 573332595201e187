"""Run bookkeeping, written once for every flow: a run is recorded as running, then as a success or a failure
with its counts, stage durations and error; the snapshot is published either way (analysts see failed runs
too) and the operator is alerted when it fails."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from prefect import get_run_logger

from core.settings import Settings
from flows.alerts import alert_failure
from warehouse.db import Warehouse, describe_failure, is_damage

Window = tuple[date | None, date | None]


@dataclass
class RunReport:
    """What one run did, as recorded in the ``runs`` table."""

    run_id: int
    since: date | None
    until: date | None
    counts: dict[str, int] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Record the wall time of the stage as ``durations[f"{stage}_s"]``."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.durations[f"{stage}_s"] = time.monotonic() - started


@contextmanager
def recorded_run(
    settings: Settings, flow: str, window: Callable[[Warehouse], Window] = lambda _: (None, None)
) -> Iterator[tuple[Warehouse, RunReport]]:
    """Open the warehouse for writing and record a run of ``flow`` over ``window(warehouse)``; yields the
    warehouse and the run's report, whose counts and durations the flow fills in. On leaving, the run is
    recorded as a success, or on an exception as a failure with its message (the exception goes on), and the
    snapshot is published. Any failure alerts the operator, also one before the run could be recorded (another
    run holds the write lock, the file is damaged); a damaged file is never published over the last good
    snapshot, which ``avi restore`` puts back."""
    logger = get_run_logger()
    report: RunReport | None = None
    try:
        with Warehouse(settings.db_path, memory_limit=settings.warehouse_memory_limit) as warehouse:
            since, until = window(warehouse)
            report = RunReport(run_id=warehouse.start_run(flow, since, until), since=since, until=until)
            try:
                yield warehouse, report
            except Exception as error:
                if not is_damage(error, settings.db_path):
                    message = describe_failure(error, settings.db_path)
                    warehouse.finish_run(report.run_id, "failed", report.counts, report.durations, message)
                    warehouse.publish()
                raise
            warehouse.finish_run(report.run_id, "success", report.counts, report.durations)
            warehouse.publish()
    except Exception as error:
        run_id = report.run_id if report else None
        message = describe_failure(error, settings.db_path)
        logger.error("%s run %s failed: %s", flow, run_id if run_id else "(not recorded)", message)
        alert_failure(settings, flow, run_id, message)
        raise
    logger.info("%s run %d done: %s", flow, report.run_id, report.counts)
