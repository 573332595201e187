"""A damaged warehouse file is recognised, and ``avi restore`` puts the last published snapshot back."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from avi_radar.cli import main
from core.records import PaperRecord
from core.settings import get_settings
from warehouse.db import Warehouse, is_damage, published_path, restore_published


def _papers(count: int, first: int = 0) -> list[PaperRecord]:
    moment = datetime(2026, 5, 4, tzinfo=UTC)
    return [
        PaperRecord(
            f"2605.{index:05d}", 1, f"Title {index}", "Abstract", ["A"], ["cs.CV"], "cs.CV", moment, moment, None
        )
        for index in range(first, first + count)
    ]


def _published_then_one_more_run(path: Path) -> None:
    """A warehouse whose snapshot holds 200 papers of one successful run, and the file a second run's one more."""
    with Warehouse(path) as warehouse:
        run = warehouse.start_run("ingest", date(2026, 5, 4), date(2026, 5, 4))
        warehouse.upsert_papers(_papers(200), run)
        warehouse.finish_run(run, "success", {}, {})
        warehouse.publish()
        run = warehouse.start_run("ingest", date(2026, 5, 5), date(2026, 5, 5))
        warehouse.upsert_papers(_papers(1, first=200), run)


def _cut_short(path: Path) -> None:
    os.truncate(path, 16 * 1024)  # past DuckDB's three 4 KiB headers, into the first block of data


def _overwritten(path: Path) -> None:
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(os.urandom(8192))


def _open_and_count(path: Path) -> int:
    with Warehouse(path) as warehouse:
        return warehouse.query("SELECT count(*) FROM papers")[1][0][0]


@pytest.mark.parametrize("damage", [_cut_short, _overwritten])
def test_restore_puts_back_the_last_snapshot_and_keeps_the_damaged_file(damage, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "avi.duckdb"
    _published_then_one_more_run(path)
    assert _open_and_count(path) == 201
    damage(path)
    damaged_bytes = path.read_bytes()
    with pytest.raises(duckdb.Error) as refused:
        _open_and_count(path)
    assert is_damage(refused.value, path)
    if 'file "' in str(refused.value):  # the error names the file it could not read: not another one
        assert not is_damage(refused.value, tmp_path / "another.duckdb")
    kept, damage = restore_published(path)
    assert kept.read_bytes() == damaged_bytes and kept.parent == tmp_path
    assert damage == str(refused.value)
    assert _open_and_count(path) == 200  # the snapshot's papers: the next run redoes the rest
    with Warehouse(path) as warehouse:
        assert warehouse.watermark() == date(2026, 5, 4)


def test_restore_refuses_without_a_whole_snapshot_or_while_a_run_writes(tmp_path: Path) -> None:
    path = tmp_path / "avi.duckdb"
    with pytest.raises(FileNotFoundError, match="no published snapshot"):
        restore_published(path)
    _published_then_one_more_run(path)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout.readline().strip() == b"1"
        with pytest.raises(duckdb.IOException) as locked:
            Warehouse(path)
        assert not is_damage(locked.value, path)  # another process's lock is not damage
        with pytest.raises(RuntimeError, match="a run is writing to"):
            restore_published(path, force=True)
    finally:
        writer.kill()
        writer.wait()
    assert _open_and_count(path) == 201  # refused: untouched
    _overwritten(path)
    _cut_short(published_path(path))
    with pytest.raises(RuntimeError, match="the published snapshot .* cannot be read either"):
        restore_published(path)
    assert sorted(file.name for file in tmp_path.iterdir()) == ["avi-published.duckdb", "avi.duckdb"]  # none moved


def test_avi_restore_says_what_it_did(capsys: pytest.CaptureFixture) -> None:
    path = get_settings().db_path
    _published_then_one_more_run(path)
    _cut_short(path)
    started = time.time()
    assert main(["restore"]) == 0
    printed = capsys.readouterr().out
    assert f"{path} is the published snapshot again (papers up to 2026-05-04)" in printed
    [kept] = path.parent.glob("avi.duckdb.damaged-*")
    assert str(kept) in printed and kept.stat().st_mtime <= started
    assert published_path(path).exists() and _open_and_count(path) == 200


def test_a_publish_that_fills_the_disk_leaves_the_old_snapshot_and_no_partial_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "avi.duckdb"
    _published_then_one_more_run(path)
    snapshot = published_path(path).read_bytes()

    def disk_full(source: Path, target: Path) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:4096])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with Warehouse(path) as warehouse, pytest.raises(OSError, match="No space left"):
        warehouse.publish()
    assert published_path(path).read_bytes() == snapshot
    assert sorted(file.name for file in tmp_path.iterdir()) == ["avi-published.duckdb", "avi.duckdb"]


def test_a_damaged_published_snapshot_is_named_and_published_again(capsys: pytest.CaptureFixture) -> None:
    path = get_settings().db_path
    _published_then_one_more_run(path)
    _cut_short(published_path(path))
    assert main(["sql", "SELECT count(*) FROM papers"]) == 2
    snapshot = published_path(path)
    said = capsys.readouterr().err
    assert f"The published snapshot {snapshot} cannot be read: `avi migrate` publishes the warehouse again" in said
    assert "avi restore" not in said  # the warehouse itself is whole: nothing to restore
    assert main(["migrate"]) == 0
    assert main(["sql", "SELECT count(*) FROM papers", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "201"


def test_a_restore_that_cannot_copy_moves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "avi.duckdb"
    _published_then_one_more_run(path)
    _cut_short(path)
    damaged = path.read_bytes()

    def disk_full(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        restore_published(path)
    # the damaged file stays where it was: a run never finds no warehouse and starts an empty one
    assert path.read_bytes() == damaged
    assert sorted(file.name for file in tmp_path.iterdir()) == ["avi-published.duckdb", "avi.duckdb"]


def test_a_missing_warehouse_is_never_started_afresh_over_its_snapshot(capsys: pytest.CaptureFixture) -> None:
    path = get_settings().db_path
    _published_then_one_more_run(path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="is missing but its published snapshot is there: `avi restore`"):
        Warehouse(path)
    for command in (["label"], ["reclassify"]):  # they need its papers: refused, with the same advice
        assert main(command) == 2
        assert "is missing but its published snapshot is there: `avi restore`" in capsys.readouterr().err
    assert not path.exists()
    assert main(["restore"]) == 0
    assert "there was no warehouse file to keep" in capsys.readouterr().out
    assert _open_and_count(path) == 200


def test_a_whole_warehouse_is_replaced_only_when_forced(capsys: pytest.CaptureFixture) -> None:
    path = get_settings().db_path
    _published_then_one_more_run(path)
    assert main(["restore"]) == 2
    assert (
        "reads whole (every row of every table): nothing to restore; `avi restore --force`" in capsys.readouterr().err
    )
    assert _open_and_count(path) == 201
    assert main(["restore", "--force"]) == 0
    assert _open_and_count(path) == 200
