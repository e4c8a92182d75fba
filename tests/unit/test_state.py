from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from abook.errors import LockedError
from abook.migrations import migrations
from abook.state import State

EXPECTED_TABLES = {
    "books", "authors", "series", "missing_books", "downloads", "top10_runs", "metadata_corrections",
    "failed_attempts", "tasks", "tracker_snapshots", "settings_kv",
}


def test_blank_db_reaches_current_schema_and_is_private(tmp_path: Path):
    path = tmp_path / "sub" / "abook.db"
    state = State.open(path)
    assert set(state.db.table_names()) >= EXPECTED_TABLES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert state.scalar("PRAGMA journal_mode") == "wal"
    assert [m.name for m in migrations.pending(state.db)] == []
    state.close()


def test_older_schema_with_rows_migrates_forward(tmp_path: Path):
    path = tmp_path / "abook.db"
    import sqlite_utils

    db = sqlite_utils.Database(path)
    first = migrations._migrations[0].name
    # An "old" file: only the first step applied, with a row in it.
    later = [m.name for m in migrations._migrations[1:]]
    if later:
        migrations.apply(db, stop_before=later[0])
    else:
        migrations.apply(db)
    db["tasks"].insert({"command": "scan", "started_at": "2026-01-01T00:00:00+00:00", "status": "ok"})
    db.close()
    state = State.open(path)
    assert first in {m.name for m in migrations.applied(state.db)}
    assert migrations.pending(state.db) == []
    assert state.scalar("SELECT COUNT(*) FROM tasks") == 1
    state.close()


def test_lock_is_exclusive_per_command(tmp_path: Path):
    a = State.open(tmp_path / "abook.db")
    b = State.open(tmp_path / "abook.db")
    held = a.lock("scan")
    with pytest.raises(LockedError) as err:
        b.lock("scan")
    assert err.value.exit_code == 75 and "still running" in str(err.value)
    other = b.lock("report")  # another command is not blocked
    other.release()
    held.release()
    b.lock("scan").release()


def test_tasks_and_failures_are_recorded(tmp_path: Path):
    state = State.open(tmp_path / "abook.db")
    tid = state.start_task("scan", {"library": None})
    state.record_failure("scan", "run", "failed", "boom", task_id=tid)
    state.finish_task(tid, "failed", {"new": 0}, "boom")
    run = state.last_runs()[0]
    assert run["status"] == "failed" and run["error"] == "boom"
    assert state.failures()[0]["reason"] == "boom"


def test_transaction_rolls_back_on_error(tmp_path: Path):
    state = State.open(tmp_path / "abook.db")
    with pytest.raises(RuntimeError), state.tx():
        state.conn.execute("INSERT INTO settings_kv (key, value) VALUES ('a', 'b')")
        raise RuntimeError("killed")
    assert state.get_kv("a") is None


def test_not_a_database_is_a_config_error(tmp_path: Path):
    from abook.errors import ConfigError

    bad = tmp_path / "abook.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises((ConfigError, sqlite3.DatabaseError)):
        State.open(bad)


def test_schema_version_matches_the_migrations(tmp_path: Path):
    from abook.state import SCHEMA_VERSION

    assert len(migrations._migrations) == SCHEMA_VERSION
    state = State.open(tmp_path / "abook.db")
    assert state.scalar("PRAGMA user_version") == SCHEMA_VERSION
    state.close()


def test_runs_whose_process_died_are_marked_killed(tmp_path: Path):
    import os

    state = State.open(tmp_path / "abook.db")
    alive = state.start_task("scan", {})
    dead = state.start_task("top10", {})
    state.conn.execute("UPDATE tasks SET pid=? WHERE id=?", (2**22 + 12345, dead))  # no such process
    assert state.close_dead_tasks() == 1
    statuses = {r["id"]: r["status"] for r in state.q("SELECT id, status FROM tasks")}
    assert statuses == {alive: "running", dead: "killed"}
    assert os.getpid() == state.q("SELECT pid FROM tasks WHERE id=?", (alive,))[0]["pid"]
