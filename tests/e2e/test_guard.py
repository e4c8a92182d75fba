"""The tracker guard end to end, the way MAM works in 2026: the CLI as cron runs it, a fake MAM that
answers in the real shapes (a snatch shows in the account's numbers only minutes later, a wedge is
asked for with the download and MAM does not say whether it spent one, flags change between a
search and the grab) and a REAL qbittorrent-nox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.mam import FakeMAM, mam_row

MAM_COOKIE = "test-mam-cookie-guard"
GIB = 1024**3
FANTASY, SCIFI = 41, 47


def account(up_gb: float, down_gb: float, *, unsat: int = 10, limit: int = 100, wedges: int = 0,
            cls: str = "Power User") -> dict[str, Any]:
    return {
        "uid": 4242, "username": "test_mouse", "classname": cls, "ratio": round(up_gb / down_gb, 2),
        "uploaded": f"{up_gb} GiB", "downloaded": f"{down_gb} GiB",
        "uploaded_bytes": int(up_gb * GIB), "downloaded_bytes": int(down_gb * GIB),
        "seedbonus": 1000, "wedges": wedges, "vip_until": None,
        "unsat": {"name": "Unsatisfied", "count": unsat, "red": False, "limit": limit, "size": 0},
        "inactHnr": {"name": "Not Seeding - H&R - Not Yet Satisfied", "count": 0, "red": True, "size": None},
        "seedHnr": {"name": "Seeding - H&R - Not Yet Satisfied", "count": 0, "red": True, "size": None},
    }


@pytest.fixture
def world(tmp_path: Path, qbt):
    """A fake MAM (filled by each test), a real qBittorrent, the settings cron would have."""
    mam = FakeMAM([], mam_id=MAM_COOKIE, min_interval=0.05)
    with mam:
        env = {
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE, "MAM_RATE_LIMIT_MIN": "0.06", "MAM_RATE_LIMIT_MAX": "0.08",
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "QB_SAVE_PATH": str(tmp_path / "downloads"),
            "ABOOK_DB": str(tmp_path / "abook.db"), "ABS_URL": "",
            "RATIO_FLOOR": "1.5", "RATIO_RESUME": "1.7", "UNSAT_MARGIN": "5", "BUFFER_MIN_GB": "10",
            "TOP10_DAYS": "10",
        }
        yield env, mam, qbt


def rows(env: dict[str, str], sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def downloads(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {r["torrent_id"]: r for r in rows(env, "SELECT * FROM downloads")}


def fetched(mam: FakeMAM) -> list[str]:
    """Torrent ids whose .torrent MAM served (each one a snatch)."""
    return [r.query.get("tid", "") for r in mam.served("/tor/download.php")]


def in_qbt(qbt) -> set[str]:
    return {t.hash for t in qbt.client().torrents()}


# ------------------------------------------------------------------------------- byte buffer
def test_a_grab_that_fits_the_ratio_but_not_the_byte_buffer_is_refused_naming_both_numbers(world):
    env, mam, qbt = world
    mam.set_user(**account(300, 180))  # buffer at RATIO_FLOOR 1.5: 300 / 1.5 - 180 = 20 GiB
    mam.add(mam_row(501, "The Long Big Book", authors=["Ada Vane"], size=12 * GIB, category=FANTASY))
    res = run_abook(["search", "The Long Big Book", "--queue", "501"], env)
    assert res.code == 0, res.output
    # 300 / 192 = 1.56 stays above the floor, but only 8 GiB of buffer would be left
    want = ("upload buffer after this grab would be 8.0 GB, below BUFFER_MIN_GB 10 "
            "(projected ratio 1.56, RATIO_FLOOR 1.5)")
    assert f"held: {want}" in res.stdout
    row = downloads(env)["501"]
    assert row["status"] == "pending" and row["status_reason"] == want and row["fetched_at"] is None
    assert fetched(mam) == [] and in_qbt(qbt) == set()  # nothing was snatched
    res.assert_no_secret([MAM_COOKIE, *mam.issued])

    # With 30 GiB more upload credit (seen by the next ratio-check) the same pick goes through.
    mam.set_user(**account(345, 180))
    assert run_abook(["ratio-check"], env).code == 0
    ok = run_abook(["downloads"], env)
    assert ok.code == 0, ok.output
    assert fetched(mam) == ["501"] and mam.info_hash(501) in in_qbt(qbt)
    assert downloads(env)["501"]["status"] == "queued" and downloads(env)["501"]["fetched_at"]


# ------------------------------------------------------------------------------- wedges
def test_a_wedge_is_asked_for_a_big_pick_that_costs_ratio_never_for_a_free_or_vip_one_and_the_reserve_is_kept(world):
    env, mam, qbt = world
    mam.set_user(**account(1000, 100, wedges=3))
    mam.add(
        mam_row(511, "Free Giant", authors=["A One"], size=3 * GIB, free=True, snatches=900, category=FANTASY),
        mam_row(512, "VIP Giant", authors=["B Two"], size=3 * GIB, vip=True, fl_vip=True, snatches=800,
                category=FANTASY),
        mam_row(513, "Paid Giant", authors=["C Three"], size=3 * GIB, snatches=700, category=FANTASY),
        mam_row(514, "Second Paid Giant", authors=["D Four"], size=3 * GIB, snatches=600, category=FANTASY),
        mam_row(515, "Paid Small", authors=["E Five"], size=GIB // 2, snatches=500, category=FANTASY),
    )
    env = {**env, "WEDGE_MIN_GB": "1", "WEDGE_RESERVE": "2", "TOP10_GENRES": "Fantasy", "TOP10_COUNT": "5"}
    res = run_abook(["top10"], env)
    assert res.code == 0, res.output
    assert sorted(fetched(mam)) == ["511", "512", "513", "514", "515"]
    # Only the first big pick that costs ratio: then 2 wedges are left, the WEDGE_RESERVE.
    assert mam.wedge_requests == ["513"] and mam.wedges == 2
    got = downloads(env)
    assert got["513"]["wedge"] == "used" and got["513"]["freeleech"] == 1 and got["513"]["wedges_before"] == 3
    assert all(got[t]["wedge"] is None for t in ("511", "512", "514", "515"))
    actions = [r["action"] for r in rows(env, "SELECT action FROM tracker_snapshots")]
    assert any(a.startswith("wedge used: Paid Giant (#513): 2 wedges left") for a in actions), actions
    assert rows(env, "SELECT * FROM failed_attempts") == []


def test_a_wedge_mam_did_not_spend_or_refused_is_recorded_like_a_refused_purchase(world):
    env, mam, qbt = world
    mam.set_user(**account(1000, 100, wedges=5))
    mam.add(mam_row(521, "Unlucky Giant", authors=["F Six"], size=4 * GIB, category=FANTASY),
            mam_row(522, "Refused Giant", authors=["G Seven"], size=4 * GIB, category=FANTASY))
    env = {**env, "WEDGE_MIN_GB": "1", "WEDGE_RESERVE": "0"}
    mam.wedge_mode = "disabled"  # served, nothing spent, nothing said
    res = run_abook(["search", "Unlucky Giant", "--queue", "521"], env)
    assert res.code == 0 and "queued" in res.stdout, res.output
    mam.wedge_mode = "refuse"  # a JSON error instead of the .torrent
    res = run_abook(["search", "Refused Giant", "--queue", "522"], env)
    assert res.code == 0 and "queued" in res.stdout, res.output
    got = downloads(env)
    assert got["521"]["wedge"] == "not_spent" and not got["521"]["freeleech"]
    assert got["522"]["wedge"] == "refused" and not got["522"]["freeleech"]
    assert fetched(mam) == ["521", "522", "522"]  # the refused one was fetched again without a wedge
    assert {mam.info_hash(521), mam.info_hash(522)} <= in_qbt(qbt)
    fails = {r["reason_code"]: r["reason"] for r in rows(env, "SELECT * FROM failed_attempts")}
    assert set(fails) == {"wedge_not_spent", "wedge_refused"}
    assert "still holds 5 wedges" in fails["wedge_not_spent"] and "Not allowed via API" in fails["wedge_refused"]
    assert mam.wedges == 5


# ------------------------------------------------------------------------------- fresh look
def test_a_pending_pick_whose_freeleech_ended_is_judged_again_before_its_torrent_is_fetched(world):
    env, mam, qbt = world
    mam.set_user(**account(300, 180))  # 20 GiB of buffer
    mam.add(mam_row(531, "Was Free Small", authors=["H Eight"], size=2 * GIB, free=True, snatches=900,
                    category=FANTASY),
            mam_row(532, "Was Free Big", authors=["I Nine"], size=12 * GIB, free=True, snatches=800,
                    category=FANTASY))
    top = run_abook(["top10", "--genre", "Fantasy", "--count", "2"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"})
    assert top.code == 0, top.output
    got = downloads(env)
    assert got["531"]["status"] == got["532"]["status"] == "pending" and got["532"]["freeleech"] == 1
    mam.set_flags(531, free=0)  # hours later the freeleech is over
    mam.set_flags(532, free=0)

    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    got = downloads(env)
    # The small one still fits: fetched, and now counted as costing ratio.
    assert got["531"]["status"] == "queued" and got["531"]["freeleech"] == 0
    # The big one would leave 20 - 2 - 12 = 6 GiB: it waits, nothing was snatched.
    assert got["532"]["status"] == "pending"
    assert got["532"]["status_reason"] == (
        "free ended, now costs ratio: upload buffer after this grab would be 6.0 GB, below BUFFER_MIN_GB 10 "
        "(projected ratio 1.55, RATIO_FLOOR 1.5)")
    assert fetched(mam) == ["531"] and mam.info_hash(532) not in in_qbt(qbt)
    looks = [r.body["tor"]["id"] for r in mam.served("/tor/js/loadSearchJSONbasic.php")
             if isinstance(r.body, dict) and r.body.get("tor", {}).get("id")]
    assert looks == ["531", "532"]  # one exact lookup per pick, right before its fetch


def test_freeleech_that_ends_between_the_search_and_the_grab_is_seen(world):
    env, mam, qbt = world
    mam.set_user(**account(300, 180))
    mam.add(mam_row(541, "Free For A Minute", authors=["J Ten"], size=12 * GIB, free=True, category=FANTASY))
    mam.change_after_search(541, free=0)
    res = run_abook(["top10", "--genre", "Fantasy", "--count", "1"], env)
    assert res.code == 0, res.output
    row = downloads(env)["541"]
    assert row["status"] == "pending" and row["freeleech"] == 0
    assert row["status_reason"].startswith("free ended, now costs ratio: upload buffer after this grab")
    assert fetched(mam) == []


def test_a_pick_snatched_or_delisted_between_the_search_and_the_grab_is_not_fetched(world):
    env, mam, qbt = world
    mam.set_user(**account(1000, 100))
    mam.add(mam_row(561, "Snatched By Hand", authors=["O One"], snatches=900, category=FANTASY),
            mam_row(562, "Moderated Away", authors=["P Two"], snatches=800, category=FANTASY),
            mam_row(563, "Still There", authors=["Q Three"], snatches=700, category=FANTASY))
    mam.change_after_search(561, my_snatched=1)
    mam.change_after_search(562, id=99562)  # no longer listed under its id
    res = run_abook(["top10", "--genre", "Fantasy", "--count", "3"], env)
    assert res.code == 0, res.output
    assert fetched(mam) == ["563"] and set(downloads(env)) == {"563"}
    decisions = {r["torrent_id"]: r for r in rows(env, "SELECT * FROM top10_runs")}
    assert decisions["561"]["decision"] == "not_found"
    assert decisions["561"]["reason"] == "fresh look: snatched before: the account already has this torrent"
    assert "no longer lists" in decisions["562"]["reason"]


def test_a_pending_pick_the_account_snatched_meanwhile_is_not_fetched(world):
    env, mam, qbt = world
    mam.set_user(**account(1000, 100))
    mam.add(mam_row(551, "Taken By Hand", authors=["K Eleven"], category=FANTASY))
    assert run_abook(["top10", "--genre", "Fantasy", "--count", "1"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"}).code == 0
    mam.set_flags(551, my_snatched=1)  # the user grabbed it in the browser
    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    assert "551" not in downloads(env) and fetched(mam) == []
    decision = rows(env, "SELECT decision, reason FROM top10_runs WHERE torrent_id='551'")[0]
    assert decision["decision"] == "skipped" and "snatched before" in decision["reason"]


# ------------------------------------------------------------------------------- own counts
def test_two_close_runs_with_lagging_account_counts_never_leave_fewer_than_unsat_margin_slots(world):
    env, mam, qbt = world
    mam.set_user(**account(1000, 100, unsat=90, limit=100))  # 10 free, UNSAT_MARGIN 5
    mam.add(*[mam_row(600 + i, f"Fantasy Pick {i}", authors=[f"Author F{i}"], free=True, snatches=900 - i,
                      category=FANTASY) for i in range(8)],
            *[mam_row(700 + i, f"SciFi Pick {i}", authors=[f"Author S{i}"], free=True, snatches=900 - i,
                      category=SCIFI) for i in range(8)])
    first = run_abook(["top10", "--genre", "Fantasy", "--count", "8"], env)
    assert first.code == 0, first.output
    assert len(fetched(mam)) == 5  # 100 - 90 - 5 = 5 free: the margin
    # A minute later MAM still shows 90 unsatisfied: its counts lag the snatches.
    assert mam.user["unsat"]["count"] == 90 and mam.settled_snatches() == []
    check = run_abook(["ratio-check", "--json"], env)  # refreshes the cached account (MAM's old numbers)
    assert check.code == 0, check.output
    second = run_abook(["top10", "--genre", "Science Fiction", "--count", "8"], env)
    assert second.code == 0, second.output
    assert len(fetched(mam)) == 5, "the second run spent slots MAM's lagging count still showed free"
    held = [r for r in downloads(env).values() if r["torrent_id"].startswith("70")]
    assert held and all(r["status"] == "pending" and "unsatisfied-torrent slots" in r["status_reason"]
                        and "not show yet" in r["status_reason"] for r in held)
    # MAM catches up: the five snatches are on its list, counted once, not twice.
    mam.settle()
    settled = run_abook(["ratio-check", "--json"], env)
    import json

    data = json.loads(settled.stdout)
    assert data["unsat_count"] == 95 and data["own"]["own"] == 0
    assert data["snatch_list"].startswith("read: 5 unsatisfied")
    third = run_abook(["top10", "--genre", "Science Fiction", "--count", "8"], env)
    assert third.code == 0 and len(fetched(mam)) == 5, third.output
    assert 100 - mam.user["unsat"]["count"] - len(mam.settled_snatches()) >= 5


# ------------------------------------------------------------------------------- ratio-check --dry-run
def _dump(env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    out = {t: rows(env, f"SELECT * FROM {t} ORDER BY 1") for t in
           ("downloads", "tracker_snapshots", "failed_attempts", "top10_runs")}
    out["settings_kv"] = [r for r in rows(env, "SELECT key, value FROM settings_kv ORDER BY key")
                          if not r["key"].startswith("mam_id")]  # the rotated session cookie must be kept
    return out


def test_ratio_check_dry_run_says_what_the_guard_would_do_for_each_case_and_changes_nothing(world):
    env, mam, qbt = world
    mam.set_user(**account(300, 160, unsat=90, limit=100, wedges=3))  # 300 / 1.5 - 160 = 40 GiB of buffer
    mam.add(mam_row(801, "Own Fresh Grab", authors=["L One"], size=GIB, free=True, snatches=900, category=FANTASY),
            mam_row(802, "Wedge Worthy", authors=["N Three"], size=3 * GIB, snatches=800, category=FANTASY),
            mam_row(803, "Freeleech Ends", authors=["M Two"], size=31 * GIB, free=True, snatches=700,
                    category=FANTASY))
    env = {**env, "WEDGE_MIN_GB": "1", "WEDGE_RESERVE": "1"}
    top = run_abook(["top10", "--genre", "Fantasy", "--count", "3"], {**env, "MAX_ACTIVE_DOWNLOADS": "1"})
    assert top.code == 0, top.output
    assert fetched(mam) == ["801"]  # one grab a minute ago (MAM does not count it yet), two picks pending
    mam.set_flags(803, free=0)
    before, torrents_before = _dump(env), in_qbt(qbt)

    dry = run_abook(["ratio-check", "--dry-run"], env)
    assert dry.code == 0, dry.output
    out = dry.stdout
    # The byte buffer next to the ratio: 40 GiB less the 3 GiB pick that costs ratio.
    assert "buffer=37.0 GB (min 10)" in out and "buffer 37.0 GB (min 10)" in out
    # Own counts: the grab MAM's numbers do not show yet, and the two waiting picks.
    assert "own counts: 1 of abook's grabs MAM's numbers do not show yet (0.0 GB), 2 picks waiting" in out
    assert "90/100 (10 free), 7 after abook's grabs" in out
    # The big pick that costs ratio would get a wedge; the account keeps WEDGE_RESERVE.
    assert "title=Wedge Worthy" in out and "verdict=would be submitted" in out and "wedge=would ask for one" in out
    assert "wedges=3 (keep 1)" in out
    # The pending pick whose freeleech ended, judged again: it fits the ratio, not the buffer.
    assert ("free ended, now costs ratio: upload buffer after this grab would be 6.0 GB, below BUFFER_MIN_GB 10 "
            "(projected ratio 1.55, RATIO_FLOOR 1.5)") in out
    assert "flags read again from the tracker" in out
    assert out.rstrip().splitlines()[-1].startswith("dry run: ratio-check: ok: ratio 1.88, no hold")
    # ... and nothing changed: no snatch, no wedge, no state, no torrent.
    assert _dump(env) == before and in_qbt(qbt) == torrents_before
    assert fetched(mam) == ["801"] and mam.wedge_requests == [] and mam.wedges == 3
    dry.assert_no_secret([MAM_COOKIE, *mam.issued])

    # What it said is what `abook downloads` then does.
    assert run_abook(["ratio-check"], env).code == 0
    done = run_abook(["downloads"], env)
    assert done.code == 0, done.output
    got = downloads(env)
    assert mam.wedge_requests == ["802"] and got["802"]["wedge"] == "used" and mam.wedges == 2
    # The wedge made #802 free, yet 40 - 31 = 9 GiB is still below the minimum.
    assert got["803"]["status"] == "pending" and "9.0 GB, below BUFFER_MIN_GB 10" in got["803"]["status_reason"]
    assert fetched(mam) == ["801", "802"]


# ------------------------------------------------------------------- the tracker's description
def test_the_description_mam_sends_only_when_asked_reaches_the_pick_through_the_fresh_look(world):
    """MAM leaves the description out of search pages unless asked (the fake too); the fresh look
    before each fetch asks for it, so the import's metadata.json has the tracker's description."""
    env, mam, qbt = world
    mam.set_user(**account(3000, 100))
    mam.add(mam_row(901, "Told In Full", authors=["R Four"], free=True, snatches=900, category=FANTASY,
                    description="<p>A story told in full.</p>"),
            mam_row(902, "Told Later", authors=["S Five"], free=True, snatches=800, category=FANTASY,
                    description="<p>Told after a wait.</p>"))
    searches = mam.served("/tor/js/loadSearchJSONbasic.php")
    res = run_abook(["top10", "--genre", "Fantasy", "--count", "2"], {**env, "MAX_ACTIVE_DOWNLOADS": "1"})
    assert res.code == 0, res.output
    pages = [r for r in mam.served("/tor/js/loadSearchJSONbasic.php")[len(searches):]
             if not r.body["tor"].get("id")]
    assert pages and not any("description" in r.body for r in pages)  # the ranking asked for none
    got = downloads(env)
    assert json.loads(got["901"]["payload"])["description"] == "<p>A story told in full.</p>"  # grabbed now
    assert got["902"]["status"] == "pending" and not json.loads(got["902"]["payload"])["description"]
    assert run_abook(["downloads"], {**env, "MAX_ACTIVE_DOWNLOADS": "2"}).code == 0  # submitted later
    assert json.loads(downloads(env)["902"]["payload"])["description"] == "<p>Told after a wait.</p>"
