"""Parquet export of every table and view, partitioned by month, for pandas, Polars, Spark or MotherDuck."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import Warehouse

# How each object gets its month; objects not listed are written as one file.
_MONTH_OF = {
    "papers": "SELECT *, strftime(published, '%Y-%m') AS month FROM papers",
    "runs": "SELECT *, strftime(started_at, '%Y-%m') AS month FROM runs",
    "rejected_records": "SELECT *, strftime(recorded_at, '%Y-%m') AS month FROM rejected_records",
    "run_errors": "SELECT *, strftime(occurred_at, '%Y-%m') AS month FROM run_errors",
    # their month is a DATE; as partition key it becomes YYYY-MM text
    "label_monthly": "SELECT * EXCLUDE (month), strftime(month, '%Y-%m') AS month FROM label_monthly",
    "label_trends": "SELECT * EXCLUDE (month), strftime(month, '%Y-%m') AS month FROM label_trends",
}
_BY_PAPER = ("paper_texts", "classifications", "predictions", "paper_labels", "paper_sections")


def export_parquet(warehouse: Warehouse, out_dir: Path) -> dict[str, int]:
    """Write every table and view under ``out_dir/<name>/``; returns rows written per object."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [
        row[0]
        for row in warehouse.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
        )[1]
    ]
    written: dict[str, int] = {}
    for name in names:
        target = out_dir / name
        if name in _BY_PAPER:
            select = f"SELECT o.*, strftime(p.published, '%Y-%m') AS month FROM {name} o JOIN papers p USING (arxiv_id)"
        else:
            select = _MONTH_OF.get(name, f"SELECT * FROM {name}")
        columns = [c[0] for c in warehouse.connection.execute(f"DESCRIBE {select}").fetchall()]
        if "month" in columns:
            options = "FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE"
            warehouse.connection.execute(f"COPY ({select}) TO '{target}' ({options})")
        else:
            target.mkdir(exist_ok=True)
            warehouse.connection.execute(f"COPY ({select}) TO '{target / 'data.parquet'}' (FORMAT parquet)")
        written[name] = int(warehouse.query(f"SELECT count(*) FROM {name}")[1][0][0])
    return written
