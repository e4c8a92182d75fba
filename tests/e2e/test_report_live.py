"""`abook report` as a person and a dashboard read it: the summary first in local time, `--watch`
against a real qBittorrent until Ctrl-C, and the metrics file read by Prometheus' parser."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from abook.state import State
from tests.e2e.helpers import abook_env, abook_executable, run_abook
from tests.fakes.mam import FakeMAM, mam_row
from tests.qbt import wait_for

MAM_COOKIE = "test-mam-cookie-live-0123"


@pytest.fixture
def tracker():
    mam = FakeMAM([mam_row(tid, f"Book {tid}", authors=["Test Author"]) for tid in (1, 2)], mam_id=MAM_COOKIE)
    mam.set_user(ratio=1.1, uploaded_bytes=110 * 2**30, downloaded_bytes=100 * 2**30)
    with mam:
        yield mam


def metrics(path: Path) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(path.read_text()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_report_begins_with_the_summary_in_the_machines_time_zone(tmp_path, tracker):
    env = {"ABOOK_DB": str(tmp_path / "abook.db"), "MAM_URL": tracker.url, "MAM_ID": MAM_COOKIE, "QB_URL": "",
           "TZ": "Asia/Tokyo"}
    assert run_abook(["ratio-check"], env).code == 4
    res = run_abook(["report"], env)
    assert res.code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith("abook · the last 7 days · ") and first.endswith("JST")
    assert "Account:    ratio 1.10" in res.stdout and "hold ON" in res.stdout
    assert "checked just now" in res.stdout or "min ago" in res.stdout
    # The old sections follow, unchanged.
    assert res.stdout.index("Account:") < res.stdout.index("Library:\n") < res.stdout.index("Last runs:")


def watch(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([*abook_executable(), "report", "--watch", *args], env=abook_env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def frames(proc: subprocess.Popen, wanted: int, timeout: float = 60) -> list[list[str]]:
    """Read plain --watch output until ``wanted`` frames (a frame starts with a timestamp line)."""
    out: list[list[str]] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if not line.startswith("  "):
            if len(out) == wanted:
                break
            out.append([])
        out[-1].append(line.rstrip("\n"))
    return out


def test_watch_shows_the_downloads_in_flight_live_from_qbittorrent_until_ctrl_c(tmp_path, tracker, qbt):
    client = qbt.client()
    added = client.add_torrent(tracker.torrent_bytes(1), save_path=str(tmp_path / "dl"), category="audiobooks",
                               tags=["abook"])
    wait_for(lambda: (t := client.get(added.hash)) is not None and t.state != "checkingResumeData",
             what="the torrent's state in qBittorrent")
    db = tmp_path / "abook.db"
    state = State.open(db)
    state.add_download({"source": "mam", "torrent_id": "1", "info_hash": added.hash, "qb_hash": added.hash,
                        "status": "downloading", "title": "Book 1", "size": 40 * 1024})
    state.add_download({"source": "mam", "torrent_id": "2", "status": "pending", "title": "Book 2",
                        "status_reason": "ratio hold is on"})
    state.close()
    env = {"ABOOK_DB": str(db), "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password}
    proc = watch(env, "--interval", "1")
    try:
        got = frames(proc, 2)
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert len(got) == 2, got
    head, *rows = got[0]
    assert "1 downloading · 1 waiting" in head
    # qBittorrent's own state, read live (the state file only says "downloading"); no peer: 0 %.
    assert rows[0] in {f"  #1 Book 1: 0% of 41 kB ({s})" for s in ("stalledDL", "metaDL", "downloading", "queuedDL")}
    assert rows[1] == "  #2 Book 2: 0% (pending) - ratio hold is on"
    # No task row: a live view is not a run.
    assert State.open(db).scalar("SELECT COUNT(*) FROM tasks") == 0


def test_watch_keeps_going_when_qbittorrent_is_down_and_refuses_other_outputs(tmp_path):
    db = tmp_path / "abook.db"
    state = State.open(db)
    state.add_download({"source": "mam", "torrent_id": "1", "info_hash": "a" * 40, "status": "downloading",
                        "title": "Book 1", "progress": 0.42, "size": 2 * 10**9})
    state.close()
    proc = watch({"ABOOK_DB": str(db), "QB_URL": "http://127.0.0.1:9", "HTTP_RETRIES": "1"}, "--interval", "1")
    try:
        got = frames(proc, 2)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err
    assert got[0][1] == "  #1 Book 1: 42% of 2.0 GB (downloading)"  # as the state file has it
    assert got[0][2].startswith("  qBittorrent: ") and "as the last downloads run saw it" in got[0][2]
    bad = run_abook(["report", "--watch", "--json"], {"ABOOK_DB": str(db)})
    assert bad.code == 2 and "--watch shows a live view" in bad.stderr
    bad.assert_one_line_error()


def test_metrics_file_after_every_run_and_on_demand(tmp_path, tracker):
    prom = tmp_path / "textfile" / "abook.prom"
    prom.parent.mkdir()
    env = {"ABOOK_DB": str(tmp_path / "abook.db"), "MAM_URL": tracker.url, "MAM_ID": MAM_COOKIE, "QB_URL": "",
           "METRICS_FILE": str(prom)}
    assert run_abook(["ratio-check"], env).code == 4
    m = metrics(prom)
    assert m[("abook_tracker_hold", ())] == 1
    assert m[("abook_tracker_ratio", ())] == pytest.approx(1.1)
    assert m[("abook_last_run_exit_code", (("command", "ratio-check"),))] == 4
    # Below the floor the buffer is a debt: 110 GiB / 1.5 - 100 GiB.
    assert m[("abook_tracker_buffer_bytes", ())] == int(110 * 2**30 / 1.5 - 100 * 2**30)
    # A failing run rewrites it too: a dashboard sees "scan exits 3" at once.
    assert run_abook(["scan"], {**env, "ABS_URL": "http://127.0.0.1:9", "ABS_TOKEN": "t0ken-live"}).code == 3
    m = metrics(prom)
    assert m[("abook_last_run_exit_code", (("command", "scan"),))] == 3
    assert m[("abook_last_run_success", (("command", "scan"),))] == 0
    assert m[("abook_failures_total", (("command", "scan"),))] == 1
    assert not [p for p in prom.parent.iterdir() if p.name != "abook.prom"]  # no temporary left

    # On demand, without METRICS_FILE.
    other = tmp_path / "other.prom"
    res = run_abook(["report", "--prometheus", str(other)], {**env, "METRICS_FILE": ""})
    assert res.code == 0, res.output
    assert metrics(other)[("abook_tracker_hold", ())] == 1
    bad = run_abook(["report", "--prometheus", str(tmp_path / "missing" / "x.prom")], {**env, "METRICS_FILE": ""})
    assert bad.code == 2 and "cannot write the metrics file" in bad.stderr
    bad.assert_one_line_error()

    # METRICS_FILE that cannot be written: a warning, never another exit code.
    broken = run_abook(["ratio-check"], {**env, "METRICS_FILE": str(tmp_path / "missing" / "abook.prom")})
    assert broken.code == 4 and "Traceback" not in broken.output
    assert len([ln for ln in broken.stderr.splitlines() if "METRICS_FILE" in ln]) == 1
    broken.assert_no_secret([MAM_COOKIE])
