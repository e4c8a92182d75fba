"""Prowlarr client: normalisation, repeated-key params, header-only key, fetch of torrents/magnets."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from abook.clients.prowlarr import Prowlarr, parse_release
from abook.errors import AuthError, BadResponse, ServiceError
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
