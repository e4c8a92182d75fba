"""The Prowlarr route end to end: the installed CLI against a fake ABS (the owned library), ONE
tracker catalogue served both by the fake MAM and by the fake Prowlarr's MyAnonamouse indexer
(built on the same rows, answering as Prowlarr's does: ``Title by Author [LANG / FILETYPE]``,
categories 100000 + MAM id, grabs, paging, freeleech, proxy links), and REAL qbittorrent-nox."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, make_catalog, mam_row
from tests.fakes.prowlarr import FakeProwlarr, FakeRelease, GenericIndexer, MamIndexer

ABS_TOKEN = "test-abs-token-prowlarr"
MAM_COOKIE = "test-mam-cookie-prowlarr-route"
PROWLARR_KEY = "test-prowlarr-key-e2e-0123"
INDEXER_SESSION = "prowlarr-indexer-own-mam-session-value"
FANTASY, SCIFI = 41, 47
COUNT = 4
NOW = datetime.now(UTC)

#: handcrafted rows, ranked above every generated one, each skipped for a reason
OWNED = {9001, 9002, 9003, 9006}
GERMAN, ABRIDGED, EBOOK, OLD = 9004, 9005, 9008, 9010


def catalog() -> list[dict]:
    day = timedelta(days=1)
    rows = make_catalog(40, categories=(SCIFI, FANTASY), now=NOW, days=14, seed=7, start_id=3_000_001)
    rows += [
        # owned, written the tracker's way: "Family, Given", a series prefix, an HTML entity, two authors
        mam_row(9001, "Mistborn: The Final Empire", authors=["Sanderson, Brandon"], series=[("Mistborn", "1")],
                category=FANTASY, snatches=3201, added=NOW - 2 * day),
        mam_row(9002, "Project Hail Mary", authors=["Andy Weir"], category=SCIFI, snatches=3202, added=NOW - day),
        mam_row(9003, "Old Man&#039;s War", authors=["John Scalzi"], category=SCIFI, snatches=3203,
                added=NOW - 3 * day, escape=False),
        mam_row(GERMAN, "Der Schwarm", authors=["Frank Schätzing"], category=SCIFI, snatches=3204, language=37,
                added=NOW - 2 * day),
        mam_row(ABRIDGED, "The Name of the Wind (Abridged)", authors=["Patrick Rothfuss"], category=FANTASY,
                snatches=3205, added=NOW - 4 * day),
        mam_row(9006, "Good Omens", authors=["Terry Pratchett", "Neil Gaiman"], category=FANTASY, snatches=3206,
                added=NOW - 5 * day),
        mam_row(9007, "Starlit Voyage", authors=["Ada Rhee"], category=SCIFI, snatches=3207, vip=True, free=True,
                added=NOW - 6 * day),
        mam_row(EBOOK, "Wolf Hall", authors=["Hilary Mantel"], category=63, main_cat=14, snatches=3208,
                added=NOW - day),
        mam_row(OLD, "Very Popular But Old", authors=["Old Author"], category=FANTASY, snatches=9999,
                added=NOW - 30 * day),
    ]
    return rows


def library() -> FakeABS:
    abs_fake = FakeABS(token=ABS_TOKEN)
    abs_fake.add_book("The Final Empire", authors=["Brandon Sanderson"], series=[("Mistborn", "1")])
    abs_fake.add_book("Project Hail Mary", authors=["Andy Weir"])
    abs_fake.add_book("Old Man's War", authors=["John Scalzi"])
    abs_fake.add_book("Good Omens", authors=["Neil Gaiman", "Terry Pratchett"])
    return abs_fake


def expected(rows: list[dict]) -> dict[int, str]:
    """The oracle: per genre, the COUNT most snatched English audiobooks added since the window's
    first day that are not owned nor abridged."""
    start = datetime.combine((NOW - timedelta(days=10)).date(), datetime.min.time(), tzinfo=UTC)
    out: dict[int, str] = {}
    for cat, genre in ((FANTASY, "Fantasy"), (SCIFI, "Science Fiction")):
        ok = [r for r in rows if r["category"] == cat and r["main_cat"] == 13 and r["language"] == 1
              and datetime.fromisoformat(r["added"]).replace(tzinfo=UTC) >= start
              and r["id"] not in OWNED | {ABRIDGED}]
        ok.sort(key=lambda r: r["times_completed"], reverse=True)
        out.update({r["id"]: genre for r in ok[:COUNT]})
    return out


def base_env(tmp_path: Path, name: str, abs_fake: FakeABS, qbt) -> dict[str, str]:
    return {
        "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
        "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
        "TOP10_GENRES": "Fantasy,Science Fiction", "TOP10_COUNT": str(COUNT), "TOP10_DAYS": "10",
        "ABOOK_DB": str(tmp_path / f"{name}.db"),
    }


def with_mam(env: dict[str, str], mam: FakeMAM) -> dict[str, str]:
    return {**env, "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE}


def with_prowlarr(env: dict[str, str], prowlarr: FakeProwlarr) -> dict[str, str]:
    return {**env, "PROWLARR_URL": prowlarr.url, "PROWLARR_API_KEY": PROWLARR_KEY}


def hashes(qbt) -> dict[str, tuple[str, ...]]:
    return {t.hash: t.tags for t in qbt.client().torrents()}


def db(env: dict[str, str]) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def secrets(mam: FakeMAM, qbt) -> list[str]:
    return [ABS_TOKEN, MAM_COOKIE, *mam.issued, PROWLARR_KEY, INDEXER_SESSION, qbt.password]


@pytest.fixture
def servers():
    """The fake ABS, the fake MAM and a fake Prowlarr whose MyAnonamouse indexer serves the same
    rows, next to a movie indexer and a public audiobook tracker without genre categories (both
    must be left out of a genre ranking)."""
    rows = catalog()
    assert len({r["times_completed"] for r in rows}) == len(rows)  # MAM's order of equal counts is its own
    abs_fake = library()
    # Pages of 8 on MAM: both routes have to page. mark_snatched off: the two routes stand for two
    # users of one catalogue here, and the first one's grabs must not become the second one's
    # "snatched before".
    mam = FakeMAM(rows, mam_id=MAM_COOKIE, max_per_page=8, mark_snatched=False)
    mam.set_ratio(5.0)
    movies = GenericIndexer(20, "MovieTracker", categories=[(2000, "Movies"), (2040, "Movies/HD"),
                                                           (100001, "Movies - Science Fiction", 2000)])
    public = GenericIndexer(21, "PublicAudio", categories=[(3030, "Audio/Audiobook")], privacy="public")
    indexers = [MamIndexer(mam, indexer_id=1, session=INDEXER_SESSION), movies, public]
    with abs_fake.serve(), mam, FakeProwlarr(indexers=indexers, api_key=PROWLARR_KEY) as prowlarr:
        prowlarr.add(FakeRelease("Starlit Voyage by Ada Rhee [ENG / M4B]", indexer_id=21, indexer="PublicAudio",
                                 grabs=99_999, categories=(3030,)))
        prowlarr.add(FakeRelease("Space Movie 2026 1080p", indexer_id=20, indexer="MovieTracker",
                                 grabs=99_999, categories=(2040, 100001)))
        yield abs_fake, mam, prowlarr, rows


# ====================================================================== must show
def test_both_routes_queue_the_same_books(tmp_path, servers, qbt_pair):
    abs_fake, mam, prowlarr, rows = servers
    qbt_mam, qbt_prowlarr = qbt_pair
    env_mam = with_mam(base_env(tmp_path, "mam", abs_fake, qbt_mam), mam)
    # A Prowlarr-only user: no MAM_ID (and MAM itself out of reach).
    env_prowlarr = with_prowlarr(base_env(tmp_path, "prowlarr", abs_fake, qbt_prowlarr), prowlarr)
    for env in (env_mam, env_prowlarr):
        assert run_abook(["scan"], env).code == 0

    direct = run_abook(["top10", "--source", "mam"], env_mam)
    assert direct.code == 0, direct.output
    routed = run_abook(["top10", "--source", "prowlarr"], env_prowlarr)
    assert routed.code == 0, routed.output
    routed.assert_no_secret(secrets(mam, qbt_prowlarr))

    via_mam, via_prowlarr = set(hashes(qbt_mam)), set(hashes(qbt_prowlarr))
    want = {mam.info_hash(tid) for tid in expected(rows)}
    assert len(want) == 2 * COUNT
    assert via_prowlarr == via_mam == want, routed.stdout
    for tags in hashes(qbt_prowlarr).values():
        assert "src:prowlarr" in tags and any(t.startswith("genre:") for t in tags)

    rows_db = {r["torrent_id"]: dict(r) for r in db(env_prowlarr).execute("SELECT * FROM downloads")}
    assert set(rows_db) == {str(t) for t in expected(rows)}  # the MAM ids, not Prowlarr's guids
    assert {(r["source"], r["tracker"], r["status"]) for r in rows_db.values()} == {("prowlarr", "mam", "queued")}
    assert all(r["genre"] == expected(rows)[int(t)] for t, r in rows_db.items())
    dump = "\n".join(sqlite3.connect(env_prowlarr["ABOOK_DB"]).iterdump())
    assert PROWLARR_KEY not in dump and INDEXER_SESSION not in dump  # the proxy link is kept without its key

    decisions = {r["torrent_id"]: (r["decision"], r["reason"])
                 for r in db(env_prowlarr).execute("SELECT torrent_id, decision, reason FROM top10_runs")}
    for tid in OWNED:  # owned books written in Prowlarr's title shape are skipped as owned
        assert decisions[str(tid)][0] == "skipped" and decisions[str(tid)][1].startswith("owned"), decisions[str(tid)]
    assert decisions[str(GERMAN)] == ("skipped", "language German")
    assert "abridged" in decisions[str(ABRIDGED)][1]
    assert str(EBOOK) not in decisions and str(OLD) not in decisions
    # a decision on Prowlarr's name alone says what it could not see
    queued = [reason for d, reason in decisions.values() if d == "queued"]
    assert all("Prowlarr's name only" in reason and "MAM_ID adds them" in reason for reason in queued)
    # the other indexers: one without genre categories, one without audiobooks, never browsed
    assert all(("indexerIds", "1") in pairs for pairs in prowlarr.searches())
    assert prowlarr.indexer(20).queries == [] and prowlarr.indexer(21).queries == []


@pytest.mark.parametrize("first,second", [("prowlarr", "mam"), ("mam", "prowlarr")])
def test_switching_search_source_grabs_nothing_twice(tmp_path, servers, qbt, first, second):
    abs_fake, mam, prowlarr, rows = servers
    env = with_prowlarr(with_mam(base_env(tmp_path, "one", abs_fake, qbt), mam), prowlarr)
    assert run_abook(["scan"], env).code == 0
    one = run_abook(["top10", "--source", first], env)
    assert one.code == 0, one.output
    before = set(hashes(qbt))
    assert before == {mam.info_hash(t) for t in expected(rows)}
    two = run_abook(["top10", "--source", second], env)
    assert two.code == 0, two.output
    assert "Fantasy: queued 0 new, 4/4 covered" in two.stdout and "Science Fiction: queued 0 new" in two.stdout
    assert set(hashes(qbt)) == before
    conn = db(env)
    assert conn.execute("SELECT COUNT(*) FROM downloads").fetchone()[0] == 2 * COUNT
    assert {r[0] for r in conn.execute("SELECT source FROM downloads")} == {first}
    counted = conn.execute("SELECT COUNT(*) FROM top10_runs WHERE decision='counted'").fetchone()[0]
    assert counted == 2 * COUNT
    # and `abook search` through either route calls them queued
    tid = next(iter(expected(rows)))
    title = mam.row(tid)["title"]
    for source in ("mam", "prowlarr"):
        found = run_abook(["search", title, "--source", source, "--json"], env)
        assert found.code == 0, found.output
        verdicts = {r["torrent_id"]: r["verdict"] for r in json.loads(found.stdout)["results"]}
        assert verdicts[str(tid)] == "queued", (source, verdicts)


# ================================================================ with MAM_ID too
def test_with_mam_id_prowlarr_results_are_judged_on_mams_record(tmp_path, servers, qbt):
    abs_fake, mam, prowlarr, rows = servers
    # what only MAM's own record tells: snatched before, abridged in the tags, narrators, series
    best = max((r for r in rows if r["category"] == FANTASY and r["id"] in expected(rows)),
               key=lambda r: r["times_completed"])
    best["my_snatched"] = 1
    runner_up = sorted((r for r in rows if r["category"] == FANTASY and r["id"] in expected(rows)),
                       key=lambda r: r["times_completed"])[-2]
    runner_up["tags"] = "Abridged, 64kbps"
    third = sorted((r for r in rows if r["category"] == FANTASY and r["id"] in expected(rows)),
                   key=lambda r: r["times_completed"])[-3]
    env = with_prowlarr(with_mam(base_env(tmp_path, "enriched", abs_fake, qbt), mam), prowlarr)
    env.update({"MAM_RATE_LIMIT_MIN": "0.15", "MAM_RATE_LIMIT_MAX": "0.2"})
    assert run_abook(["scan"], env).code == 0

    bare = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy", "--dry-run"],
                     {k: v for k, v in env.items() if k != "MAM_ID"})
    assert bare.code == 0, bare.output
    assert "MAM_ID adds them" in bare.stdout  # what a decision on Prowlarr's name alone could not see

    before = len(mam.requests)
    res = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy"], env)
    assert res.code == 0, res.output
    res.assert_no_secret(secrets(mam, qbt))
    decisions = {r["torrent_id"]: (r["decision"], r["reason"])
                 for r in db(env).execute("SELECT torrent_id, decision, reason FROM top10_runs")}
    assert decisions[str(best["id"])] == ("skipped", "snatched before")
    assert decisions[str(runner_up["id"])] == ("skipped", "abridged edition")
    row = db(env).execute("SELECT * FROM downloads WHERE torrent_id=?", (str(third["id"]),)).fetchone()
    assert row["source"] == "prowlarr" and row["status"] == "queued"
    assert row["narrator"] and row["narrator"] == json.loads(third["narrator_info"]).popitem()[1]
    # MAM was asked once per candidate the walk reached (plus the account for the guard), paced
    mam_calls = mam.requests[before:]
    assert any(r.path == "/jsonLoad.php" for r in mam_calls)  # the ratio guard read the account
    lookups = [r for r in mam_calls if r.path == "/tor/js/loadSearchJSONbasic.php"]
    # One exact tor[id] read per walked torrent, and one more right before each .torrent is
    # fetched (the guard's fresh look: freeleech may have ended since), no more.
    grabbed = [t for t, (decision, _) in decisions.items() if decision == "queued"]
    assert len(lookups) == len(decisions) + len(grabbed)
    read = [r.body["tor"]["id"] for r in lookups]
    assert all(read.count(t) == 2 for t in grabbed) and all(read.count(t) == 1 for t in decisions if t not in grabbed)
    gaps = [b.at - a.at for a, b in itertools.pairwise(r for r in mam_calls if not r.path.startswith("/announce"))]
    assert min(gaps) >= 0.15 - 0.01


# ============================================================ other indexers' names
def test_a_name_that_cannot_be_split_is_judged_on_its_title_alone(tmp_path, servers, qbt):
    abs_fake, mam, prowlarr, rows = servers
    other = GenericIndexer(30, "AudioBookTracker", categories=[(3030, "Audio/Audiobook"),
                                                              (100001, "Audiobooks - Fantasy")])
    prowlarr.add_indexer(other)
    for title, grabs in (("Brandon Sanderson - The Final Empire [M4B]", 9000), ("The Final Empire", 8900),
                         ("Jane Doe - A Fresh Fantasy (Unabridged) [MP3]", 8800)):
        prowlarr.add(FakeRelease(title, indexer_id=30, indexer="AudioBookTracker", grabs=grabs,
                                 categories=(3030, 100001)))
    env = with_prowlarr(base_env(tmp_path, "titles", abs_fake, qbt), prowlarr)
    assert run_abook(["scan"], env).code == 0
    res = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy", "--count", "1"], env)
    assert res.code == 0, res.output
    decisions = {r["title"]: (r["decision"], r["reason"], r["author"])
                 for r in db(env).execute("SELECT title, decision, reason, author FROM top10_runs")}
    for title in ("Brandon Sanderson - The Final Empire [M4B]", "The Final Empire"):
        decision, reason, author = decisions[title]
        assert decision == "near_miss" and author == ""
        assert "names no author" in reason and "not counted as owned" in reason and "title only" in reason
    queued = db(env).execute("SELECT title, author, tracker FROM downloads").fetchall()
    assert [tuple(r) for r in queued] == [("Jane Doe - A Fresh Fantasy (Unabridged) [MP3]", "", "prowlarr")]
    assert len(hashes(qbt)) == 1
    assert "title only" in decisions["Jane Doe - A Fresh Fantasy (Unabridged) [MP3]"][1]


# ========================================================================== errors
def _prowlarr_only(tmp_path, servers, qbt, **extra) -> dict[str, str]:
    abs_fake, mam, prowlarr, _ = servers
    env = with_prowlarr(base_env(tmp_path, "errors", abs_fake, qbt), prowlarr)
    assert run_abook(["scan"], env).code == 0
    return {**env, **extra}


def test_wrong_api_key_is_one_line_exit_3(tmp_path, servers, qbt):
    env = _prowlarr_only(tmp_path, servers, qbt, PROWLARR_API_KEY="wrong-prowlarr-key-123")
    res = run_abook(["top10", "--source", "prowlarr"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "PROWLARR_API_KEY" in res.stderr
    res.assert_no_secret(["wrong-prowlarr-key-123", PROWLARR_KEY, INDEXER_SESSION])


def test_server_errors_are_retried_then_one_line_exit_3(tmp_path, servers, qbt):
    _, _, prowlarr, _ = servers
    env = _prowlarr_only(tmp_path, servers, qbt)
    prowlarr.fail_next("500", times=10, path="/api/v1/search")
    res = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "Prowlarr answered 500" in res.stderr
    assert len([r for r in prowlarr.requests if r.path == "/api/v1/search"]) == 2  # HTTP_RETRIES
    assert hashes(qbt) == {}


def test_an_indexer_that_is_down_is_one_line_exit_3(tmp_path, servers, qbt):
    _, _, prowlarr, _ = servers
    env = _prowlarr_only(tmp_path, servers, qbt)
    prowlarr.indexer(1).state = "backoff"  # still enabled; Prowlarr leaves it out while it backs off
    res = run_abook(["top10", "--source", "prowlarr", "--genre", "Fantasy"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "all selected indexers being unavailable" in res.stderr and "check the indexer in Prowlarr" in res.stderr
    assert "NzbDrone" not in res.stderr  # Prowlarr's stack trace stays out
    res.assert_no_secret([PROWLARR_KEY, INDEXER_SESSION])


def test_an_html_page_instead_of_json_is_one_line_exit_3(tmp_path, servers, qbt):
    _, _, prowlarr, _ = servers
    env = _prowlarr_only(tmp_path, servers, qbt)
    prowlarr.fail_next("html", times=5)
    res = run_abook(["top10", "--source", "prowlarr"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "HTML page" in res.stderr and "PROWLARR_URL" in res.stderr


def test_unknown_genre_names_the_genres_prowlarr_knows(tmp_path, servers, qbt):
    env = _prowlarr_only(tmp_path, servers, qbt)
    res = run_abook(["top10", "--source", "prowlarr", "--genre", "Underwater Basket Weaving"], env)
    assert res.code == 2, res.output
    res.assert_one_line_error()
    assert "TOP10_GENRES" in res.stderr and "Science Fiction" in res.stderr and "Urban Fantasy" in res.stderr


def test_a_pending_prowlarr_grab_is_fetched_again_through_prowlarr(tmp_path, servers, qbt):
    abs_fake, mam, prowlarr, rows = servers
    env = _prowlarr_only(tmp_path, servers, qbt)
    held = run_abook(["top10", "--source", "prowlarr", "--genre", "Science Fiction"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"})
    assert held.code == 0, held.output
    assert hashes(qbt) == {}
    fetched_before = len(prowlarr.served())
    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    res.assert_no_secret([PROWLARR_KEY])
    want = {mam.info_hash(t) for t, g in expected(rows).items() if g == "Science Fiction"}
    assert set(hashes(qbt)) == want
    downloads = [r for r in prowlarr.served()[fetched_before:] if r.path.endswith("/download")]
    assert len(downloads) == COUNT
    assert all("apikey" not in r.query and r.headers.get("x-api-key") == PROWLARR_KEY for r in downloads)


def test_doctor_lists_the_audiobook_indexers(tmp_path, servers, qbt):
    env = _prowlarr_only(tmp_path, servers, qbt)
    res = run_abook(["doctor", "--json"], env)
    services = {s["service"]: s for s in json.loads(res.stdout)["services"]}
    prow = services["Prowlarr"]
    assert prow["ok"], prow
    assert "MyAnonamouse (35 genres)" in prow["detail"] and "PublicAudio (no genre categories)" in prow["detail"]
    assert "MovieTracker" not in prow["detail"]
    res.assert_no_secret([PROWLARR_KEY, INDEXER_SESSION])


# ====================================================================== the gaps
def test_fill_series_and_fill_authors_through_prowlarr_take_what_the_mam_route_takes(tmp_path, qbt_pair):
    """A series with books 1 and 3 owned; the tracker has book 2 twice (a well-seeded mp3, a
    freeleech m4b), book 4 twice (snatched before; a plain one), an omnibus, and Mira's
    standalone. Both routes, same bibliography, same owned library: the same torrents."""
    from tests.fakes.metadata import Catalogue, FakeAudible, FakeBook

    saga, mira = "Lantern Cycle", ("Mira Castell",)

    def book(title: str, pos: str | None, asin: str, **kw) -> FakeBook:
        return FakeBook(title, kw.pop("authors", mira), ((saga, pos),) if pos else (), ("Owen Reader",),
                        asin=asin, duration_minutes=600, **kw)

    bib = Catalogue([book("Lantern Dawn", "1", "B0LANT0001"), book("Lantern Dusk", "2", "B0LANT0002"),
                     book("Lantern Ember", "3", "B0LANT0003"), book("Lantern Flame", "4", "B0LANT0004"),
                     book("Lantern Cycle: Books 1-3", "1-3", "B0LANT0103", omnibus=True),
                     book("A Quiet Standalone", None, "B0LANT0100")])
    s2, s4 = [(saga, "2")], [(saga, "4")]
    rows = [
        mam_row(801, "Lantern Dusk", authors=list(mira), series=s2, filetype="mp3", seeders=90, category=FANTASY),
        mam_row(802, "Lantern Dusk", authors=list(mira), series=s2, filetype="m4b", seeders=12, free=True,
                category=FANTASY),
        mam_row(803, "Lantern Cycle: Books 1-3", authors=list(mira), seeders=300, category=FANTASY),
        mam_row(804, "Lantern Flame", authors=list(mira), series=s4, filetype="m4b", seeders=60, my_snatched=True,
                category=FANTASY),
        mam_row(805, "Lantern Flame", authors=list(mira), series=s4, filetype="mp3", seeders=8, category=FANTASY),
        mam_row(806, "A Quiet Standalone", authors=list(mira), filetype="m4b", seeders=4, category=FANTASY),
    ]
    abs_fake = FakeABS(token=ABS_TOKEN)
    abs_fake.add_book("Lantern Dawn", authors=list(mira), series=[(saga, "1")])
    abs_fake.add_book("Lantern Cycle 3: Lantern Ember", authors=list(mira), series=[(saga, "3")])
    mam = FakeMAM(rows, mam_id=MAM_COOKIE, mark_snatched=False)
    mam.set_ratio(5.0)
    results: dict[str, set[str]] = {}
    with abs_fake.serve(), mam, FakeAudible(bib) as audible, \
            FakeProwlarr(indexers=[MamIndexer(mam, session=INDEXER_SESSION)], api_key=PROWLARR_KEY) as prowlarr:
        for (route, qb) in zip(("mam", "prowlarr"), qbt_pair, strict=True):
            mam.new_session(MAM_COOKIE)  # two users of one catalogue: each starts from its own MAM_ID
            env = base_env(tmp_path, f"gaps-{route}", abs_fake, qb)
            env.update({"AUDIBLE_URL": audible.url, "BIBLIOGRAPHY_SOURCES": "audible", "SEARCH_SOURCE": route})
            # the Prowlarr user here has MAM_ID too: "snatched before" comes from MAM's record
            env = with_prowlarr(with_mam(env, mam), prowlarr) if route == "prowlarr" else with_mam(env, mam)
            assert run_abook(["scan"], env).code == 0
            series = run_abook(["fill-series"], env)
            assert series.code == 0, (route, series.output)
            authors = run_abook(["fill-authors"], env)
            assert authors.code == 0, (route, series.output, authors.output)
            authors.assert_no_secret(secrets(mam, qb))
            results[route] = set(hashes(qb))
            sources = {r[0] for r in db(env).execute("SELECT source FROM downloads")}
            assert sources == {route}
    # book 2: the freeleech m4b; book 4: the one not snatched before; never the omnibus; the standalone
    assert results["prowlarr"] == results["mam"] == {mam.info_hash(t) for t in (802, 805, 806)}
