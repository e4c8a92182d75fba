"""Metadata sources: parsing of the recorded fixtures, and each source against its fake server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from abook.config import Settings
from abook.errors import BadResponse, ConfigError, ServiceError
from abook.models import SeriesRef
from abook.sources import (
    KIND_BOOK,
    KIND_NOVELLA,
    KIND_OMNIBUS,
    SourceUnavailable,
    build_sources,
)
from abook.sources.audible import AudibleSource, product_candidate
from abook.sources.base import clean_position, language_name, position_kind, strip_html, year_of
from abook.sources.goodreads import (
    WAF_REASON,
    GoodreadsSource,
    parse_list_rows,
    parse_series_page,
    split_title,
)
from abook.sources.googlebooks import GoogleBooksSource, volume_candidate
from abook.sources.hardcover import HardcoverSource
from tests.fakes.metadata import (
    FakeAudible,
    FakeBook,
    FakeGoodreads,
    FakeGoogleBooks,
    FakeHardcover,
    default_catalogue,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = "test-gbooks-key-abc123"
TOKEN = "test-token-abc"
FAST = {"retries": 2, "backoff": 0.001}


def _load(*parts: str) -> dict:
    return json.loads((FIXTURES.joinpath(*parts)).read_text(encoding="utf-8"))


def _catalogue_with_namesake():
    # an author whose name *contains* "Jane Author": loose searches find her, lists must not
    catalogue = default_catalogue()
    catalogue.add(FakeBook("Not Hers", ("Mary Jane Author Smith",), asin="B0NOTHERS1",
                           release_date="2020-01-01", duration_minutes=100))
    return catalogue


# ------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize(
    ("raw", "want", "kind"),
    [
        ("Book 1", "1", KIND_BOOK),
        ("2, Dramatized Adaptation", "2", KIND_BOOK),
        ("Books 1-3", "1-3", KIND_OMNIBUS),
        ("1 – 3", "1-3", KIND_OMNIBUS),
        ("0.5", "0.5", KIND_NOVELLA),
        (".5", "0.5", KIND_NOVELLA),
        (2.5, "2.5", KIND_NOVELLA),
        (1.0, "1", KIND_BOOK),
        ("#01", "1", KIND_BOOK),
        ("", None, "companion"),
        (None, None, "companion"),
        ("Book Two", "2", KIND_BOOK),  # a position written in words is still a position
        ("Book II", "2", KIND_BOOK),
        ("Three", "3", KIND_BOOK),
        ("Book Four, Dramatized Adaptation", "4", KIND_BOOK),
        ("Books One to Three", "1-3", KIND_OMNIBUS),
        ("Prequel", None, "companion"),
    ],
)
def test_clean_position_and_kind(raw, want, kind):
    assert clean_position(raw) == want
    assert position_kind(want) == kind


def test_small_helpers():
    assert year_of("2019-10-03T00:00:00+02:00") == "2019"
    assert year_of("2200-01-01") == ""  # Audible's placeholder for unscheduled titles
    assert language_name("en") == "English"
    assert language_name("english") == "English"
    assert language_name("fr-CA") == "French"
    assert strip_html("<b>A</b><br>B &amp; C<p>D</p>") == "A\nB & C\nD"
    assert split_title("X (A, #1; B Saga, #3.5)") == (
        "X", (SeriesRef("A", "1"), SeriesRef("B Saga", "3.5"))
    )
    assert split_title("Plain Title") == ("Plain Title", ())


# ------------------------------------------------------------------------------ fixtures
def test_google_search_fixture_maps_volume_info():
    items = _load("google-books", "google-books-volumes-search.json")["items"]
    first, second = (volume_candidate(i) for i in items)
    assert first.title == "Children of Time"
    assert first.authors == ("Adrian Tchaikovsky",)
    assert first.year == "2018"
    assert first.isbn == "9780316452502"  # ISBN-13 preferred over the ISBN-10 listed first
    assert first.language == "English"
    assert first.genres == ("Fiction",)
    assert first.publisher == "Orbit"
    assert first.cover_url.startswith("https://")
    assert first.source == "googlebooks" and first.source_id == "49T5twEACAAJ"
    assert second.year == "2019"  # "2019-10-03T00:00:00+02:00"
    assert second.language == "French"
    assert "&edge=curl" not in second.cover_url


def test_google_volume_fixture_strips_html_and_splits_bisac():
    candidate = volume_candidate(_load("google-books", "google-books-volume-get.json"))
    assert "<" not in candidate.description and "Who will inherit" in candidate.description
    assert candidate.genres[0] == "Fiction"
    assert {"Science Fiction", "Space Opera", "Alien Contact"} <= set(candidate.genres)
    assert len(candidate.genres) == len(set(candidate.genres))


def test_audible_fixture_product():
    candidate = product_candidate(_load("audible", "audible-catalog-product-B017V4IM1G.json")["product"])
    assert candidate.asin == "B017V4IM1G" and candidate.source_id == "B017V4IM1G"
    assert candidate.narrators == ("Jim Dale",)
    assert candidate.authors == ("J.K. Rowling",)
    assert candidate.duration_minutes == 498
    assert candidate.abridged is False
    assert candidate.series[0] == SeriesRef("Harry Potter", "1")  # publication_name first
    assert SeriesRef("Wizarding World Collection", "1") in candidate.series
    assert candidate.language == "English"
    assert candidate.year == "2015"
    assert candidate.publisher == "Pottermore Publishing"
    assert candidate.cover_url == "https://m.media-amazon.com/images/I/91eopoUCjLL.jpg"
    assert candidate.genres == ("Children's Audiobooks", "Science Fiction & Fantasy")
    assert "<p>" not in candidate.description and candidate.description
    assert candidate.kind == "audiobook"


def test_goodreads_schematic_series_page_props():
    text = (FIXTURES / "goodreads" / "goodreads-series-page.SCHEMATIC.html").read_text()
    entries, total = parse_series_page(text)
    assert total == 6
    assert [e.position for e in entries] == ["0.5", "1", "2", "1-2"]
    assert [e.kind for e in entries] == [KIND_NOVELLA, KIND_BOOK, KIND_BOOK, KIND_OMNIBUS]
    assert [e.title for e in entries][:2] == ["Prequel Novella", "First Book"]
    assert entries[2].upcoming is True and entries[1].upcoming is False
    assert entries[0].authors == ("Jane Author",)
    assert entries[0].series == (SeriesRef("Example Saga", "0.5"),)
    assert entries[1].source_id == "1000001" and entries[1].year == "2010"


def test_goodreads_schematic_series_page_legacy_list():
    text = (FIXTURES / "goodreads" / "goodreads-series-page.SCHEMATIC.html").read_text()
    start = text.index('<div data-react-class="ReactComponents.SeriesList"')
    end = text.index("></div>", start) + len("></div>")
    entries, _ = parse_series_page(text[:start] + text[end:])
    assert len(entries) == 1
    assert (entries[0].title, entries[0].position, entries[0].source_id) == ("First Book", "1", "1000001")
    assert entries[0].authors == ("Jane Author",)
    assert entries[0].series == (SeriesRef("Example Saga", "1"),)


def test_goodreads_schematic_list_rows():
    rows = parse_list_rows((FIXTURES / "goodreads" / "goodreads-list-rows.SCHEMATIC.html").read_text())
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == "1000001"
    assert row["title"] == "First Book"
    assert row["series"] == (SeriesRef("Example Saga", "1"),)
    assert row["authors"] == ("Jane Author",)
    assert row["author_links"] == [("Jane Author", "2000001")]
    assert row["year"] == "2010"


# ------------------------------------------------------------------------------ Google Books
@pytest.fixture
def google():
    with FakeGoogleBooks(required_key=KEY) as fake:
        yield fake


def test_google_find_by_title_and_author(google):
    source = GoogleBooksSource(google.url, KEY, **FAST)
    found = source.find("Children of Time", ["Adrian Tchaikovsky"])
    assert [c.title for c in found] == ["Children of Time"]
    (request,) = google.requests
    assert request.path == "/books/v1/volumes"
    assert request.query["q"] == "intitle:Children of Time inauthor:Adrian Tchaikovsky"
    assert request.query["printType"] == "books"
    assert request.query["maxResults"] == "10"
    assert request.query["key"] == KEY


def test_google_find_by_isbn_first(google):
    source = GoogleBooksSource(google.url, KEY, **FAST)
    found = source.find("First Book", ["Jane Author"], isbn="978-0-00-000001-1")
    assert [(c.title, c.authors, c.isbn) for c in found] == [
        ("First Book", ("Jane Author",), "9780000000011")
    ]
    assert [r.query["q"] for r in google.requests] == ["isbn:9780000000011"]


def test_google_no_key_sends_no_key_param():
    with FakeGoogleBooks() as fake:
        source = GoogleBooksSource(fake.url, "", **FAST)
        assert source.find("Nothing Like This", ["Nobody"]) == []  # no "items" in the answer
        assert "key" not in fake.requests[0].query


def test_google_nothing_to_ask_makes_no_request(google):
    source = GoogleBooksSource(google.url, KEY, **FAST)
    assert source.find("", []) == []
    assert google.requests == []


@pytest.mark.parametrize("mode", ["quota", "daily"])
def test_google_quota_makes_source_unavailable_without_retrying(google, mode):
    google.mode = mode
    source = GoogleBooksSource(google.url, KEY, **FAST)
    with pytest.raises(SourceUnavailable) as info:
        source.find("First Book", ["Jane Author"])
    assert info.value.source == "googlebooks"
    assert "quota" in str(info.value)
    assert KEY not in str(info.value)
    assert len(google.requests) == 1


def test_google_bad_key_names_the_setting_but_not_the_key():
    with FakeGoogleBooks(required_key="the-right-key-000") as fake:
        source = GoogleBooksSource(fake.url, KEY, **FAST)
        with pytest.raises(SourceUnavailable) as info:
            source.find("First Book", ["Jane Author"])
    assert "GOOGLE_BOOKS_API_KEY" in str(info.value)
    assert KEY not in str(info.value)


def test_google_server_error_is_retried_then_a_service_error_without_key(google, monkeypatch, caplog):
    monkeypatch.setenv("ABOOK_DEBUG_HTTP", "1")
    google.mode = "error500"
    source = GoogleBooksSource(google.url, KEY, **FAST)
    with caplog.at_level(logging.DEBUG, logger="abook.http"), pytest.raises(ServiceError) as info:
        source.find("First Book", ["Jane Author"])
    assert not isinstance(info.value, SourceUnavailable)
    assert len(google.requests) == 2
    assert KEY not in str(info.value)
    assert caplog.text and KEY not in caplog.text


def test_google_recovers_after_one_transient_error(google):
    google.fail_times = 1
    source = GoogleBooksSource(google.url, KEY, **FAST)
    assert [c.title for c in source.find("Second Book", ["Jane Author"])] == ["Second Book"]


def test_google_malformed_json_is_bad_response(google):
    google.mode = "malformed"
    with pytest.raises(BadResponse):
        GoogleBooksSource(google.url, KEY, **FAST).find("First Book", ["Jane Author"])


def test_google_volume_details(google):
    source = GoogleBooksSource(google.url, KEY, **FAST)
    volume = source.volume("49T5twEACAAJ")
    assert volume is not None and "Space Opera" in volume.genres
    assert source.volume("doesnotexist") is None
    assert source.series_books("Example Saga") is None
    assert source.author_books("Jane Author") is None


# ------------------------------------------------------------------------------ Audible
@pytest.fixture
def audible():
    with FakeAudible(_catalogue_with_namesake()) as fake:
        yield fake


def test_audible_find_by_asin_is_one_request(audible):
    source = AudibleSource(audible.url, **FAST)
    (candidate,) = source.find("anything", ["anyone"], asin="B017V4IM1G")
    assert candidate.narrators == ("Jim Dale",)
    assert [r.path for r in audible.requests] == ["/1.0/catalog/products/B017V4IM1G"]
    assert "series" in audible.requests[0].query["response_groups"]


def test_audible_unknown_asin_falls_back_to_search(audible):
    source = AudibleSource(audible.url, **FAST)
    found = source.find("Second Book", ["Jane Author"], asin="B0NOSUCH00")
    assert [c.asin for c in found] == ["B0FAKE0002"]
    assert audible.requests[-1].query["title"] == "Second Book"
    assert audible.requests[-1].query["author"] == "Jane Author"


def test_audible_search_returns_every_edition(audible):
    found = AudibleSource(audible.url, **FAST).find("First Book", ["Jane Author"])
    by_asin = {c.asin: c for c in found}
    assert set(by_asin) == {"B0FAKE0001", "B0FAKE001A"}
    assert by_asin["B0FAKE001A"].abridged is True
    assert by_asin["B0FAKE0001"].abridged is False
    assert by_asin["B0FAKE0001"].duration_minutes == 610
    assert by_asin["B0FAKE0001"].series == (SeriesRef("Example Saga", "1"),)
    assert by_asin["B0FAKE0001"].description == "It begins.\n\nSecond para."


def test_audible_series_books_follow_relationships(audible):
    entries = AudibleSource(audible.url, **FAST).series_books("Example Saga", "Jane Author")
    assert [(e.position, e.asin) for e in entries] == [
        ("0.5", "B0FAKE0005"),
        ("1", "B0FAKE0001"),
        ("1", "B0FAKE001A"),
        ("1-3", "B0FAKE0103"),
        ("2", "B0FAKE0002"),
        ("2.5", "B0FAKE0025"),
        ("3", "B0FAKE0003"),
        ("4", "B0FAKE0004"),
    ]
    kinds = {e.asin: e.kind for e in entries}
    assert kinds["B0FAKE0005"] == KIND_NOVELLA and kinds["B0FAKE0103"] == KIND_OMNIBUS
    assert kinds["B0FAKE0002"] == KIND_BOOK
    assert all(e.is_audiobook for e in entries)
    assert next(e for e in entries if e.asin == "B0FAKE0004").upcoming is True
    assert next(e for e in entries if e.asin == "B0FAKE001A").abridged is True
    assert "B0PARENT01" not in {e.asin for e in entries}
    batch = [r for r in audible.requests if "asins" in r.query]
    assert len(batch) == 1  # details come in one batched call


@pytest.mark.parametrize("asked", ["Example", "The Example Saga Series", "Example Saga"])
def test_audible_finds_a_series_the_library_names_differently(audible, asked):
    entries = AudibleSource(audible.url, **FAST).series_books(asked, "Jane Author")
    assert len(entries) == 8 and {e.series[0].name for e in entries} == {"Example Saga"}


def test_audible_refuses_a_same_named_series_of_another_author(audible):
    assert AudibleSource(audible.url, **FAST).series_books("Example Saga", "Frank Herbert") == []


def test_audible_author_catalogue_keeps_the_language_and_any_spelling_of_the_name():
    catalogue = default_catalogue()
    catalogue.add(FakeBook("Das Erste Buch", ("Jane Author",), asin="B0FAKEDE01", language="German",
                           duration_minutes=600))
    with FakeAudible(catalogue) as fake:
        entries = AudibleSource(fake.url, **FAST).author_books("Author, Jane")
    languages = {e.title: e.language for e in entries}
    assert languages["Das Erste Buch"] == "German" and languages["Lonely Standalone"] == "English"


def test_audible_unknown_series_is_empty_without_product_calls(audible):
    assert AudibleSource(audible.url, **FAST).series_books("No Such Saga", "Jane Author") == []
    assert all(r.path == "/1.0/catalog/products" for r in audible.requests)


def test_audible_author_books_keep_the_authors_own(audible):
    entries = AudibleSource(audible.url, **FAST).author_books("Jane Author")
    titles = {e.title for e in entries}
    assert {"Lonely Standalone", "Shared Tale", "Third Book"} <= titles
    assert "Not Hers" not in titles
    assert all("Other Person" not in e.authors for e in entries)
    standalone = next(e for e in entries if e.title == "Lonely Standalone")
    assert standalone.kind == KIND_BOOK and standalone.position is None
    assert audible.requests[0].query["products_sort_by"] == "-ReleaseDate"


def test_audible_throttle_and_malformed(audible):
    source = AudibleSource(audible.url, **FAST)
    audible.mode = "throttle"
    with pytest.raises(SourceUnavailable):
        source.find("First Book", ["Jane Author"])
    assert len(audible.requests) == 2  # HttpService retried once first
    audible.mode = "malformed"
    with pytest.raises(BadResponse):
        source.find("First Book", ["Jane Author"])


# ------------------------------------------------------------------------------ Hardcover
@pytest.fixture
def hardcover():
    with FakeHardcover(token=TOKEN) as fake:
        yield fake


@pytest.mark.parametrize("token", [TOKEN, f"Bearer {TOKEN}"])
def test_hardcover_find_by_title(hardcover, token):
    source = HardcoverSource(hardcover.url, token, **FAST)
    found = source.find("First Book", ["Jane Author"])
    assert [c.source_id for c in found] == ["1002"]
    candidate = found[0]
    assert candidate.narrators == ("Nora Narrator",)
    assert candidate.asin == "B0FAKE0001"
    assert candidate.isbn == "9780000000011"
    assert candidate.duration_minutes == 610
    assert candidate.genres == ("Fantasy", "Epic")
    assert candidate.series == (SeriesRef("Example Saga", "1"),)
    assert candidate.language == "English"
    assert candidate.kind == "audiobook"
    assert hardcover.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert hardcover.requests[0].path == "/v1/graphql"


def test_hardcover_find_by_asin_uses_editions(hardcover):
    found = HardcoverSource(hardcover.url, TOKEN, **FAST).find("x", [], asin="B0FAKE0003")
    assert [c.title for c in found] == ["Third Book"]
    assert len(hardcover.requests) == 1
    assert "editions" in hardcover.requests[0].json()["query"]


def test_hardcover_series_books(hardcover):
    entries = HardcoverSource(hardcover.url, TOKEN, **FAST).series_books("Example Saga", "Jane Author")
    assert [(e.position, e.title) for e in entries] == [
        ("0.5", "Prequel Novella"),
        ("1", "First Book"),  # the lesser-read duplicate at 1 is dropped
        ("1-3", "Example Saga: Books 1-3"),
        ("2", "Second Book"),
        ("2.5", "Between Tales"),
        ("3", "Third Book"),
        ("4", "Fourth Book"),
    ]
    kinds = [e.kind for e in entries]
    assert kinds == [KIND_NOVELLA, KIND_BOOK, KIND_OMNIBUS, KIND_BOOK, KIND_NOVELLA, KIND_BOOK, KIND_BOOK]
    assert entries[-1].upcoming is True
    assert entries[1].asin == "B0FAKE0001" and entries[1].is_audiobook is True


def test_hardcover_series_names_differ_between_sources_and_the_author_decides(hardcover):
    # Was "needs an exact name": the library's "Example" is Hardcover's "Example Saga" (issue
    # #13); what must still never happen is taking the near miss credited to someone else.
    source = HardcoverSource(hardcover.url, TOKEN, **FAST)
    entries = source.series_books("Example", "Jane Author")
    assert {e.series[0].name for e in entries} == {"Example Saga"} and len(entries) == 7
    hardcover.requests.clear()
    assert source.series_books("Unrelated Tales", "Jane Author") == []  # only a near miss by "Somebody"
    assert len(hardcover.requests) == 1  # no series was read
    assert source.series_books("Example Saga", "Somebody Else") == []  # another author's is not ours


def test_hardcover_keeps_a_second_work_at_one_position_but_not_a_duplicate_record():
    catalogue = default_catalogue()
    catalogue.add(FakeBook("Third Book: The Other Tale", ("Jane Author",), (("Example Saga", "3"),),
                           asin="B0FAKE003B", duration_minutes=300, readers=10))
    with FakeHardcover(catalogue, token=TOKEN) as fake:
        entries = HardcoverSource(fake.url, TOKEN, **FAST).series_books("Example Saga", "Jane Author")
    at = {}
    for entry in entries:
        at.setdefault(entry.position, []).append(entry.title)
    assert at["3"] == ["Third Book", "Third Book: The Other Tale"]
    assert at["1"] == ["First Book"]  # its lesser-read "(Special Edition)" record is the same book
    assert entries[1].language == "English"


def test_hardcover_author_books(hardcover):
    entries = HardcoverSource(hardcover.url, TOKEN, **FAST).author_books("Jane Author")
    titles = [e.title for e in entries]
    assert "Translated Thing" not in titles  # a translator credit is not authorship
    assert {"Print Only Essays", "Shared Tale", "Fourth Book"} <= set(titles)
    omnibus = next(e for e in entries if e.kind == KIND_OMNIBUS)
    assert omnibus.position == "1-3"
    essays = next(e for e in entries if e.title == "Print Only Essays")
    assert essays.is_audiobook is None and essays.kind == KIND_BOOK


@pytest.mark.parametrize("mode", ["unauthorized", "throttle"])
def test_hardcover_refusals_make_source_unavailable(hardcover, mode):
    hardcover.mode = mode
    with pytest.raises(SourceUnavailable) as info:
        HardcoverSource(hardcover.url, TOKEN, **FAST).find("First Book", ["Jane Author"])
    assert TOKEN not in str(info.value)
    if mode == "unauthorized":
        assert "HARDCOVER_TOKEN" in str(info.value)


def test_hardcover_wrong_token_is_unavailable(hardcover):
    with pytest.raises(SourceUnavailable):
        HardcoverSource(hardcover.url, "test-token-wrong", **FAST).find("First Book", [])


def test_hardcover_graphql_errors_and_malformed(hardcover):
    source = HardcoverSource(hardcover.url, TOKEN, **FAST)
    hardcover.mode = "graphql-error"
    with pytest.raises(BadResponse):
        source.find("First Book", ["Jane Author"])
    hardcover.mode = "malformed"
    with pytest.raises(BadResponse):
        source.find("First Book", ["Jane Author"])


# ------------------------------------------------------------------------------ Goodreads
@pytest.fixture
def goodreads():
    with FakeGoodreads(_catalogue_with_namesake(), series_per_page=3) as fake:
        yield fake


@pytest.mark.parametrize("mode", ["waf", "waf-page"])
def test_goodreads_waf_challenge_makes_source_unavailable_at_once(goodreads, mode):
    goodreads.mode = mode
    with pytest.raises(SourceUnavailable) as info:
        GoodreadsSource(goodreads.url, **FAST).find("First Book", ["Jane Author"])
    assert str(info.value) == WAF_REASON
    assert info.value.source == "goodreads"
    assert len(goodreads.requests) == 1


def test_goodreads_throttle_is_unavailable(goodreads):
    goodreads.mode = "throttle"
    with pytest.raises(SourceUnavailable):
        GoodreadsSource(goodreads.url, **FAST).find("First Book", ["Jane Author"])


def test_goodreads_find_reads_book_pages(goodreads):
    found = GoodreadsSource(goodreads.url, **FAST).find("First Book", ["Jane Author"])
    (candidate,) = found
    assert candidate.title == "First Book"
    assert candidate.authors == ("Jane Author",)
    assert candidate.narrators == ("Nora Narrator",)
    assert candidate.series == (SeriesRef("Example Saga", "1"),)
    assert candidate.isbn == "9780000000011" and candidate.asin == "B0FAKE0001"
    assert candidate.year == "2010"
    assert candidate.genres == ("Fantasy", "Epic")
    assert candidate.description == "It begins.\n\nSecond para."
    assert goodreads.paths() == ["/search", "/book/show/1002"]


def test_goodreads_detail_limit_zero_returns_rows_only(goodreads):
    found = GoodreadsSource(goodreads.url, detail_limit=0, **FAST).find("First Book", [])
    assert {(c.title, c.authors) for c in found} == {
        ("First Book", ("Jane Author",)), ("First Book", ("Other Person",))
    }
    assert goodreads.paths() == ["/search"]


def test_goodreads_isbn_search_redirects_to_the_book(goodreads):
    (candidate,) = GoodreadsSource(goodreads.url, **FAST).find("", [], isbn="9780000000035")
    assert candidate.title == "Third Book" and candidate.source_id == "1006"


def test_goodreads_series_books_across_pages(goodreads):
    entries = GoodreadsSource(goodreads.url, **FAST).series_books("Example Saga", "Jane Author")
    assert [(e.position, e.kind) for e in entries] == [
        ("0.5", KIND_NOVELLA),
        ("1", KIND_BOOK),
        ("1-3", KIND_OMNIBUS),
        ("2", KIND_BOOK),
        ("2.5", KIND_NOVELLA),
        ("3", KIND_BOOK),
        ("4", KIND_BOOK),
    ]
    assert entries[-1].upcoming is True
    series_pages = [r for r in goodreads.requests if r.path.startswith("/series/")]
    assert len(series_pages) == 3  # 7 works, 3 per page


def test_goodreads_finds_a_series_the_library_names_differently(goodreads):
    entries = GoodreadsSource(goodreads.url, **FAST).series_books("The Example Saga Series", "Jane Author")
    assert [e.position for e in entries] == ["0.5", "1", "1-3", "2", "2.5", "3", "4"]


def test_goodreads_author_books(goodreads):
    entries = GoodreadsSource(goodreads.url, **FAST).author_books("Jane Author")
    titles = {e.title for e in entries}
    assert {"Lonely Standalone", "Shared Tale", "Prequel Novella"} <= titles
    assert "Not Hers" not in titles
    novella = next(e for e in entries if e.title == "Prequel Novella")
    assert novella.position == "0.5" and novella.kind == KIND_NOVELLA


def test_goodreads_malformed_page_yields_nothing(goodreads):
    goodreads.mode = "malformed"
    assert GoodreadsSource(goodreads.url, **FAST).find("First Book", ["Jane Author"]) == []


# ------------------------------------------------------------------------------ build_sources
def _settings(tmp_path, **env):
    return Settings.load(environ={k: str(v) for k, v in env.items()}, cwd=tmp_path)


def test_build_sources_order_and_enablement(tmp_path):
    settings = _settings(tmp_path, HARDCOVER_TOKEN=TOKEN, GOOGLE_BOOKS_API_KEY=KEY)
    sources = build_sources(settings.metadata_sources, settings)
    assert [s.name for s in sources] == ["googlebooks", "goodreads", "audible", "hardcover"]
    assert [s.name for s in build_sources(settings.bibliography_sources, settings)] == [
        "audible", "hardcover", "goodreads"
    ]
    # remote services are paced
    assert all(s.http.pacer is not None for s in sources if s.name != "googlebooks")
    for source in sources:
        source.close()


def test_build_sources_skips_hardcover_without_token_and_disabled_goodreads(tmp_path):
    settings = _settings(tmp_path, GOODREADS_ENABLED="false")
    assert [s.name for s in build_sources(settings.metadata_sources, settings)] == [
        "googlebooks", "audible"
    ]


def test_build_sources_aliases_duplicates_and_loopback(tmp_path):
    with FakeAudible() as fake:
        settings = _settings(tmp_path, AUDIBLE_URL=fake.url)
        sources = build_sources(["Audible", " google ", "audible"], settings)
        assert [s.name for s in sources] == ["audible", "googlebooks"]
        assert sources[0].http.pacer is None  # nothing to pace on this machine
        assert fake.requests == []  # building makes no request


def test_build_sources_unknown_name_is_config_error(tmp_path):
    settings = _settings(tmp_path)
    with pytest.raises(ConfigError) as info:
        build_sources(["audible", "amazon"], settings)
    assert "METADATA_SOURCES" in str(info.value) and "amazon" in str(info.value)


def test_build_sources_malformed_url_is_config_error(tmp_path):
    settings = _settings(tmp_path, AUDIBLE_URL="not a url")
    with pytest.raises(ConfigError) as info:
        build_sources(["audible"], settings)
    assert "AUDIBLE_URL" in str(info.value)


def test_build_sources_with_settings_reach_the_fakes(tmp_path):
    with FakeGoogleBooks(required_key=KEY) as g, FakeHardcover(token=TOKEN) as h:
        settings = _settings(
            tmp_path, GOOGLE_BOOKS_URL=g.url, GOOGLE_BOOKS_API_KEY=KEY, HARDCOVER_URL=h.url,
            HARDCOVER_TOKEN=TOKEN, HTTP_RETRIES=1,
        )
        google, hard = build_sources(["googlebooks", "hardcover"], settings)
        assert google.find("Third Book", ["Jane Author"])[0].isbn == "9780000000035"
        assert hard.find("Third Book", ["Jane Author"])[0].asin == "B0FAKE0003"
