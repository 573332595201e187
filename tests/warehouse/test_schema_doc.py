"""docs/schema.md against a live warehouse: it can never drift from the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from warehouse.db import Warehouse

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def _documented() -> dict[str, dict[str, str]]:
    objects: dict[str, dict[str, str]] = {}
    current: str | None = None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `(\w+)` \((table|view)\)", line)
        if heading:
            current = heading[1]
            objects[current] = {}
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("| ") and not line.startswith("| column"):
            name, type_ = (cell.strip() for cell in line.strip("|").split("|")[:2])
            objects[current][name] = type_
    return objects


def test_every_table_view_and_column_is_documented_with_its_type(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "avi.duckdb") as warehouse:
        _, rows = warehouse.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
        )
    live: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        live.setdefault(table, {})[column] = data_type
    assert _documented() == live


def example_queries() -> list[str]:
    """The SQL examples of docs/schema.md; tests/flows/test_ingest.py runs them on a real ingested warehouse."""
    return re.findall(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("query", example_queries())
def test_example_queries_compile_against_the_schema(tmp_path: Path, query: str) -> None:
    with Warehouse(tmp_path / "avi.duckdb") as warehouse:
        warehouse.query(query)
