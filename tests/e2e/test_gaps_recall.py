"""Recall of `abook fill-series` / `fill-authors` (issue #13), end to end: the installed CLI, a fake
ABS library, a fake Audible bibliography that names the series differently from the library and
lists translated editions, a fake MAM whose search tokenises like a full-text index (whole words,
split at apostrophes, hyphens, "&" and ":"), and a REAL qbittorrent-nox.

The missing books carry what defeated the old search: apostrophes (written and dropped by the
uploader), number words, roman numerals, "&" / "and", colons and subtitles, a UK/US spelling only
the series query finds, a position written in words, two works at one position. Among them sit
decoys that must never be taken: another author's book of the same title, an abridged and an
omnibus edition with more seeders, a summary, a German upload, parts of a split upload."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from abook.queries import MAX_QUERIES_PER_BOOK
from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, mam_row
from tests.fakes.metadata import Catalogue, FakeAudible, FakeBook, asking_about

ABS_TOKEN = "test-abs-token-recall"
MAM_COOKIE = "test-mam-cookie-recall"
VANE = ("Idris Vane",)
ELLISON = ("Mara Ellison",)
SALT = "The Salt Kings Saga"  # the library calls it "Salt Kings"
TIDE = "Iron Tide"  # the library calls it "The Iron Tide Trilogy"
FANTASY = 41
SEARCH = "/tor/js/loadSearchJSONbasic.php"


def bibliography() -> Catalogue:
    def salt(title: str, pos: str, asin: str, **kw) -> FakeBook:
        return FakeBook(title, VANE, ((SALT, pos),), ("Nora Narrator",), asin=asin, duration_minutes=600, **kw)

    def tide(title: str, pos: str, asin: str) -> FakeBook:
        return FakeBook(title, ELLISON, ((TIDE, pos),), ("Tom Avery",), asin=asin, duration_minutes=500)

    return Catalogue([
        salt("Winter of the Salt Kings", "1", "B0SALT0001", release_date="2015-01-01"),
        salt("King's Gambit", "2", "B0SALT0002"),
        salt("Three Crowns of Salt", "3", "B0SALT0003"),
        salt("The Lighthouse Keeper: A Salt Kings Story", "4", "B0SALT0004"),
        salt("Salt & Iron", "5", "B0SALT0005"),
        salt("The Sunken Court", "Book Six", "B0SALT0006"),
        salt("Songs of the Drowned", "7", "B0SALT0007"),
        salt("The Drowned King", "7", "B0SALT007B"),  # a second work at position 7
        salt("Harbour of Glass", "8", "B0SALT0008"),
        salt("Ninth Wave", "9", "B0SALT0009"),
        salt("The Last Tide", "10", "B0SALT0010"),
        salt("The Glass Crown", "11", "B0SALT0011"),
        salt("The Salt Kings Saga: Books 1-3", "1-3", "B0SALT0103", omnibus=True),
        # translated editions in the author's Audible catalogue
        FakeBook("Der Winter der Salzkönige", VANE, (), ("Klaus Sprecher",), asin="B0SALTDE01",
                 language="German", duration_minutes=610),
        FakeBook("El invierno de los reyes de sal", VANE, (), ("Lucia Voz",), asin="B0SALTES01",
                 language="Spanish", duration_minutes=605),
        FakeBook("The Quiet Orchard", VANE, (), ("Nora Narrator",), asin="B0VANE0100", duration_minutes=400),
        tide("Tidebreaker", "1", "B0TIDE0001"),
        tide("Tidebreaker II", "2", "B0TIDE0002"),
        tide("Seven Bells", "3", "B0TIDE0003"),
    ])


def tracker() -> list[dict]:
    def row(tid: int, title: str, authors=VANE, series: str | None = "Salt Kings", pos: str = "", **kw) -> dict:
        kw.setdefault("category", FANTASY)
        return mam_row(tid, title, authors=list(authors), series=[(series, pos)] if series and pos else [], **kw)

    return [
        row(201, "Kings Gambit", pos="2", seeders=12),  # the uploader dropped the apostrophe
        row(291, "King's Gambit", authors=("Other Person",), series=None, seeders=300, free=True),  # decoy
        row(301, "Three Crowns of Salt", pos="3", seeders=8),
        row(391, "Three Crowns of Salt (Abridged)", pos="3", tags="Abridged", seeders=90, free=True),  # decoy
        row(392, "Summary of Three Crowns of Salt", authors=("Quick Reads",), series=None, seeders=40),  # decoy
        row(393, "Drei Kronen aus Salz", pos="3", language=37, seeders=60),  # decoy: German
        row(401, "The Lighthouse Keeper", pos="4", seeders=5),
        row(501, "Salt and Iron", pos="5", seeders=7),
        row(601, "The Sunken Court", pos="6", seeders=9),
        row(701, "Songs of the Drowned", pos="7", seeders=4),
        row(702, "The Drowned King", pos="7", seeders=6),
        row(801, "Harbor of Glass", pos="8", seeders=3),  # US spelling: only the series query finds it
        row(901, "Ninth Wave (Abridged)", pos="9", tags="Abridged", seeders=20),
        row(1101, "The Glass Crown (Part 1 of 2)", pos="11", seeders=10),
        row(1102, "The Glass Crown (Part 2 of 2)", pos="11", seeders=10),
        row(1301, "The Salt Kings Saga: Books 1-3", series=None, seeders=500, free=True),  # decoy: omnibus
        row(2201, "Tidebreaker II", authors=ELLISON, series=TIDE, pos="2", seeders=11),
        row(2301, "7 Bells", authors=ELLISON, series=TIDE, pos="3", seeders=2),
        row(3001, "The Quiet Orchard", series=None, seeders=15),
        row(3091, "Der Winter der Salzkönige", series=None, language=37, seeders=33),  # decoy: German
    ]  # nothing at all for "The Last Tide"


SERIES_WANTED = {201, 301, 401, 501, 601, 701, 702, 801, 2201, 2301}


@pytest.fixture
def world(tmp_path: Path, qbt):
    abs_fake = FakeABS(token=ABS_TOKEN)
    abs_fake.add_book("Winter of the Salt Kings", authors=list(VANE), series=[("Salt Kings", "1")])
    abs_fake.add_book("Tidebreaker", authors=list(ELLISON), series=[("The Iron Tide Trilogy", "1")])
    mam = FakeMAM(tracker(), mam_id=MAM_COOKIE, min_interval=0.08)
    mam.set_ratio(5.0)
    with abs_fake.serve(), mam, FakeAudible(bibliography()) as audible:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
            "MAM_RATE_LIMIT_MIN": "0.1", "MAM_RATE_LIMIT_MAX": "0.12",
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "AUDIBLE_URL": audible.url, "BIBLIOGRAPHY_SOURCES": "audible",
            "MAX_ACTIVE_DOWNLOADS": "50", "GAP_MAX_DOWNLOADS_PER_RUN": "50",
            "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, mam, qbt, audible


def db(env) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def queued_ids(env) -> set[int]:
    return {int(r["torrent_id"]) for r in db(env).execute("SELECT torrent_id FROM downloads")}


def books(env, *args: str) -> dict[str, dict]:
    data = json.loads(run_abook(["missing", "--json", *args], env).stdout)
    return {b["title"]: b for g in (*data["series"], *data["authors"]) for b in g["books"]}


def test_every_missing_book_the_tracker_has_is_queued_and_none_wrongly(world):
    env, mam, qbt, audible = world
    res = run_abook(["fill-series"], env)
    assert res.code == 0, res.output
    res.assert_no_secret([MAM_COOKIE, ABS_TOKEN, qbt.password, *mam.issued])

    # every missing book the tracker has, with an acceptable torrent, and nothing else
    assert queued_ids(env) == SERIES_WANTED, res.output
    assert {t.hash for t in qbt.client().torrents()} == {mam.info_hash(t) for t in SERIES_WANTED}

    got = books(env)
    assert {t: b["status"] for t, b in got.items()} == {
        "King's Gambit": "queued", "Three Crowns of Salt": "queued",
        "The Lighthouse Keeper: A Salt Kings Story": "queued", "Salt & Iron": "queued",
        "The Sunken Court": "queued", "Songs of the Drowned": "queued", "The Drowned King": "queued",
        "Harbour of Glass": "queued", "Ninth Wave": "unwanted", "The Last Tide": "not_found",
        "The Glass Crown": "unwanted", "Tidebreaker II": "queued", "Seven Bells": "queued",
    }
    assert got["The Sunken Court"]["position"] == "6"  # "Book Six" is a position, not a companion
    assert got["Ninth Wave"]["reason_code"] == "abridged" and "abridged" in got["Ninth Wave"]["reason"]
    assert got["The Glass Crown"]["reason_code"] == "split"
    # a not_found explains itself: the queries tried, as many as the plan has, never more
    last = got["The Last Tide"]
    assert last["queries"] and len(last["queries"]) <= MAX_QUERIES_PER_BOOK
    assert last["queries"][0] == "The Last Tide Vane"
    for book in got.values():
        assert len(book["queries"]) <= MAX_QUERIES_PER_BOOK
    # abook made exactly the text searches it recorded, each of them paced (never a 429 from the
    # fake); the fresh look before each .torrent fetch is an exact tor[id] lookup, not a query
    searches = [r for r in mam.served(SEARCH) if not (r.body or {}).get("tor", {}).get("id")]
    assert len(searches) == sum(len(b["queries"]) for b in got.values())
    assert not [r for r in mam.requests if r.status == 429]
    times = [r.at for r in mam.requests if not r.path.startswith("/announce")]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.1 - 0.01

    # the series are known under the sources' names, and the run's outcomes are counted by reason
    listed = json.loads(run_abook(["missing", "--json"], env).stdout)
    names = {g["name"]: (g["source_name"], g["known"]) for g in listed["series"]}
    assert names == {"Salt Kings": (SALT, 12), "The Iron Tide Trilogy": (TIDE, 3)}
    assert "not found 1" in res.stdout and "unwanted 2" in res.stdout
    assert "only abridged 1" in res.stdout and "only parts of a split upload 1" in res.stdout

    verbose = run_abook(["missing", "-v", "--series", "Salt Kings"], env)
    assert verbose.code == 0
    assert '"The Last Tide Vane"' in verbose.stdout and "The Last Tide" in verbose.stdout
    report = json.loads(run_abook(["report", "--json"], env).stdout)["gaps"]
    assert report["reasons_series"] == {"abridged": 1, "split": 1, "no_match": 1}

    # fill-authors: the translations in Idris Vane's catalogue are not missing, the standalone is
    res = run_abook(["fill-authors", "--author", "Idris Vane"], env)
    assert res.code == 0, res.output
    assert queued_ids(env) == SERIES_WANTED | {3001}
    vane = books(env, "--author", "Idris Vane")
    assert "Der Winter der Salzkönige" not in vane and "El invierno de los reyes de sal" not in vane
    assert vane["The Quiet Orchard"]["status"] == "queued"
    assert vane["King's Gambit"]["status"] == "queued"  # queued by fill-series: not searched again


@pytest.mark.parametrize(("mode", "said"), [("error500", "500"), ("malformed", "malformed")])
def test_a_failed_bibliography_makes_the_series_unknown_and_the_run_goes_on(world, mode, said):
    env, mam, qbt, audible = world
    audible.fail_if = asking_about("Iron Tide", mode)  # Audible fails about that series only
    res = run_abook(["fill-series"], env)
    assert res.code == 1, res.output
    assert "The Iron Tide Trilogy" in res.stdout and "could not be checked" in res.stdout
    # the other series was still filled
    assert {2201, 2301}.isdisjoint(queued_ids(env)) and {201, 301} <= queued_ids(env)
    conn = db(env)
    status, reason = conn.execute("SELECT status, reason FROM series WHERE name='The Iron Tide Trilogy'").fetchone()
    assert status == "unknown" and "audible" in reason and said in reason.lower(), reason
    failures = conn.execute("SELECT * FROM failed_attempts WHERE kind='bibliography'").fetchall()
    assert len(failures) == 1 and "Iron Tide" in failures[0]["reason"]
    assert conn.execute("SELECT COUNT(*) FROM bibliography_cache WHERE key LIKE '%iron%'").fetchone()[0] == 0
    # once Audible answers again the series is found
    audible.fail_if = None
    again = run_abook(["fill-series", "--series", "The Iron Tide Trilogy"], env)
    assert again.code == 0, again.output
    assert {2201, 2301} <= queued_ids(env)


def test_a_failed_search_leaves_the_book_wanted_never_not_found(world):
    env, mam, qbt, _ = world
    # the first search of the run fails, every one of abook's attempts: that book must stay wanted
    env = {**env, "HTTP_RETRIES": "2"}
    mam.fail_next("500", times=2, path=SEARCH)
    res = run_abook(["fill-series", "--series", "The Iron Tide Trilogy"], env)
    assert res.code == 1, res.output
    got = books(env, "--series", "The Iron Tide Trilogy")
    assert got["Tidebreaker II"]["status"] == "wanted" and got["Seven Bells"]["status"] == "queued"
    failures = db(env).execute("SELECT reason FROM failed_attempts WHERE kind='search'").fetchall()
    assert len(failures) == 1 and "Tidebreaker II" in failures[0]["reason"]
    again = run_abook(["fill-series", "--series", "The Iron Tide Trilogy"], env)
    assert again.code == 0, again.output
    assert books(env, "--series", "The Iron Tide Trilogy")["Tidebreaker II"]["status"] == "queued"
