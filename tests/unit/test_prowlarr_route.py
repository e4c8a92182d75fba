"""The Prowlarr route: a genre ranking browsed from the indexer's category, one torrent one
identity whichever route found it, the optional MAM enrichment, and the one verdict on names
that cannot be split. Against the fake Prowlarr (over a fake MAM catalogue) on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from abook.acquisition import Policy, judge
from abook.clients.mam import MAM
from abook.clients.prowlarr import Prowlarr
from abook.errors import AuthError, BadResponse, ConfigError, ServiceError
from abook.matching import LibraryIndex
from abook.models import BookRef, Judgement, Release
from abook.search import Acquisition, ProwlarrSearch, Ranking, window_start
from abook.state import State
from abook.workflows import top10
from tests.fakes.mam import FakeMAM, mam_row
from tests.fakes.prowlarr import FakeProwlarr, FakeRelease, GenericIndexer, MamIndexer

NOW = datetime.now(UTC).replace(microsecond=0)
SCIFI, FANTASY = 47, 41


def _rows() -> list[dict]:
    day = timedelta(days=1)
    return [
        mam_row(301, "Alpha Station", authors=["Ada Rhee"], category=SCIFI, snatches=50, seeders=5, added=NOW - 1 * day),
        mam_row(302, "Beta Drift", authors=["Leo Moss"], category=SCIFI, snatches=900, seeders=3, added=NOW - 2 * day),
        mam_row(303, "Gamma Choir", authors=["Nina Orr"], category=SCIFI, snatches=900, seeders=30, added=NOW - 3 * day),
        mam_row(304, "Delta Harbor", authors=["Tom Avery"], category=SCIFI, snatches=400, seeders=9, added=NOW - 4 * day),
        mam_row(305, "Epsilon Tide", authors=["Priya Castell"], category=SCIFI, snatches=10, seeders=1, added=NOW - 5 * day),
        *[mam_row(306 + i, f"Filler {i}", authors=["Sam Filler"], category=SCIFI, snatches=i, added=NOW - (6 + i) * day)
          for i in range(1, 5)],
        mam_row(320, "Zeta Old", authors=["Ruth Okafor"], category=SCIFI, snatches=5000, seeders=50, added=NOW - 20 * day),
        mam_row(401, "Fantasy One", authors=["Jonah Vane"], category=FANTASY, snatches=700, added=NOW - 1 * day),
    ]


def _prowlarr(fake: FakeProwlarr) -> Prowlarr:
    return Prowlarr(fake.url, fake.api_key, timeout=10, retries=2, backoff=0.01)


@pytest.fixture
def world() -> Iterator[tuple[FakeMAM, FakeProwlarr]]:
    mam = FakeMAM(_rows(), max_per_page=5)  # MAM's smallest pages: the walk must page by what came back
    with FakeProwlarr(indexers=[MamIndexer(mam)]) as fake:
        yield mam, fake


def test_window_starts_at_midnight_like_mams_start_date():
    now = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
    assert window_start(now, 10) == datetime(2026, 3, 1, tzinfo=UTC)


def test_ranked_browses_the_genre_category_pages_until_the_window_and_ranks_by_grabs(world):
    mam, fake = world
    with _prowlarr(fake) as client:
        ranking = ProwlarrSearch(client).ranked("Science Fiction", 10, NOW)
        assert isinstance(ranking, Ranking)
        got = list(ranking)
    # grabs first, seeders break the tie (303 beats 302), the one older than the window is out
    assert [r.torrent_id for r in got] == ["303", "302", "304", "301", "305", "310", "309", "308", "307"]
    assert ranking.seen == 9 and ranking.notes == []
    assert all(r.tracker == "mam" and r.source == "prowlarr" for r in got)
    searches = fake.searches()
    # an empty query in the genre's own category on the indexer it belongs to, never the genre as text
    assert all(dict(p)["query"] == "" and ("categories", "100047") in p and ("indexerIds", "1") in p
               for p in searches)
    # pages of 5 (MAM's cap here, 100 asked): offsets advance by what came back; the page holding
    # the first upload older than the window is the last one asked for
    assert [dict(p)["limit"] for p in searches] == ["100", "100"]
    assert [dict(p)["offset"] for p in searches] == ["0", "5"]
    assert len(fake.served("/api/v1/indexer")) == 1


def test_unknown_genre_is_one_config_error_before_any_search(world):
    _, fake = world
    with _prowlarr(fake) as client, pytest.raises(ConfigError) as err:
        ProwlarrSearch(client).ranked("Underwater Basket Weaving", 10, NOW)
    assert "TOP10_GENRES" in str(err.value) and "Science Fiction" in str(err.value)
    assert fake.searches() == []


def test_an_indexer_that_does_not_page_is_said(world):
    mam, fake = world
    fake.indexers[0].supports_pagination = False
    with _prowlarr(fake) as client:
        ranking = ProwlarrSearch(client).ranked("Science Fiction", 10, NOW)
        got = list(ranking)
    assert [r.torrent_id for r in got] == ["303", "302", "304", "301", "305"]  # only its newest page
    assert len(ranking.notes) == 1
    assert "listed 5 uploads" in ranking.notes[0] and "cannot page" in ranking.notes[0]


def test_an_indexer_that_ignores_the_offset_is_said():
    class Stuck(GenericIndexer):
        def query(self, server, text, type_, cats, limit, offset):
            return super().query(server, text, type_, cats, limit, 0)

    stuck = Stuck(6, "StuckTracker", categories=[(3030, "Audio/Audiobook"), (100047, "Audiobooks - Sci-Fi")])
    with FakeProwlarr(indexers=[stuck]) as fake:
        for i in range(3):
            fake.add(FakeRelease(f"Book {i} by Some One [ENG / MP3]", indexer_id=6, indexer="StuckTracker",
                                 categories=(3030, 100047), publish_date=NOW - timedelta(hours=i)))
        stuck.limits_max = 3
        with _prowlarr(fake) as client:
            ranking = ProwlarrSearch(client).ranked("Science Fiction", 10, NOW)
            assert len(list(ranking)) == 3
    assert "does not page" in ranking.notes[0]
    assert len(fake.searches()) == 2


def test_one_indexer_down_among_two_is_said_all_down_is_an_error(world, caplog):
    mam, fake = world
    other = GenericIndexer(8, "AudioTracker", categories=[(3030, "Audio/Audiobook"), (100501, "Audio Books / Sci-Fi")])
    fake.add_indexer(other)
    fake.add(FakeRelease("Other Book by Some One [ENG / M4B]", indexer_id=8, indexer="AudioTracker",
                         categories=(3030, 100501), grabs=10_000))
    with _prowlarr(fake) as client:
        search = ProwlarrSearch(client)
        search.indexers()  # read while both are enabled
        other.state = "disabled"  # then it starts failing: Prowlarr backs off and leaves it out
        ranking = search.ranked("Science Fiction", 10, NOW)
        assert [r.torrent_id for r in ranking][:1] == ["303"]
        assert any("AudioTracker could not be searched" in n and "unavailable" in n for n in ranking.notes)
        # said at once too: the others may fill the ranking, and then no "ran out" line would tell
        assert any("AudioTracker could not be searched" in r.getMessage() for r in caplog.records)
        fake.indexers[0].state = "disabled"
        with pytest.raises(ServiceError, match="all selected indexers being unavailable") as err:
            search.ranked("Science Fiction", 10, NOW)
    assert err.value.exit_code == 3 and "\n" not in str(err.value)


@pytest.mark.parametrize(("fault", "error", "text"), [
    ("401", AuthError, "PROWLARR_API_KEY"),
    ("html", BadResponse, "HTML page"),
    ("500", ServiceError, "500"),
])
def test_prowlarr_faults_are_one_line_errors(world, fault, error, text):
    _, fake = world
    with _prowlarr(fake) as client:
        search = ProwlarrSearch(client)
        search.indexers()
        fake.fail_next(fault, times=3, path="/api/v1/search")
        with pytest.raises(error) as err:
            search.ranked("Science Fiction", 10, NOW)
    assert text in str(err.value) and err.value.exit_code == 3
    assert fake.api_key not in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------- enrichment
def test_with_mam_id_each_walked_torrent_is_read_once_from_mam_paced():
    rows = _rows()
    rows[1] = mam_row(302, "Beta Drift", authors=["Leo Moss", "Ada Rhee"], narrators=["Ruth Okafor"],
                      series=[("Drift", "2")], category=SCIFI, snatches=900, seeders=3, added=NOW - timedelta(days=2),
                      tags="Abridged", my_snatched=True)
    with FakeMAM(rows, min_interval=0.1) as mam_fake, FakeProwlarr(indexers=[MamIndexer(mam_fake)]) as fake, \
            _prowlarr(fake) as client, MAM(mam_fake.url, mam_fake.cookie, rate_min=0.12, rate_max=0.12) as mam:
        search = ProwlarrSearch(client, mam=lambda: mam)
        ranking = search.ranked("Science Fiction", 10, NOW)
        first, second = next(ranking), next(ranking)
        assert len(mam_fake.served("/tor/js/loadSearchJSONbasic.php")) == 2  # only what the walk reached
        assert search.enrich(second) is not second  # a second look is not a second request
        assert len(mam_fake.served("/tor/js/loadSearchJSONbasic.php")) == 2
    assert (first.torrent_id, second.torrent_id) == ("303", "302")
    assert second.narrators == ("Ruth Okafor",) and second.series[0].name == "Drift"
    assert second.authors == ("Leo Moss", "Ada Rhee") and second.my_snatched and second.tags == "Abridged"
    assert second.basis == "" and second.source == "prowlarr" and second.tracker == "mam"
    assert second.download_url.startswith(fake.url)  # still fetched through Prowlarr
    times = [r.at for r in mam_fake.requests]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.1  # paced like every MAM call
    # what MAM knows now decides: snatched before, and abridged
    verdict = judge(second, Policy(), owned=LibraryIndex(), queued=LibraryIndex())
    assert verdict.kind == Judgement.UNWANTED and verdict.reason == "snatched before"


def test_find_reads_from_mam_only_the_titles_that_can_be_the_book():
    rows = [mam_row(501, "The Hobbit", authors=["J. R. R. Tolkien"], narrators=["Andy Serkis"]),
            mam_row(502, "Hobbit Cookery for Beginners", authors=["Some Cook"]),
            mam_row(503, "A Hobbit Tale", authors=["Jane Somebody"])]
    with FakeMAM(rows) as mam_fake, FakeProwlarr(indexers=[MamIndexer(mam_fake)]) as fake, \
            _prowlarr(fake) as client, MAM(mam_fake.url, mam_fake.cookie, rate_min=0, rate_max=0) as mam:
        found = ProwlarrSearch(client, mam=lambda: mam).find("The Hobbit", "Tolkien")
        assert [r.torrent_id for r in found] == ["501"]  # MAM's own text search, through Prowlarr
        assert found[0].narrators == ("Andy Serkis",)
        broad = ProwlarrSearch(client, mam=lambda: mam).find("Hobbit")
        looked_up = mam_fake.served("/tor/js/loadSearchJSONbasic.php")
    assert {r.torrent_id for r in broad} == {"501", "502", "503"}
    enriched = {r.torrent_id for r in broad if r.basis == ""}
    assert enriched == {"501", "503"}  # "Hobbit Cookery for Beginners" cannot be "Hobbit"
    assert len(looked_up) == 1 + 2  # the first find's one, then one per resembling title
    text = dict(fake.searches()[0])
    assert text["query"] == "The Hobbit Tolkien" and text["type"] == "search"
    assert ("categories", "3030") in fake.searches()[0]


# ------------------------------------------------------------------------- verdicts
def _rel(title: str, authors: tuple[str, ...] = (), basis: str = "", **kw) -> Release:
    return Release(source="prowlarr", tracker="prowlarr", torrent_id=f"g:{title}", title=title, authors=authors,
                   main_category="audiobook", basis=basis, **kw)


def test_a_name_that_cannot_be_split_is_never_owned_on_an_author_match():
    owned = LibraryIndex([BookRef("The Way of Kings", ("Brandon Sanderson",))])
    title_only = "title only: no author could be read from this release name"
    exact = judge(_rel("The Way of Kings", basis=title_only), Policy(), owned=owned, queued=LibraryIndex())
    assert exact.kind == Judgement.NEAR_MISS
    assert "names no author" in exact.reason and "not counted as owned" in exact.reason
    assert "title only" in exact.reason
    other = judge(_rel("Brandon Sanderson - Warbreaker (Unabridged) [M4B]", basis=title_only), Policy(),
                  owned=owned, queued=LibraryIndex())
    assert other.kind == Judgement.NEW and other.reason == f"not owned ({title_only})"
    # the gap commands: a title alone is not the wanted book either
    target = BookRef("The Way of Kings", ("Brandon Sanderson",))
    wanted = judge(_rel("The Way of Kings", basis=title_only), Policy(), owned=LibraryIndex(),
                   queued=LibraryIndex(), target=target)
    assert wanted.kind == Judgement.DIFFERENT and "names no author" in wanted.reason


def test_a_split_name_is_judged_like_a_mam_row_and_says_what_it_lacks():
    owned = LibraryIndex([BookRef("Mistborn: The Final Empire", ("Brandon Sanderson",))])
    from abook.clients.prowlarrdata import MAM_TITLE_BASIS as basis

    rel = _rel("Mistborn: The Final Empire", ("Sanderson, Brandon",), basis=basis)
    verdict = judge(rel, Policy(), owned=owned, queued=LibraryIndex())
    assert verdict.kind == Judgement.OWNED and verdict.reason.endswith(f"({basis})")
    german = judge(_rel("Neues Buch", ("Jemand Anders",), basis=basis, language="German"), Policy(),
                   owned=owned, queued=LibraryIndex())
    assert german.kind == Judgement.UNWANTED and german.reason == "language German"


# ------------------------------------------------------------------------- identity
def test_top10_counts_a_torrent_the_other_route_took(world):
    mam, fake = world
    state = State.open(None)
    try:
        state.add_download({"source": "mam", "torrent_id": "303", "title": "Gamma Choir", "status": "queued",
                            "reason": "top10", "genre": "Science Fiction"})
        with _prowlarr(fake) as client:
            acq = Acquisition(ProwlarrSearch(client), None, Policy())
            result = top10.run(state, acq, genres=["Science Fiction"], count=2, days=10, now=NOW, dry_run=True)
        picks = result.genres[0].decisions
        assert (picks[0].torrent_id, picks[0].decision) == ("303", "counted")
        assert (picks[1].torrent_id, picks[1].decision) == ("302", "would_queue")
        assert "Prowlarr's name only" in picks[1].reason and "MAM_ID" in picks[1].reason
    finally:
        state.close()


def test_top10_says_how_many_candidates_the_ranking_saw_when_it_runs_out(world):
    from abook.progress import NullProgress

    mam, fake = world
    fake.indexers[0].supports_pagination = False
    state = State.open(None)
    progress = NullProgress()
    try:
        with _prowlarr(fake) as client:
            acq = Acquisition(ProwlarrSearch(client), None, Policy())
            result = top10.run(state, acq, genres=["Science Fiction"], count=6, days=10, now=NOW, dry_run=True,
                               progress=progress)
    finally:
        state.close()
    assert result.genres[0].short
    assert "ran out after 5 candidates" in progress.warnings[0] and "cannot page" in progress.warnings[0]
    assert result.genres[0].notes and "cannot page" in result.genres[0].notes[0]


# ---------------------------------------------------------------------------- guard
def test_a_prowlarr_grab_of_a_mam_torrent_passes_the_mam_guard_only_with_mam_id(caplog):
    from abook.services import MamGrabsOnly

    calls: list[str] = []

    def tracker_guard() -> object:
        return lambda release: calls.append(release.torrent_id) or "projected ratio 1.20 would fall below RATIO_FLOOR 1.5"

    guard = MamGrabsOnly(tracker_guard)
    mam_torrent = Release(source="prowlarr", tracker="mam", torrent_id="7", title="x")
    other = Release(source="prowlarr", tracker="prowlarr", torrent_id="https://t.example/1", title="y")
    assert guard(other) is None and calls == []
    assert "RATIO_FLOOR" in guard(mam_torrent) and calls == ["7"]
    unguarded = MamGrabsOnly(None)
    with caplog.at_level("WARNING", logger="abook"):
        assert unguarded(mam_torrent) is None and unguarded(mam_torrent) is None
    warnings = [r for r in caplog.records if "MAM_ID" in r.getMessage()]
    assert len(warnings) == 1  # said once per run


def test_a_prowlarr_grab_is_fetched_from_mam_once_prowlarr_is_gone(tmp_path: Path):
    """A user who switched back to MAM and removed Prowlarr: the pending MAM torrent found
    through Prowlarr is fetched from MAM itself (by its MAM id), checked by hash."""
    from abook.config import Settings
    from abook.services import Services
    from abook.torrent import parse_torrent

    with FakeMAM(_rows(), mam_id="cookie-for-the-fetch") as mam:
        settings = Settings.load(environ={"MAM_URL": mam.url, "MAM_ID": "cookie-for-the-fetch",
                                          "MAM_RATE_LIMIT_MIN": "0", "MAM_RATE_LIMIT_MAX": "0"},
                                 cwd=tmp_path)
        state = State.open(None)
        services = Services(settings, state)
        try:
            row = {"source": "prowlarr", "tracker": "mam", "torrent_id": "303", "title": "Gamma Choir",
                   "info_hash": mam.info_hash(303),
                   "payload": '{"download_url": "http://127.0.0.1:9/1/download?link=gone"}'}
            data, magnet = services.fetcher()(row)
        finally:
            services.close()
            state.close()
    assert magnet is None and parse_torrent(data).info_hash == mam.info_hash(303)
    assert [r.query.get("tid") for r in mam.served("/tor/download.php")] == ["303"]
