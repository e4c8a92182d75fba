"""The report's first screen: the summary panel as rich records it (a screenshot in text), the
same rows as plain text (the weekly notification), local and relative times, the sparkline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from abook import render
from abook.state import State, iso
from abook.times import local_text, relative
from abook.workflows import report

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
GB = 10**9


def world() -> State:
    """A week of abook: books in the library, downloads at every stage, gaps, a failure, the account."""
    st = State.open(None)
    ms = lambda dt: int(dt.timestamp() * 1000)  # noqa: E731
    books = [{"id": f"b{i}", "title": f"Book {i}", "author_name": f"Author {i % 40}", "size": GB, "duration": 36000,
              "added_at": ms(NOW - timedelta(days=30 if i >= 12 else 2)), "completeness": 0.8} for i in range(1234)]
    st.apply_scan("lib1", books, [], authors=[{"id": f"a{i}", "name": f"Author {i}"} for i in range(40)])
    for i in range(25):
        st.set_author_gaps(f"a{i}", f"Author {i}", owned=3, known_total=5, missing=2)
    for n, (status, done_days) in enumerate([("done", 1), ("done", 2), ("done", 3), ("done", 4), ("done", 5),
                                             ("done", 6), ("done", 6), ("done", 6), ("imported", 1),
                                             ("downloading", None), ("downloading", None), ("queued", None),
                                             ("pending", None), ("pending", None), ("pending", None),
                                             ("failed", None), ("done", 20)]):
        st.add_download({"source": "mam", "torrent_id": str(n), "title": f"Grab {n}", "status": status,
                         "size": int(0.5 * GB),
                         "completed_at": iso(NOW - timedelta(days=done_days)) if done_days else None,
                         "updated_at": iso(NOW - timedelta(days=done_days or 0))})
    st.save_missing([{"kind": "author_gap", "author_id": f"a{n % 25}", "author_name": f"Author {n % 25}",
                      "title": f"Missing {n}", "status": "wanted" if n < 30 else "not_found"} for n in range(34)])
    # The same book missing from its series and from its author is one book (and it is queued).
    st.save_missing([{"kind": kind, "title": "Queued One", "author_name": "Author 1", "asin": "B000QUEUED",
                      "status": "queued" if kind == "series_gap" else "wanted"} for kind in ("series_gap", "author_gap")])
    st.record_failure("downloads", "download", "stalled", "no progress for 12 h; gave up after 3 retries",
                      ref="15", title="Grab 15")
    st.conn.execute("UPDATE failed_attempts SET created_at=?", (iso(NOW - timedelta(hours=2)),))
    for h, r in enumerate((1.62, 1.58, 1.55, 1.61, 1.70, 1.84, 1.93)):
        st.add_snapshot({"taken_at": iso(NOW - timedelta(hours=7 - h)), "username": "mouse", "ratio": r,
                         "uploaded": int(r * 200 * GB), "downloaded": 200 * GB, "bonus": 52100.0,
                         "class_name": "Power User", "vip_until": iso(NOW + timedelta(days=89, hours=3)),
                         "unsat_count": 12, "unsat_limit": 100, "action": "ok"})
    for command, minutes in (("ratio-check", 3), ("downloads", 1), ("scan", 330)):
        tid = st.start_task(command, {})
        st.finish_task(tid, "ok", {}, exit_code=0)
        st.conn.execute("UPDATE tasks SET started_at=?, finished_at=? WHERE id=?",
                        (iso(NOW - timedelta(minutes=minutes + 1)), iso(NOW - timedelta(minutes=minutes)), tid))
    return st


PANEL = """\
╭─ abook · the last 7 days · Mon 02 Mar 2026 08:00 CET ────────────────────────────────────────╮
│ Library     1,234 books (+12 in 7 days) · 40 authors                                         │
│ Downloaded  9 books · 4.5 GB · 9 added to the library, worth about 112.50                    │
│ In flight   3 downloading · 3 waiting to start                                               │
│ Missing     1 queued · 30 still wanted · 4 not found                                         │
│ Next batch  10 books on the next fill-series / fill-authors run                              │
│ Authors     25 of 40 catalogued                                                              │
│ Failures    1 in 7 days · newest 2 h ago: Grab 15: no progress for 12 h; gave up after 3     │
│             retries                                                                          │
│ Account     ratio 1.93 ▂▂▁▂▄▆█ · buffer 53.4 GB (to ratio 1.5) · hold off                    │
│             Power User · 52,100 bonus points · unsatisfied 12/100                            │
│             VIP until 30 May 2026 (in 89 days) · checked 1 h ago                             │
│ Runs        3 commands, none failing · last: downloads 1 min ago                             │
╰──────────────────────────────────────────────────────────────────────────────────────────────╯
"""


def test_the_summary_panel_as_a_terminal_shows_it():
    data = report.core(world(), report.ReportOptions(book_value=12.5, gap_batch=10), now=NOW)
    console = Console(record=True, width=96, color_system=None, force_terminal=True, legacy_windows=False)
    console.print(render.summary_panel(data, now=NOW, tz=BERLIN))
    assert console.export_text() == PANEL


def test_the_weekly_notification_is_the_same_rows_as_text():
    data = report.core(world(), report.ReportOptions(book_value=12.5, gap_batch=10), now=NOW)
    text = render.summary_text(data, now=NOW, tz=BERLIN).splitlines()
    assert text[0] == "abook · the last 7 days · Mon 02 Mar 2026 08:00 CET"
    assert text[1] == "Library:    1,234 books (+12 in 7 days) · 40 authors"
    assert text[8] == "Account:    ratio 1.93 ▂▂▁▂▄▆█ · buffer 53.4 GB (to ratio 1.5) · hold off"  # GiB, as ratio-check
    assert text[9].startswith("            Power User")
    # The summary is in --json too, under a key of its own (keys are only ever added).
    s = json.loads(json.dumps(data))["summary"]
    assert (s["downloaded"], s["added"], s["added_by_abook"], s["estimated_value"]) == (9, 12, 9, 112.5)
    assert (s["missing_wanted"], s["missing_queued"], s["missing_not_found"], s["next_batch"]) == (30, 1, 4, 10)
    assert s["account"]["buffer_bytes"] == int(1.93 * 200 * GB / 1.5 - 200 * GB)  # no guard view: the snapshot's


def test_the_buffer_is_the_guards_when_ratio_check_left_one():
    st = world()
    st.set_kv("guard_view", json.dumps({"buffer": {"bytes": 12 * 2**30, "gb": 12.0, "min_gb": 10.0}}))
    data = report.core(st, report.ReportOptions(), now=NOW)
    assert data["summary"]["account"]["buffer_bytes"] == 12 * 2**30
    assert "buffer 12.0 GB (to ratio 1.5)" in dict(render.summary_rows(data, now=NOW, tz=BERLIN))["Account"]
    st.set_kv("guard_view", json.dumps({"buffer": {"bytes": None, "gb": None, "min_gb": 10.0}}))
    data = report.core(st, report.ReportOptions(), now=NOW)
    assert "buffer unlimited" in dict(render.summary_rows(data, now=NOW, tz=BERLIN))["Account"]


def test_a_hold_and_a_failing_command_are_what_the_panel_says_first():
    st = world()
    st.set_hold("ratio 1.20 is below RATIO_FLOOR 1.5")
    tid = st.start_task("top10", {})
    st.finish_task(tid, "failed", {}, "MAM session expired or IP mismatch", exit_code=3)
    data = report.core(st, report.ReportOptions(), now=NOW)
    rows = dict(render.summary_rows(data, now=NOW, tz=BERLIN))
    assert "hold ON: ratio 1.20 is below RATIO_FLOOR 1.5" in rows["Account"]
    assert rows["Runs"].startswith("top10 FAILED") and "exit 3: MAM session expired" in rows["Runs"]


def test_an_expired_vip_and_a_quiet_week():
    st = State.open(None)
    st.add_snapshot({"taken_at": iso(NOW - timedelta(minutes=5)), "username": "m", "ratio": 2.0, "uploaded": 200 * GB,
                     "downloaded": 100 * GB, "bonus": 10.0, "class_name": "Power User",
                     "vip_until": iso(NOW - timedelta(days=3)), "unsat_count": 0, "unsat_limit": 50, "action": "ok"})
    rows = report.core(st, report.ReportOptions(), now=NOW)
    text = render.summary_text(rows, now=NOW, tz=BERLIN)
    assert "VIP ended 27 Feb 2026 (3 days ago) · checked 5 min ago" in text
    assert "renew" not in text and "Downloaded: none in 7 days" in text


def test_an_empty_state_file_still_reads_well():
    data = report.core(State.open(None), report.ReportOptions(), now=NOW)
    rows = dict(render.summary_rows(data, now=NOW, tz=BERLIN))
    assert rows["Account"] == "no snapshot yet (abook ratio-check reads it)"
    assert rows["Runs"] == "no run recorded yet" and rows["Failures"] == "none in 7 days"


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=20), "just now"), (timedelta(minutes=-3), "3 min ago"), (timedelta(hours=-2), "2 h ago"),
    (timedelta(hours=30), "in 30 h"), (timedelta(days=89, hours=3), "in 89 days"), (timedelta(days=-1, hours=-1), "25 h ago"),
    (timedelta(days=-3), "3 days ago"),
])
def test_relative_times(delta, text):
    assert relative(NOW + delta, NOW) == text


def test_times_are_local_to_the_zone_asked_for():
    assert local_text(iso(NOW), BERLIN) == "Mon 02 Mar 2026 08:00 CET"
    assert local_text(iso(NOW + timedelta(days=150)), BERLIN) == "Thu 30 Jul 2026 09:00 CEST"
    assert local_text(iso(NOW), ZoneInfo("America/New_York"), "%H:%M %Z") == "02:00 EST"
    assert local_text(None) == "-"


@pytest.mark.parametrize(("values", "line"), [
    ([], ""), ([1.5, 1.5], "▄▄"), ([1.0, 2.0], "▁█"), ([1.62, 1.58, 1.55, 1.61, 1.70, 1.84, 1.93], "▂▂▁▂▄▆█"),
    ([None, 2.0, None, 1.0], "█▁"),
])
def test_sparkline(values, line):
    assert render.sparkline(values) == line
