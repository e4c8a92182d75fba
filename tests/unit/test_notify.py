"""Notifications: which result is which event, the outbox (once per target, kept while a target is
down), and real Apprise delivering to a receiver on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from abook import events, notify
from abook.config import Settings, split_urls, url_secrets
from abook.http import redact, register_secret
from abook.notify import Delivery, Event, Target
from abook.state import State
from abook.workflows.downloads import DownloadsResult, Move
from abook.workflows.ratio import RatioCheckResult
from abook.workflows.report import ReportResult
from tests.fakes.notify_target import FakeNotifyTarget

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GB = 10**9


@pytest.fixture
def state() -> State:
    return State.open(None)


def settings(**env: str) -> Settings:
    return Settings.load(environ=env, cwd=Path("/nonexistent"))


# ------------------------------------------------------------------ the URLs
@pytest.mark.parametrize(("text", "urls"), [
    ("", []),
    ("json://127.0.0.1:8080/hook", ["json://127.0.0.1:8080/hook"]),
    ("ntfys://ntfy.sh/topic-a, discord://123/abc", ["ntfys://ntfy.sh/topic-a", "discord://123/abc"]),
    ("ntfys://ntfy.sh/a discord://1/b,,mailtos://u:p@gmail.com",
     ["ntfys://ntfy.sh/a", "discord://1/b", "mailtos://u:p@gmail.com"]),
    # A comma inside one URL (several mail recipients) stays in it.
    ("mailtos://u:p@example.org?to=a@x.org,b@y.org, json://h/x",
     ["mailtos://u:p@example.org?to=a@x.org,b@y.org", "json://h/x"]),
])
def test_notify_urls_split_where_a_new_url_starts(text, urls):
    assert split_urls(text) == urls


def test_every_credential_inside_an_apprise_url_is_a_secret():
    parts = url_secrets("discord://1234567890123/AbCdEfTokenPart")
    assert "1234567890123" in parts and "AbCdEfTokenPart" in parts
    assert "app-password" in url_secrets("mailtos://me:app-password@gmail.com")
    assert "123456:AAH-bot-token" in url_secrets("tgram://123456:AAH-bot-token/987654")
    assert "my-private-topic" in url_secrets("ntfys://ntfy.sh/my-private-topic")
    # Host names, short chat ids and option words are not secrets.
    joined = url_secrets("tgram://123456:AAH-bot-token/987654") + url_secrets("ntfys://ntfy.sh/my-private-topic")
    assert "ntfy.sh" not in joined and "987654" not in joined
    s = settings(NOTIFY_URLS="ntfys://ntfy.sh/my-private-topic, discord://1234567890123/AbCdEfTokenPart")
    assert {"my-private-topic", "AbCdEfTokenPart", "1234567890123"} <= set(s.secrets)
    register_secret(*s.secrets)
    assert "AbCdEfTokenPart" not in redact("posting to discord://1234567890123/AbCdEfTokenPart failed")


def test_notify_on_names_only_known_events():
    assert settings().notify_on == ("failure", "hold", "vip", "import", "weekly")
    s = settings(NOTIFY_ON="hold, Import, everything")
    assert s.notify_on == ("hold", "import")
    with pytest.raises(Exception, match="NOTIFY_ON names 'everything'"):
        s.require("NOTIFY_ON")


# ------------------------------------------------------------------ the outbox
class Recorder:
    """A sender that records, and fails for the targets told to."""

    def __init__(self, down: set[int] | None = None) -> None:
        self.sent: list[tuple[int, str, str]] = []
        self.down = down or set()

    def __call__(self, target: Target, title: str, body: str, level: str) -> Delivery:
        if target.index in self.down:
            return Delivery(target, False, service="JSON", error="connection refused")
        self.sent.append((target.index, title, body))
        return Delivery(target, True, service="JSON")


URLS = "json://127.0.0.1:1/a, json://127.0.0.1:2/b"
HOLD = Event("hold", "hold_on:7", "abook: ratio hold ON", "Ratio 1.20.", "warning")


def test_an_event_goes_to_every_target_once_however_often_it_is_queued(state):
    for _ in range(3):  # the same event seen by three runs (a rerun after a kill, say)
        notify.queue(state, [HOLD], URLS, notify_on=("hold",), command="ratio-check", task_id=7)
    send = Recorder()
    assert notify.flush(state, URLS, now=NOW, send=send).sent == 2
    assert sorted(i for i, _, _ in send.sent) == [1, 2]
    assert notify.flush(state, URLS, now=NOW, send=send).sent == 0  # nothing twice
    assert len(send.sent) == 2


def test_events_not_in_notify_on_are_not_queued(state):
    assert notify.queue(state, [HOLD], URLS, notify_on=("failure",)) == 0
    assert notify.flush(state, URLS, now=NOW, send=Recorder()).sent == 0


def test_a_target_that_is_down_gets_its_messages_later_and_the_others_are_not_sent_again(state):
    second = Event("failure", "downloads_failed:8", "abook: 1 download failed", "x", "failure")
    notify.queue(state, [HOLD, second], URLS, notify_on=("hold", "failure"))
    send = Recorder(down={2})
    result = notify.flush(state, URLS, now=NOW, send=send)
    assert result.sent == 2 and len(result.failed) == 1 and result.waiting == 1  # one try per run at a dead target
    assert state.notification_summary()["pending"] == 2
    send.down = set()
    assert notify.flush(state, URLS, now=NOW + timedelta(minutes=5), send=send).sent == 2
    assert sorted((i, t) for i, t, _ in send.sent) == sorted(
        [(1, HOLD.title), (1, second.title), (2, HOLD.title), (2, second.title)])
    assert state.notification_summary()["pending"] == 0


def test_stale_news_is_given_up_and_a_removed_target_is_dropped(state):
    notify.queue(state, [HOLD], URLS, notify_on=("hold",))
    send = Recorder(down={1, 2})
    notify.flush(state, URLS, now=NOW, send=send)
    # A day later it is old news: given up, not sent.
    send.down = set()
    state.conn.execute("UPDATE notifications SET created_at=?", ((NOW - timedelta(hours=25)).isoformat(),))
    assert notify.flush(state, URLS, now=NOW, send=send).sent == 0
    assert state.notification_summary()["gave_up"] == 2
    # A target taken out of NOTIFY_URLS gets nothing more.
    notify.queue(state, [Event("hold", "hold_off:9", "lifted", "", "success")], URLS, notify_on=("hold",))
    assert notify.flush(state, "json://127.0.0.1:2/b", now=NOW, send=send).sent == 1
    assert send.sent == [(1, "lifted", "")]  # #1 of the new NOTIFY_URLS: the .../b one
    removed = notify.targets(URLS)[0].digest
    assert state.q("SELECT last_error FROM notifications WHERE key='hold_off:9' AND target=?", (removed,)) == [
        {"last_error": "the target is no longer in NOTIFY_URLS"}]


def test_two_runs_ending_together_never_send_one_message_twice(state):
    notify.queue(state, [HOLD], URLS, notify_on=("hold",))
    claimed = state.claim_notifications([t.digest for t in notify.targets(URLS)], now=NOW,
                                        stale_after=notify.STALE_CLAIM, max_age=notify.MAX_AGE, max_attempts=5)
    assert len(claimed) == 2
    send = Recorder()
    assert notify.flush(state, URLS, now=NOW, send=send).sent == 0  # the other run has them
    # ...unless that run died while sending: its claim goes stale and another run takes over.
    assert notify.flush(state, URLS, now=NOW + timedelta(minutes=20), send=send).sent == 2


def test_a_sender_that_raises_never_escapes(state):
    notify.queue(state, [HOLD], URLS, notify_on=("hold",))

    def broken(*_args):
        raise RuntimeError("plugin bug")

    result = notify.flush(state, URLS, now=NOW, send=broken)
    assert result.sent == 0 and "plugin bug" in result.failed[0].error


def test_messages_are_redacted_before_they_are_stored(state):
    register_secret("passkey-0123456789abcdef")
    leaky = Event("failure", "k", "abook", "tracker said: announce/passkey-0123456789abcdef failed", "failure")
    notify.queue(state, [leaky], URLS, notify_on=("failure",))
    body = state.scalar("SELECT body FROM notifications LIMIT 1")
    assert "passkey-0123456789abcdef" not in body and "***" in body
    assert state.scalar("SELECT COUNT(*) FROM notifications WHERE target LIKE '%127.0.0.1%'") == 0


# ------------------------------------------------------------------ events of results
def ratio_result(transition: str, **kw) -> RatioCheckResult:
    base = dict(username="mouse", class_name="Power User", ratio=1.2, uploaded=120 * GB, downloaded=100 * GB,
                bonus=5000.0, floor=1.5, resume=1.7, margin=5, transition=transition)
    base.update(kw)
    return RatioCheckResult(**base)


def test_hold_set_and_lifted_say_the_ratio_and_the_buffer():
    st = settings()
    # The guard's buffer, as ratio-check puts it on its result (after abook's own grabs).
    on = events.ratio_events(ratio_result("hold_on", hold="ratio 1.20 is below RATIO_FLOOR 1.5",
                                          paused=[("a" * 40, "Book")], buffer=-20.0 * 2**30), st, task_id=3, now=NOW)
    assert [(e.kind, e.key, e.level) for e in on] == [("hold", "hold_on:3", "warning")]
    assert on[0].body.startswith("Ratio 1.20 is below RATIO_FLOOR 1.5. Buffer -20.0 GB before the ratio falls to 1.5.")
    assert "1 downloading torrents paused" in on[0].body
    unsat = events.ratio_events(ratio_result("hold_on", ratio=2.0, uploaded=200 * GB,
                                             hold="only 3 unsatisfied-torrent slots free (UNSAT_MARGIN 5)"),
                                st, task_id=9, now=NOW)
    # Without the guard's figure: what the account implies (200 GB / 1.5 - 100 GB = 31.0 GiB).
    assert unsat[0].body.startswith("Only 3 unsatisfied-torrent slots free (UNSAT_MARGIN 5). Ratio 2.00, buffer 31.0 GB")
    off = events.ratio_events(ratio_result("released", ratio=1.8, uploaded=180 * GB, resumed=[("a" * 40, "B")],
                                           buffer=20.0 * 2**30), st, task_id=4, now=NOW)
    assert [(e.kind, e.level) for e in off] == [("hold", "success")] and "buffer 20.0 GB" in off[0].body
    assert events.ratio_events(ratio_result("hold_kept", hold="still low"), st, task_id=5, now=NOW) == []
    assert events.ratio_events(ratio_result("ok", ratio=3.0), st, task_id=6, now=NOW) == []


def test_vip_warning_once_per_end_date_within_vip_warn_days():
    st = settings(VIP_WARN_DAYS="7")
    soon = (NOW + timedelta(days=3)).isoformat()
    found = events.ratio_events(ratio_result("ok", ratio=3.0, vip_until=soon), st, task_id=1, now=NOW)
    assert [(e.kind, e.key) for e in found] == [("vip", f"vip:{soon}")]
    assert "in 3 days" in found[0].title and "--buy-vip" in found[0].body
    later = (NOW + timedelta(days=30)).isoformat()
    assert events.ratio_events(ratio_result("ok", ratio=3.0, vip_until=later), st, task_id=2, now=NOW) == []


def test_downloads_one_message_per_run_for_failures_and_one_for_imports(state):
    ids = [state.add_download({"source": "mam", "torrent_id": str(i), "title": f"Book {i}", "author": "An Author",
                               "status": "imported"}) for i in range(20)]
    result = DownloadsResult(
        moves=[Move(i, f"Book {n}", "completed", "imported") for n, i in enumerate(ids)]
        + [Move(ids[0], "Book 0", "imported", "done")],
        failed=[Move(99, "Broken Book", "downloading", "failed", "no progress for 12 h; gave up after 3 retries")],
    )
    found = events.download_events(result, state, task_id=12)
    assert [(e.kind, e.key) for e in found] == [("failure", "downloads_failed:12"), ("import", "import:12")]
    assert "Broken Book: no progress" in found[0].body and "--retry 99" in found[0].body
    assert found[1].title == "abook: 20 books added to your library"
    assert "• Book 0 — An Author" in found[1].body and "… and 5 more" in found[1].body
    assert events.download_events(DownloadsResult(moves=[Move(1, "x", "queued", "downloading")]), state,
                                  task_id=13) == []


def finish(state: State, command: str, status: str, code: int, error: str = "") -> int:
    tid = state.start_task(command, {})
    state.finish_task(tid, status, {}, error, exit_code=code)
    return tid


def test_a_command_failing_twice_in_a_row_is_told_once_and_its_recovery_too(state):
    told = []
    for status, code in [("failed", 3), ("ok", 0), ("failed", 3), ("failed", 3), ("failed", 2), ("killed", 1),
                         ("failed", 3), ("held", 4), ("failed", 3)]:
        tid = finish(state, "downloads", status, code, "qBittorrent: connection refused" if code == 3 else "")
        told += [(tid, e.key, e.title) for e in events.streak_events(state, "downloads", task_id=tid, exit_code=code)]
    titles = [t for _, _, t in told]
    # 1 blip (no message), 2 in a row (one message), the 3rd, 4th... and a killed run in between: silent;
    # held (exit 4) is a run that worked: "works again"; the single failure after it: silent.
    assert titles == ["abook downloads failed twice in a row", "abook downloads works again"]
    first_failure = state.q("SELECT id FROM tasks WHERE command='downloads' ORDER BY id")[2]["id"]
    assert told[0][1] == f"failing:downloads:{first_failure}"  # keyed on the streak: queued once


def test_the_failing_message_names_the_exit_code_and_the_error(state):
    finish(state, "scan", "failed", 3, "Audiobookshelf: connection refused")
    tid = finish(state, "scan", "failed", 3, "Audiobookshelf: connection refused")
    (event,) = events.streak_events(state, "scan", task_id=tid, exit_code=3)
    assert event.kind == "failure" and "exit 3" in event.body and "connection refused" in event.body
    # Another command's failures are its own.
    assert events.streak_events(state, "top10", task_id=finish(state, "top10", "failed", 2, "x"), exit_code=2) == []


def test_dry_runs_and_unasked_reports_tell_nothing(state):
    st = settings()
    dry = ratio_result("hold_on", hold="low", dry_run=True)
    tid = finish(state, "ratio-check", "dry_run", 4)
    assert events.of_run("ratio-check", dry, state, st, task_id=tid, exit_code=4, now=NOW) == []
    report = ReportResult({"summary": {}}, notify=False)
    tid = finish(state, "report", "ok", 0)
    assert events.of_run("report", report, state, st, task_id=tid, exit_code=0, now=NOW) == []


# ------------------------------------------------------------------ real Apprise, real socket
def test_apprise_delivers_json_and_ntfy_to_a_receiver_on_loopback():
    with FakeNotifyTarget(require_auth=("reader", "s3cret-pass")) as receiver:
        ok = notify.apprise_send(Target(1, receiver.json_url("hooks/abook")), "abook: title", "the body", "warning")
        assert ok.ok and ok.service == "JSON"
        (msg,) = receiver.messages
        assert (msg.path, msg.title, msg.message, msg.type) == ("/hooks/abook", "abook: title", "the body", "warning")
        assert msg.raw["version"] == "1.0" and msg.headers["Content-Type"].startswith("application/json")
        good = notify.apprise_send(Target(2, f"ntfy://reader:s3cret-pass@127.0.0.1:{receiver.port}/books"),
                                   "t", "b", "info")
        assert good.ok and receiver.messages[-1].raw["topic"] == "books"
        bad = notify.apprise_send(Target(3, f"ntfy://reader:wrong-pass@127.0.0.1:{receiver.port}/books"),
                                  "t", "b", "info")
        assert not bad.ok and "unauthorized" in bad.error
        receiver.fail_next(502)
        down = notify.apprise_send(Target(4, receiver.json_url()), "t", "b", "info")
        assert not down.ok and "502" in down.error
    gone = notify.apprise_send(Target(5, "json://127.0.0.1:9/x"), "t", "b", "info")
    assert not gone.ok and gone.error
    nonsense = notify.apprise_send(Target(6, "nosuchscheme://whatever"), "t", "b", "info")
    assert not nonsense.ok and "not an Apprise URL" in nonsense.error
    assert "s3cret-pass" not in bad.error + down.error + gone.error + repr(bad) + repr(Target(1, "json://x:s3cret-pass@h"))


def test_retention_keeps_waiting_messages_and_drops_old_delivered_ones(state):
    notify.queue(state, [HOLD], "json://127.0.0.1:1/a", notify_on=("hold",))
    notify.flush(state, "json://127.0.0.1:1/a", now=NOW, send=Recorder())
    notify.queue(state, [Event("vip", "vip:x", "t", "b")], "json://127.0.0.1:1/a", notify_on=("vip",))
    state.conn.execute("UPDATE notifications SET created_at=?, sent_at=CASE WHEN sent_at IS NULL THEN NULL ELSE ? END",
                       ((NOW - timedelta(days=60)).isoformat(), (NOW - timedelta(days=60)).isoformat()))
    assert state.prune_history(30, now=NOW)["notifications"] == 1
    assert [r["key"] for r in state.q("SELECT key FROM notifications")] == ["vip:x"]


def test_the_readme_examples_are_urls_apprise_understands():
    """ntfy, Discord and e-mail as the README sets them up (parsed only: nothing is sent)."""
    import re

    import apprise

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    urls = re.findall(r"^NOTIFY_URLS=(\S+)$", readme, flags=re.M)
    assert len(urls) == 3
    for url in urls:
        client = apprise.Apprise()
        assert client.add(url.replace("ID/TOKEN", "123456789012345678/" + "A" * 68)), url
    assert [apprise.Apprise.instantiate(u.replace("ID/TOKEN", "1/" + "A" * 68)).service_name for u in urls] == [
        "ntfy", "Discord", "E-Mail"]
