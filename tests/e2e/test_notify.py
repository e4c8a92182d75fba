"""Notifications as a user gets them: the CLI runs as cron would, with a receiver on 127.0.0.1
standing in for the Apprise target (``json://127.0.0.1:PORT/...``), and the fake tracker / ABS /
a real qBittorrent making the events happen."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, mam_row
from tests.fakes.notify_target import FakeNotifyTarget
from tests.qbt import wait_for

MAM_COOKIE = "test-mam-cookie-notify-0123"
ABS_TOKEN = "test-abs-token-notify-0123"
HOOK = "hook-secret-path-0123456789"  # a webhook path is a credential: it must never be shown


@pytest.fixture
def receiver():
    with FakeNotifyTarget() as target:
        yield target


@pytest.fixture
def tracker():
    mam = FakeMAM([], mam_id=MAM_COOKIE)
    mam.set_user(ratio=1.1, uploaded_bytes=110 * 2**30, downloaded_bytes=100 * 2**30)
    with mam:
        yield mam


def env_for(tmp_path: Path, mam: FakeMAM, urls: str, **extra: str) -> dict[str, str]:
    return {"ABOOK_DB": str(tmp_path / "abook.db"), "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE, "QB_URL": "",
            "NOTIFY_URLS": urls, "TZ": "America/New_York", **extra}


def no_secret(receiver: FakeNotifyTarget, *results, secrets=(MAM_COOKIE, ABS_TOKEN, HOOK)) -> None:
    for m in receiver.messages:
        for secret in secrets:
            assert secret not in m.title + m.message, f"a secret reached a notification: {m.title}"
    for r in results:
        r.assert_no_secret(secrets)


def test_the_hold_is_told_once_when_set_and_once_when_lifted_to_every_target(tmp_path, receiver, tracker):
    urls = f"{receiver.json_url(HOOK)}, {receiver.json_url('second')}"
    env = env_for(tmp_path, tracker, urls)
    first = run_abook(["ratio-check"], env)
    assert first.code == 4, first.output
    again = run_abook(["ratio-check"], env)  # the hold stays on: nothing new to tell
    assert again.code == 4, again.output
    on = [m for m in receiver.messages if m.title == "abook: ratio hold ON"]
    assert sorted(m.path for m in on) == sorted([f"/{HOOK}", "/second"])  # each target once
    body = on[0].message
    assert "Ratio 1.10" in body and "RATIO_FLOOR 1.5" in body and on[0].type == "warning"
    assert "Buffer -26.7 GB before the ratio falls to 1.5" in body  # 110 GiB / 1.5 - 100 GiB: a debt

    tracker.set_ratio(3.0)
    tracker.set_user(uploaded_bytes=300 * 2**30, downloaded_bytes=100 * 2**30)
    lifted = run_abook(["ratio-check"], env)
    assert lifted.code == 0, lifted.output
    off = [m for m in receiver.messages if m.title == "abook: ratio hold lifted"]
    assert len(off) == 2 and off[0].type == "success" and "Ratio 3.00" in off[0].message
    assert len(receiver.messages) == 4
    no_secret(receiver, first, again, lifted)


def test_an_unreachable_target_changes_no_exit_code_and_gets_the_message_when_it_is_back(
        tmp_path, receiver, tracker):
    dead = run_abook(["ratio-check"], env_for(tmp_path, tracker, f"json://127.0.0.1:9/{HOOK}"))
    assert dead.code == 4, dead.output  # the same as without notifications
    assert "Traceback" not in dead.output
    warnings = [ln for ln in dead.stderr.splitlines() if "notification" in ln]
    assert len(warnings) == 1 and "kept for the next run" in warnings[0]
    no_secret(receiver, dead)

    # The user fixes NOTIFY_URLS; the hold is still on (no news); then the receiver restarts just as
    # the hold is set again.
    env = env_for(tmp_path, tracker, receiver.json_url(HOOK))
    tracker.set_ratio(3.0)
    tracker.set_user(uploaded_bytes=300 * 2**30, downloaded_bytes=100 * 2**30)
    receiver.fail_next(502, times=2)
    assert run_abook(["ratio-check"], env).code == 0  # released: told...
    tracker.set_ratio(1.1)
    down = run_abook(["ratio-check"], env)  # ...but the receiver is down for this and the hold ON
    assert down.code == 4 and receiver.messages == []
    later = run_abook(["ratio-check"], env)  # five minutes later both arrive, in order, once
    assert later.code == 4
    assert receiver.titles() == ["abook: ratio hold lifted", "abook: ratio hold ON"]
    assert run_abook(["ratio-check"], env).code == 4
    assert receiver.titles() == ["abook: ratio hold lifted", "abook: ratio hold ON"]
    # The message for the first, wrong URL was dropped with it, not sent somewhere else.
    gone = sqlite3.connect(env["ABOOK_DB"]).execute(
        "SELECT COUNT(*) FROM notifications WHERE gave_up_at IS NOT NULL").fetchone()[0]
    assert gone == 1
    no_secret(receiver, down, later)


def test_vip_ending_soon_is_told_once_not_every_five_minutes(tmp_path, receiver, tracker):
    tracker.set_ratio(4.0)
    tracker.set_user(vip_until=(datetime.utcnow() + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S"))
    env = env_for(tmp_path, tracker, receiver.json_url(HOOK), VIP_WARN_DAYS="7")
    for _ in range(3):
        res = run_abook(["ratio-check"], env)
        assert res.code == 0, res.output
    (vip,) = receiver.messages
    assert vip.title.startswith("abook: VIP ends in 2 days") or vip.title.startswith("abook: VIP ends in 3 days")
    assert "EST" in vip.message or "EDT" in vip.message  # the machine's zone (TZ), not UTC
    # NOTIFY_ON without vip: nothing.
    tracker.set_user(vip_until=(datetime.utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S"))
    assert run_abook(["ratio-check"], {**env, "NOTIFY_ON": "hold,failure"}).code == 0
    assert len(receiver.messages) == 1


def test_a_command_failing_twice_in_a_row_is_told_once_then_when_it_works_again(tmp_path, receiver):
    fake = FakeABS(token=ABS_TOKEN)
    fake.add_book("The Final Empire", authors=["Brandon Sanderson"])
    env = {"ABOOK_DB": str(tmp_path / "abook.db"), "ABS_TOKEN": ABS_TOKEN, "NOTIFY_URLS": receiver.json_url(HOOK),
           "ABS_URL": "http://127.0.0.1:9"}
    codes = [run_abook(["scan"], env).code for _ in range(4)]
    assert codes == [3, 3, 3, 3]
    assert receiver.titles() == ["abook scan failed twice in a row"]
    msg = receiver.messages[0]
    assert "exit 3" in msg.message and "Audiobookshelf" in msg.message and msg.type == "failure"
    with fake.serve():
        ok = run_abook(["scan"], {**env, "ABS_URL": fake.url})
    assert ok.code == 0, ok.output
    assert receiver.titles() == ["abook scan failed twice in a row", "abook scan works again"]
    no_secret(receiver, ok)


def test_notify_test_reports_each_target_without_showing_it(tmp_path, receiver):
    env = {"ABOOK_DB": str(tmp_path / "abook.db"),
           "NOTIFY_URLS": f"{receiver.json_url(HOOK)},json://127.0.0.1:9/{HOOK}-two"}
    res = run_abook(["notify", "--test"], env)
    assert res.code == 3, res.output
    assert "#1 JSON: sent" in res.stdout and "#2 JSON: FAILED" in res.stdout
    assert "1 of 2 targets reached" in res.stdout
    assert receiver.titles() == ["abook: test notification"]
    no_secret(receiver, res)
    shown = run_abook(["notify"], env)
    assert shown.code == 0 and "2 targets (#1 json, #2 json)" in shown.stdout
    no_secret(receiver, shown)
    unset = run_abook(["notify", "--test"], {"ABOOK_DB": str(tmp_path / "abook.db")})
    assert unset.code == 2 and "NOTIFY_URLS is not set" in unset.stderr
    unset.assert_one_line_error()


def test_the_weekly_summary_is_the_report_panel_as_text(tmp_path, receiver, tracker):
    env = env_for(tmp_path, tracker, receiver.json_url(HOOK), BOOK_VALUE="15")
    run_abook(["ratio-check"], env)
    receiver.messages.clear()
    res = run_abook(["report", "--notify"], env)
    assert res.code == 0, res.output
    (weekly,) = receiver.messages
    assert weekly.title == "abook: 0 books added in 7 days"
    lines = weekly.message.splitlines()
    assert lines[0].startswith("abook · the last 7 days · ") and lines[0].endswith(("EST", "EDT"))
    for label in ("Library:", "Downloaded:", "In flight:", "Missing:", "Next batch:", "Authors:", "Failures:",
                  "Account:", "Runs:"):
        assert any(ln.startswith(label) for ln in lines), label
    assert "hold ON" in weekly.message and "ratio 1.10" in weekly.message
    # The printed report begins with the same panel.
    assert res.stdout.startswith(lines[0])
    no_secret(receiver, res)
    off = run_abook(["report", "--notify"], {**env, "NOTIFY_ON": "hold"})
    assert off.code == 0 and "no 'weekly'" in off.stderr and len(receiver.messages) == 1
    # The Monday timer of contrib/ runs `report --notify` for everyone: without NOTIFY_URLS it still works.
    unset = run_abook(["report", "--notify"], {**env, "NOTIFY_URLS": ""})
    assert unset.code == 0 and "NOTIFY_URLS is not set" in unset.stderr and unset.stdout.startswith("abook · ")


def test_books_imported_in_one_run_are_one_message(tmp_path, receiver, qbt_pair):
    seeder, client_qbt = qbt_pair
    library = tmp_path / "library"
    library.mkdir()
    abs_fake = FakeABS(token=ABS_TOKEN, library_path=library, scan_delay=0.3)
    mam = FakeMAM([mam_row(301, "Golden Son", authors=["Pierce Brown"], narrators=["Tim Gerard Reynolds"],
                           series=[("Red Rising", "2")], category=41, snatches=100, language=1)],
                  mam_id=MAM_COOKIE)
    mam.set_ratio(5.0)
    with abs_fake.serve(), mam:
        env = {"ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN, "ABS_LIBRARY_PATH": str(library),
               "ABS_SCAN_TIMEOUT": "20", "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
               "QB_URL": client_qbt.url, "QB_USERNAME": client_qbt.username, "QB_PASSWORD": client_qbt.password,
               "QB_SAVE_PATH": str(tmp_path / "downloads"), "TOP10_GENRES": "Fantasy", "TOP10_COUNT": "1",
               "ABOOK_DB": str(tmp_path / "abook.db"), "NOTIFY_URLS": receiver.json_url(HOOK)}
        assert run_abook(["scan"], env).code == 0
        data = mam.torrent_bytes(301)
        info_hash = seeder.client().add_torrent(data, save_path=str(mam.payload_path(301).parent),
                                                skip_checking=True).hash
        wait_for(lambda: mam._swarms, 20, what="the seeder's announce")
        assert run_abook(["top10"], env).code == 0
        client = client_qbt.client()
        assert run_abook(["downloads"], env).code == 0
        wait_for(lambda: (t := client.get(info_hash)) is not None and t.is_complete, 90, what="the download")
        res = run_abook(["downloads"], env)
        assert res.code == 0, res.output
        again = run_abook(["downloads"], env)
        assert again.code == 0
    status = sqlite3.connect(env["ABOOK_DB"]).execute("SELECT status FROM downloads").fetchone()[0]
    assert status == "done"
    assert receiver.titles() == ["abook: 1 book added to your library"]
    assert receiver.messages[0].message == "• Golden Son — Pierce Brown"
    no_secret(receiver, res, again)
