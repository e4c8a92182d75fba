"""`abook fill-series`, `fill-authors` and `missing` end to end: the installed CLI against a fake
ABS (the owned library, mirrored by `abook scan`), fake Audible / Goodreads bibliography sources,
a fake MAM with several torrents of differing quality per missing book (and near misses, an
omnibus, an abridged and a snatched one), and a REAL qbittorrent-nox."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, mam_row
from tests.fakes.metadata import Catalogue, FakeAudible, FakeBook, FakeGoodreads

ABS_TOKEN = "test-abs-token-gaps"
MAM_COOKIE = "test-mam-cookie-gaps"
SAGA = "Ember Saga"
JANE = ("Jane Author",)
FANTASY = 41


def bibliography() -> Catalogue:
    """Ember Saga: 0.5 and 2.5 novellas, 1-7, a "Books 1-3" omnibus; Jane's standalone, a
    co-written book and a four-author anthology."""
    def book(title: str, pos: str | None, asin: str, **kw) -> FakeBook:
        return FakeBook(title, kw.pop("authors", JANE), ((SAGA, pos),) if pos else (), ("Nora Narrator",),
                        asin=asin, duration_minutes=600, **kw)

    return Catalogue([
        book("Prequel Spark", "0.5", "B0GAP00005", release_date="2011-01-01"),
        book("First Flame", "1", "B0GAP00001", release_date="2010-01-01"),
        book("Second Flame", "2", "B0GAP00002", release_date="2011-06-01"),
        book("Between Embers", "2.5", "B0GAP00025", release_date="2012-01-01"),
        book("Third Flame", "3", "B0GAP00003", release_date="2012-06-01"),
        book("Ember Saga: Books 1-3", "1-3", "B0GAP00103", release_date="2013-01-01", omnibus=True),
        book("Fourth Flame", "4", "B0GAP00004", release_date="2013-06-01"),
        book("Fifth Flame", "5", "B0GAP00005X", release_date="2014-06-01"),
        book("Sixth Flame", "6", "B0GAP00006", release_date="2015-06-01"),
        book("Seventh Flame", "7", "B0GAP00007", release_date="2016-06-01"),
        book("Lonely Standalone", None, "B0GAP00100", release_date="2017-01-01"),
        book("Tales of Many", None, "B0GAP00200", release_date="2018-01-01",
             authors=("Jane Author", "Ann Other", "Bo Third", "Cy Fourth")),
    ])


def tracker() -> list[dict]:
    s3, s5, s6 = [(SAGA, "3")], [(SAGA, "5")], [(SAGA, "6")]
    jane = list(JANE)
    return [
        mam_row(301, "Third Flame", authors=jane, series=s3, filetype="mp3", seeders=100, category=FANTASY),
        mam_row(302, "Third Flame", authors=jane, series=s3, filetype="m4b", seeders=20, category=FANTASY),
        mam_row(303, "Ember Saga: Books 1-3", authors=jane, filetype="m4b", seeders=500, free=True,
                category=FANTASY),
        mam_row(251, "Between Embers", authors=jane, series=[(SAGA, "2.5")], seeders=50, category=FANTASY),
        mam_row(501, "Fifth Flame", authors=jane, series=s5, filetype="mp3", seeders=5, free=True,
                category=FANTASY),
        mam_row(502, "Fifth Flame", authors=jane, series=s5, filetype="m4b", seeders=50, my_snatched=True,
                category=FANTASY),
        mam_row(503, "Fifth Flame (Abridged)", authors=jane, filetype="m4b", seeders=80, tags="Abridged",
                category=FANTASY),
        mam_row(601, "Sixth Flame", authors=jane, series=s6, filetype="m4b", seeders=7, category=FANTASY),
        mam_row(602, "Sixth Flames Rising", authors=jane, filetype="m4b", seeders=70, free=True,
                category=FANTASY),
        mam_row(900, "Lonely Standalone", authors=jane, filetype="m4b", seeders=9, category=FANTASY),
    ]  # nothing for "Seventh Flame" yet


@pytest.fixture
def world(tmp_path: Path, qbt):
    abs_fake = FakeABS(token=ABS_TOKEN)
    # owned 1, 2 and 4 of 7, written differently from the bibliography
    abs_fake.add_book("First Flame [Unabridged]", authors=["Jane Author"], series=[(SAGA, "1")])
    abs_fake.add_book("Ember Saga 2: Second Flame", authors=["Jane Author"], series=[(SAGA, "2")])
    abs_fake.add_book("Fourth Flame", authors=["Jane Author"], series=[(SAGA, "4")])
    mam = FakeMAM(tracker(), mam_id=MAM_COOKIE)
    mam.set_ratio(5.0)
    with abs_fake.serve(), mam, FakeAudible(bibliography()) as audible:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "AUDIBLE_URL": audible.url, "BIBLIOGRAPHY_SOURCES": "audible",
            "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, mam, qbt, audible


def in_qbt(qbt) -> dict[str, tuple[str, ...]]:
    return {t.hash: t.tags for t in qbt.client().torrents()}


def db(env) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def searches(mam) -> int:
    return len(mam.served("/tor/js/loadSearchJSONbasic.php"))


def test_fills_a_series_in_batches_with_the_best_torrents_never_twice(world):
    env, mam, qbt, audible = world
    first = run_abook(["fill-series", "--max", "2"], env)
    assert first.code == 0, first.output
    first.assert_no_secret([MAM_COOKIE, ABS_TOKEN, qbt.password, *mam.issued])
    # book 3 -> the m4b (not the better-seeded mp3, not the omnibus); book 5 -> the freeleech mp3
    # (the m4b was snatched before, the other is abridged)
    assert set(in_qbt(qbt)) == {mam.info_hash(302), mam.info_hash(501)}, first.output
    assert all("abook:series_gap" in tags for tags in in_qbt(qbt).values())

    listed = run_abook(["missing", "--json"], env)
    assert listed.code == 0, listed.output
    data = json.loads(listed.stdout)
    [saga] = data["series"]
    assert saga["name"] == SAGA and saga["known"] == 7 and saga["owned"] == 3
    assert [(b["position"], b["title"], b["status"]) for b in saga["books"]] == [
        ("3", "Third Flame", "queued"), ("5", "Fifth Flame", "queued"),
        ("6", "Sixth Flame", "wanted"), ("7", "Seventh Flame", "wanted"),
    ]
    assert data["authors"] == []

    second = run_abook(["fill-series"], env)
    assert second.code == 0, second.output
    assert set(in_qbt(qbt)) == {mam.info_hash(t) for t in (302, 501, 601)}, second.output
    rows = {r["title"]: dict(r) for r in db(env).execute("SELECT * FROM missing_books")}
    assert rows["Seventh Flame"]["status"] == "not_found" and rows["Seventh Flame"]["last_search"]
    assert db(env).execute("SELECT COUNT(*) FROM downloads").fetchone()[0] == 3

    # within GAP_RETRY_DAYS the not-found book is not searched again, nothing is queued twice
    before = searches(mam)
    third = run_abook(["fill-series"], env)
    assert third.code == 0, third.output
    assert searches(mam) == before
    assert len(in_qbt(qbt)) == 3
    # the bibliography came from the cache, not from Audible again
    assert "not found earlier" in third.stdout

    # fifteen days later the tracker has it
    mam.add(mam_row(701, "Seventh Flame", authors=list(JANE), series=[(SAGA, "7")], seeders=3, category=FANTASY))
    old = (datetime.now(UTC) - timedelta(days=15)).isoformat(timespec="seconds")
    with db(env) as conn:
        conn.execute("UPDATE missing_books SET last_search=? WHERE title='Seventh Flame'", (old,))
    fourth = run_abook(["fill-series"], env)
    assert fourth.code == 0, fourth.output
    assert set(in_qbt(qbt)) == {mam.info_hash(t) for t in (302, 501, 601, 701)}
    statuses = {b["title"]: b["status"] for b in json.loads(run_abook(["missing", "--json"], env).stdout)
                ["series"][0]["books"]}
    assert set(statuses.values()) == {"queued"}
    series = db(env).execute("SELECT known_total, missing, status FROM series WHERE name=?", (SAGA,)).fetchone()
    assert tuple(series) == (7, 4, "incomplete")


def test_bibliography_is_cached_between_runs(world):
    env, _mam, _qbt, audible = world
    assert run_abook(["fill-series", "--max", "0"], env).code == 0
    asked = len(audible.requests)
    assert asked > 0
    assert run_abook(["fill-series", "--max", "0"], env).code == 0
    assert len(audible.requests) == asked


def test_include_novellas_adds_the_novella_torrents(world):
    env, mam, qbt, _ = world
    res = run_abook(["fill-series", "--include-novellas", "--series", "ember saga"], env)
    assert res.code == 0, res.output
    assert mam.info_hash(251) in in_qbt(qbt)  # "Between Embers", #2.5
    assert mam.info_hash(303) not in in_qbt(qbt)  # never the omnibus


def test_dry_run_changes_nothing(world):
    env, mam, qbt, _ = world
    res = run_abook(["fill-series", "--dry-run"], env)
    assert res.code == 0, res.output
    assert "would queue 3" in res.stdout
    assert in_qbt(qbt) == {}
    conn = db(env)
    for table in ("missing_books", "downloads", "bibliography_cache"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    assert conn.execute("SELECT known_total FROM series").fetchone()[0] is None


def test_ratio_hold_queues_nothing_and_exits_4(world):
    env, mam, qbt, _ = world
    with db(env) as conn:
        conn.execute("INSERT INTO settings_kv (key, value, updated_at) VALUES ('hold', 'ratio 1.2 < 1.5', '')")
    res = run_abook(["fill-series"], env)
    assert res.code == 4, res.output
    assert "hold" in res.stderr
    assert in_qbt(qbt) == {} and searches(mam) == 0
    # the gaps are still recorded for `abook missing`
    assert db(env).execute("SELECT COUNT(*) FROM missing_books WHERE status='wanted'").fetchone()[0] == 4


def test_unknown_series_is_a_usage_error(world):
    env, *_ = world
    res = run_abook(["fill-series", "--series", "No Such Saga"], env)
    assert res.code == 2, res.output
    res.assert_one_line_error()


def test_fill_authors_skips_the_anthology_and_a_challenged_source(world):
    env, mam, qbt, _ = world
    with FakeGoodreads(bibliography()) as goodreads:
        goodreads.mode = "waf"
        env = {**env, "GOODREADS_URL": goodreads.url, "BIBLIOGRAPHY_SOURCES": "goodreads,audible"}
        res = run_abook(["fill-authors", "--max", "1"], env)
    assert res.code == 0, res.output
    assert res.stderr.count("goodreads skipped for this run") == 1, res.stderr
    data = json.loads(run_abook(["missing", "--json", "--author", "Jane Author"], env).stdout)
    [jane] = data["authors"]
    books = {b["title"]: b["status"] for b in jane["books"]}
    assert "Tales of Many" not in books and "Ember Saga: Books 1-3" not in books
    assert "Between Embers" not in books and "First Flame" not in books
    assert {"Third Flame", "Fifth Flame", "Sixth Flame", "Seventh Flame", "Lonely Standalone"} == set(books)
    assert list(books.values()).count("queued") == 1
    assert len(in_qbt(qbt)) == 1
    assert all("abook:author_gap" in tags for tags in in_qbt(qbt).values())
