"""The monthly report as a Prefect flow: files on disk and a markdown artifact in the Prefect UI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from classify.taxonomy import load_taxonomy
from core.settings import get_settings
from reports.hub import read_hub
from reports.monthly import write_report
from reports.queries import month_offset
from warehouse.db import open_for_reading


def previous_month() -> str:
    """``YYYY-MM`` of the month before this one (what a run on the 1st reports on)."""
    today = datetime.now(UTC).date().replace(day=1)
    return f"{month_offset(today, -1):%Y-%m}"


@flow(name="avi-report", log_prints=False)
def monthly_report(month: str | None = None, out_dir: str | None = None) -> str:
    """Write the report for ``month`` (default: last month) from the published warehouse; returns its path."""
    settings = get_settings()
    month = month or previous_month()
    target = Path(out_dir) if out_dir else settings.reports_dir / month
    with open_for_reading(settings.db_path) as warehouse:
        taxonomy = load_taxonomy(settings.taxonomy_file)
        hub = read_hub(settings.hub_readme, taxonomy) if settings.hub_readme else None
        html_path = write_report(warehouse, taxonomy, month, target, hub, settings.feeds_dir)
    markdown = (target / "report.md").read_text(encoding="utf-8")
    create_markdown_artifact(key=f"avi-report-{month}", markdown=markdown, description=f"avi-radar report {month}")
    get_run_logger().info("report for %s written to %s", month, html_path)
    return str(html_path)
