"""`abook ratio-check` end to end: the fake tracker's stats change between runs, a REAL qbittorrent-nox
holds abook's torrents (downloading and seeding) next to someone else's, and the CLI runs as cron would."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from abook.state import State
from tests.e2e.helpers import run_abook
from tests.fakes.mam import FakeMAM, mam_row, mam_time
from tests.qbt import wait_for

MAM_COOKIE = "test-mam-cookie-ratio"
GIB = 1024**3


def user(ratio: float = 3.0, **extra) -> dict:
    base = {
        "uid": 4242, "username": "test_mouse", "classname": "Power User", "ratio": ratio,
        "uploaded": "300 GiB", "downloaded": "100 GiB",
        "uploaded_bytes": int(ratio * 100 * GIB), "downloaded_bytes": 100 * GIB,
        "seedbonus": 60000, "wedges": 0, "vip_until": None,
        "unsat": {"name": "Unsatisfied", "count": 10, "red": False, "limit": 100, "size": 0},
    }
    base.update(extra)
    return base


@pytest.fixture
def world(tmp_path: Path, qbt):
    """abook's torrents in a real qBittorrent: A (in abook's downloads, downloading), B (abook's category and
    tag only, downloading), S (abook's, complete and seeding), U (abook's, paused by the user), X (someone
    else's, downloading)."""
    catalog = [mam_row(tid, f"Book {tid}", authors=["Test Author"]) for tid in (1, 2, 3, 4, 5)]
    mam = FakeMAM(catalog, mam_id=MAM_COOKIE, user=user())
    with mam:
        client = qbt.client()
        client.ensure_category("audiobooks")
        hashes = {}
        for key, tid, kwargs in (
            ("A", 1, {"category": "audiobooks", "tags": ["abook", "src:mam"]}),
            ("B", 2, {"category": "audiobooks", "tags": ["abook"]}),
            ("U", 4, {"category": "audiobooks", "tags": ["abook"], "paused": True}),
            ("X", 5, {"category": "movies", "tags": ["other"]}),
        ):
            hashes[key] = client.add_torrent(mam.torrent_bytes(tid), save_path=str(tmp_path / "dl"), **kwargs).hash
        # S: the files are already there, so it is complete at once and seeds.
        payload = mam.payload_path(3)
        hashes["S"] = client.add_torrent(mam.torrent_bytes(3), save_path=str(payload.parent), category="audiobooks",
                                         tags=["abook"], skip_checking=True).hash
        wait_for(lambda: client.get(hashes["S"]).is_complete, what="the seeding torrent to be complete")
        wait_for(lambda: client.get(hashes["U"]).is_paused, what="the user's torrent to be paused")
        wait_for(lambda: all(t.state != "checkingResumeData" for t in client.torrents()), what="states to settle")
        db = tmp_path / "abook.db"
        state = State.open(db)
        for key, tid, status in (("A", 1, "downloading"), ("S", 3, "done"), ("U", 4, "downloading")):
            state.add_download({"source": "mam", "torrent_id": str(tid), "info_hash": hashes[key],
                                "qb_hash": hashes[key], "status": status, "title": f"Book {tid}", "size": GIB})
        state.close()
        env = {
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "ABOOK_DB": str(db), "RATIO_FLOOR": "1.5", "RATIO_RESUME": "1.7", "UNSAT_MARGIN": "5",
        }
        yield env, mam, client, hashes


def states(client, hashes) -> dict[str, str]:
    by_hash = {t.hash: t for t in client.torrents()}
    return {k: by_hash[h].state for k, h in hashes.items()}


def paused(client, h) -> bool:
    return client.get(h).is_paused


def db_rows(env, sql):
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_hold_pauses_exactly_abooks_downloading_torrents_and_release_resumes_exactly_them(world):
    env, mam, client, h = world
    ok = run_abook(["ratio-check"], env)
    assert ok.code == 0, ok.output
    assert "ok: ratio 3.00, no hold" in ok.stdout
    assert "Book 3" in ok.stdout  # S has not seeded 72 h yet: listed as owed
    ok.assert_no_secret([MAM_COOKIE, *mam.issued])

    mam.set_ratio(1.2)
    held = run_abook(["ratio-check"], env)
    assert held.code == 4, held.output
    assert "hold ON" in held.stdout and "1.20" in held.stdout
    wait_for(lambda: paused(client, h["A"]) and paused(client, h["B"]), what="A and B to be paused")
    s = states(client, h)
    assert not paused(client, h["S"]) and client.get(h["S"]).is_complete, s  # seeding: untouched
    assert not paused(client, h["X"]), s  # not abook's: untouched
    hold = db_rows(env, "SELECT value FROM settings_kv WHERE key='hold'")
    assert hold and "below RATIO_FLOOR" in hold[0]["value"]
    flags = {r["title"]: r["qb_paused_by_abook"] for r in db_rows(env, "SELECT title, qb_paused_by_abook FROM downloads")}
    assert flags == {"Book 1": 1, "Book 3": None, "Book 4": None}
    remembered = json.loads(db_rows(env, "SELECT value FROM settings_kv WHERE key='ratio_paused'")[0]["value"])
    assert sorted(remembered) == sorted([h["A"], h["B"]])
    task = db_rows(env, "SELECT status FROM tasks WHERE command='ratio-check' ORDER BY id DESC LIMIT 1")[0]
    assert task["status"] == "held"

    # Above the floor but below RATIO_RESUME: the hold stays, nothing is resumed.
    mam.set_ratio(1.6)
    still = run_abook(["ratio-check"], env)
    assert still.code == 4 and "hold stays on" in still.stdout, still.output
    assert paused(client, h["A"]) and paused(client, h["B"])

    mam.set_ratio(2.0)
    released = run_abook(["ratio-check"], env)
    assert released.code == 0, released.output
    assert "hold released" in released.stdout and "2 torrents resumed" in released.stdout
    wait_for(lambda: not paused(client, h["A"]) and not paused(client, h["B"]), what="A and B to resume")
    assert paused(client, h["U"])  # the user's own pause is left alone
    assert not paused(client, h["X"]) and client.get(h["S"]).is_complete
    assert not db_rows(env, "SELECT value FROM settings_kv WHERE key IN ('hold', 'ratio_paused')")
    snaps = db_rows(env, "SELECT ratio, action FROM tracker_snapshots ORDER BY id")
    assert [s["ratio"] for s in snaps] == [3.0, 1.2, 1.6, 2.0]
    assert snaps[1]["action"].startswith("hold_on; paused 2") and snaps[3]["action"].startswith("released; resumed 2")


def test_unsatisfied_slots_nearly_gone_hold_too(world):
    env, mam, client, h = world
    mam.set_unsat(97, 100)
    res = run_abook(["ratio-check", "--json"], env)
    assert res.code == 4, res.output
    data = json.loads(res.stdout)
    assert data["held"] and data["unsat_free"] == 3 and "unsatisfied" in data["hold"]
    assert {p["hash"] for p in data["paused"]} == {h["A"], h["B"]}


def test_dry_run_changes_nothing(world):
    env, mam, client, h = world
    mam.set_ratio(1.0)
    res = run_abook(["ratio-check", "--dry-run", "--buy-upload", "50", "--buy-vip"], env)
    assert res.code == 4, res.output
    assert "dry run: would pause" in res.stdout and "would buy 50 GB" in res.stdout
    assert not paused(client, h["A"]) and not paused(client, h["B"])
    assert not db_rows(env, "SELECT * FROM tracker_snapshots")
    assert not db_rows(env, "SELECT * FROM settings_kv WHERE key IN ('hold', 'ratio_paused')")
    assert not [r for r in mam.served() if "bonusBuy" in r.path]


def test_vip_warning_and_purchase_and_refusal_are_recorded(world):
    env, mam, client, h = world
    soon = datetime.now(UTC) + timedelta(days=3)
    mam.set_user(classname="VIP", vip_until=mam_time(soon))
    warn = run_abook(["ratio-check"], env)
    assert warn.code == 0, warn.output
    assert "VIP ends in 3.0 days" in warn.output
    assert not mam.purchases

    bought = run_abook(["ratio-check", "--buy-vip"], env)
    assert bought.code == 0, bought.output
    assert [p["spendtype"] for p in mam.purchases] == ["VIP"] and mam.purchases[0].get("success")
    assert mam.purchases[0]["duration"] == "1"  # whole weeks
    assert "bonus store VIP: bought" in bought.stdout
    assert "VIP ends in" not in bought.output  # fresh stats after the purchase: 10 days left
    assert "VIP bought" in db_rows(env, "SELECT action FROM tracker_snapshots ORDER BY id DESC LIMIT 1")[0]["action"]

    # Not enough points: refused without asking the store, recorded for ever.
    mam.set_user(vip_until=mam_time(soon), seedbonus=100)
    refused = run_abook(["ratio-check", "--buy-vip"], env)
    assert refused.code == 0, refused.output
    assert "bonus store VIP refused: not enough bonus points" in refused.stdout and len(mam.purchases) == 1
    fails = db_rows(env, "SELECT reason_code, reason FROM failed_attempts WHERE command='ratio-check'")
    assert fails and fails[0]["reason_code"] == "vip_refused" and "not enough bonus points" in fails[0]["reason"]


def test_upload_credit_bought_below_the_floor_lifts_the_ratio(world):
    env, mam, client, h = world
    mam.set_user(**{k: v for k, v in user(1.2).items() if k != "unsat"})
    res = run_abook(["ratio-check"], {**env, "AUTO_BUY_UPLOAD_GB": "50"})
    assert res.code == 0, res.output  # 120 + 50 GiB up / 100 GiB down = 1.7: no hold
    assert [(p["spendtype"], p["amount"]) for p in mam.purchases] == [("upload", "50")]
    assert "bonus store upload: bought 50 GB" in res.stdout
    assert not paused(client, h["A"])
    snap = db_rows(env, "SELECT ratio, action FROM tracker_snapshots")[0]
    assert snap["ratio"] == pytest.approx(1.7) and "upload bought" in snap["action"]
