"""The monthly report as a Prefect flow: files on disk and a markdown artifact in the Prefect UI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from core.settings import get_settings
from reports.monthly import write_configured_report
from reports.queries import month_offset


def previous_month() -> str:
    """``YYYY-MM`` of the month before this one (what a run on the 1st reports on)."""
    today = datetime.now(UTC).date().replace(day=1)
    return f"{month_offset(today, -1):%Y-%m}"


@flow(name="avi-report", log_prints=False)
def monthly_report(month: str | None = None, out_dir: str | None = None) -> str:
    """Write the report for ``month`` (default: last month) from the published warehouse; returns its path."""
    month = month or previous_month()
    html_path = write_configured_report(get_settings(), month, Path(out_dir) if out_dir else None)
    markdown = (html_path.parent / "report.md").read_text(encoding="utf-8")
    create_markdown_artifact(key=f"avi-report-{month}", markdown=markdown, description=f"avi-radar report {month}")
    get_run_logger().info("report for %s written to %s", month, html_path)
    return str(html_path)
