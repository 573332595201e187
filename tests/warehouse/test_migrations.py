"""Opening a file made by an older avi-radar migrates it in place; a newer one is refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.db import SCHEMA_VERSION, Warehouse, apply_migrations, open_for_reading, schema_version


def test_a_version_1_file_is_migrated_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "avi.duckdb"
    connection = duckdb.connect(str(path))
    apply_migrations(connection, 0, 1)  # what the first release wrote
    connection.execute("INSERT INTO paper_texts VALUES ('2605.00001', 1, 'ok', NULL, 'abc', 3, 10, 'some text', now())")
    connection.close()

    with Warehouse(path) as warehouse:
        assert schema_version(warehouse.connection) == SCHEMA_VERSION >= 2
        assert warehouse.query("SELECT arxiv_id, text, run_id FROM paper_texts")[1] == [
            ("2605.00001", "some text", None)
        ]
        assert warehouse.query("SELECT version FROM schema_version ORDER BY version")[1] == [
            (number,) for number in range(1, SCHEMA_VERSION + 1)
        ]
        warehouse.query("SELECT * FROM label_trends")


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warehouse.db as db

    path = tmp_path / "avi.duckdb"
    connection = duckdb.connect(str(path))
    apply_migrations(connection, 0, 1)
    connection.close()
    broken = tmp_path / "002_broken.sql"
    broken.write_text("ALTER TABLE paper_texts ADD COLUMN run_id INTEGER; SELECT * FROM no_such_table;")
    monkeypatch.setattr(db, "MIGRATIONS", [db.MIGRATIONS[0], broken])
    monkeypatch.setattr(db, "SCHEMA_VERSION", 2)
    with pytest.raises(duckdb.CatalogException):
        Warehouse(path)
    check = duckdb.connect(str(path), read_only=True)
    assert schema_version(check) == 1
    assert "run_id" not in [row[0] for row in check.execute("DESCRIBE paper_texts").fetchall()]


def test_an_old_published_snapshot_asks_for_a_migration(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "avi-published.duckdb"))
    apply_migrations(connection, 0, 1)
    connection.close()
    with pytest.raises(RuntimeError, match="avi migrate"):
        open_for_reading(tmp_path / "avi.duckdb")
