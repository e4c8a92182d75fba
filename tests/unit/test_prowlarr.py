"""Prowlarr client: normalisation, repeated-key params, header-only key, fetch of torrents/magnets;
its indexers and categories, and the names MyAnonamouse's releases get behind Prowlarr."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from abook.clients.prowlarr import Prowlarr, parse_release
from abook.clients.prowlarrdata import (
    Category,
    Indexer,
    category_genre,
    genre_plan,
    language_name,
    mam_torrent_id,
    parse_indexer,
    split_title,
)
from abook.errors import AuthError, BadResponse, ConfigError, ServiceError
from abook.models import Release
from tests.fakes.prowlarr import FakeProwlarr, FakeRelease

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "prowlarr"


def _client(fake: FakeProwlarr, **kw) -> Prowlarr:
    return Prowlarr(fake.url, fake.api_key, **{"timeout": 10, "retries": 3, "backoff": 0.01, **kw})


@pytest.fixture
def fake():
    with FakeProwlarr() as server:
        yield server


# ------------------------------------------------------------- normalising
def test_parse_release_fixture_torrent():
    items = json.loads((FIXTURES / "prowlarr-search-synthetic.json").read_text())
    rel = parse_release(items[0])
    assert rel.source == "prowlarr"
    assert rel.torrent_id == "https://tracker.example/torrents/12345"
    assert rel.title == "Author Name - Book Title (Unabridged) [M4B]"
    assert rel.size == 734003200
    assert (rel.seeders, rel.leechers, rel.snatches) == (42, 3, 311)
    assert rel.added == "2025-10-01T12:34:56Z"
    assert rel.freeleech
    assert rel.category == "Audio/Audiobook" and rel.main_category == "audiobook"
    assert rel.info_hash == "2f8ab8c6ad056ff1158364dd8f0432089e9da016"
    assert rel.download_url.startswith("http://localhost:9696/3/download?")
    assert rel.filetypes == ("m4b",)
    assert rel.raw["indexer"] == "ExampleTracker"


def test_parse_release_missing_fields_and_ebook():
    rel = parse_release({"title": "X [EPUB]", "categories": [{"id": 7020, "name": "Books/EBook"}],
                         "publishDate": "2024-09-01T02:00:00+02:00", "indexerFlags": ["FreeLeech"],
                         "magnetUrl": "magnet:?xt=urn:btih:" + "A" * 40})
    assert rel.main_category == "ebook" and rel.freeleech
    assert rel.added == "2024-09-01T00:00:00Z"
    assert (rel.size, rel.seeders, rel.snatches) == (0, 0, 0)
    assert rel.download_url.startswith("magnet:")
    assert rel.torrent_id == rel.download_url  # no guid, no hash: the link identifies it


def test_search_uses_header_key_repeated_categories_and_drops_usenet():
    seen: list[httpx.Request] = []
    body = (FIXTURES / "prowlarr-search-synthetic.json").read_text()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=body, headers={"Content-Type": "application/json"})

    client = Prowlarr("http://prowlarr.test:9696", "test-key-123", transport=httpx.MockTransport(handler))
    found = client.search("book title", categories=(3030, 7020), type="book", limit=50)
    assert [r.title for r in found] == ["Author Name - Book Title (Unabridged) [M4B]"]
    request = seen[0]
    pairs = parse_qsl(request.url.query.decode())
    assert ("categories", "3030") in pairs and ("categories", "7020") in pairs
    assert ("type", "book") in pairs and ("limit", "50") in pairs and ("query", "book title") in pairs
    assert not any(k.lower() == "apikey" for k, _ in pairs)
    assert request.headers["X-Api-Key"] == "test-key-123"


# ------------------------------------------------------------- against fake
def test_system_status(fake: FakeProwlarr):
    with _client(fake) as client:
        status = client.system_status()
    assert status.app_name == "Prowlarr" and status.version == "2.3.5.5327"


def test_system_status_of_another_arr_is_refused():
    with FakeProwlarr(app_name="Readarr") as fake, _client(fake) as client, pytest.raises(
        BadResponse, match="points at Readarr"
    ):
        client.system_status()


def test_wrong_key_is_an_auth_error(fake: FakeProwlarr):
    with Prowlarr(fake.url, "wrong-key", backoff=0.01) as client, pytest.raises(AuthError) as err:
        client.search("anything")
    assert "PROWLARR_API_KEY" in str(err.value)
    assert "wrong-key" not in str(err.value)
    assert err.value.exit_code == 3


def test_search_against_fake(fake: FakeProwlarr):
    with _client(fake) as client:
        found = client.search("clockwork lighthouse")
        assert [r.title for r in found] == ["Mara Ellison - The Clockwork Lighthouse (Unabridged) [M4B]"]
        both = client.search("salt kings", categories=(3030, 7020))
    assert {r.main_category for r in both} == {"audiobook", "ebook"}
    request = fake.served("/api/v1/search")[-1]
    assert [v for k, v in request.body if k == "categories"] == ["3030", "7020"]
    assert "apikey" not in request.query
    assert request.headers["x-api-key"] == fake.api_key


def test_fetch_torrent_bytes(fake: FakeProwlarr):
    from abook.torrent import parse_torrent

    with _client(fake) as client:
        release = client.search("clockwork")[0]
        data, magnet = client.fetch(release)
    assert magnet is None and data is not None
    assert parse_torrent(data).info_hash == release.info_hash == fake.releases[0].info_hash


def test_fetch_magnet_redirect_is_returned_not_followed(fake: FakeProwlarr):
    from abook.torrent import magnet_info_hash

    with _client(fake) as client:
        release = next(r for r in client.search("salt kings") if "MP3" in r.title)
        assert release.info_hash == ""  # this indexer gives no hash; the magnet does
        data, magnet = client.fetch(release)
    assert data is None and magnet is not None and magnet.startswith("magnet:?")
    assert magnet_info_hash(magnet) == fake.releases[1].info_hash
    assert len(fake.served()) == 2  # the search and one download request, nothing after the 301


def test_fetch_a_gone_release_reports_prowlarrs_reason(fake: FakeProwlarr):
    fake.add(FakeRelease("Gone Book [M4B]", kind="gone"))
    with _client(fake) as client:
        release = client.search("gone book")[0]
        with pytest.raises(ServiceError, match="no longer available"):
            client.fetch(release)


def test_fetch_a_direct_magnet_needs_no_request(fake: FakeProwlarr):
    release = Release(source="prowlarr", torrent_id="x", title="x", download_url="magnet:?xt=urn:btih:" + "b" * 40)
    with _client(fake) as client:
        assert client.fetch(release) == (None, release.download_url)
    assert fake.requests == []


def test_all_indexers_unavailable_is_a_service_error(fake: FakeProwlarr):
    fake.fail_next("unavailable", path="/api/v1/search")
    with _client(fake) as client, pytest.raises(ServiceError, match="all selected indexers being unavailable"):
        client.search("anything")


def test_server_error_is_retried(fake: FakeProwlarr):
    fake.fail_next("500", path="/api/v1/search")
    with _client(fake) as client:
        assert client.search("clockwork")
    assert [r.status for r in fake.requests] == [500, 200]


def test_html_instead_of_json_is_a_bad_response(fake: FakeProwlarr):
    fake.fail_next("html")
    with _client(fake) as client, pytest.raises(BadResponse, match="PROWLARR_URL"):
        client.system_status()


# ---------------------------------------------------------- fetch edge cases
def _mock(routes):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes(request)

    return httpx.MockTransport(handler), seen


def test_key_is_not_sent_to_another_host_on_redirect():
    from abook.torrent import make_torrent

    def routes(request: httpx.Request) -> httpx.Response:
        if request.url.host == "prowlarr.test":
            return httpx.Response(302, headers={"Location": "http://tracker.other/get/1.torrent"})
        return httpx.Response(200, content=torrent, headers={"Content-Type": "application/x-bittorrent"})

    payload = Path(__file__).parent / "test_prowlarr.py"
    torrent = make_torrent(payload, "http://tracker.other/announce")
    transport, seen = _mock(routes)
    client = Prowlarr("http://prowlarr.test", "test-key-123", transport=transport)
    release = Release(source="prowlarr", torrent_id="g", title="t",
                      download_url="http://prowlarr.test/3/download?apikey=test-key-123&link=abc")
    data, magnet = client.fetch(release)
    assert data == torrent and magnet is None
    assert seen[0].headers.get("X-Api-Key") == "test-key-123"
    assert urlsplit(str(seen[1].url)).netloc == "tracker.other"
    assert "X-Api-Key" not in seen[1].headers


def test_fetch_body_that_is_not_a_torrent_is_a_bad_response():
    transport, _ = _mock(lambda r: httpx.Response(200, text="<html><body>login</body></html>",
                                                  headers={"Content-Type": "text/html"}))
    client = Prowlarr("http://prowlarr.test", "test-key-123", transport=transport)
    release = Release(source="prowlarr", torrent_id="g", title="Some Book",
                      download_url="http://prowlarr.test/3/download?link=abc")
    with pytest.raises(BadResponse, match=r"HTML page instead of a \.torrent for 'Some Book'"):
        client.fetch(release)


def test_fetch_without_any_link_is_a_bad_response():
    client = Prowlarr("http://prowlarr.test", "test-key-123", transport=httpx.MockTransport(lambda r: None))
    with pytest.raises(BadResponse, match="no download link"):
        client.fetch(Release(source="prowlarr", torrent_id="g", title="Nothing"))


# ================================================= MyAnonamouse behind Prowlarr: names and ids


@pytest.mark.parametrize(
    ("raw", "title", "authors", "language", "filetypes", "vip"),
    [
        ("The Hero of Ages by Brandon Sanderson [ENG / M4B]", "The Hero of Ages", ("Brandon Sanderson",), "ENG",
         ("m4b",), False),
        # up to five authors, joined by Prowlarr with ", "; a "Family, Given" one stays one name
        ("Good Omens by Terry Pratchett, Neil Gaiman [ENG / MP3 M4B] [VIP]", "Good Omens",
         ("Terry Pratchett", "Neil Gaiman"), "ENG", ("mp3", "m4b"), True),
        ("Mistborn by Sanderson, Brandon [ENG / M4B]", "Mistborn", ("Sanderson, Brandon",), "ENG", ("m4b",), False),
        # " by " inside MAM's title: the last one is Prowlarr's
        ("Stand by Me by Stephen King [ENG / MP3]", "Stand by Me", ("Stephen King",), "ENG", ("mp3",), False),
        # MAM's HTML entities are left in by Prowlarr
        ("Old Man&#039;s War by John Scalzi [ENG / M4B]", "Old Man's War", ("John Scalzi",), "ENG", ("m4b",), False),
        # no lang_code, or no filetype
        ("Dune by Frank Herbert [M4B]", "Dune", ("Frank Herbert",), "", ("m4b",), False),
        ("Dune by Frank Herbert [DEU]", "Dune", ("Frank Herbert",), "DEU", (), False),
        # no author_info: no " by " is appended, nothing is guessed
        ("Killing Floor [ENG / MP3]", "Killing Floor", (), "ENG", ("mp3",), False),
        # an edition tag in MAM's own title stays in the title
        ("The Name of the Wind (Abridged) by Patrick Rothfuss [ENG / MP3]", "The Name of the Wind (Abridged)",
         ("Patrick Rothfuss",), "ENG", ("mp3",), False),
    ],
)
def test_split_mam_title(raw, title, authors, language, filetypes, vip):
    parts = split_title(raw, mam=True)
    assert (parts.title, parts.authors, parts.language, parts.filetypes, parts.vip) == (
        title, authors, language, filetypes, vip)
    assert parts.split == bool(authors)


@pytest.mark.parametrize(
    ("raw", "title", "authors"),
    [
        # another indexer's shapes: never an author guessed
        ("Brandon Sanderson - The Hero of Ages (Unabridged) [M4B]", "Brandon Sanderson - The Hero of Ages (Unabridged) [M4B]", ()),
        ("Stand by Me [MP3]", "Stand by Me [MP3]", ()),
        ("Sanderson.Brandon.Mistborn.2006.MP3", "Sanderson.Brandon.Mistborn.2006.MP3", ()),
        # ... unless it has MAM's whole shape, language and format bracket included
        ("The Stand by Stephen King [ENG / MP3]", "The Stand", ("Stephen King",)),
    ],
)
def test_split_other_indexers_titles(raw, title, authors):
    parts = split_title(raw, mam=False)
    assert (parts.title, parts.authors) == (title, authors)


@pytest.mark.parametrize(("code", "name"), [("ENG", "English"), ("DEU", "German"), ("GER", "German"),
                                            ("FRA", "French"), ("FRE", "French"), ("NLD", "Dutch"),
                                            ("spa", "Spanish"), ("XQZ", "XQZ"), ("", "")])
def test_language_codes_map_to_language_names(code, name):
    assert language_name(code) == name


def test_mam_torrent_id_from_guid_or_info_url():
    assert mam_torrent_id("https://www.myanonamouse.net/t/1234567") == "1234567"
    assert mam_torrent_id("", "https://www.myanonamouse.net/t/42/") == "42"
    assert mam_torrent_id("https://tracker.example/torrents/12345") == ""


def _mam_indexer(**kw) -> Indexer:
    cats = [Category(3000, "Audio"), Category(3030, "Audio/Audiobook", 3000), Category(7000, "Books"),
            Category(7020, "Books/EBook", 7000), Category(100013, "AudioBooks"), Category(100039, "Audiobooks - Action/Adventure"),
            Category(100040, "Audiobooks - Crime/Thriller"), Category(100041, "Audiobooks - Fantasy"),
            Category(100047, "Audiobooks - Science Fiction"), Category(100089, "Audiobooks - Travel/Adventure"),
            Category(100108, "Audiobooks - Urban Fantasy"), Category(100063, "Ebooks - Fantasy"),
            Category(100130, "Radio - Drama")]
    return Indexer(**{"id": 1, "name": "MyAnonamouse", "implementation": "MyAnonamouse", "categories": tuple(cats), **kw})


@pytest.mark.parametrize(
    ("genre", "ids"),
    [("Science Fiction", (100047,)), ("science-fiction", (100047,)), ("Sci-Fi", (100047,)), ("SF", (100047,)),
     ("Fantasy", (100041,)), ("Thriller", (100040,)), ("crime/thriller", (100040,)),
     ("Adventure", (100039,)),  # the first of the two slashed names, as on the MAM route
     ("47", (100047,)), ("Fantasy+Urban Fantasy", (100041, 100108))],
)
def test_genre_is_found_among_the_indexers_categories(genre, ids):
    plan = genre_plan(genre, [_mam_indexer()])
    assert [(ix.id, cats) for ix, cats in plan] == [(1, ids)]


def test_only_audiobook_genres_count():
    assert category_genre("Audiobooks - Fantasy") == "Fantasy"
    assert category_genre("Audio Books / Sci-Fi") == "Sci-Fi"
    assert category_genre("Ebooks - Fantasy") is None
    assert category_genre("Radio - Drama") is None
    assert category_genre("AudioBooks") is None


def test_another_indexers_genre_names_are_matched_too():
    other = Indexer(id=9, name="AudioTracker", categories=(
        Category(3030, "Audio/Audiobook"), Category(100501, "Audio Books / Sci-Fi"), Category(100502, "Audio Books / Fantasy")))
    plan = genre_plan("Science Fiction", [_mam_indexer(), other])
    assert [(ix.id, cats) for ix, cats in plan] == [(1, (100047,)), (9, (100501,))]


def test_unknown_genre_names_the_known_ones():
    with pytest.raises(ConfigError) as err:
        genre_plan("Underwater Basket Weaving", [_mam_indexer()])
    text = str(err.value)
    assert "TOP10_GENRES" in text and "'Underwater Basket Weaving'" in text and "MyAnonamouse" in text
    assert "Science Fiction" in text and "Urban Fantasy" in text
    assert "Drama" not in text  # a radio category is no audiobook genre
    assert "\n" not in text


def test_no_audiobook_indexer_is_a_config_error():
    movies = Indexer(id=4, name="Movies", categories=(Category(2000, "Movies"),))
    disabled = _mam_indexer(enabled=False)
    with pytest.raises(ConfigError, match="no enabled torrent indexer with audiobooks"):
        genre_plan("Fantasy", [movies, disabled])


def test_parse_indexer_keeps_no_settings():
    item = {"id": 1, "name": "MyAnonamouse", "implementation": "MyAnonamouse", "definitionName": "MyAnonamouse",
            "enable": True, "protocol": "torrent", "supportsPagination": True,
            "fields": [{"name": "mamId", "value": "secret-mam-cookie-value"}],
            "capabilities": {"limitsMax": 100, "categories": [
                {"id": 3000, "name": "Audio", "subCategories": [{"id": 3030, "name": "Audio/Audiobook", "subCategories": []}]},
                {"id": 100047, "name": "Audiobooks - Science Fiction", "subCategories": []}]}}
    ix = parse_indexer(item)
    assert ix.is_mam and ix.audiobooks and ix.limits_max == 100
    assert [c.id for c in ix.categories] == [3000, 3030, 100047]
    assert ix.category(3030).parent == 3000
    assert "secret-mam-cookie-value" not in repr(ix)


def test_parse_mam_release_identity_names_and_basis():
    ix = _mam_indexer()
    item = {"guid": "https://www.myanonamouse.net/t/1100001", "infoUrl": "https://www.myanonamouse.net/t/1100001",
            "indexerId": 1, "title": "The Clockwork Lighthouse by Mara Ellison [DEU / M4B] [VIP]", "grabs": 1875,
            "seeders": 143, "leechers": 2, "size": 642148761, "publishDate": "2026-02-14T05:21:09+02:00",
            "indexerFlags": ["freeleech"], "downloadUrl": "http://prowlarr.test/1/download?apikey=k&link=x",
            "categories": [{"id": 3030, "name": "Audio/Audiobook", "subCategories": []},
                           {"id": 100047, "subCategories": []}], "protocol": "torrent"}
    rel = parse_release(item, ix)
    assert (rel.source, rel.tracker, rel.torrent_id) == ("prowlarr", "mam", "1100001")
    assert rel.identity == ("mam", "1100001")
    assert (rel.title, rel.authors, rel.language, rel.filetypes, rel.vip) == (
        "The Clockwork Lighthouse", ("Mara Ellison",), "German", ("m4b",), True)
    assert rel.category == "Audiobooks - Science Fiction" and rel.main_category == "audiobook"
    assert rel.added == "2026-02-14T03:21:09Z" and rel.snatches == 1875 and rel.freeleech
    assert "no narrator" in rel.basis and "MAM_ID" in rel.basis
    # MAM's Musicology / Radio torrents are 3030 in Prowlarr: MAM's own category tells
    radio = parse_release({**item, "categories": [{"id": 3030, "name": "Audio/Audiobook"}, {"id": 100130}]}, ix)
    assert radio.main_category == "other"
    # without the indexer list, the guid still says it is a MAM torrent
    bare = parse_release(item)
    assert bare.identity == ("mam", "1100001") and bare.authors == ("Mara Ellison",)


def test_parse_other_release_keeps_its_guid_and_guesses_no_author():
    items = json.loads((FIXTURES / "prowlarr-search-synthetic.json").read_text())
    rel = parse_release(items[0])
    assert rel.tracker == "prowlarr" and rel.identity == ("prowlarr", "https://tracker.example/torrents/12345")
    assert rel.authors == () and "title only" in rel.basis


def test_indexer_list_against_fake():
    from tests.fakes.mam import FakeMAM, make_catalog
    from tests.fakes.prowlarr import MamIndexer

    mam = FakeMAM(make_catalog(5))
    with FakeProwlarr(indexers=[MamIndexer(mam, indexer_id=4)]) as fake, _client(fake) as client:
        indexers = client.indexers()
    assert len(indexers) == 1
    ix = indexers[0]
    assert (ix.id, ix.is_mam, ix.audiobooks) == (4, True, True)
    names = {c.id: c.name for c in ix.categories}
    assert names[100047] == "Audiobooks - Science Fiction" and names[3030] == "Audio/Audiobook"
    assert names[100069] == "Ebooks - Science Fiction"
    assert fake.served("/api/v1/indexer")[0].headers["x-api-key"] == fake.api_key
