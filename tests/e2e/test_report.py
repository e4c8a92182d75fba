"""`abook report` (text and --json) with every section, and retention on every run."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from abook.state import State, iso
from tests.e2e.helpers import run_abook
from tests.fakes.mam import FakeMAM

MAM_COOKIE = "test-mam-cookie-report"
TOP_KEYS = {"schema", "generated_at", "abook_version", "since", "library", "runs", "failures",
            "since_days", "pipeline", "top10", "gaps", "metadata", "tracker"}


@pytest.fixture
def env(tmp_path: Path):
    db = tmp_path / "abook.db"
    state = State.open(db)
    state.add_download({"source": "mam", "torrent_id": "11", "status": "done", "size": 3 * 10**9,
                        "title": "Finished Book"})
    state.add_download({"source": "mam", "torrent_id": "12", "status": "pending", "size": 10**9,
                        "title": "Waiting Book", "status_reason": "ratio hold"},
                       decision={"task_id": 5, "genre": "Fantasy", "rank": 1, "source": "mam", "torrent_id": "12",
                                 "title": "Waiting Book", "author": "An Author", "decision": "pending",
                                 "reason": "held by the ratio guard"})
    state.record_decision({"task_id": 5, "genre": "Fantasy", "rank": 2, "source": "mam", "torrent_id": "13",
                           "title": "Owned Book", "author": "An Author", "decision": "skipped",
                           "reason": "owned: Owned Book"})
    state.record_failure("downloads", "download", "stalled", "no progress for 12 h", ref="7", title="Stuck Book")
    state.close()
    mam = FakeMAM([], mam_id=MAM_COOKIE)
    mam.set_ratio(1.1)
    with mam:
        yield {"ABOOK_DB": str(db), "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE, "QB_URL": "", "BOOK_VALUE": "20"}


def test_report_text_and_json_have_every_section(env):
    held = run_abook(["ratio-check"], env)
    assert held.code == 4, held.output
    assert "QB_URL is not set" in held.output

    res = run_abook(["report", "--json"], env)
    assert res.code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema"] == 1 and set(data) >= TOP_KEYS
    p = data["pipeline"]
    assert p["statuses"]["done"] == {"count": 1, "bytes": 3 * 10**9, "gb": 3.0}
    assert p["statuses"]["pending"]["count"] == 1 and p["unfinished"] == 1
    assert p["estimated_value"] == 20.0 and p["book_value"] == 20.0
    fantasy = data["top10"]["genres"][0]
    assert fantasy["genre"] == "Fantasy" and [d["decision"] for d in fantasy["decisions"]] == ["pending", "skipped"]
    t = data["tracker"]
    assert t["hold"] and "1.10" in t["hold"] and t["now"]["ratio"] == 1.1 and t["now"]["class"]
    assert t["now"]["unsat_limit"] is not None
    assert [f["title"] for f in data["failures"] if f["command"] == "downloads"] == ["Stuck Book"]
    assert {r["command"] for r in data["runs"]} >= {"ratio-check"}
    assert data["runs"][0]["status"] in ("held", "ok")
    assert "corrections" in data["metadata"] and "fields" in data["metadata"]
    assert isinstance(data["gaps"], dict)

    text = run_abook(["report"], env)
    assert text.code == 0, text.output
    for title in ("Library", "Pipeline", "Top 10 Fantasy", "Tracker account", "Last runs", "Failures",
                  "estimated value: 1 books x 20"):
        assert title in text.stdout, title
    assert "Owned Book" in text.stdout and "hold" in text.stdout


def test_since_bounds_the_recent_sections(env):
    assert run_abook(["report", "--json", "--since", "2w"], env).code == 0
    bad = run_abook(["report", "--since", "soon"], env)
    assert bad.code == 2


def test_every_run_deletes_history_older_than_retention_days_but_keeps_failures(env):
    old = iso(datetime.now(UTC) - timedelta(days=45))
    conn = sqlite3.connect(env["ABOOK_DB"])
    with conn:
        conn.execute("INSERT INTO tasks (command, started_at, status) VALUES ('scan', ?, 'ok')", (old,))
        conn.execute("INSERT INTO tasks (command, started_at, status) VALUES ('scan', ?, 'ok')", (iso(),))
        conn.execute("INSERT INTO downloads (status, title, created_at, updated_at) VALUES ('done', 'Old', ?, ?)",
                     (old, old))
        conn.execute("INSERT INTO metadata_corrections (field, created_at) VALUES ('year', ?)", (old,))
        conn.execute("INSERT INTO tracker_snapshots (taken_at, ratio) VALUES (?, 1.0)", (old,))
        conn.execute("INSERT INTO tracker_snapshots (taken_at, ratio) VALUES (?, 2.0)", (iso(),))
        conn.execute("INSERT INTO top10_runs (task_id, run_at, title) VALUES (1, ?, 'old')", (old,))
        conn.execute("INSERT INTO failed_attempts (command, kind, reason, created_at) VALUES ('x', 'y', 'z', ?)",
                     (old,))
    conn.close()
    # A dry run is no run for retention: nothing goes.
    assert run_abook(["ratio-check", "--dry-run"], env).code in (0, 4)
    conn = sqlite3.connect(env["ABOOK_DB"])
    assert conn.execute("SELECT COUNT(*) FROM metadata_corrections").fetchone()[0] == 1
    conn.close()

    assert run_abook(["report"], {**env, "RETENTION_DAYS": "30"}).code == 0
    conn = sqlite3.connect(env["ABOOK_DB"])
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert one("SELECT COUNT(*) FROM tasks WHERE command='scan'") == 1
    assert one("SELECT COUNT(*) FROM downloads WHERE title='Old'") == 0
    assert one("SELECT COUNT(*) FROM downloads") == 2  # the recent done one and the pending one stay
    assert one("SELECT COUNT(*) FROM metadata_corrections") == 0
    assert one("SELECT COUNT(*) FROM tracker_snapshots") == 1
    assert one("SELECT COUNT(*) FROM top10_runs WHERE title='old'") == 0
    assert one("SELECT COUNT(*) FROM failed_attempts WHERE command='x'") == 1  # kept forever
    conn.close()
