"""The tracker guard's arithmetic, the hold/resume state machine, purchases, retention and the report."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from abook.clients.mam import BonusResult, Snatch, SnatchList, UserStats
from abook.clients.qbittorrent import Torrent
from abook.guard import Account, check_grab, costs_ratio, projected_ratio
from abook.models import Release
from abook.state import State, iso
from abook.workflows import ratio as wf
from abook.workflows import report
from abook.workflows.ratio import hold_decision

GB = 1024**3
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def release(size: int = 10 * GB, **kw: Any) -> Release:
    return Release(source="mam", torrent_id="1", title="A Book", size=size, **kw)


def account(up: float = 150, down: float = 100, vip: bool = False, unsat: int | None = 10,
            limit: int | None = 100) -> Account:
    return Account(uploaded=int(up * GB), downloaded=int(down * GB), ratio=up / down, vip=vip,
                   unsat_count=unsat, unsat_limit=limit)


# --------------------------------------------------------------------- the guard
def test_freeleech_personal_freeleech_and_vip_for_vip_accounts_cost_nothing():
    assert not costs_ratio(release(freeleech=True), vip_account=False)
    assert not costs_ratio(release(personal_freeleech=True), vip_account=False)
    assert not costs_ratio(release(vip=True), vip_account=True)
    assert costs_ratio(release(vip=True), vip_account=False)
    assert costs_ratio(release(), vip_account=True)


def test_projected_ratio_counts_pending_and_this_grab():
    acc = account(150, 100)
    assert projected_ratio(acc, 0, 0) == pytest.approx(1.5)
    assert projected_ratio(acc, 20 * GB, 30 * GB) == pytest.approx(1.0)
    assert projected_ratio(Account(0, 0, math.inf, False, None, None), 0, 0) == math.inf


def test_grab_refused_when_projected_ratio_would_cross_the_floor():
    acc = account(160, 100)  # 1.6 now
    ok = check_grab(acc, release(5 * GB), pending_bytes=0, pending_slots=0, floor=1.5, margin=5)
    assert ok is None  # 160/105 = 1.52
    why = check_grab(acc, release(5 * GB), pending_bytes=5 * GB, pending_slots=0, floor=1.5, margin=5)
    assert why and "projected ratio 1.45" in why  # 160/110
    # The same torrent as freeleech, or VIP on a VIP account, passes.
    assert check_grab(acc, release(5 * GB, freeleech=True), pending_bytes=5 * GB, pending_slots=0,
                      floor=1.5, margin=5) is None
    assert check_grab(replace(acc, vip=True), release(5 * GB, vip=True), pending_bytes=5 * GB,
                      pending_slots=0, floor=1.5, margin=5) is None


def test_grab_refused_when_unsatisfied_slots_would_run_out():
    acc = account(500, 100, unsat=90, limit=100)
    # 100 - 90 - 3 pending - 1 this = 6 >= 5: fine; with 5 pending: 4 < 5: refused
    assert check_grab(acc, release(freeleech=True), pending_bytes=0, pending_slots=3, floor=1.5, margin=5) is None
    why = check_grab(acc, release(freeleech=True), pending_bytes=0, pending_slots=5, floor=1.5, margin=5)
    assert why and "4 unsatisfied-torrent slots" in why
    # Unknown limit: only the ratio counts.
    assert check_grab(account(500, 100, unsat=None, limit=None), release(), pending_bytes=0, pending_slots=99,
                      floor=1.5, margin=5) is None


# ------------------------------------------------------------- state machine
@pytest.mark.parametrize(
    ("ratio", "free", "held", "transition", "holds"),
    [
        (2.0, 50, False, "ok", False),
        (1.4, 50, False, "hold_on", True),
        (2.0, 4, False, "hold_on", True),  # slots nearly gone
        (2.0, None, False, "ok", False),  # unknown limit
        (1.6, 50, True, "hold_kept", True),  # between floor and resume: stays held
        (1.6, 50, False, "ok", False),  # ... and does not start a hold either
        (1.7, 50, True, "released", False),
        (1.8, 3, True, "hold_kept", True),
        (math.inf, 50, True, "released", False),
    ],
)
def test_hold_decision(ratio, free, held, transition, holds):
    t, reason = hold_decision(ratio, free, held=held, floor=1.5, resume=1.7, margin=5)
    assert t == transition
    assert (reason is not None) == holds


def test_vip_weeks_whole_and_bounded():
    assert wf.vip_weeks_to_buy(3.0, 7, 10_000) == (1, "")
    assert wf.vip_weeks_to_buy(1.0, 14, 10_000) == (2, "")  # enough to leave the warning window
    assert wf.vip_weeks_to_buy(None, 7, 10_000)[0] == 1
    assert wf.vip_weeks_to_buy(3.0, 30, 2_600)[0] == 2  # what the points pay for
    weeks, why = wf.vip_weeks_to_buy(3.0, 7, 1_000)
    assert weeks == 0 and "not enough bonus points" in why
    weeks, why = wf.vip_weeks_to_buy(12 * 7 + 1, 100, 99_999)
    assert weeks == 0 and "maximum" in why


# ------------------------------------------------------------- the workflow
def stats(ratio: float = 2.0, *, bonus: float = 5000, cls: str = "Power User", vip_until: datetime | None = None,
          unsat: int | None = 10, limit: int | None = 100, wedges: int = 0) -> UserStats:
    down = 100 * GB
    return UserStats(username="test_mouse", uid=1, user_class=cls, ratio=ratio, uploaded=int(ratio * down),
                     downloaded=down, seedbonus=bonus, vip_until=vip_until, unsat_count=unsat, unsat_limit=limit,
                     wedges=wedges)


class FakeMAMClient:
    def __init__(self, *seq: UserStats, refuse: str = "", snatches: tuple[Snatch, ...] = (),
                 catalog: dict[str, Release] | None = None) -> None:
        self.seq = list(seq)
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse
        self.snatches = list(snatches)
        self.catalog = dict(catalog or {})

    def snatch_list(self, kind: str = "unsat") -> SnatchList:
        self.calls.append(("snatches", kind))
        return SnatchList(kind, list(self.snatches), complete=True)

    def torrent(self, torrent_id: Any) -> Release | None:
        self.calls.append(("torrent", str(torrent_id)))
        return self.catalog.get(str(torrent_id))

    def user_stats(self) -> UserStats:
        self.calls.append(("stats", None))
        return self.seq.pop(0) if len(self.seq) > 1 else self.seq[0]

    def buy_vip(self, weeks: Any) -> BonusResult:
        self.calls.append(("vip", weeks))
        if self.refuse:
            return BonusResult(False, "VIP", error=self.refuse)
        return BonusResult(True, "VIP", amount=float(weeks), seedbonus=100)

    def buy_upload(self, gb: Any) -> BonusResult:
        self.calls.append(("upload", gb))
        if self.refuse:
            return BonusResult(False, "upload", error=self.refuse)
        return BonusResult(True, "upload", amount=float(gb), seedbonus=100)


@dataclass
class FakeQbt:
    items: dict[str, Torrent]

    def torrents(self) -> list[Torrent]:
        return list(self.items.values())

    def pause(self, hashes: list[str]) -> None:
        for h in hashes:
            self.items[h] = replace(self.items[h], state="pausedDL")

    def resume(self, hashes: list[str]) -> None:
        for h in hashes:
            t = self.items[h]
            self.items[h] = replace(t, state="uploading" if t.progress >= 1 else "downloading")


def torrent(h: str, state: str, progress: float, *, tags: tuple[str, ...] = ("abook",), category: str = "audiobooks",
            seeding_hours: float = 0) -> Torrent:
    return Torrent(hash=h, name=f"t-{h[:4]}", state=state, progress=progress, size=GB, total_size=GB,
                   category=category, tags=tags, seeding_time=int(seeding_hours * 3600))


@pytest.fixture
def state() -> State:
    return State.open(None)


def qbt_world() -> FakeQbt:
    return FakeQbt({
        "a" * 40: torrent("a" * 40, "downloading", 0.3),  # abook's, downloading -> paused
        "b" * 40: torrent("b" * 40, "stalledDL", 0.0, tags=(), category=""),  # abook's by hash only
        "c" * 40: torrent("c" * 40, "uploading", 1.0, seeding_hours=10),  # abook's, seeding: untouched
        "d" * 40: torrent("d" * 40, "downloading", 0.5, tags=("other",), category="movies"),  # not abook's
        "e" * 40: torrent("e" * 40, "pausedDL", 0.2),  # abook's but paused by the user: not ours to resume
        "f" * 40: torrent("f" * 40, "checkingResumeData", 0.2),  # state not known yet: next run decides
    })


OPTS = wf.CheckOptions(floor=1.5, resume=1.7, margin=5, vip_warn_days=7, seed_min_hours=72)


def test_hold_pauses_only_downloading_abook_torrents_and_release_resumes_exactly_them(state):
    state.add_download({"source": "mam", "torrent_id": "9", "info_hash": "b" * 40, "qb_hash": "b" * 40,
                        "status": "downloading", "title": "B"})
    qbt = qbt_world()
    res = wf.run(state, FakeMAMClient(stats(1.2)), qbt, OPTS, now=NOW)
    assert res.transition == "hold_on" and res.held
    assert {h for h, _ in res.paused} == {"a" * 40, "b" * 40}
    assert qbt.items["c" * 40].state == "uploading" and qbt.items["d" * 40].state == "downloading"
    assert state.hold() and "1.20" in state.hold()
    assert sorted(state.paused_by_abook()) == ["a" * 40, "b" * 40]
    assert state.q("SELECT qb_paused_by_abook FROM downloads")[0]["qb_paused_by_abook"] == 1
    # Seeding obligation of the complete one is reported.
    assert [s.hash for s in res.seeding] == ["c" * 40]
    snap = state.latest_snapshot()
    assert snap["ratio"] == 1.2 and snap["action"].startswith("hold_on; paused 2")

    # Between floor and resume: still held, nothing new to pause.
    res = wf.run(state, FakeMAMClient(stats(1.6)), qbt, OPTS, now=NOW)
    assert res.transition == "hold_kept" and not res.paused

    res = wf.run(state, FakeMAMClient(stats(1.8)), qbt, OPTS, now=NOW)
    assert res.transition == "released" and not res.held
    assert {h for h, _ in res.resumed} == {"a" * 40, "b" * 40}
    assert qbt.items["a" * 40].state == "downloading"
    assert qbt.items["e" * 40].state == "pausedDL"  # the user's pause stays
    assert state.hold() is None and state.paused_by_abook() == []
    assert len(state.snapshots()) == 3


def test_unsatisfied_slots_nearly_gone_hold(state):
    res = wf.run(state, FakeMAMClient(stats(3.0, unsat=97, limit=100)), qbt_world(), OPTS, now=NOW)
    assert res.held and "unsatisfied" in res.hold


def test_dry_run_changes_nothing(state):
    qbt = qbt_world()
    mam = FakeMAMClient(stats(1.0, bonus=100_000))
    res = wf.run(state, mam, qbt, replace(OPTS, buy_upload_gb=50, buy_vip=True), now=NOW, dry_run=True)
    assert res.held and res.paused
    assert [p.outcome for p in res.purchases] == ["would_buy", "would_buy"]
    assert qbt.items["a" * 40].state == "downloading"
    assert state.hold() is None and state.snapshots() == [] and state.paused_by_abook() == []
    assert [c[0] for c in mam.calls] == ["stats"]


def test_upload_bought_below_floor_then_decides_on_fresh_stats(state):
    mam = FakeMAMClient(stats(1.4, bonus=40_000), stats(1.9, bonus=15_000))
    res = wf.run(state, mam, qbt_world(), replace(OPTS, buy_upload_gb=50), now=NOW)
    assert ("upload", 50) in mam.calls
    assert res.purchases[0].outcome == "bought"
    assert not res.held and res.transition == "ok"
    assert "upload bought" in state.latest_snapshot()["action"]


def test_upload_refused_without_points_is_recorded(state):
    mam = FakeMAMClient(stats(1.4, bonus=100))
    res = wf.run(state, mam, None, replace(OPTS, buy_upload_gb=50), now=NOW)
    assert res.purchases[0].outcome == "refused" and "not enough bonus points" in res.purchases[0].message
    assert ("upload", 50) not in mam.calls
    assert state.failures()[0]["reason_code"] == "upload_refused"


def test_vip_bought_when_ending_soon_and_refusal_backs_off(state):
    soon = NOW + timedelta(days=3)
    mam = FakeMAMClient(stats(3.0, cls="VIP", vip_until=soon, bonus=5000))
    res = wf.run(state, mam, None, replace(OPTS, buy_vip=True), now=NOW)
    assert ("vip", 1) in mam.calls and res.purchases[0].outcome == "bought"
    assert any("VIP ends in 3.0 days" in w for w in res.warnings)

    refusing = FakeMAMClient(stats(3.0, cls="VIP", vip_until=soon, bonus=5000), refuse="Not enough bonus points")
    res = wf.run(state, refusing, None, replace(OPTS, buy_vip=True), now=NOW)
    assert res.purchases[0].outcome == "refused" and "MAM refused" in res.purchases[0].message
    assert state.failures()[0]["reason_code"] == "vip_refused"
    # Within a day: not asked again.
    res = wf.run(state, refusing, None, replace(OPTS, buy_vip=True), now=NOW + timedelta(hours=1))
    assert res.purchases[0].outcome == "skipped"
    assert [c for c in refusing.calls if c[0] == "vip"] == [("vip", 1)]


def test_vip_not_bought_when_far_from_ending_or_for_a_user_class(state):
    far = FakeMAMClient(stats(3.0, cls="VIP", vip_until=NOW + timedelta(days=60)))
    res = wf.run(state, far, None, replace(OPTS, buy_vip=True), now=NOW)
    assert not res.purchases and not [c for c in far.calls if c[0] == "vip"]
    user = FakeMAMClient(stats(3.0, cls="User"))
    res = wf.run(state, user, None, replace(OPTS, buy_vip=True), now=NOW)
    assert res.purchases[0].outcome == "refused" and "Power User" in res.purchases[0].message


def test_without_qbittorrent_a_release_waits_for_the_paused_torrents(state):
    state.set_hold("ratio low")
    state.set_paused_by_abook(["a" * 40])
    res = wf.run(state, FakeMAMClient(stats(3.0)), None, OPTS, now=NOW)
    assert res.held and state.hold()


# ---------------------------------------------------------------- retention
def test_retention_deletes_old_history_but_keeps_failures_and_live_rows(state):
    old = iso(NOW - timedelta(days=40))
    new = iso(NOW - timedelta(days=1))
    conn = state.conn
    for cmd, at in (("scan", old), ("scan", new), ("fill-series", old)):
        conn.execute("INSERT INTO tasks (command, started_at, status) VALUES (?,?,'ok')", (cmd, at))
    for status, at in (("done", old), ("imported", old), ("done", new), ("failed", old), ("downloading", old)):
        conn.execute("INSERT INTO downloads (status, created_at, updated_at) VALUES (?,?,?)", (status, at, at))
    conn.execute("INSERT INTO metadata_corrections (field, created_at) VALUES ('year', ?)", (old,))
    conn.execute("INSERT INTO metadata_corrections (field, created_at) VALUES ('year', ?)", (new,))
    conn.execute("INSERT INTO tracker_snapshots (taken_at, ratio) VALUES (?, 1.0)", (old,))
    conn.execute("INSERT INTO tracker_snapshots (taken_at, ratio) VALUES (?, 2.0)", (old,))
    conn.execute("INSERT INTO top10_runs (task_id, run_at) VALUES (1, ?)", (old,))
    conn.execute("INSERT INTO top10_runs (task_id, run_at) VALUES (2, ?)", (old,))
    conn.execute("INSERT INTO failed_attempts (command, created_at) VALUES ('x', ?)", (old,))
    counts = state.prune_history(30, now=NOW)
    assert counts == {"tasks": 1, "downloads": 2, "metadata_corrections": 1, "tracker_snapshots": 1,
                      "top10_runs": 1}
    # The newest run of every command stays (fill-series runs monthly), the newest snapshot and top10 run too.
    assert {r["command"] for r in state.last_runs()} == {"scan", "fill-series"}
    assert state.scalar("SELECT ratio FROM tracker_snapshots") == 2.0
    assert state.scalar("SELECT task_id FROM top10_runs") == 2
    assert sorted(r["status"] for r in state.downloads()) == ["done", "downloading", "failed"]
    assert state.scalar("SELECT COUNT(*) FROM failed_attempts") == 1
    assert state.prune_history(0, now=NOW) == {}


# -------------------------------------------------------------------- report
def test_report_has_every_section_and_keeps_the_old_keys(state):
    state.add_download({"source": "mam", "torrent_id": "1", "status": "done", "size": 2 * 10**9, "title": "A"})
    state.add_download({"source": "mam", "torrent_id": "2", "status": "pending", "size": 10**9, "title": "B"},
                       decision={"task_id": 7, "genre": "Fantasy", "rank": 1, "title": "B", "author": "X",
                                 "decision": "pending", "reason": "ratio hold"})
    state.record_decision({"task_id": 7, "genre": "Fantasy", "rank": 2, "title": "C", "author": "Y",
                           "decision": "skipped", "reason": "owned"})
    wf.run(state, FakeMAMClient(stats(1.2)), qbt_world(), OPTS, now=datetime.now(UTC))
    data = report.build(state, since_days=7, book_value=12.5)
    assert data["schema"] == 1
    for key in ("generated_at", "abook_version", "since", "library", "runs", "failures", "pipeline", "top10",
                "gaps", "metadata", "tracker"):
        assert key in data, key
    p = data["pipeline"]
    assert p["statuses"]["done"]["count"] == 1 and p["statuses"]["pending"]["gb"] == 1.0
    assert p["estimated_value"] == 12.5 and p["acquired"] == 1
    assert [d["decision"] for d in data["top10"]["genres"][0]["decisions"]] == ["pending", "skipped"]
    t = data["tracker"]
    assert t["hold"] and t["now"]["ratio"] == 1.2 and t["seeding"]["torrents"][0]["hash"] == "c" * 40
    assert "incomplete_series" in data["gaps"] or data["gaps"]
    json.dumps(data)
    assert report.build(state)["pipeline"]["estimated_value"] is None  # BOOK_VALUE 0 hides it


def test_nothing_in_abook_removes_a_torrent_and_only_the_hold_pauses():
    """Seeding obligations: abook never deletes a torrent; only ratio-check pauses (downloading ones)."""
    from pathlib import Path

    import abook

    root = Path(abook.__file__).parent
    pausers = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "torrents/delete" not in text and "deleteFiles" not in text, path
        if ".pause(" in text or '"stop"' in text.replace("_pause_or_stop(\"pause\", \"stop\"", ""):
            pausers.append(path.relative_to(root).as_posix())
    assert pausers == ["workflows/ratio.py"]


def test_qbittorrent_down_still_sets_the_hold_and_a_release_waits(state):
    from abook.errors import ServiceError

    class DeadQbt:
        def torrents(self):
            raise ServiceError("qBittorrent is unreachable", service="qBittorrent")

    res = wf.run(state, FakeMAMClient(stats(1.0)), DeadQbt(), OPTS, now=NOW)
    assert res.held and res.qbt_error and state.hold()
    assert "qBittorrent error" in state.latest_snapshot()["action"]
    res = wf.run(state, FakeMAMClient(stats(3.0)), DeadQbt(), OPTS, now=NOW)
    assert res.transition == "hold_kept" and state.hold()  # resumes first, then releases


# ------------------------------------------------------------- the guard's view in ratio-check
def snatch(tid: str, *, seeded_h: float, to_go: str | None, started: datetime | None = None) -> Snatch:
    from abook.clients.mam import parse_duration

    return Snatch(torrent_id=tid, title=f"Book {tid}", seed_seconds=int(seeded_h * 3600),
                  seed_to_go=parse_duration(to_go), finished=True, started=started)


def _mine(state: State, h: str, tid: str, status: str = "done", fetched: datetime | None = None) -> None:
    state.add_download({"source": "mam", "torrent_id": tid, "info_hash": h, "qb_hash": h, "status": status,
                        "title": f"Book {tid}", "size": GB, "fetched_at": iso(fetched or NOW - timedelta(days=2))})


def test_seeding_owed_comes_from_mams_snatch_data_when_it_has_the_torrent(state):
    _mine(state, "c" * 40, "31")  # qBittorrent: 10 h seeded; MAM credits 6 h and wants 66 h more
    _mine(state, "g" * 40, "32")  # qBittorrent: 90 h seeded, MAM: not on the unsatisfied list -> satisfied
    _mine(state, "h" * 40, "33")  # stopped, MAM wants 20 h more: at risk
    _mine(state, "i" * 40, "34")  # gone from qBittorrent, MAM still wants 30 h: at risk
    qbt = qbt_world()
    qbt.items["g" * 40] = torrent("g" * 40, "uploading", 1.0, seeding_hours=90)
    qbt.items["h" * 40] = torrent("h" * 40, "pausedUP", 1.0, seeding_hours=60)
    qbt.items["j" * 40] = torrent("j" * 40, "uploading", 1.0, seeding_hours=10)  # abook's by category + tag only
    mam = FakeMAMClient(stats(3.0), snatches=(
        snatch("31", seeded_h=6, to_go="2d 18:00:00"), snatch("33", seeded_h=52, to_go="20:00:00"),
        snatch("34", seeded_h=42, to_go="1d 06:00:00"),
    ))
    res = wf.run(state, mam, qbt, OPTS, now=NOW)
    by = {s.torrent_id or s.hash[:1]: s for s in res.seeding}
    assert by["31"].source == "mam" and by["31"].seeded_hours == 6 and by["31"].remaining_hours == 66
    assert "32" not in by  # MAM's whole list does not have it: satisfied, whatever qBittorrent says
    assert by["33"].at_risk and "not seeding (pausedUP)" in by["33"].risk
    assert by["34"].state == "missing" and "not in qBittorrent" in by["34"].risk
    assert by["j"].source == "qbittorrent" and by["j"].needed_hours == 84  # no torrent id to ask MAM about
    # At-risk ones first.
    assert [s.at_risk for s in res.seeding] == sorted((s.at_risk for s in res.seeding), reverse=True)
    assert res.snatch_list.startswith("read: 3 unsatisfied")
    saved = json.loads(state.get_kv("seed_obligations"))
    assert saved["at_risk"] == 2 and saved["torrents"][0]["at_risk"]


def test_without_mam_data_seeding_is_judged_by_qbittorrent_with_a_12_hour_margin(state):
    qbt = qbt_world()
    qbt.items["c" * 40] = torrent("c" * 40, "uploading", 1.0, seeding_hours=80)  # past 72, not past 84
    res = wf.run(state, FakeMAMClient(stats(3.0)), qbt, OPTS, now=NOW)
    [owed] = res.seeding
    assert owed.source == "qbittorrent" and owed.needed_hours == 84 and owed.remaining_hours == pytest.approx(4)
    qbt.items["c" * 40] = torrent("c" * 40, "uploading", 1.0, seeding_hours=85)
    assert wf.run(state, FakeMAMClient(stats(3.0)), qbt, OPTS, now=NOW).seeding == []


def test_a_torrent_owing_more_than_its_window_has_left_is_at_risk():
    assert "only 20 h left" in wf.seed_risk(40, seeding=True, state="uploading", window_hours_left=20)
    assert wf.seed_risk(40, seeding=True, state="uploading", window_hours_left=300) == ""
    assert wf.seed_risk(0, seeding=False, state="pausedUP", window_hours_left=1) == ""


def test_the_snatch_list_is_read_only_when_it_tells_something(state):
    mam = FakeMAMClient(stats(3.0))
    qbt = FakeQbt({"x" * 40: torrent("x" * 40, "uploading", 1.0, seeding_hours=500)})
    _mine(state, "x" * 40, "50")
    res = wf.run(state, mam, qbt, OPTS, now=NOW)
    assert res.snatch_list == "not needed" and ("snatches", "unsat") not in mam.calls


def test_buffer_own_counts_and_the_pending_picks_are_shown(state):
    rules = replace(OPTS, rules=wf.Rules(floor=1.5, margin=5, buffer_min=10 * GB, wedge_min=2 * GB,
                                         wedge_reserve=1))
    # One grab fetched two minutes ago (MAM does not show it yet), two pending picks.
    state.add_download({"source": "mam", "torrent_id": "60", "status": "queued", "size": 4 * GB, "title": "Own",
                        "fetched_at": iso(NOW - timedelta(minutes=2))})
    state.add_download({"source": "mam", "torrent_id": "61", "status": "pending", "size": 5 * GB, "title": "Was free",
                        "freeleech": 1})
    state.add_download({"source": "mam", "torrent_id": "62", "status": "pending", "size": 3 * GB, "title": "Big"})
    now_costs = Release(source="mam", torrent_id="61", title="Was free", size=5 * GB)  # freeleech ended
    mam = FakeMAMClient(stats(2.0, unsat=10, limit=100, wedges=3), catalog={"61": now_costs, "62": Release(
        source="mam", torrent_id="62", title="Big", size=3 * GB)})
    cron = wf.run(state, mam, None, rules, now=NOW)
    # 200/1.5 - 100 = 33.3 GB, less the own 4 GB and the 3 GB pick that costs ratio
    assert cron.buffer / GB == pytest.approx(200 / 1.5 - 100 - 4 - 3, abs=0.01)
    assert cron.own["own"] == 1 and cron.own["waiting"] == 2 and cron.unsat_free_after_own == 90 - 3
    assert [(g.download_id, g.verdict, g.looked) for g in cron.grabs] == [(2, "submit", False), (3, "submit", False)]
    assert not [c for c in mam.calls if c[0] == "torrent"]  # a cron run asks the tracker nothing per pick
    dry = wf.run(state, mam, None, rules, now=NOW, dry_run=True)
    was_free, big = dry.grabs
    assert was_free.looked and was_free.changed == "free ended, now costs ratio" and was_free.cost == "ratio"
    assert big.wedge and "one of 3 wedges" in big.wedge_why
    assert {c[1] for c in mam.calls if c[0] == "torrent"} == {"61", "62"}
    assert dry.as_dict()["buffer"]["min_gb"] == 10 and dry.as_dict()["wedges"] == {"held": 3, "reserve": 1,
                                                                                 "min_gb": 2}


def test_report_shows_the_buffer_and_hit_and_run_risks_first(state, capsys):
    from abook import render

    _mine(state, "h" * 40, "33")
    qbt = qbt_world()
    qbt.items["h" * 40] = torrent("h" * 40, "pausedUP", 1.0, seeding_hours=60)
    mam = FakeMAMClient(stats(2.0), snatches=(snatch("33", seeded_h=52, to_go="20:00:00"),))
    wf.run(state, mam, qbt, replace(OPTS, rules=wf.Rules(floor=1.5, margin=5, buffer_min=10 * GB)),
           now=datetime.now(UTC))
    t = report.build(state)["tracker"]
    assert t["buffer"] == {"bytes": int(200 / 1.5 * GB - 100 * GB), "gb": round(200 / 1.5 - 100, 2), "min_gb": 10}
    assert t["guard"]["wedges"]["held"] == 0 and t["guard"]["hit_and_runs"] is None
    torrents = t["seeding"]["torrents"]
    assert torrents[0]["torrent_id"] == "33" and torrents[0]["at_risk"] and torrents[0]["source"] == "mam"
    assert all(not s["at_risk"] for s in torrents[1:])
    render._report_tracker(t)
    out = capsys.readouterr().out
    assert out.index("HIT-AND-RUN RISK: 1 torrents") < out.index("Tracker account")
    assert "buffer=33.3 GB (min 10)" in out
