"""`abook top10` end to end: fake ABS (the owned library), fake MAM (the ranking) and a REAL
qbittorrent-nox. The tracker writes owned books differently and puts near misses, sequels,
same-title books by other authors and unwanted editions beside them."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, mam_row

ABS_TOKEN = "test-abs-token-top10"
MAM_COOKIE = "test-mam-cookie-initial-value"
FANTASY, SCIFI = 41, 47


def catalog() -> list[dict]:
    old = datetime.now(UTC) - timedelta(days=30)
    return [
        # ---- Fantasy, most snatched first
        mam_row(101, "Mistborn: The Final Empire (Mistborn, Book 1) [Unabridged]", authors=["Sanderson, Brandon"],
                narrators=["Michael Kramer"], series=[("Mistborn", "1")], category=FANTASY, snatches=1000),
        mam_row(102, "The Well of Ascension", authors=["Brandon Sanderson"], series=[("Mistborn", "2")],
                category=FANTASY, snatches=900),
        mam_row(103, "Hobbit, The", authors=["J. R. R. Tolkien"], category=FANTASY, snatches=850),
        mam_row(104, "The Name of the Wind (Abridged)", authors=["Patrick Rothfuss"], category=FANTASY,
                snatches=800, tags="Abridged"),
        mam_row(105, "Dune: GraphicAudio Dramatized Adaptation", authors=["Frank Herbert"], category=FANTASY,
                snatches=780),
        mam_row(106, "Assassin's Apprentice", authors=["Robin Hobb"], category=FANTASY, snatches=700,
                my_snatched=True),
        mam_row(107, "The Way of Kings", authors=["Brandon Sanderson"], series=[("The Stormlight Archive", "1")],
                category=FANTASY, snatches=600),
        mam_row(108, "The Hobbit", authors=["Jane Somebody-Else"], category=FANTASY, snatches=550),
        mam_row(109, "Red Rising", authors=["Pierce Brown"], category=FANTASY, snatches=500),
        mam_row(110, "The Lies of Locke Lamora", authors=["Scott Lynch"], category=FANTASY, snatches=400),
        mam_row(111, "Old Popular Fantasy", authors=["Old Author"], category=FANTASY, snatches=5000, added=old),
        # ---- Science Fiction
        mam_row(201, "Project Hail Mary: A Novel", authors=["Andy Weir"], category=SCIFI, snatches=990),
        mam_row(202, "Three Body Problem", authors=["Liu Cixin"], category=SCIFI, snatches=980),
        mam_row(203, "Project Hail Mary Companion", authors=["Andy Weir"], category=SCIFI, snatches=970),
        mam_row(204, "Leviathan Falls", authors=["James S.A. Corey"], series=[("The Expanse", "9")], category=SCIFI,
                snatches=960),
        mam_row(205, "Dune Messiah", authors=["Frank Herbert"], series=[("Dune", "2")], category=SCIFI, snatches=950),
        mam_row(206, "Old Man&#039;s War", authors=["John Scalzi"], category=SCIFI, snatches=940, escape=False),
        mam_row(207, "Children of Time", authors=["Adrian Tchaikovsky"], category=SCIFI, snatches=930),
    ]


@pytest.fixture
def world(tmp_path: Path, qbt):
    abs_fake = FakeABS(token=ABS_TOKEN)
    abs_fake.add_book("The Final Empire", authors=["Brandon Sanderson"], series=[("Mistborn", "1")])
    abs_fake.add_book("The Hobbit", authors=["J.R.R. Tolkien"])
    abs_fake.add_book("Project Hail Mary", authors=["Andy Weir"])
    abs_fake.add_book("The Three-Body Problem", authors=["Cixin Liu"], series=[("Remembrance of Earth's Past", "1")])
    abs_fake.add_book("Leviathan Wakes", authors=["James S. A. Corey"], series=[("The Expanse", "1")])
    abs_fake.add_book("Dune", authors=["Frank Herbert"], series=[("Dune", "1")])
    mam = FakeMAM(catalog(), mam_id=MAM_COOKIE, min_interval=0.15, max_per_page=4)
    mam.set_ratio(5.0)
    with abs_fake.serve(), mam:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
            "MAM_RATE_LIMIT_MIN": "0.2", "MAM_RATE_LIMIT_MAX": "0.3",
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "TOP10_GENRES": "Fantasy,Science Fiction", "TOP10_COUNT": "3", "TOP10_DAYS": "10",
            "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, mam, qbt, abs_fake


def _titles(qbt) -> dict[str, tuple[str, tuple[str, ...]]]:
    client = qbt.client()
    return {t.hash: (t.category, t.tags) for t in client.torrents()}


EXPECTED = {102: "Fantasy", 107: "Fantasy", 108: "Fantasy", 204: "Science Fiction", 205: "Science Fiction",
            206: "Science Fiction"}


def test_queues_exactly_the_right_books(world):
    env, mam, qbt, _ = world
    res = run_abook(["top10"], env)
    assert res.code == 0, res.output
    res.assert_no_secret([MAM_COOKIE, ABS_TOKEN, qbt.password, *mam.issued])
    in_qbt = _titles(qbt)
    want = {mam.info_hash(tid): genre for tid, genre in EXPECTED.items()}
    assert set(in_qbt) == set(want), res.stdout
    for h, genre in want.items():
        category, tags = in_qbt[h]
        assert category == "audiobooks"
        assert "abook" in tags and f"genre:{genre}" in tags and "src:mam" in tags
    # Every candidate's decision and reason is stored.
    db = sqlite3.connect(env["ABOOK_DB"])
    decisions = {r[0]: (r[1], r[2]) for r in db.execute("SELECT torrent_id, decision, reason FROM top10_runs")}
    assert decisions["101"][0] == "skipped" and "owned" in decisions["101"][1]
    assert decisions["103"][0] == "skipped" and "owned" in decisions["103"][1]
    assert "abridged" in decisions["104"][1]
    assert "dramatized" in decisions["105"][1]
    assert "snatched before" in decisions["106"][1]
    assert decisions["201"][0] == "skipped" and decisions["202"][0] == "skipped"
    assert decisions["203"][0] == "near_miss"
    assert "111" not in decisions  # outside the date window
    assert "109" not in decisions and "207" not in decisions  # N reached before them
    rows = db.execute("SELECT torrent_id, status, genre, info_hash, title FROM downloads").fetchall()
    assert {int(r[0]) for r in rows} == set(EXPECTED)
    assert all(r[1] == "queued" for r in rows)
    assert "Fantasy: queued 3 new" in res.stdout and "Science Fiction: queued 3 new" in res.stdout
    # The state file keeps no .torrent (its announce URL holds the passkey) and no secret but
    # the newest rotated session cookie.
    dump = "\n".join(sqlite3.connect(env["ABOOK_DB"]).iterdump())
    assert "passkey" not in dump and "announce" not in dump
    assert MAM_COOKIE not in dump and ABS_TOKEN not in dump and qbt.password not in dump
    assert mam.cookie in dump  # the rotated one, used next run
    assert (Path(env["ABOOK_DB"]).stat().st_mode & 0o777) == 0o600


def test_second_run_queues_nothing_and_cookie_survives(world):
    env, mam, qbt, _ = world
    assert run_abook(["top10"], env).code == 0
    before = set(_titles(qbt))
    issued = len(mam.issued)
    # The configured MAM_ID is stale now: only the rotated cookie kept in the state file works.
    again = run_abook(["top10"], env)
    assert again.code == 0, again.output
    assert set(_titles(qbt)) == before
    assert "queued 0 new" in again.stdout
    assert len(mam.issued) > issued
    # tracker calls were never closer than MAM_RATE_LIMIT_MIN (both runs)
    times = [r.at for r in mam.requests if not r.path.startswith("/announce")]  # qBittorrent's, not ours
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2 - 0.01, min(gaps)


def test_dry_run_changes_nothing_anywhere(world):
    env, mam, qbt, _ = world
    res = run_abook(["top10", "--dry-run"], env)
    assert res.code == 0, res.output
    assert "would queue" in res.stdout
    assert _titles(qbt) == {}
    assert not mam.served("/tor/download.php")
    db = sqlite3.connect(env["ABOOK_DB"])
    assert db.execute("SELECT COUNT(*) FROM downloads").fetchone()[0] == 0


def test_killed_midway_then_rerun_queues_each_once(world):
    env, mam, qbt, _ = world
    # Simulate a crash after the first grab was recorded but before it reached qBittorrent:
    # run with max 0 active downloads so every pick is stored pending, then run again normally.
    first = run_abook(["top10", "--genre", "Fantasy"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"})
    assert first.code == 0, first.output
    assert _titles(qbt) == {}
    db = sqlite3.connect(env["ABOOK_DB"])
    assert db.execute("SELECT COUNT(*) FROM downloads WHERE status='pending'").fetchone()[0] == 3
    second = run_abook(["top10", "--genre", "Fantasy"], env)
    assert second.code == 0, second.output
    assert "queued 0 new" in second.stdout  # the pending ones count; nothing doubled
    submitted = run_abook(["downloads"], env)
    assert submitted.code == 0, submitted.output
    hashes = set(_titles(qbt))
    assert hashes == {mam.info_hash(t) for t, g in EXPECTED.items() if g == "Fantasy"}
    assert db.execute("SELECT COUNT(*) FROM downloads").fetchone()[0] == 3


def test_book_already_in_qbittorrent_is_skipped(world):
    env, mam, qbt, _ = world
    client = qbt.client()
    client.add_torrent(mam.torrent_bytes(102) if hasattr(mam, "torrent_bytes") else _fetch(mam, 102),
                       category="manual")
    res = run_abook(["top10", "--genre", "Fantasy"], env)
    assert res.code == 0, res.output
    db = sqlite3.connect(env["ABOOK_DB"])
    reason = db.execute("SELECT reason FROM top10_runs WHERE torrent_id='102'").fetchone()[0]
    assert "already in qBittorrent" in reason
    queued = {r[0] for r in db.execute("SELECT torrent_id FROM downloads")}
    assert queued == {"107", "108", "109"}


def _fetch(mam: FakeMAM, tid: int) -> bytes:
    import httpx

    r = httpx.get(f"{mam.url}/tor/download.php", params={"tid": tid}, cookies={"mam_id": mam.cookie})
    return r.content


def test_hold_flag_exits_4_and_queues_nothing(world):
    env, _mam, qbt, _ = world
    db = sqlite3.connect(env["ABOOK_DB"])
    db.execute("INSERT INTO settings_kv (key, value, updated_at) VALUES ('hold', 'ratio 0.9 below 1.5', '')")
    db.commit()
    res = run_abook(["top10"], env)
    assert res.code == 4, res.output
    assert _titles(qbt) == {}


def test_low_ratio_guard_keeps_grabs_pending(world):
    env, mam, qbt, _ = world
    mam.set_ratio(1.0)
    res = run_abook(["top10", "--genre", "Fantasy"], env)
    assert res.code == 0, res.output
    assert _titles(qbt) == {}
    db = sqlite3.connect(env["ABOOK_DB"])
    rows = db.execute("SELECT status, status_reason FROM downloads").fetchall()
    assert rows and all(r[0] == "pending" and "RATIO_FLOOR" in r[1] for r in rows)


def test_unknown_genre_is_a_config_error(world):
    env, *_ = world
    res = run_abook(["top10", "--genre", "Underwater Basket Weaving"], env)
    assert res.code == 2, res.output
    res.assert_one_line_error()
    assert "TOP10_GENRES" in res.stderr


def test_expired_mam_session_is_exit_3(world):
    env, mam, *_ = world
    mam.expire_session()
    res = run_abook(["top10"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "mam_id" in res.stderr
    res.assert_no_secret([MAM_COOKIE, *mam.issued])


def test_prowlarr_source(world, tmp_path):
    from tests.fakes.prowlarr import FakeProwlarr, FakeRelease, GenericIndexer

    env, _mam, qbt, _ = world
    # The genre is the indexer's category, not a word in the titles (tests/e2e/test_prowlarr.py
    # has the MyAnonamouse indexer; this one is another tracker's).
    tracker = GenericIndexer(3, "ExampleTracker", categories=[(3030, "Audio/Audiobook"),
                                                              (100041, "Audiobooks - Fantasy")])
    releases = [
        FakeRelease(title="Newcomer - Jane Doe", grabs=40, categories=(3030, 100041)),
        FakeRelease(title="Old One - Jane Doe", grabs=400, categories=(3030, 100041),
                    publish_date=datetime.now(UTC) - timedelta(days=40)),
    ]
    with FakeProwlarr(releases, indexers=[tracker], api_key="test-prowlarr-key") as prowlarr:
        res = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy", "--count", "1"],
                        {**env, "PROWLARR_URL": prowlarr.url, "PROWLARR_API_KEY": "test-prowlarr-key"})
    assert res.code == 0, res.output
    res.assert_no_secret(["test-prowlarr-key"])
    assert len(_titles(qbt)) == 1


def test_json_in_decisions_is_readable(world):
    env, *_ = world
    assert run_abook(["top10"], env).code == 0
    data = json.loads(run_abook(["report", "--json"], env).stdout)
    assert any(r["command"] == "top10" and r["status"] == "ok" for r in data["runs"])


def test_search_judges_each_result_and_queues_one(world):
    env, mam, qbt, _ = world
    res = run_abook(["search", "Hobbit", "--json"], env)
    assert res.code == 0, res.output
    verdicts = {r["torrent_id"]: r["verdict"] for r in json.loads(res.stdout)["results"]}
    assert verdicts == {"103": "owned", "108": "new"}
    assert _titles(qbt) == {}
    dry = run_abook(["search", "Hobbit", "--queue", "108", "--dry-run"], env)
    assert dry.code == 0 and "would queue" in dry.stdout, dry.output
    assert _titles(qbt) == {}
    refused = run_abook(["search", "Hobbit", "--queue", "103"], env)
    assert refused.code == 2 and "owned" in refused.stderr, refused.output
    queued = run_abook(["search", "Hobbit", "--queue", "108"], env)
    assert queued.code == 0, queued.output
    assert set(_titles(qbt)) == {mam.info_hash(108)}


def test_doctor_checks_every_configured_service(world):
    from tests.fakes.prowlarr import FakeProwlarr

    env, mam, qbt, _ = world
    with FakeProwlarr([], api_key="test-prowlarr-key") as prowlarr:
        full = {**env, "PROWLARR_URL": prowlarr.url, "PROWLARR_API_KEY": "test-prowlarr-key"}
        res = run_abook(["doctor", "--json"], full)
        assert res.code == 0, res.output
        services = {s["service"]: s for s in json.loads(res.stdout)["services"]}
        assert all(s["ok"] and s["configured"] for s in services.values()), services
        assert services["qBittorrent"]["version"].startswith(("4.", "5."))
        assert "user" in services["MyAnonamouse"]["detail"]
        res.assert_no_secret([MAM_COOKIE, *mam.issued, qbt.password, "test-prowlarr-key", ABS_TOKEN])
        bad = run_abook(["doctor"], {**full, "QB_PASSWORD": "wrong-password-x"})
        assert bad.code == 3, bad.output
        assert "qBittorrent" in bad.stderr
        bad.assert_no_secret(["wrong-password-x"])


@pytest.mark.parametrize("kill_after", [0.8, 1.6, 2.6])
def test_killed_at_any_point_then_rerun_queues_each_once(world, kill_after):
    """SIGKILL a real `abook top10` mid-run (tracker calls are paced 0.5 s apart, so the kill lands
    between or during grabs), run it again, then let `downloads` submit what was left pending:
    exactly the expected torrents, each once, every one recorded."""
    import signal
    import subprocess
    import time

    from tests.e2e.helpers import BASE_ENV, abook_executable

    env, mam, qbt, _ = world
    slow = {**env, "MAM_RATE_LIMIT_MIN": "0.5", "MAM_RATE_LIMIT_MAX": "0.5", "TOP10_GENRES": "Fantasy"}
    full_env = {**os.environ, **BASE_ENV, **slow}
    proc = subprocess.Popen([*abook_executable(), "top10"], env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    again = run_abook(["top10"], slow)
    assert again.code == 0, again.output
    assert run_abook(["downloads"], slow).code == 0
    want = {mam.info_hash(t) for t, g in EXPECTED.items() if g == "Fantasy"}
    assert set(_titles(qbt)) == want
    db = sqlite3.connect(env["ABOOK_DB"])
    rows = db.execute("SELECT torrent_id, COUNT(*) FROM downloads GROUP BY torrent_id").fetchall()
    assert sorted(int(t) for t, _ in rows) == sorted(t for t, g in EXPECTED.items() if g == "Fantasy")
    assert all(n == 1 for _, n in rows)
    # The killed run is not left "running" in the task log.
    assert db.execute("SELECT COUNT(*) FROM tasks WHERE status='running'").fetchone()[0] == 0
