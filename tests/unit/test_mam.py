"""MAM client: row/user parsers, paging, cookie rotation, auth errors, downloads, pacing.

Parsers are tested on the (synthetic but faithful) fixtures; behaviour is tested against the fake
tracker on real loopback sockets, which rotates the cookie strictly and answers 429 when paced
too closely, so a client that cuts corners fails here.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from abook.clients.mam import (
    AUTH_MESSAGE,
    MAM,
    category_ids_for,
    clean_mam_id,
    genre_categories,
    is_abridged,
    parse_flag,
    parse_json_field,
    parse_ratio,
    parse_row,
    parse_size,
    parse_user_stats,
)
from abook.errors import AuthError, BadResponse, ConfigError, ServiceError
from abook.models import SeriesRef
from tests.fakes.mam import FakeMAM, make_catalog, mam_row

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mam"


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _client(fake: FakeMAM, **kw) -> MAM:
    opts = {"rate_min": 0.0, "rate_max": 0.0, "backoff": 0.01, "retries": 3, "timeout": 10}
    opts.update(kw)
    return MAM(fake.url, fake.cookie, **opts)


@pytest.fixture
def fake():
    with FakeMAM(make_catalog(57), max_per_page=25) as server:
        yield server


# ------------------------------------------------------------------ parsers
def test_parse_row_fixture_fields():
    rows = _fixture("search-response.SYNTHETIC.json")["data"]
    first, second, third = (parse_row(r) for r in rows)

    assert first.source == "mam" and first.torrent_id == "1100001"
    assert first.authors == ("Mara Ellison",)
    assert first.narrators == ("Tom Avery", "Ruth Okafor")
    assert first.series == (SeriesRef("Lanterns of Ys", "2"),)
    assert first.category == "Audiobooks - Science Fiction"
    assert first.main_category == "audiobook"
    assert first.language == "English"
    assert first.filetypes == ("m4b",)
    assert first.size == round(612.4 * 1024**2)
    assert (first.seeders, first.leechers, first.snatches) == (143, 2, 1875)
    assert first.added == "2026-02-14T03:21:09Z"
    assert first.vip and not first.freeleech and not first.my_snatched  # fl_vip needs a VIP user
    assert parse_row(rows[0], vip_user=True).freeleech

    assert second.title == "A Murder at Hollin's Mill"  # &#039; unescaped
    assert second.series == ()  # empty series_info
    assert second.freeleech and second.my_snatched

    assert third.size == round(1.1 * 1024**3)
    assert third.freeleech and third.personal_freeleech
    assert is_abridged(third)  # browseflags 36 has bit 5 set
    assert not is_abridged(first)


def test_parse_row_defensive_shapes():
    row = {
        "id": "42",
        "title": "Tom &amp;amp; Jerry&#039;s Guide",
        "author_info": '{"1": "Ann O&#039;Neil", "2": "Bo "Bear" Smith"}',  # malformed JSON
        "narrator_info": None,
        "series_info": json.dumps({"4364": ["The Hitchhiker&#039;s Guide", "1 - 5", 3.0]}),
        "main_cat": "14",
        "catname": "Ebooks - Fantasy",
        "size": 123456,
        "free": "0",
        "personal_freeleech": "1",
        "vip": "0",
        "my_snatched": "1",
        "times_completed": "1,875",
        "filetype": "MP3 m4b mp3",
        "language": 36,
        "lang_code": "FRA",
        "added": "",
    }
    rel = parse_row(row)
    assert rel.torrent_id == "42"
    assert rel.title == "Tom & Jerry's Guide"
    assert rel.authors[0] == "Ann O'Neil" and len(rel.authors) == 2
    assert rel.narrators == ()
    assert rel.series == (SeriesRef("The Hitchhiker's Guide", "1 - 5"),)
    assert rel.main_category == "ebook"
    assert rel.size == 123456
    assert rel.freeleech and rel.personal_freeleech and not rel.vip and rel.my_snatched
    assert rel.snatches == 1875
    assert rel.filetypes == ("mp3", "m4b")
    assert rel.language == "French"
    assert rel.added == ""


def test_parse_json_field_variants():
    assert parse_json_field("") == {}
    assert parse_json_field(None) == {}
    assert parse_json_field("null") == {}
    assert parse_json_field("[]") == {}
    assert parse_json_field('{"1": "A"}') == {"1": "A"}
    assert parse_json_field(json.dumps('{"1": "A"}')) == {"1": "A"}  # double-encoded
    assert parse_json_field('{"7": ["Saga", "2"') == {}  # truncated and no pair found...
    assert parse_json_field('{"7": ["Saga", "2"', series=True) == {"7": ["Saga", "2"]}  # ...but series is


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("612.4 MiB", round(612.4 * 1024**2)),
        ("1.2 GiB", round(1.2 * 1024**3)),
        ("1.2 GB", round(1.2 * 1024**3)),
        ("1,024 KiB", 1024 * 1024),
        ("512 B", 512),
        ("3 bytes", 3),
        ("2 TiB", 2 * 1024**4),
        (734003200, 734003200),
        (1.5e3, 1500),
        ("734003200", 734003200),
        ("", 0),
        (None, 0),
        ("lots", 0),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_flags_and_ratio():
    assert [parse_flag(v) for v in (1, "1", True, "yes", "2")] == [True] * 5
    assert [parse_flag(v) for v in (0, "0", None, "", False, "no")] == [False] * 6
    assert parse_ratio("Inf") == math.inf
    assert parse_ratio("∞") == math.inf
    assert parse_ratio("1,234.5") == 1234.5
    assert parse_ratio(4.21) == 4.21


def test_parse_user_stats_fixture():
    stats = parse_user_stats(_fixture("user-stats.SYNTHETIC.json"))
    assert (stats.username, stats.uid, stats.user_class) == ("example_mouse", 123456, "VIP")
    assert stats.ratio == 4.21
    assert stats.uploaded == 1322712345678 and stats.downloaded == 314188765432
    assert stats.seedbonus == 48210 and stats.wedges == 3
    assert stats.vip_until == datetime(2026, 6, 10, 6, 44, 38, tzinfo=UTC)
    assert (stats.unsat_count, stats.unsat_limit, stats.unsat_free) == (40, 150, 110)
    assert stats.seeding == 512 + 0 + 38 + 2
    assert stats.inactive == 95 + 1 + 0 + 0
    assert stats.inactive_unsat == 1
    assert stats.leeching == 1
    assert stats.is_vip


def test_parse_user_stats_old_and_odd_shapes():
    stats = parse_user_stats({
        "username": "m", "uid": "7", "class": "Power User", "ratio": "∞",
        "uploaded": "5.125 TiB", "downloaded": "0 B", "seedbonus": "99,999.5", "vip_until": None,
    })
    assert stats.user_class == "Power User" and not stats.is_vip
    assert stats.ratio == math.inf
    assert stats.uploaded == round(5.125 * 1024**4) and stats.downloaded == 0
    assert stats.seedbonus == 99999.5
    assert stats.vip_until is None
    assert stats.unsat_count is None and stats.unsat_free is None


def test_user_stats_without_username_is_an_auth_error():
    with pytest.raises(AuthError, match="MAM session expired"):
        parse_user_stats({"error": "Not logged in"})


def test_genre_categories_and_lookup():
    assert genre_categories()["Science Fiction"] == 47
    assert category_ids_for("Science Fiction") == [47]
    assert category_ids_for("  science   FICTION ") == [47]
    assert category_ids_for("Sci-Fi") == [47]
    assert category_ids_for("fantasy") == [41]
    assert category_ids_for("Mystery") == [87]
    assert category_ids_for("thriller") == [40]
    assert category_ids_for("crime/thriller") == [40]
    assert category_ids_for("Young Adult") == category_ids_for("YA") == [111]
    assert category_ids_for("Fantasy+Urban Fantasy") == [41, 108]
    assert category_ids_for("47") == [47]


def test_unknown_genre_names_setting_and_known_genres():
    with pytest.raises(ConfigError) as err:
        category_ids_for("Cyberpunk Noir")
    message = str(err.value)
    assert "TOP10_GENRES" in message and "Cyberpunk Noir" in message
    assert "Science Fiction" in message and "Fantasy" in message


def test_clean_mam_id():
    assert clean_mam_id(" mam_id=abc123 ") == "abc123"
    assert clean_mam_id('"abc123"') == "abc123"
    for bad in ("", "abc; path=/", "abc\ndef"):
        with pytest.raises(ConfigError, match="MAM_ID"):
            clean_mam_id(bad)


# ------------------------------------------------------------ search paging
def test_search_pages_through_everything_sorted_by_snatches(fake: FakeMAM):
    with _client(fake) as mam:
        found = mam.search("", per_page=100)
    assert len(found) == 57
    assert len({r.torrent_id for r in found}) == 57
    snatches = [r.snatches for r in found]
    assert snatches == sorted(snatches, reverse=True)
    searches = fake.served("/tor/js/loadSearchJSONbasic.php")
    assert [int(r.body["tor"]["startNumber"]) for r in searches] == [0, 25, 50]
    body = searches[0].body
    assert searches[0].method == "POST"
    assert body["perpage"] == 100 and body["tor"]["perpage"] == 100
    assert body["tor"]["srchIn"] == ["title", "author", "narrator", "series"]
    assert body["tor"]["main_cat"] == [13] and body["tor"]["browse_lang"] == [1]
    assert body["tor"]["sortType"] == "snatchedDesc"
    assert "dlLink" not in body


def test_one_torrent_by_id_is_one_exact_lookup(fake: FakeMAM):
    wanted = str(fake.catalog[7]["id"])
    with _client(fake) as mam:
        got = mam.torrent(wanted)
        gone = mam.torrent("999999999")
    assert got is not None and got.torrent_id == wanted
    assert gone is None
    searches = fake.served("/tor/js/loadSearchJSONbasic.php")
    assert len(searches) == 2
    assert searches[0].body["tor"]["id"] == wanted
    # any category and language: the caller judges what it gets
    assert searches[0].body["tor"]["main_cat"] == [] and searches[0].body["tor"]["browse_lang"] == []


def test_search_max_results_stops_early(fake: FakeMAM):
    with _client(fake) as mam:
        found = mam.search(max_results=30)
    assert len(found) == 30
    assert len(fake.served("/tor/js/loadSearchJSONbasic.php")) == 2


def test_search_stops_when_total_is_reached_on_a_full_page():
    with FakeMAM(make_catalog(50), max_per_page=25) as fake, _client(fake) as mam:
        assert len(mam.search(per_page=25)) == 50
        assert len(fake.served("/tor/js/loadSearchJSONbasic.php")) == 2


def test_empty_search_is_zero_results_not_an_error(fake: FakeMAM):
    with _client(fake) as mam:
        assert mam.search("no such words anywhere") == []
        page = mam.search_page("no such words anywhere")
    assert page.releases == [] and page.total == 0


def test_search_text_category_and_date_window():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    rows = [
        mam_row(1, "Dune Messiah", authors=["Frank Herbert"], category=47, added=now - timedelta(days=2),
                snatches=5),
        mam_row(2, "Children of Dune", authors=["Frank Herbert"], category=47, added=now - timedelta(days=20),
                snatches=9),
        mam_row(3, "Dune Road", authors=["Someone Else"], category=87, added=now - timedelta(days=1)),
        mam_row(4, "The Hobbit", authors=["J. R. R. Tolkien"], category=41, added=now - timedelta(days=3)),
        mam_row(5, "Dune Audio Drama", category=47, main_cat=14, added=now - timedelta(days=1)),
    ]
    with FakeMAM(rows) as fake, _client(fake) as mam:
        assert [r.torrent_id for r in mam.search("dune", categories=[47])] == ["2", "1"]
        window = mam.search(categories=[47, 41], start_date=(now - timedelta(days=10)).date(),
                            end_date=now.date() + timedelta(days=1))
        assert sorted(r.torrent_id for r in window) == ["1", "4"]
        by_datetime = mam.search(start_date=now - timedelta(days=2, minutes=1), sort="dateDesc")
        assert [r.torrent_id for r in by_datetime] == ["3", "1"]
        assert [r.torrent_id for r in mam.search("herbert")] == ["2", "1"]
        assert mam.search("herbert", srch_in=["title"]) == []
        body = fake.served("/tor/js/loadSearchJSONbasic.php")[1].body["tor"]
        assert body["cat"] == [47, 41] and body["startDate"] == "2026-02-28"


def _transport(pages):
    """A MockTransport answering search POSTs with ``pages`` in turn (the last one repeats)."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content))
        body = pages[min(len(calls) - 1, len(pages) - 1)]
        return httpx.Response(200, json=body, headers={"Set-Cookie": f"mam_id=rot-{len(calls)}; path=/"})

    return httpx.MockTransport(handler), calls


def _rows(ids):
    return [mam_row(i, f"Book {i}") for i in ids]


def test_paging_stops_when_ids_repeat():
    page = {"perpage": 5, "start": 0, "data": _rows(range(1, 6)), "total": 0, "found": 0}
    transport, calls = _transport([page])
    mam = MAM("http://mam.test", "test-cookie-0", rate_min=0, rate_max=0, transport=transport)
    found = mam.search(per_page=5)
    assert [r.torrent_id for r in found] == ["1", "2", "3", "4", "5"]
    assert len(calls) == 2  # the second page repeated the first: stop


def test_paging_stops_on_a_short_page_and_honours_a_smaller_server_perpage():
    pages = [
        {"perpage": 5, "start": 0, "data": _rows(range(1, 6))},  # server capped 100 -> 5
        {"perpage": 5, "start": 5, "data": _rows(range(6, 11))},
        {"perpage": 5, "start": 10, "data": _rows(range(11, 13))},  # short: last page
        {"error": "should not be asked"},
    ]
    transport, calls = _transport(pages)
    mam = MAM("http://mam.test", "test-cookie-0", rate_min=0, rate_max=0, transport=transport)
    assert len(mam.search(per_page=100)) == 12
    assert [c["tor"]["startNumber"] for c in calls] == ["0", "5", "10"]


def test_other_search_errors_are_service_errors():
    transport, _ = _transport([{"error": "Invalid search parameters"}])
    mam = MAM("http://mam.test", "test-cookie-0", rate_min=0, rate_max=0, transport=transport)
    with pytest.raises(ServiceError, match="Invalid search parameters"):
        mam.search("x")


def test_dl_link_is_requested_and_used_for_download(fake: FakeMAM):
    with _client(fake) as mam:
        release = mam.search(max_results=1, dl_link=True)[0]
        assert release.raw["dl"] == fake.dl_hash(release.torrent_id)
        data = mam.download(release)
    assert fake.served()[-1].path == f"/tor/download.php/{release.raw['dl']}"
    from abook.torrent import parse_torrent

    assert parse_torrent(data).info_hash == fake.info_hash(release.torrent_id)


# ------------------------------------------------------------ cookie rotation
def test_cookie_rotates_after_every_response_and_newest_is_used(fake: FakeMAM):
    seen: list[str] = []
    first_cookie = fake.cookie
    with _client(fake, on_cookie=seen.append) as mam:
        mam.search(max_results=30)
        mam.user_stats()
        mam.download(2_000_001)
        mam.whoami()
        assert mam.mam_id == fake.cookie
    assert seen == fake.issued and len(seen) == 5
    used = [r.cookie for r in fake.requests]
    assert used == [first_cookie, *fake.issued[:-1]]
    assert all(r.status == 200 for r in fake.requests)
    # exactly one mam_id per request, whatever httpx's jar holds
    assert all(r.headers["cookie"].count("mam_id=") == 1 for r in fake.requests)


def test_cookie_with_a_domain_attribute_still_rotates_cleanly():
    with FakeMAM(make_catalog(10), cookie_domain="127.0.0.1") as fake, _client(fake) as mam:
        for _ in range(3):
            mam.whoami()
        assert all(r.status == 200 and r.headers["cookie"].count("mam_id=") == 1 for r in fake.requests)


def test_a_failing_on_cookie_does_not_break_the_call(fake: FakeMAM, caplog: pytest.LogCaptureFixture):
    def boom(value: str) -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.WARNING, logger="abook.mam"), _client(fake, on_cookie=boom) as mam:
        assert mam.whoami()[0] == "example_mouse"
        assert mam.whoami()[0] == "example_mouse"  # in-memory newest value still used
    assert "could not persist" in caplog.text
    assert fake.issued[0] not in caplog.text


def test_retry_after_429_carries_the_cookie_rotated_by_the_429():
    with FakeMAM(make_catalog(10), min_interval=0.5, retry_after=0.55) as fake:
        with _client(fake, backoff=0.01) as mam:
            mam.whoami()
            assert mam.whoami()[0] == "example_mouse"  # too soon: 429, then a retry that succeeds
        statuses = [r.status for r in fake.requests]
        assert statuses == [200, 429, 200]
        assert fake.requests[2].cookie == fake.issued[1]  # the value the 429 handed out


# ---------------------------------------------------------------- auth errors
@pytest.mark.parametrize("kind", ["403", "html", "login_redirect"])
def test_auth_failures_become_one_clear_auth_error(fake: FakeMAM, kind: str):
    fake.fail_next(kind)
    with _client(fake) as mam, pytest.raises(AuthError) as err:
        mam.user_stats()
    assert str(err.value) == AUTH_MESSAGE
    assert err.value.exit_code == 3


def test_html_instead_of_search_json_is_an_auth_error(fake: FakeMAM):
    fake.fail_next("html", path="/tor/js/")
    with _client(fake) as mam, pytest.raises(AuthError, match="create a new mam_id"):
        mam.search("x")


def test_expired_session_is_an_auth_error(fake: FakeMAM):
    fake.expire_session()
    with _client(fake) as mam, pytest.raises(AuthError, match="IP mismatch"):
        mam.search("anything")


def test_unknown_cookie_is_rejected(fake: FakeMAM):
    mam = MAM(fake.url, "test-not-the-cookie", rate_min=0, rate_max=0)
    with pytest.raises(AuthError):
        mam.whoami()
    assert fake.requests[0].status == 403


def test_a_refused_stored_cookie_falls_back_to_the_configured_one(fake: FakeMAM):
    seen: list[str] = []
    with _client(fake) as mam:
        mam.whoami()  # the cookie rotates; pretend the new value was lost
    fake.new_session("test-fresh-session-1")  # the user pasted a new MAM_ID
    with MAM(fake.url, "test-stale-rotated-value", fallback_mam_id="mam_id=test-fresh-session-1",
             rate_min=0, rate_max=0, on_cookie=seen.append) as mam:
        assert mam.whoami()[0] == "example_mouse"
        assert mam.whoami()[0] == "example_mouse"
    assert [r.status for r in fake.requests[1:]] == [403, 200, 200]
    assert fake.requests[2].cookie == "test-fresh-session-1"
    assert seen == fake.issued[1:]


def test_server_errors_are_retried_then_reported(fake: FakeMAM):
    fake.fail_next("500", times=1)
    with _client(fake) as mam:
        assert len(mam.search(max_results=3)) == 3  # POST search is read-only: retried
    fake.fail_next("500", times=5)
    with _client(fake, retries=2) as mam, pytest.raises(ServiceError, match="500"):
        mam.user_stats()


def test_malformed_json_is_a_bad_response(fake: FakeMAM):
    fake.fail_next("malformed")
    with _client(fake) as mam, pytest.raises(BadResponse, match="malformed JSON"):
        mam.search("x")


# ------------------------------------------------------------------ download
def test_download_returns_real_torrent_bytes(fake: FakeMAM):
    from abook.torrent import parse_torrent

    with _client(fake) as mam:
        data = mam.download("2000003")
    meta = parse_torrent(data)
    assert meta.info_hash == fake.info_hash(2000003)
    assert fake.served()[-1].query == {"tid": "2000003"}
    assert fake.row(2000003)["my_snatched"] == 1


def test_download_html_instead_of_torrent_is_a_bad_response(fake: FakeMAM):
    fake.fail_next("html", path="/tor/download.php")
    with _client(fake) as mam, pytest.raises(BadResponse, match=r"HTML page instead of the \.torrent"):
        mam.download(2000001)


def test_download_json_error_is_a_bad_response_with_the_reason(fake: FakeMAM):
    fake.fail_next("json_error", path="/tor/download.php")
    with _client(fake) as mam, pytest.raises(BadResponse, match="Torrent not found"):
        mam.download(2000001)


def test_download_empty_body_is_a_bad_response(fake: FakeMAM):
    fake.fail_next("empty", path="/tor/download.php")
    with _client(fake) as mam, pytest.raises(BadResponse, match=r"not a \.torrent"):
        mam.download(2000001)


def test_download_rejects_a_non_numeric_id(fake: FakeMAM):
    with _client(fake) as mam, pytest.raises(ValueError):
        mam.download("../../etc")


def test_download_with_a_wedge_asks_for_it_once_and_mam_spends_one(fake: FakeMAM):
    with _client(fake) as mam:
        before = mam.user_stats().wedges
        data = mam.download("2000004", wedge=True)
        assert data.startswith(b"d") and mam.user_stats().wedges == before - 1
    got = [r for r in fake.served() if r.path == "/tor/download.php"][-1]
    assert got.query == {"tid": "2000004", "fl": "1"}
    assert fake.row(2000004)["personal_freeleech"] == 1 and fake.wedges_spent == ["2000004"]


def test_a_wedge_download_is_never_resent(fake: FakeMAM):
    fake.fail_next("500", times=3, path="/tor/download.php")
    with _client(fake) as mam, pytest.raises(ServiceError):
        mam.download("2000004", wedge=True)
    assert len([r for r in fake.requests if r.path == "/tor/download.php"]) == 1
    fake.faults.clear()
    with _client(fake) as mam:  # a plain download is retried as before
        fake.fail_next("500", times=1, path="/tor/download.php")
        assert mam.download("2000004")


def test_a_wedge_refused_with_a_json_error_is_a_download_refused(fake: FakeMAM):
    from abook.clients.mam import DownloadRefused

    fake.set_user(wedges=0)
    fake.wedge_refusal = "error"
    with _client(fake) as mam, pytest.raises(DownloadRefused) as info:
        mam.download("2000004", wedge=True)
    assert info.value.detail == "You do not have any FL Wedges"
    assert "2000004" not in fake.snatches  # nothing was snatched


def test_without_wedges_mam_serves_the_torrent_and_says_nothing(fake: FakeMAM):
    fake.set_user(wedges=0)
    with _client(fake) as mam:
        assert mam.download("2000004", wedge=True)
        assert mam.user_stats().wedges == 0
    assert fake.row(2000004)["personal_freeleech"] == 0


def test_parse_duration_reads_mams_seed_time_to_go():
    from abook.clients.mam import parse_duration

    assert parse_duration("1d 12:10:28") == 86400 + 12 * 3600 + 10 * 60 + 28
    assert parse_duration("23:46:38") == 23 * 3600 + 46 * 60 + 38
    assert parse_duration("05:12") == 312 and parse_duration("3d") == 3 * 86400
    assert parse_duration(7200) == 7200 and parse_duration("7200") == 7200
    assert parse_duration("") is None and parse_duration(None) is None and parse_duration("soon") is None


def test_snatch_list_rows_lag_behind_the_snatch_like_mam(fake: FakeMAM):
    with _client(fake) as mam:
        mam.download("2000005")
        mam.download("2000006")
        assert mam.snatch_list("unsat").snatches == []  # MAM has not caught up yet
        assert mam.user_stats().unsat_count == 40
        fake.settle()
        listed = mam.snatch_list("unsat")
        assert listed.complete and {s.torrent_id for s in listed.snatches} == {"2000005", "2000006"}
        assert mam.user_stats().unsat_count == 42
    asked = [r for r in fake.served() if r.path == "/json/loadUserDetailsTorrents.php"][-1]
    assert asked.query["uid"] == "123456" and asked.query["type"] == "unsat" and asked.query["iteration"] == "0"


def test_snatch_list_parses_mams_row_shape_and_pages():
    rows = [mam_row(3_000_000 + i, f"Book {i}") for i in range(260)]
    with FakeMAM(rows) as fake:
        for row in rows:
            fake.add_snatch(row["id"], seedtime=3600 * 10, STG="2d 14:00:00", downloaded=123456789,
                            finished=1, start_unix=1_780_000_000)
        with _client(fake) as mam:
            listed = mam.snatch_list("unsat")
            assert len(listed.snatches) == 260 and listed.complete
            first = listed.snatches[0]
            assert first.seed_seconds == 36000 and first.seed_to_go == 2 * 86400 + 14 * 3600
            assert first.downloaded == 123456789 and first.finished
            assert first.started == datetime.fromtimestamp(1_780_000_000, UTC)
            assert not mam.snatch_list("unsat", max_pages=1).complete
        pages = [r.query["iteration"] for r in fake.served() if r.path == "/json/loadUserDetailsTorrents.php"]
        assert pages == ["0", "1", "0"]


def test_user_stats_read_hit_and_runs_and_exact_bytes():
    stats = parse_user_stats(_fixture("user-stats.SYNTHETIC.json"))
    assert stats.hit_and_runs == 0 and stats.exact_bytes and stats.wedges == 3
    rounded = parse_user_stats({"username": "x", "uploaded": "1.2 TiB", "downloaded": "300 GiB", "ratio": 4.1})
    assert not rounded.exact_bytes and rounded.hit_and_runs is None


# ---------------------------------------------------------------- user stats
def test_user_stats_from_the_fake_follow_changes(fake: FakeMAM):
    with _client(fake) as mam:
        stats = mam.user_stats()
        assert (stats.unsat_count, stats.unsat_limit) == (40, 150)
        assert "snatch_summary" in fake.requests[-1].query and "notif" in fake.requests[-1].query
        fake.set_unsat(149, 150)
        fake.set_ratio("Inf")
        fake.set_user(classname="Power User", vip_until=None)
        stats = mam.user_stats()
        assert stats.unsat_free == 1 and stats.ratio == math.inf
        assert stats.user_class == "Power User" and stats.vip_until is None
        assert mam.whoami() == ("example_mouse", "Power User")
        assert "snatch_summary" not in fake.requests[-1].query


def test_fl_vip_counts_as_freeleech_once_the_account_is_known_vip():
    rows = [mam_row(1, "Only FL for VIP", fl_vip=True)]
    with FakeMAM(rows) as fake, _client(fake) as mam:
        assert not mam.search()[0].freeleech
        mam.user_stats()  # classname VIP
        assert mam.search()[0].freeleech


# --------------------------------------------------------------- bonus store
def test_buy_vip_and_upload(fake: FakeMAM):
    fake.set_user(vip_until=None, seedbonus=20000)
    with _client(fake) as mam:
        vip = mam.buy_vip(2)
        assert vip.success and vip.kind == "VIP" and vip.amount == 2 and vip.seedbonus == 17500
        assert "bought 2 week(s) of VIP" in vip.message
        up = mam.buy_upload(10)
        assert up.success and up.amount == 10 and up.seedbonus == 12500
        refused = mam.buy_upload(100)
        assert not refused.success and "Not enough bonus points" in refused.error
        assert "refused upload" in refused.message
    assert [p["spendtype"] for p in fake.purchases] == ["VIP", "upload", "upload"]
    assert fake.purchases[0]["duration"] == "2"
    assert all(r.path.startswith("/json/bonusBuy.php/") and "_" in r.query for r in fake.served())


def test_a_purchase_is_never_retried(fake: FakeMAM):
    fake.fail_next("500", times=3, path="/json/bonusBuy.php")
    with _client(fake) as mam, pytest.raises(ServiceError):
        mam.buy_vip(1)
    assert len([r for r in fake.requests if r.path.startswith("/json/bonusBuy.php")]) == 1


def test_buy_rejects_nonsense_amounts(fake: FakeMAM):
    with _client(fake) as mam:
        for call in (lambda: mam.buy_vip(0), lambda: mam.buy_upload(-5), lambda: mam.buy_vip("lots")):
            with pytest.raises(ValueError):
                call()
    assert fake.requests == []


# ------------------------------------------------------------------- pacing
def _gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered)]


def test_calls_are_never_closer_than_rate_min():
    with FakeMAM(make_catalog(10), min_interval=0.05) as fake:
        with _client(fake, rate_min=0.06, rate_max=0.08) as mam:
            for _ in range(5):
                mam.whoami()
        assert [r.status for r in fake.requests] == [200] * 5
        assert min(_gaps(fake.request_times)) >= 0.05


def test_pace_file_spaces_calls_across_clients(tmp_path: Path):
    pace = tmp_path / "mam.pace"
    with FakeMAM(make_catalog(10), min_interval=0.05, keep_previous=50) as fake:
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                # Separate clients, as two cron processes would be; only the pace file links them.
                with _client(fake, rate_min=0.06, rate_max=0.06, pace_file=pace, retries=1) as mam:
                    for _ in range(3):
                        mam.whoami()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert [r.status for r in fake.requests] == [200] * 6
        assert min(_gaps(fake.request_times)) >= 0.05
