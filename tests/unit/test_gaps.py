"""The gap logic of fill-series / fill-authors / missing: pure functions first, then the workflow
against an in-memory state, a fake bibliography source and a fake tracker (no network)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from abook.acquisition import Policy
from abook.bibliography import (
    AUTHOR_GAP,
    SERIES_GAP,
    Group,
    choose_release,
    dedupe_entries,
    due_for_search,
    effective_status,
    entry_skip_reason,
    find_gaps,
    order_gaps,
)
from abook.errors import ConfigError, PartialFailure, ServiceError
from abook.matching import LibraryIndex as build_index
from abook.models import BookRef, Release, SeriesRef
from abook.progress import NullProgress
from abook.queries import MAX_QUERIES_PER_BOOK
from abook.search import Acquisition
from abook.sources.base import (
    KIND_BOOK,
    KIND_NOVELLA,
    KIND_OMNIBUS,
    BibEntry,
    Source,
    SourceUnavailable,
)
from abook.state import State, iso
from abook.workflows import gaps, missing
from abook.workflows.gaps import Bibliographies

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
SAGA = "Ember Saga"
JANE = ("Jane Author",)


def e(title: str, pos: str | None, *, kind: str = "", authors: tuple[str, ...] = JANE, **kw) -> BibEntry:
    if not kind:
        kind = KIND_OMNIBUS if pos and "-" in pos else KIND_NOVELLA if pos and "." in pos else KIND_BOOK
    return BibEntry(title=title, authors=authors, position=pos, kind=kind,
                    series=kw.pop("series", (SeriesRef(SAGA, pos),)), is_audiobook=kw.pop("is_audiobook", True),
                    source="fake", **kw)


def saga() -> list[BibEntry]:
    """Owned 1, 2, 4 of 7 in the tests, with two novellas, an omnibus and a box set."""
    return [
        e("Prequel Spark", "0.5"),
        e("First Flame", "1"),
        e("First Flame", "1", abridged=True),  # a second edition at the same slot
        e("Second Flame", "2"),
        e("Between Embers", "2.5"),
        e("Third Flame", "3"),
        e("Ember Saga: Books 1-3", "1-3"),
        e("Fourth Flame", "4"),
        e("Fifth Flame", "5"),
        e("Sixth Flame", "6"),
        e("Seventh Flame", "7"),
        e("The Complete Ember Saga Box Set", None, kind=KIND_OMNIBUS),
        e("Eighth Flame", "8", upcoming=True, release_date="2099-01-01"),
    ]


def owned_refs() -> list[BookRef]:
    # written differently from the bibliography on purpose
    return [
        BookRef("First Flame (Ember Saga, Book 1) [Unabridged]", ("Author, Jane",), ref="b1"),
        BookRef("Ember Saga 2: Second Flame", ("Jane Author",), (SeriesRef("The Ember Saga", "2"),), ref="b2"),
        BookRef("Fourth Flame", ("J. Author",), (SeriesRef("Ember Saga", "4"),), ref="b4"),
    ]


def series_group(books: list[BookRef] | None = None) -> Group:
    books = owned_refs() if books is None else books
    return Group(SERIES_GAP, "ser-ember", SAGA, "Jane Author", tuple(books))


def titles(entries) -> list[str]:
    return [x.title for x in entries]


# ---------------------------------------------------------------------------- classification
@pytest.mark.parametrize(
    ("entry", "novellas", "skipped"),
    [
        (e("Prequel Spark", "0.5"), False, "novella"),
        (e("Between Embers", "2.5"), False, "novella"),
        (e("Prequel Spark", "0.5"), True, None),
        (e("Between Embers", "2.5"), True, None),
        (e("Ember Saga: Books 1-3", "1-3"), True, "omnibus"),
        (e("Ember Saga: Books 1-3", "1-3", kind=KIND_BOOK), True, "omnibus"),  # the range alone says so
        (e("The Complete Ember Saga Box Set", None, kind=KIND_BOOK), True, "omnibus"),  # the title says so
        (e("Third Flame", "3", kind=KIND_OMNIBUS), False, "omnibus"),  # the source says so
        (e("Third Flame", "3"), False, None),
        (e("Eighth Flame", "8", upcoming=True), False, "not released"),
        (e("Third Flame", "3", is_audiobook=False), False, "no audiobook"),
        (e("World of Embers", None, kind="companion"), True, "companion"),
    ],
)
def test_entry_skip_reason(entry, novellas, skipped):
    why = entry_skip_reason(entry, include_novellas=novellas)
    if skipped is None:
        assert why is None
    else:
        assert why is not None and skipped in why


def test_author_entries_skip_anthologies_and_companions_but_want_standalones():
    standalone = BibEntry("Lonely Standalone", JANE, kind=KIND_BOOK)
    anthology = BibEntry("Tales of Many", ("Jane Author", "A Bee", "C Dee", "E Eff"), kind=KIND_BOOK)
    named = BibEntry("Ember Tales: An Anthology", JANE, kind=KIND_BOOK)
    novella = e("Between Embers", "2.5")
    assert entry_skip_reason(standalone, include_novellas=False, kind=AUTHOR_GAP) is None
    assert "anthology" in entry_skip_reason(anthology, include_novellas=True, kind=AUTHOR_GAP)
    assert "anthology" in entry_skip_reason(named, include_novellas=True, kind=AUTHOR_GAP)
    assert "novella" in entry_skip_reason(novella, include_novellas=False, kind=AUTHOR_GAP)
    assert entry_skip_reason(novella, include_novellas=True, kind=AUTHOR_GAP) is None


def test_series_owned_1_2_4_of_7_misses_exactly_3_5_6_7():
    found = find_gaps(series_group(), saga(), build_index(owned_refs()), build_index([]))
    assert titles(found.missing) == ["Third Flame", "Fifth Flame", "Sixth Flame", "Seventh Flame"]
    assert sorted(titles(e for e, _ in found.owned)) == ["First Flame", "Fourth Flame", "Second Flame"]
    assert found.wanted == 7  # the primary works the source knows, released
    skipped = dict((t, why) for t, why in ((x.title, w) for x, w in found.skipped))
    assert "novella" in skipped["Prequel Spark"] and "novella" in skipped["Between Embers"]
    assert "omnibus" in skipped["Ember Saga: Books 1-3"]
    assert "omnibus" in skipped["The Complete Ember Saga Box Set"]
    assert "not released" in skipped["Eighth Flame"]


def test_include_novellas_adds_the_fractional_positions_only():
    found = find_gaps(series_group(), saga(), build_index(owned_refs()), build_index([]), include_novellas=True)
    assert titles(found.missing) == ["Prequel Spark", "Between Embers", "Third Flame", "Fifth Flame",
                                     "Sixth Flame", "Seventh Flame"]


def test_an_owned_omnibus_covers_its_range():
    books = [BookRef("Ember Saga: Books 1-3", JANE, (SeriesRef(SAGA, "1-3"),), ref="om")]
    found = find_gaps(series_group(books), saga(), build_index(books), build_index([]))
    assert titles(found.missing) == ["Fourth Flame", "Fifth Flame", "Sixth Flame", "Seventh Flame"]
    assert any("1-3" in why for _, why in found.owned)


def test_a_sequel_sharing_the_series_word_is_missing_not_owned():
    dune = [BookRef("Dune", ("Frank Herbert",), (SeriesRef("Dune", "1"),), ref="d1")]
    group = Group(SERIES_GAP, "ser-dune", "Dune", "Frank Herbert", tuple(dune))
    entries = [BibEntry(t, ("Frank Herbert",), p, kind=KIND_BOOK, series=(SeriesRef("Dune Chronicles", p),))
               for t, p in (("Dune", "1"), ("Dune Messiah", "2"), ("Children of Dune", "3"))]
    found = find_gaps(group, entries, build_index(dune), build_index([]))
    assert titles(found.missing) == ["Dune Messiah", "Children of Dune"]


def test_owned_books_written_differently_count_for_an_author_too():
    group = Group(AUTHOR_GAP, "au-jane", "Jane Author", "Jane Author", tuple(owned_refs()))
    entries = [BibEntry("First Flame", JANE, "1", kind=KIND_BOOK, series=(SeriesRef(SAGA, "1"),)),
               BibEntry("Lonely Standalone", JANE, kind=KIND_BOOK),
               BibEntry("Tales of Many", ("Jane Author", "A Bee", "C Dee"), kind=KIND_BOOK)]
    found = find_gaps(group, entries, build_index(owned_refs()), build_index([]))
    assert titles(found.missing) == ["Lonely Standalone"]
    assert titles(e for e, _ in found.owned) == ["First Flame"]


def test_queued_books_are_not_missing_and_near_misses_are_not_grabbed():
    queued = [BookRef("Third Flame", JANE, (SeriesRef(SAGA, "3"),), ref="download:1")]
    owned = [*owned_refs(), BookRef("Sixth Flames Rising", JANE, ref="b6x")]
    found = find_gaps(series_group(owned), saga(), build_index(owned), build_index(queued))
    assert titles(found.queued) == ["Third Flame"]
    assert "Third Flame" not in titles(found.missing)
    assert [x.title for x, _ in found.uncertain] == ["Sixth Flame"]
    assert titles(found.missing) == ["Fifth Flame", "Seventh Flame"]


def test_one_entry_per_position_prefers_the_unabridged_edition():
    entries = [e("First Flame", "1", abridged=True, asin="ABR"), e("First Flame", "1", asin="UNA")]
    kept = dedupe_entries(entries, SERIES_GAP)
    assert [x.asin for x in kept] == ["UNA"]


# ---------------------------------------------------------------------------- choosing torrents
def rel(tid: str, title: str, *, authors=JANE, files=("m4b",), seeders=10, free=False, vip=False,
        snatched=False, language="English", series=(), tags="") -> Release:
    return Release("mam", tid, title, authors=authors, filetypes=files, seeders=seeders, freeleech=free,
                   vip=vip, my_snatched=snatched, language=language, series=series,
                   main_category="audiobook", size=100_000_000, tags=tags)


def third() -> BookRef:
    return BookRef("Third Flame", JANE, (SeriesRef(SAGA, "3"),))


def test_choose_release_prefers_freeleech_then_m4b_then_seeders():
    releases = [
        rel("1", "Third Flame", files=("mp3",), seeders=200),
        rel("2", "Third Flame", files=("m4b",), seeders=20),
        rel("3", "Third Flame", files=("mp3",), seeders=3, free=True),
    ]
    best, refused = choose_release(third(), releases, Policy())
    assert best.torrent_id == "3" and not refused
    best, _ = choose_release(third(), releases[:2], Policy())
    assert best.torrent_id == "2"  # m4b over mp3, whatever the seeders
    best, _ = choose_release(third(), [releases[0], rel("4", "Third Flame", files=("mp3",), seeders=5)], Policy())
    assert best.torrent_id == "1"  # then more seeders


def test_choose_release_refuses_wrong_works_and_editions():
    refused_ones = [
        rel("10", "Ember Saga: Books 1-3", seeders=900, free=True),  # omnibus
        rel("11", "Third Flames Rising", seeders=900, free=True),  # near miss
        rel("12", "Third Flame", seeders=900, free=True, snatched=True),
        rel("13", "Third Flame", seeders=900, free=True, language="German"),
        rel("14", "Third Flame", seeders=900, free=True, tags="Abridged"),
        rel("15", "Ember Saga, Book 2", seeders=900, free=True, series=(SeriesRef(SAGA, "2"),)),
        rel("16", "Third Flame", seeders=900, free=True, authors=("Other Person",)),
    ]
    good = rel("20", "Third Flame [Unabridged]", files=("mp3",), seeders=1)
    best, refused = choose_release(third(), [*refused_ones, good], Policy())
    assert best.torrent_id == "20"
    assert {r.torrent_id for r, _ in refused} == {r.torrent_id for r in refused_ones}
    best, _ = choose_release(third(), refused_ones, Policy())
    assert best is None


def test_the_wanted_title_at_another_position_of_its_series_is_the_wanted_book():
    # sources number one series differently (a prequel counted or not): the identical title by
    # the same author is the same work (issue #14, class 4); a title that is only the series
    # name and a number is not
    other_numbering = rel("15", "Third Flame", seeders=900, series=(SeriesRef(SAGA, "2"),))
    best, refused = choose_release(third(), [other_numbering], Policy())
    assert best is other_numbering and not refused
    by_number = rel("17", "Ember Saga", seeders=900, series=(SeriesRef(SAGA, "2"),))
    best, refused = choose_release(third(), [by_number], Policy())
    assert best is None and [r for r, _ in refused] == [by_number]


def test_a_dead_torrent_loses_to_a_seeded_one_and_a_failed_one_is_skipped():
    dead = rel("1", "Third Flame", seeders=0, free=True)
    alive = rel("2", "Third Flame", files=("mp3",), seeders=2)
    assert choose_release(third(), [dead, alive], Policy())[0].torrent_id == "2"
    best, refused = choose_release(third(), [alive], Policy(), failed_before=lambda r: r.torrent_id == "2")
    assert best is None and "failed before" in refused[0][1]


# ---------------------------------------------------------------------------- order, retry, status
def test_order_series_by_owned_author_then_position():
    many = Group(SERIES_GAP, "s1", "Zeta Cycle", "Prolific Writer")
    few = Group(SERIES_GAP, "s2", "Alpha Tales", "Rare Writer")
    items = [
        gaps.Gap(SERIES_GAP, few, e("A2", "2", authors=("Rare Writer",)), "pos:2"),
        gaps.Gap(SERIES_GAP, many, e("Z5", "5", authors=("Prolific Writer",)), "pos:5"),
        gaps.Gap(SERIES_GAP, many, e("Z3", "3", authors=("Prolific Writer",)), "pos:3"),
    ]
    counts = gaps.author_counts([BookRef(f"b{i}", ("Prolific Writer",)) for i in range(3)]
                                + [BookRef("x", ("Rare Writer",))])
    assert [g.title for g in order_gaps(items, counts)] == ["Z3", "Z5", "A2"]


def test_not_found_is_searched_again_only_after_the_retry_days():
    assert due_for_search("wanted", None, NOW, 14)
    assert not due_for_search("not_found", iso(NOW - timedelta(days=13)), NOW, 14)
    assert due_for_search("not_found", iso(NOW - timedelta(days=14)), NOW, 14)
    assert not due_for_search("queued", None, NOW, 14)


@pytest.mark.parametrize(
    ("stored", "download", "shown"),
    [("queued", "pending", "queued"), ("queued", "downloading", "downloading"),
     ("queued", "imported", "in_library"), ("queued", "failed", "wanted"), ("not_found", None, "not_found")],
)
def test_effective_status_follows_the_download(stored, download, shown):
    assert effective_status({"status": stored, "download_status": download}) == shown


def test_groups_from_the_mirror_skip_anthologies_and_honour_min_owned():
    rows = [
        {"id": "1", "title": "First Flame", "authors": [{"id": "a1", "name": "Jane Author"}],
         "series": [{"id": "s1", "name": SAGA, "sequence": "1"}]},
        {"id": "2", "title": "Second Flame", "authors": [{"id": "a1", "name": "Jane Author"}],
         "series": [{"id": "s1", "name": SAGA, "sequence": "2"}]},
        {"id": "3", "title": "Big Anthology", "series": [],
         "authors": [{"id": f"x{i}", "name": n} for i, n in enumerate(["Ann One", "Bob Two", "Cy Three"])]},
        {"id": "4", "title": "Good Omens", "series": [],
         "authors": [{"id": "tp", "name": "Terry Pratchett"}, {"id": "ng", "name": "Neil Gaiman"}]},
    ]
    series = gaps.series_groups(rows)
    assert [(g.id, g.name, g.author, len(g.owned)) for g in series] == [("s1", SAGA, "Jane Author", 2)]
    authors = gaps.author_groups(rows, 1)
    assert [g.name for g in authors] == ["Jane Author", "Neil Gaiman", "Terry Pratchett"]
    assert [g.name for g in gaps.author_groups(rows, 2)] == ["Jane Author"]
    with pytest.raises(ConfigError):
        gaps.select_groups(series, series="Nope")
    assert gaps.select_groups(series, series="the ember saga") == series


# ---------------------------------------------------------------------------- bibliographies
class FakeSource(Source):
    def __init__(self, name: str, series: dict[str, list[BibEntry]] | None = None, *, fail: Exception | None = None,
                 authors: dict[str, list[BibEntry]] | None = None, lists: bool = True) -> None:
        self.name = name
        self.series = series or {}
        self.authors = authors or {}
        self.fail = fail
        self.lists = lists
        self.calls: list[str] = []

    def find(self, title, authors, *, isbn="", asin=""):
        return []

    def series_books(self, series_name, author=""):
        self.calls.append(series_name)
        if self.fail:
            raise self.fail
        return self.series.get(series_name, []) if self.lists else None

    def author_books(self, author):
        self.calls.append(author)
        if self.fail:
            raise self.fail
        return self.authors.get(author, []) if self.lists else None


@pytest.fixture
def state():
    st = State.open(None)
    yield st
    st.close()


def test_first_answering_source_wins_and_a_failing_one_is_skipped_once(state):
    blocked = FakeSource("goodreads", fail=SourceUnavailable("goodreads", "bot challenge"))
    silent = FakeSource("googlebooks", lists=False)
    audible = FakeSource("audible", {SAGA: saga(), "Other": [e("O1", "1")]})
    progress = NullProgress()
    bib = Bibliographies(state, [blocked, silent, audible], NOW, progress=progress)
    entries, source = bib.lookup(SERIES_GAP, SAGA, "Jane Author")
    assert source == "audible" and len(entries) == len(saga())
    bib.lookup(SERIES_GAP, "Other", "Jane Author")
    assert blocked.calls == [SAGA]  # dropped after the first failure
    assert len(progress.warnings) == 1 and "bot challenge" in progress.warnings[0]


def test_a_source_erroring_is_dropped_for_the_run(state):
    broken = FakeSource("hardcover", fail=ServiceError("hardcover: HTTP 500"))
    audible = FakeSource("audible", {SAGA: saga()})
    bib = Bibliographies(state, [broken, audible], NOW)
    assert bib.lookup(SERIES_GAP, SAGA)[1] == "audible"
    assert "hardcover" in bib.dropped


def test_bibliographies_are_cached_for_a_week_and_not_in_a_dry_run(state):
    audible = FakeSource("audible", {SAGA: saga()})
    dry = Bibliographies(state, [audible], NOW, dry_run=True)
    dry.lookup(SERIES_GAP, SAGA, "Jane Author")
    assert state.scalar("SELECT COUNT(*) FROM bibliography_cache") == 0
    Bibliographies(state, [audible], NOW).lookup(SERIES_GAP, SAGA, "Jane Author")
    later = Bibliographies(state, [audible], NOW + timedelta(days=gaps.BIBLIOGRAPHY_CACHE_DAYS - 1))
    entries, source = later.lookup(SERIES_GAP, SAGA, "Jane Author")
    assert len(audible.calls) == 2 and later.cached == 1 and source == "audible"
    assert entries == saga()  # the round trip through JSON keeps every field
    Bibliographies(state, [audible], NOW + timedelta(days=gaps.BIBLIOGRAPHY_CACHE_DAYS)).lookup(
        SERIES_GAP, SAGA, "Jane Author")
    assert len(audible.calls) == 3


def test_no_source_knows_it_gives_an_empty_answer_and_none_answering_gives_none(state):
    assert Bibliographies(state, [FakeSource("audible")], NOW).lookup(SERIES_GAP, "Unknown") == ([], "")
    assert Bibliographies(state, [FakeSource("x", lists=False)], NOW).lookup(SERIES_GAP, "Unknown2") is None


# ---------------------------------------------------------------------------- the workflow
class FakeSearch:
    name = "mam"

    def __init__(self, releases: list[Release]) -> None:
        self.releases = releases
        self.queries: list[tuple[str, str]] = []

    def find(self, title: str, author: str = "") -> list[Release]:
        self.queries.append((title, author))
        words = title.lower().split()
        return [r for r in self.releases if all(w in r.title.lower() for w in words)]

    def fetch(self, release: Release):
        digest = hashlib.sha1(release.torrent_id.encode()).hexdigest()
        return None, f"magnet:?xt=urn:btih:{digest}"


def add_books(state: State, books: list[tuple[str, str | None]]) -> None:
    rows = []
    for i, (title, pos) in enumerate(books):
        rows.append({
            "id": f"li_{i}", "library_id": "lib1", "title": title,
            "authors": json.dumps([{"id": "au_jane", "name": "Jane Author"}]), "author_name": "Jane Author",
            "series": json.dumps([{"id": "se_ember", "name": SAGA, "sequence": pos}] if pos else []),
            "narrators": "[]", "genres": "[]", "tags": "[]",
        })
    state.apply_scan("lib1", rows, [], refresh_series=True)


def tracker() -> list[Release]:
    s = (SeriesRef(SAGA, "3"),)
    return [
        rel("301", "Third Flame", files=("mp3",), seeders=100, series=s),
        rel("302", "Third Flame", files=("m4b",), seeders=20, series=s),
        rel("303", "Ember Saga: Books 1-3", free=True, seeders=500),
        rel("501", "Fifth Flame", files=("mp3",), seeders=5, free=True),
        rel("502", "Fifth Flame", files=("m4b",), seeders=50, snatched=True),
        rel("601", "Sixth Flame", files=("m4b",), seeders=7),
        rel("602", "Sixth Flames Rising", files=("m4b",), seeders=70, free=True),
    ]  # nothing for "Seventh Flame"


def fill(state, search, *, limit=10, now=NOW, dry_run=False, **kw):
    return gaps.run(state, [FakeSource("audible", {SAGA: saga()})], Acquisition(search, None, Policy(max_active=0)),
                    kind=SERIES_GAP, now=now, limit=limit, retry_days=14, dry_run=dry_run, **kw)


def test_run_queues_the_best_torrent_per_missing_book_in_batches(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    search = FakeSearch(tracker())
    first = fill(state, search, limit=2)
    picked = {d.title: d.torrent_id for d in first.decisions if d.decision == "pending"}
    assert picked == {"Third Flame": "302", "Fifth Flame": "501"}
    assert first.left_wanted == 2
    rows = {r["title"]: r for r in state.missing_books(SERIES_GAP)}
    assert set(rows) == {"Third Flame", "Fifth Flame", "Sixth Flame", "Seventh Flame"}
    assert rows["Third Flame"]["status"] == "queued" and rows["Third Flame"]["download_id"]
    assert rows["Sixth Flame"]["status"] == "wanted"
    assert {d["reason"] for d in state.downloads()} == {"series_gap"}
    series = state.q("SELECT * FROM series WHERE id='se_ember'")[0]
    assert (series["known_total"], series["missing"], series["status"]) == (7, 4, "incomplete")

    second = fill(state, search, limit=2)
    decided = {d.title: (d.decision, d.torrent_id) for d in second.decisions}
    assert decided == {"Sixth Flame": ("pending", "601"), "Seventh Flame": ("not_found", "")}
    assert len(state.downloads()) == 3  # nothing twice
    rows = {r["title"]: r for r in state.missing_books(SERIES_GAP)}
    assert rows["Seventh Flame"]["status"] == "not_found" and rows["Seventh Flame"]["last_search"]

    searched = len(search.queries)
    third_run = fill(state, search, now=NOW + timedelta(days=3))
    assert third_run.decisions == [] and len(search.queries) == searched and third_run.deferred == 1
    search.releases.append(rel("701", "Seventh Flame", seeders=3))
    fourth = fill(state, search, now=NOW + timedelta(days=15))
    assert [(d.title, d.decision, d.torrent_id) for d in fourth.decisions] == [("Seventh Flame", "pending", "701")]

    listed = missing.run(state).as_dict()
    assert [b["title"] for b in listed["series"][0]["books"]] == ["Third Flame", "Fifth Flame", "Sixth Flame",
                                                                  "Seventh Flame"]
    assert {b["status"] for b in listed["series"][0]["books"]} == {"queued"}


def test_dry_run_changes_nothing(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    result = fill(state, FakeSearch(tracker()), limit=2, dry_run=True)
    assert [(d.title, d.decision) for d in result.decisions] == [("Third Flame", "would_queue"),
                                                                 ("Fifth Flame", "would_queue")]
    for table in ("missing_books", "downloads", "bibliography_cache"):
        assert state.scalar(f"SELECT COUNT(*) FROM {table}") == 0
    assert state.scalar("SELECT known_total FROM series") is None


def test_hold_records_the_gaps_but_queues_nothing(state):
    add_books(state, [("First Flame", "1")])
    state.set_kv("hold", "ratio 1.2 below 1.5")
    search = FakeSearch(tracker())
    result = fill(state, search)
    assert result.held and result.decisions == [] and search.queries == []
    assert state.scalar("SELECT COUNT(*) FROM missing_books WHERE status='wanted'") == 6
    assert state.scalar("SELECT COUNT(*) FROM downloads") == 0


def test_a_book_owned_later_turns_in_library_and_a_failed_download_is_wanted_again(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    fill(state, FakeSearch(tracker()), limit=1)  # queues Third Flame
    dl = state.downloads()[0]
    state.update_download(dl["id"], status="failed")
    again = fill(state, FakeSearch(tracker()), limit=1)
    # 302 failed; the next best acceptable torrent is taken
    assert [(d.title, d.torrent_id) for d in again.decisions if d.decision == "pending"] == [("Third Flame", "301")]
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4"), ("Third Flame", "3")])
    fill(state, FakeSearch(tracker()), limit=0)
    rows = {r["title"]: r["status"] for r in state.missing_books(SERIES_GAP)}
    assert rows["Third Flame"] == "in_library"


def test_fill_authors_skips_anthologies_and_records_author_gaps(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2")])
    books = [BibEntry("First Flame", JANE, "1", kind=KIND_BOOK, series=(SeriesRef(SAGA, "1"),)),
             BibEntry("Lonely Standalone", JANE, kind=KIND_BOOK, year="2016"),
             BibEntry("Tales of Many", ("Jane Author", "A Bee", "C Dee"), kind=KIND_BOOK)]
    source = FakeSource("audible", authors={"Jane Author": books})
    result = gaps.run(state, [source], Acquisition(FakeSearch([rel("900", "Lonely Standalone")]), None,
                      Policy(max_active=0)), kind=AUTHOR_GAP, now=NOW, limit=5, retry_days=14)
    assert [(d.title, d.decision) for d in result.decisions] == [("Lonely Standalone", "pending")]
    rows = state.missing_books(AUTHOR_GAP, author="jane author")
    assert [(r["title"], r["status"]) for r in rows] == [("Lonely Standalone", "queued")]
    assert state.downloads()[0]["reason"] == "author_gap"
    author = state.q("SELECT * FROM authors WHERE id='au_jane'")[0]
    assert (author["owned"], author["known_total"], author["missing"]) == (2, 2, 1)


def test_gaps_report_lists_completion_and_authors(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    fill(state, FakeSearch([]), limit=0)
    report = missing.gaps_report(state)
    assert report["series"][0] == {**report["series"][0], "name": SAGA, "owned": 3, "known": 7, "missing": 4,
                                   "percent": 42.9}
    assert report["series_tracked"] == 1 and report["missing_series"] == {"wanted": 4}


def test_no_usable_source_is_a_config_error(state):
    with pytest.raises(ConfigError):
        gaps.run(state, [], None, kind=SERIES_GAP, now=NOW, limit=1, retry_days=14)


# ============================================================================ issue #13: recall
class WordSearch:
    """A tracker search that tokenises like MAM's full-text index: every query word must be a
    whole word of the title, author or series (split at anything but letters and digits)."""

    name = "mam"

    def __init__(self, releases: list[Release], *, fail: set[str] | None = None) -> None:
        self.releases = releases
        self.queries: list[str] = []
        self.fail = fail or set()  # texts whose search fails (the tracker's 5xx)

    @staticmethod
    def words(text: str) -> list[str]:
        import re
        import unicodedata

        folded = unicodedata.normalize("NFKD", text)
        return re.findall(r"[^\W_]+", "".join(c for c in folded if not unicodedata.combining(c)).casefold())

    def find(self, title: str, author: str = "") -> list[Release]:
        text = f"{title} {author}".strip()
        self.queries.append(text)
        if text in self.fail:
            raise ServiceError("MAM answered 500 on POST /tor/js/loadSearchJSONbasic.php", service="MAM", status=500)
        wanted = self.words(text)
        out = []
        for r in self.releases:
            have = set(self.words(" ".join([r.title, *r.authors, *(s.name for s in r.series)])))
            if all(w in have for w in wanted):
                out.append(r)
        return out

    def fetch(self, release: Release):
        return FakeSearch.fetch(self, release)  # type: ignore[arg-type]


def test_translations_are_no_missing_books():
    group = Group(AUTHOR_GAP, "au-jane", "Jane Author", "Jane Author", tuple(owned_refs()))
    entries = [BibEntry("Lonely Standalone", JANE, kind=KIND_BOOK, language="English"),
               BibEntry("Einsamer Einzelband", JANE, kind=KIND_BOOK, language="German"),
               BibEntry("Unknown Tongue", JANE, kind=KIND_BOOK)]  # no language: no reason to skip
    found = find_gaps(group, entries, build_index(owned_refs()), build_index([]), languages=("English",))
    assert titles(found.missing) == ["Lonely Standalone", "Unknown Tongue"]
    assert [(x.title, "another language" in why) for x, why in found.skipped] == [("Einsamer Einzelband", True)]
    assert found.wanted == 2
    everything = find_gaps(group, entries, build_index(owned_refs()), build_index([]))
    assert len(everything.missing) == 3  # no LANGUAGES given: nothing is a translation


def test_two_works_at_one_position_are_both_kept_and_the_owned_check_decides():
    entries = [e("Third Flame", "3"), e("Third Flame (Dramatized Adaptation)", "3"), e("Ember Tales", "3"),
               e("Fourth Flame", "4")]
    kept = dedupe_entries(entries, SERIES_GAP)
    assert titles(kept) == ["Third Flame", "Ember Tales", "Fourth Flame"]  # one edition per work
    # owning "Third Flame" at #3 leaves "Ember Tales" at #3 missing...
    owned = [BookRef("Third Flame", JANE, (SeriesRef(SAGA, "3"),), ref="b3")]
    found = find_gaps(series_group(owned), entries, build_index(owned), build_index([]))
    assert titles(found.missing) == ["Ember Tales", "Fourth Flame"]
    assert found.key(kept[1], SERIES_GAP) == "pos:3~ember tales" and found.key(kept[0], SERIES_GAP) == "pos:3"
    # ...but an owned #3 whose title matches neither covers both: no guess, no wrong grab
    other = [BookRef("Flame the Third", JANE, (SeriesRef(SAGA, "3"),), ref="b3x")]
    found = find_gaps(series_group(other), entries, build_index(other), build_index([]))
    assert titles(found.missing) == ["Fourth Flame"]


def test_a_position_written_in_words_is_a_position():
    from abook.sources.base import clean_position

    assert [clean_position(v) for v in ("Book Two", "Book II", "Three", "Books One to Three")] == ["2", "2", "3", "1-3"]
    entry = e("Second Flame", clean_position("Book Two"))
    assert entry_skip_reason(entry, include_novellas=False) is None


def judged_for(book: BookRef, *releases: Release, owned: list[BookRef] = ()):
    from abook.bibliography import judge_all

    return judge_all(book, list(releases), Policy(), owned=build_index(owned))


@pytest.mark.parametrize(
    ("releases", "status", "code"),
    [
        ([], "not_found", "no_results"),
        ([rel("1", "Third Flame (Abridged)", tags="Abridged")], "unwanted", "abridged"),
        ([rel("1", "Third Flame", language="German")], "unwanted", "language"),
        ([rel("1", "Third Flame", snatched=True)], "unwanted", "snatched"),
        ([rel("1", "Third Flame (Part 1 of 2)"), rel("2", "Third Flame (Part 2 of 2)")], "unwanted", "split"),
        ([rel("1", "Third Flame [Dramatized Adaptation]", tags="GraphicAudio full cast"),
          rel("2", "Third Flame (Abridged)", tags="Abridged"), rel("3", "Third Flame", language="French")],
         "unwanted", "dramatized"),  # the commonest reason, then the first seen
        ([rel("1", "Third Flame", authors=("Other Person",)), rel("2", "Fifth Flame")], "not_found", "no_match"),
    ],
)
def test_settle_says_why_no_torrent_was_taken(releases, status, code):
    from abook.bibliography import settle

    settled = settle(third(), judged_for(third(), *releases))
    assert (settled.status, settled.code) == (status, code)
    assert settled.reason


def test_settle_finds_the_book_owned_and_an_ebook_unwanted():
    from abook.bibliography import settle

    owned = [BookRef("Third Flame", JANE, (SeriesRef(SAGA, "3"),), ref="b3")]
    settled = settle(third(), judged_for(third(), rel("1", "Third Flame"), owned=owned))
    assert (settled.status, settled.code) == ("in_library", "owned")
    ebook = Release("mam", "9", "Third Flame", authors=JANE, main_category="ebook", seeders=5)
    assert settle(third(), judged_for(third(), ebook)).code == "ebook"


def test_refusal_codes_follow_the_words_of_the_one_judge():
    from abook.acquisition import screen
    from abook.bibliography import refusal_code

    cases = {
        "abridged": rel("1", "X", tags="Abridged"),
        "language": rel("2", "X", language="German"),
        "snatched": rel("3", "X", snatched=True),
        "dramatized": rel("4", "X", tags="full cast dramatization"),
        "omnibus": rel("5", "X Box Set"),
        "ebook": Release("mam", "6", "X", main_category="ebook"),
    }
    for code, release in cases.items():
        why = screen(release, Policy())
        assert why and refusal_code(why) == code, (code, why)


def test_run_walks_the_plan_until_the_book_is_found_and_records_the_queries(state):
    add_books(state, [("First Flame", "1")])
    bib = [e("First Flame", "1"), e("King's Gambit", "2"), e("Three Crowns", "3"), e("The Last Ember", "4")]
    search = WordSearch([
        rel("201", "Kings Gambit", series=(SeriesRef(SAGA, "2"),)),  # the uploader dropped the apostrophe
        rel("301", "Three Crowns", series=(SeriesRef(SAGA, "3"),)),
    ])
    result = gaps.run(state, [FakeSource("audible", {SAGA: bib})], Acquisition(search, None, Policy(max_active=0)),
                      kind=SERIES_GAP, now=NOW, limit=10, retry_days=14)
    decided = {d.title: (d.decision, d.torrent_id, d.queries) for d in result.decisions}
    assert decided["King's Gambit"][:2] == ("pending", "201")
    assert decided["King's Gambit"][2] == ["King's Gambit Author", "King's Gambit", "kings gambit Author"]
    assert decided["Three Crowns"][2] == ["Three Crowns Author"]  # found at once: nothing else asked
    last = decided["The Last Ember"]
    assert last[0] == "not_found" and len(last[2]) == len(set(last[2])) <= MAX_QUERIES_PER_BOOK
    assert search.queries == [q for d in result.decisions for q in d.queries]  # nothing asked unrecorded
    rows = {r["title"]: r for r in state.missing_books(SERIES_GAP)}
    assert json.loads(rows["The Last Ember"]["queries"]) == last[2]
    # its series query found the series' other uploads: results, none of them this book
    assert rows["The Last Ember"]["reason_code"] == "no_match" and "none of them" in rows["The Last Ember"]["reason"]
    assert last[2][-1] == "Ember Author"
    assert result.counts()["not_found:no_match"] == 1 and result.counts()["searches"] == len(search.queries)
    listed = {b["title"]: b for b in missing.run(state).as_dict()["series"][0]["books"]}
    assert listed["The Last Ember"]["queries"] == last[2] and listed["King's Gambit"]["status"] == "queued"


def test_a_failed_search_leaves_the_book_wanted_and_three_in_a_row_stop_the_run(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    search = WordSearch(tracker(), fail={"Third Flame Author"})
    result = fill(state, search)
    rows = {r["title"]: r for r in state.missing_books(SERIES_GAP)}
    assert rows["Third Flame"]["status"] == "wanted" and rows["Third Flame"]["last_search"] is None
    assert rows["Fifth Flame"]["status"] == "queued"  # the run went on
    assert state.scalar("SELECT COUNT(*) FROM failed_attempts WHERE kind='search'") == 1
    error = result.error()
    assert isinstance(error, PartialFailure) and error.exit_code == 1 and "stay wanted" in str(error)


def test_searches_failing_one_after_another_stop_the_fetch_with_exit_3(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2")])
    down = WordSearch(tracker(), fail={f"{n} Flame Author" for n in ("Third", "Fourth", "Fifth")})
    result = fill(state, down)
    assert result.tracker_down and result.error().exit_code == 3
    assert down.queries == ["Third Flame Author", "Fourth Flame Author", "Fifth Flame Author"]  # then it stopped
    assert {r["status"] for r in state.missing_books(SERIES_GAP)} == {"wanted"}
    assert result.left_wanted == 3


def test_the_run_budget_leaves_the_rest_wanted_never_not_found(state, monkeypatch):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    monkeypatch.setattr(gaps, "MAX_SEARCHES_PER_RUN", 2)
    search = WordSearch([])
    result = fill(state, search)
    assert len(search.queries) == 2
    assert {r["status"] for r in state.missing_books(SERIES_GAP)} == {"wanted"}
    assert result.left_wanted == 4 and not result.decisions


def test_unwanted_books_are_searched_again_after_the_retry_days(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    search = WordSearch([rel("301", "Third Flame (Abridged)", tags="Abridged", series=(SeriesRef(SAGA, "3"),))])
    fill(state, search)
    row = next(r for r in state.missing_books(SERIES_GAP) if r["title"] == "Third Flame")
    assert (row["status"], row["reason_code"]) == ("unwanted", "abridged")
    asked = len(search.queries)
    assert fill(state, search, now=NOW + timedelta(days=3)).deferred == 4
    assert len(search.queries) == asked
    search.releases.append(rel("302", "Third Flame", series=(SeriesRef(SAGA, "3"),)))
    later = fill(state, search, now=NOW + timedelta(days=15))
    assert ("Third Flame", "pending", "302") in {(d.title, d.decision, d.torrent_id) for d in later.decisions}


def test_a_failing_bibliography_source_makes_the_series_unknown_and_is_recorded(state):
    from abook.errors import BadResponse

    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    fill(state, FakeSearch(tracker()), limit=0)  # an earlier run found the gaps
    before = {r["title"] for r in state.missing_books(SERIES_GAP)}
    broken = FakeSource("audible", fail=BadResponse("Audible sent malformed JSON on GET /1.0/catalog/products"))
    result = gaps.run(state, [broken], None, kind=SERIES_GAP, now=NOW + timedelta(days=8), limit=0, retry_days=14)
    [group] = result.groups
    assert group.known is None and group.failed and "malformed" in group.reason
    assert {g.title for g in group.missing} == before  # what earlier runs found is kept
    assert result.error().exit_code == 1
    series = state.q("SELECT status, reason, known_total FROM series WHERE id='se_ember'")[0]
    assert series["status"] == "unknown" and "malformed" in series["reason"] and series["known_total"] == 7
    assert state.scalar("SELECT COUNT(*) FROM failed_attempts WHERE kind='bibliography'") == 1
    assert state.scalar("SELECT fetched_at FROM bibliography_cache") == iso(NOW)  # the old answer, not "unknown"
    report = missing.gaps_report(state)
    assert [(u["kind"], u["name"]) for u in report["unknown"]] == [("series", SAGA)]
    assert missing.run(state).as_dict()["unknown"][0]["reason"] == series["reason"]


def test_no_source_listing_it_is_unknown_without_a_failure(state):
    add_books(state, [("First Flame", "1")])
    result = fill_with(state, FakeSource("audible", {}))
    [group] = result.groups
    assert group.known is None and not group.failed and "no source lists it" in group.reason
    assert result.error() is None
    assert state.scalar("SELECT COUNT(*) FROM failed_attempts") == 0


def test_a_challenged_source_falls_back_and_is_no_failure_when_another_answers(state):
    add_books(state, [("First Flame", "1")])
    waf = FakeSource("goodreads", fail=SourceUnavailable("goodreads", "bot challenge (AWS WAF)"))
    result = gaps.run(state, [waf, FakeSource("audible", {SAGA: saga()})], None, kind=SERIES_GAP, now=NOW, limit=0,
                      retry_days=14)
    assert result.groups[0].known == 7 and result.error() is None
    alone = gaps.run(state, [waf], None, kind=SERIES_GAP, now=NOW + timedelta(days=8), limit=0, retry_days=14)
    assert alone.groups[0].failed and "bot challenge" in alone.groups[0].reason and alone.error().exit_code == 1


def test_the_series_is_known_under_the_sources_name(state):
    add_books(state, [("First Flame", "1")])
    renamed = [BibEntry(x.title, x.authors, x.position, kind=x.kind, series=(SeriesRef("The Ember Saga", x.position),),
                        is_audiobook=True) for x in saga()]
    result = fill_with(state, FakeSource("audible", {SAGA: renamed}))
    assert result.groups[0].source_name == "The Ember Saga"
    assert state.q("SELECT source, source_name FROM series")[0] == {"source": "audible", "source_name": "The Ember Saga"}


def test_gaps_report_counts_the_outcomes_by_reason(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2"), ("Fourth Flame", "4")])
    search = WordSearch([rel("301", "Third Flame (Abridged)", tags="Abridged", series=(SeriesRef(SAGA, "3"),)),
                         rel("501", "Fifth Flame", series=(SeriesRef(SAGA, "5"),))])
    fill(state, search)
    report = missing.gaps_report(state)
    # the series query found the series' other uploads for 6 and 7: results, none of them the book
    assert report["reasons_series"] == {"abridged": 1, "no_match": 2}
    assert report["missing_series"] == {"unwanted": 1, "queued": 1, "not_found": 2}


def fill_with(state, source, **kw):
    return gaps.run(state, [source], None, kind=SERIES_GAP, now=NOW, limit=0, retry_days=14, **kw)


def test_a_part_of_a_split_upload_is_never_taken_for_the_whole_book():
    from abook.bibliography import choose_release, settle

    # with a subtitle the main titles agree and the titles compare as one work: still a part
    book = BookRef("The Salt Tide: A Kestrel Mystery", JANE, (SeriesRef(SAGA, "4"),))
    parts = [rel("1", "The Salt Tide: A Kestrel Mystery (Part 1 of 2)"),
             rel("2", "The Salt Tide: A Kestrel Mystery (Part 2 of 2)")]
    best, refused = choose_release(book, parts, Policy())
    assert best is None and all("split upload" in why for _, why in refused)
    assert settle(book, judged_for(book, *parts)).code == "split"
    whole = rel("3", "The Salt Tide: A Kestrel Mystery", files=("mp3",), seeders=1)
    assert choose_release(book, [*parts, whole], Policy())[0].torrent_id == "3"


def test_a_failing_source_leaves_an_author_unknown_with_the_reason(state):
    add_books(state, [("First Flame", "1"), ("Second Flame", "2")])
    broken = FakeSource("audible", fail=ServiceError("Audible answered 503 Service Unavailable", status=503))
    result = gaps.run(state, [broken], None, kind=AUTHOR_GAP, now=NOW, limit=0, retry_days=14)
    [jane] = result.groups
    assert jane.known is None and jane.failed and "503" in jane.reason and result.error().exit_code == 1
    row = state.q("SELECT status, reason, owned FROM authors WHERE id='au_jane'")[0]
    assert row["status"] == "unknown" and "503" in row["reason"]
    assert [u["name"] for u in missing.gaps_report(state)["unknown"]] == ["Jane Author"]


def test_a_collection_named_after_its_series_or_author_is_an_omnibus_another_is_a_book():
    from abook.bibliography import is_omnibus

    pack = BibEntry("The Discworld Collection", ("Terry Pratchett",), series=(SeriesRef("Discworld", None),))
    assert is_omnibus(pack)
    assert not is_omnibus(BibEntry("The Butterfly Collection", ("Jane Doe",), kind=KIND_BOOK))
