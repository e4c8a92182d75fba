"""The tracker guard's 2026 rules: the byte buffer, own counts, the fresh look and wedges.

Pure arithmetic in tables; :class:`TrackerGuard` against a state file in memory and a tracker
double that answers like :class:`abook.clients.mam.MAM` (records, not JSON).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from abook.clients.mam import UserStats
from abook.guard import (
    GIB,
    OWN_WINDOW,
    Account,
    Rules,
    TrackerGuard,
    account_of,
    buffer_after,
    check_grab,
    cost_kind,
    load_account,
    own_load,
    wedge_choice,
)
from abook.models import Release
from abook.state import State, iso

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def release(size_gb: float = 8, tid: str = "1", **kw: Any) -> Release:
    return Release(source="mam", torrent_id=tid, title=f"Book {tid}", size=int(size_gb * GIB), **kw)


def account(up_gb: float = 300, down_gb: float = 100, *, vip: bool = False, unsat: int | None = 10,
            limit: int | None = 100, wedges: int | None = 5, booked: dict[str, int] | None = None) -> Account:
    return Account(uploaded=int(up_gb * GIB), downloaded=int(down_gb * GIB), ratio=up_gb / down_gb, vip=vip,
                   unsat_count=unsat, unsat_limit=limit, wedges=wedges, read_at=iso(NOW), booked=booked)


# ------------------------------------------------------------------- byte buffer
def test_a_grab_that_fits_the_ratio_but_not_the_buffer_is_refused_naming_both_numbers():
    acc = account(300, 100)  # buffer at RATIO_FLOOR 1.5: 300/1.5 - 100 = 100 GB
    assert buffer_after(acc, 0, 0, 1.5) == pytest.approx(100 * GIB)
    why = check_grab(acc, release(8), pending_bytes=85 * GIB, pending_slots=0, floor=1.5, margin=5,
                     buffer_min=10 * GIB)
    # 100 - 85 - 8 = 7 GB left; the ratio 300 / 193 = 1.55 stays above the floor
    assert why is not None
    assert "upload buffer after this grab would be 7.0 GB, below BUFFER_MIN_GB 10" in why
    assert "projected ratio 1.55" in why and "RATIO_FLOOR 1.5" in why
    # The same with 5 GB less already pending passes.
    assert check_grab(acc, release(8), pending_bytes=80 * GIB, pending_slots=0, floor=1.5, margin=5,
                      buffer_min=10 * GIB) is None


def test_a_free_grab_passes_even_when_the_buffer_is_already_below_the_minimum():
    acc = account(300, 100)
    for free in (release(8, freeleech=True), release(8, personal_freeleech=True)):
        assert check_grab(acc, free, pending_bytes=95 * GIB, pending_slots=0, floor=1.5, margin=5,
                          buffer_min=10 * GIB) is None
    assert check_grab(replace(acc, vip=True), release(8, vip=True), pending_bytes=95 * GIB, pending_slots=0,
                      floor=1.5, margin=5, buffer_min=10 * GIB) is None


def test_the_ratio_refusal_names_the_buffer_too():
    why = check_grab(account(150, 100), release(8), pending_bytes=0, pending_slots=0, floor=1.5, margin=5,
                     buffer_min=10 * GIB)
    assert why is not None and why.startswith("projected ratio 1.39 would fall below RATIO_FLOOR 1.5")
    assert "upload buffer after this grab -8.0 GB" in why


def test_a_resubmission_takes_no_new_slot_and_no_new_bytes():
    acc = account(300, 100, unsat=94, limit=100)  # 6 free: a new grab would leave 5
    assert check_grab(acc, release(8), pending_bytes=0, pending_slots=1, floor=1.5, margin=5) is not None
    assert check_grab(acc, release(8), pending_bytes=0, pending_slots=1, floor=1.5, margin=5,
                      new_slot=False) is None


def test_a_floor_of_zero_means_no_buffer_limit():
    assert buffer_after(account(), 0, 0, 0.0) == float("inf")
    assert check_grab(account(), release(500), pending_bytes=0, pending_slots=0, floor=0.0, margin=0,
                      buffer_min=10 * GIB) is None


# ------------------------------------------------------------------- costs and wedges
@pytest.mark.parametrize(
    ("kw", "vip_account", "kind"),
    [
        ({"freeleech": True}, False, "free"),
        ({"personal_freeleech": True}, False, "personal freeleech"),
        ({"vip": True}, True, "VIP"),
        ({"vip": True}, False, "ratio"),
        ({"raw": {"fl_vip": "1"}}, True, "VIP"),  # VIP-only freeleech, parsed before the class was known
        ({"raw": {"fl_vip": 1}}, False, "ratio"),
        ({}, True, "ratio"),
    ],
)
def test_cost_kind(kw, vip_account, kind):
    assert cost_kind(release(**kw), vip_account) == kind


RULES = Rules(floor=1.5, margin=5, buffer_min=10 * GIB, wedge_min=2 * GIB, wedge_reserve=2)


@pytest.mark.parametrize(
    ("pick", "acc", "rules", "unsettled", "wanted", "why"),
    [
        (release(8), account(wedges=5), RULES, 0, True, "one of 5 wedges (WEDGE_RESERVE 2 kept)"),
        (release(8), account(wedges=5), replace(RULES, wedge_min=0), 0, False, "WEDGE_MIN_GB is 0"),
        (release(8, freeleech=True), account(wedges=5), RULES, 0, False, "free: a wedge would buy nothing"),
        (release(8, personal_freeleech=True), account(wedges=5), RULES, 0, False, "personal freeleech"),
        (release(8, vip=True), account(wedges=5, vip=True), RULES, 0, False, "VIP: a wedge would buy nothing"),
        (release(8, vip=True), account(wedges=5), RULES, 0, False, "a VIP torrent"),
        (release(8, raw={"fl_vip": 1}), account(wedges=5), RULES, 0, False, "a VIP torrent"),
        (release(1), account(wedges=5), RULES, 0, False, "smaller than WEDGE_MIN_GB 2"),
        (release(8), account(wedges=None), RULES, 0, False, "wedge count is unknown"),
        (release(8), account(wedges=2), RULES, 0, False, "2 wedges held, WEDGE_RESERVE 2 are kept"),
        (release(8), account(wedges=3), RULES, 0, True, "one of 3 wedges"),
        (release(8), account(wedges=3), RULES, 1, False, "2 wedges held"),  # one spent, not shown yet
    ],
)
def test_wedge_choice(pick, acc, rules, unsettled, wanted, why):
    got, reason = wedge_choice(pick, acc, rules, unsettled=unsettled)
    assert got is wanted and why in reason


# ------------------------------------------------------------------- own counts
def row(tid: str, status: str = "queued", *, size_gb: float = 4, fetched: datetime | None = None,
        freeleech: bool = False, progress: float = 0.0) -> dict[str, Any]:
    return {"source": "mam", "torrent_id": tid, "status": status, "size": int(size_gb * GIB),
            "freeleech": int(freeleech), "vip": 0, "progress": progress,
            "fetched_at": iso(fetched) if fetched else None, "created_at": iso(NOW - timedelta(days=2))}


def test_own_load_counts_what_mams_numbers_cannot_show_yet():
    recent, old = NOW - timedelta(minutes=5), NOW - OWN_WINDOW - timedelta(minutes=10)
    rows = [
        row("1", "pending"),  # recorded, not fetched: a slot to come and its size
        row("2", "queued", fetched=recent),  # fetched 5 min ago, not on MAM's list: own
        row("3", "downloading", fetched=recent, progress=0.9),  # own: qBittorrent's progress does not matter
        row("4", "queued", fetched=recent),  # on MAM's list with 1 GB booked
        row("5", "downloading", fetched=old, progress=0.5),  # MAM counts it: what is left
        row("6", "done", fetched=old),  # long done: nothing
        row("7", "done", fetched=recent, freeleech=True),  # own slot, costs nothing
        row("8", "failed", fetched=recent),  # fetched = snatched, whatever happened after
    ]
    load = own_load(account(booked={"4": 1 * GIB}), rows, read_at=NOW)
    assert (load.slots, load.own, load.waiting) == (5, 4, 1)
    assert load.bytes == pytest.approx((4 + 4 + 4 + 3 + 2 + 4) * GIB, abs=2)
    assert load.own_bytes == 12 * GIB
    # Without MAM's list every recent grab is abook's own, the listed one too.
    assert own_load(account(booked=None), rows, read_at=NOW).own == 5
    # The grab being judged is left out.
    assert own_load(account(), rows, read_at=NOW, exclude=("mam", "1")).waiting == 0


def test_torrents_of_another_tracker_are_not_on_mams_account():
    other = {**row("50", "downloading", fetched=NOW - timedelta(minutes=5), progress=0.1), "source": "prowlarr",
             "tracker": "prowlarr"}
    pending = {**row("51", "pending"), "source": "prowlarr", "tracker": "prowlarr"}
    load = own_load(account(booked={}), [other, pending], read_at=NOW)
    assert (load.slots, load.own, load.waiting, load.bytes) == (0, 0, 0, 0)
    # a MAM torrent found through Prowlarr is on MAM's account
    via_prowlarr = {**row("52", "pending"), "source": "prowlarr", "tracker": "mam"}
    assert own_load(account(booked={}), [via_prowlarr], read_at=NOW).waiting == 1


def test_rows_fetched_after_the_numbers_were_read_always_count():
    rows = [row("9", "queued", fetched=NOW + timedelta(minutes=2))]
    assert own_load(account(booked={}), rows, read_at=NOW).own == 1


# ------------------------------------------------------------------- the guard with state
class Tracker:
    """Answers like abook.clients.mam.MAM: user_stats(), torrent(id), snatch_list()."""

    def __init__(self, stats: UserStats, catalog: dict[str, Release] | None = None) -> None:
        self.stats = stats
        self.catalog = dict(catalog or {})
        self.calls: list[str] = []

    def user_stats(self) -> UserStats:
        self.calls.append("stats")
        return self.stats

    def torrent(self, tid: Any) -> Release | None:
        self.calls.append(f"torrent {tid}")
        return self.catalog.get(str(tid))

    def snatch_list(self, kind: str = "unsat") -> Any:
        from abook.clients.mam import SnatchList

        self.calls.append("snatches")
        return SnatchList(kind, [], complete=True)


def stats(up_gb: float = 300, down_gb: float = 100, *, unsat: int = 10, limit: int = 100, wedges: int = 5,
          cls: str = "Power User") -> UserStats:
    return UserStats(username="m", uid=7, user_class=cls, ratio=up_gb / down_gb, uploaded=int(up_gb * GIB),
                     downloaded=int(down_gb * GIB), seedbonus=0, wedges=wedges, unsat_count=unsat,
                     unsat_limit=limit, exact_bytes=True)


@pytest.fixture
def state() -> State:
    return State.open(None)


def guard(state: State, tracker: Tracker, rules: Rules = RULES) -> TrackerGuard:
    return TrackerGuard(state, tracker, rules=rules, now=lambda: NOW)


def test_a_pick_whose_freeleech_ended_is_judged_again_as_costing_ratio(state):
    searched = release(95, "42", freeleech=True)
    tracker = Tracker(stats(300, 100), {"42": release(95, "42")})  # freeleech over by now
    g = guard(state, tracker)
    assert g(searched) is None  # as found by the search: free
    c = g.look(searched)
    assert c.looked and not c.gone and c.changed == "free ended, now costs ratio"
    assert c.refusal == ("free ended, now costs ratio: upload buffer after this grab would be 5.0 GB, below "
                         "BUFFER_MIN_GB 10 (projected ratio 1.54, RATIO_FLOOR 1.5)")
    assert not c.release.freeleech
    assert tracker.calls.count("torrent 42") == 1  # one paced request
    # A small one that still fits goes on, judged as costing ratio (and big enough for a wedge).
    tracker.catalog["43"] = release(8, "43")
    c = g.look(release(8, "43", freeleech=True))
    assert c.ok and c.changed == "free ended, now costs ratio" and c.wedge


def test_fresh_look_refuses_a_torrent_snatched_meanwhile_or_gone(state):
    tracker = Tracker(stats(), {"5": release(1, "5", my_snatched=True)})
    g = guard(state, tracker)
    assert "snatched before" in g.look(release(1, "5")).gone
    assert "no longer lists" in g.look(release(1, "6")).gone
    # abook's own earlier fetch of it (a resubmission) is not "snatched before".
    state.add_download({"source": "mam", "torrent_id": "5", "status": "pending", "size": GIB,
                        "fetched_at": iso(NOW - timedelta(minutes=3))})
    c = g.look(release(1, "5"))
    assert c.ok and not c.wedge and "fetched before" in c.wedge_why


def test_the_look_asks_for_a_wedge_for_a_big_pick_and_never_twice(state):
    tracker = Tracker(stats(wedges=5), {"7": release(8, "7"), "8": release(8, "8", freeleech=True)})
    g = guard(state, tracker)
    c = g.look(release(8, "7"))
    assert c.ok and c.wedge
    assert not g.look(release(8, "8", freeleech=True)).wedge
    dl = state.add_download({"source": "mam", "torrent_id": "7", "status": "pending", "size": 8 * GIB})
    state.mark_fetching(dl, wedges_before=5)
    state.unmark_fetching(dl)  # the tracker answered with an error: as if never asked
    assert state.get_download(dl)["wedge"] is None
    state.mark_fetching(dl, wedges_before=5)
    state.conn.execute("UPDATE downloads SET fetched_at=NULL WHERE id=?", (dl,))  # killed before the answer
    again = g.look(release(8, "7"))
    assert not again.wedge and "never twice" in again.wedge_why


def test_unsettled_wedges_keep_the_reserve_when_mam_lags(state):
    tracker = Tracker(stats(wedges=3), {str(i): release(8, str(i)) for i in (1, 2)})
    g = guard(state, tracker)
    assert g.look(release(8, "1")).wedge
    dl = state.add_download({"source": "mam", "torrent_id": "1", "status": "queued", "size": 8 * GIB})
    state.mark_fetching(dl, wedges_before=3)
    state.set_wedge(dl, "unconfirmed")
    c = g.look(release(8, "2"))
    assert not c.wedge and "2 wedges held, WEDGE_RESERVE 2" in c.wedge_why


def test_own_grabs_keep_the_margin_across_runs_while_mam_lags(state):
    """Two runs a minute apart, MAM's counts unchanged: the second sees the first's grabs."""
    tracker = Tracker(stats(unsat=90, limit=100))  # 10 free, margin 5
    taken = 0
    for run in range(2):
        g = guard(state, tracker)  # a new run: a new guard, the account read again
        state.set_kv("mam_stats", None)
        for i in range(10):
            tid = f"{run}{i}"
            if g(release(1, tid, freeleech=True)) is not None:
                break
            dl = state.add_download({"source": "mam", "torrent_id": tid, "status": "queued", "size": GIB,
                                     "freeleech": 1})
            state.mark_fetching(dl)
            taken += 1
    assert taken == 5  # after the fifth 100 - 90 - 5 = 5 slots are free: UNSAT_MARGIN, no fewer
    assert tracker.calls.count("stats") == 2 and "snatches" in tracker.calls  # asked MAM which it counts


def test_the_account_cache_keeps_its_read_time_and_the_booked_list(state):
    tracker = Tracker(stats())
    dl = state.add_download({"source": "mam", "torrent_id": "3", "status": "queued", "size": GIB})
    state.mark_fetching(dl)
    first = load_account(state, tracker, now=NOW)
    assert first.booked == {} and first.read_at == iso(NOW)
    again = load_account(state, tracker, now=NOW + timedelta(minutes=2))
    assert again == first and tracker.calls == ["stats", "snatches"]


def test_exact_bytes_win_over_the_rounded_ratio():
    s = stats(300, 100)
    s = replace(s, ratio=3.0049)
    assert account_of(s).uploaded == int(300 * GIB)
    rounded = replace(s, exact_bytes=False)
    assert account_of(rounded).uploaded == int(3.0049 * 100 * GIB)


# ------------------------------------------------------------------- the wedge, recorded like a purchase
def _pick(state: State, tid: str = "7") -> tuple[int, Release]:
    pick = release(8, tid)
    return state.add_download({"source": "mam", "torrent_id": tid, "status": "pending", "size": 8 * GIB,
                               "title": pick.title}), pick


def test_a_spent_wedge_is_used_and_makes_the_grab_free(state):
    from abook.workflows.grab import fetch_torrent

    tracker = Tracker(stats(wedges=5), {"7": release(8, "7")})
    g = guard(state, tracker)
    dl, pick = _pick(state)
    clearance = g.look(pick)
    asked: list[bool] = []

    def fetch(wedge: bool) -> tuple[bytes, None]:
        asked.append(wedge)
        row = state.get_download(dl)
        assert row["wedge"] == "requested" and row["wedges_before"] == 5 and row["fetched_at"]  # before asking
        tracker.stats = replace(tracker.stats, wedges=4)
        return b"torrent", None

    _data, _magnet, use = fetch_torrent(state, g, fetch, dl, pick, clearance, command="top10", task_id=None)
    assert asked == [True] and use.outcome == "used" and "4 wedges left" in use.message
    row = state.get_download(dl)
    assert row["wedge"] == "used" and row["freeleech"] == 1
    assert "wedge used: Book 7 (#7): 4 wedges left" in state.latest_snapshot()["action"]
    assert state.failures() == []


def test_a_wedge_mam_did_not_spend_is_recorded_and_the_grab_costs_ratio(state):
    from abook.workflows.grab import fetch_torrent

    tracker = Tracker(stats(wedges=5), {"7": release(8, "7")})
    g = guard(state, tracker)
    dl, pick = _pick(state)
    _d, _m, use = fetch_torrent(state, g, lambda wedge: (b"t", None), dl, pick, g.look(pick), command="top10",
                                task_id=None)
    assert use.outcome == "not_spent"
    assert not state.get_download(dl)["freeleech"] and state.get_download(dl)["wedge"] == "not_spent"
    fail = state.failures()[0]
    assert fail["reason_code"] == "wedge_not_spent" and fail["kind"] == "bonus"
    assert "wedge not spent" in state.latest_snapshot()["action"]


def test_a_refused_wedge_is_recorded_and_the_torrent_fetched_without_one(state):
    from abook.clients.mam import DownloadRefused
    from abook.workflows.grab import fetch_torrent

    tracker = Tracker(stats(wedges=5), {"7": release(8, "7")})
    g = guard(state, tracker)
    dl, pick = _pick(state)
    asked: list[bool] = []

    def fetch(wedge: bool) -> tuple[bytes, None]:
        asked.append(wedge)
        if wedge:
            raise DownloadRefused("MAM sent a JSON error", detail="You do not have any FL Wedges", status=200)
        return b"t", None

    _d, _m, use = fetch_torrent(state, g, fetch, dl, pick, g.look(pick), command="top10", task_id=None)
    assert asked == [True, False] and use.outcome == "refused"
    assert state.get_download(dl)["wedge"] == "refused"
    assert state.failures()[0]["reason_code"] == "wedge_refused"
    assert "You do not have any FL Wedges" in state.failures()[0]["reason"]


def test_a_run_killed_while_asking_for_a_wedge_never_asks_twice(state):
    from abook.errors import ServiceError
    from abook.workflows.grab import fetch_torrent, resolve_wedge

    tracker = Tracker(stats(wedges=5), {"7": release(8, "7")})
    g = guard(state, tracker)
    dl, pick = _pick(state)

    def lost(wedge: bool) -> tuple[bytes, None]:
        raise ServiceError("MAM at ... is unreachable (timed out)", service="MAM")  # no status: maybe served

    with pytest.raises(ServiceError):
        fetch_torrent(state, g, lost, dl, pick, g.look(pick), command="top10", task_id=None)
    row = state.get_download(dl)
    assert row["wedge"] == "requested" and row["fetched_at"]  # kept: MAM may have spent it
    again = g.look(pick)
    assert again.ok and not again.wedge and "never twice" in again.wedge_why
    # The next look shows whether it was spent: personal freeleech now means used.
    tracker.catalog["7"] = release(8, "7", personal_freeleech=True)
    seen = g.look(pick)
    resolve_wedge(state, row, seen)
    assert state.get_download(dl)["wedge"] == "used" and state.get_download(dl)["freeleech"] == 1


def test_an_error_answer_takes_the_fetch_and_the_wedge_back(state):
    from abook.errors import ServiceError
    from abook.workflows.grab import fetch_torrent

    tracker = Tracker(stats(wedges=5), {"7": release(8, "7")})
    g = guard(state, tracker)
    dl, pick = _pick(state)

    def refused(wedge: bool) -> tuple[bytes, None]:
        raise ServiceError("MAM answered 404", service="MAM", status=404)

    with pytest.raises(ServiceError):
        fetch_torrent(state, g, refused, dl, pick, g.look(pick), command="top10", task_id=None)
    row = state.get_download(dl)
    assert row["fetched_at"] is None and row["wedge"] is None


def test_a_pending_pick_is_not_counted_twice_when_it_is_judged_itself(state):
    g = guard(state, Tracker(stats(unsat=94, limit=100)))  # 6 free: one more grab leaves 5, the margin
    state.add_download({"source": "mam", "torrent_id": "70", "status": "pending", "size": GIB, "freeleech": 1})
    assert g(Release(source="mam", torrent_id="70", title="x", size=GIB, freeleech=True)) is None
    # A second pending pick (of any source) sees the first one waiting: 100 - 94 - 1 - 1 = 4.
    state.add_download({"source": "prowlarr", "torrent_id": "guid-71", "status": "pending", "size": GIB,
                        "freeleech": 1})
    why = g(Release(source="prowlarr", torrent_id="guid-71", title="y", size=GIB, freeleech=True))
    assert why is not None and "only 4 unsatisfied-torrent slots" in why


def test_vip_only_freeleech_stays_free_for_a_vip_account_on_the_fresh_look(state):
    seen = release(8, "9", raw={"fl_vip": 1})  # parsed by a client that did not know the class yet
    g = guard(state, Tracker(stats(cls="VIP", wedges=5), {"9": seen}))
    c = g.look(release(8, "9", freeleech=True))
    assert c.ok and c.release.freeleech and not c.changed and not c.wedge


def test_a_mam_torrent_found_through_prowlarr_gets_the_fresh_look_but_never_a_wedge(state):
    from abook.services import MamGrabsOnly

    tracker = Tracker(stats(wedges=5), {"77": release(8, "77")})
    g = guard(state, tracker)
    via = Release(source="prowlarr", tracker="mam", torrent_id="77", title="Book 77", size=8 * GIB)
    c = g.look(via)
    assert c.looked and c.ok and not c.wedge and "fetched through prowlarr" in c.wedge_why
    wrapped = MamGrabsOnly(lambda: g)
    assert wrapped.look(via).looked and wrapped.current() is g.current()
    other = Release(source="prowlarr", tracker="prowlarr", torrent_id="guid-1", title="x", size=GIB)
    assert wrapped.look(other) is None and wrapped(other) is None  # another tracker: not MAM's account
    assert MamGrabsOnly(None).look(via) is None  # without MAM_ID the account cannot be read
