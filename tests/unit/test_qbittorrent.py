"""The qBittorrent client against respx: 4.x and 5.x login/add/pause, refusals, bans, shapes."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from abook.clients.qbittorrent import QBittorrent, Torrent, split_tags
from abook.errors import AuthError, BadResponse, ServiceError
from abook.torrent import make_torrent, parse_torrent

BASE = "http://qbt.test:8080"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qbittorrent"
SEED_HASH = "2f8ab8c6ad056ff1158364dd8f0432089e9da016"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def router():
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as r:
        yield r


@pytest.fixture
def clock():
    return FakeClock()


def make(router, clock, username="admin", password="test-pass-abc", **kw) -> QBittorrent:
    return QBittorrent(
        BASE, username, password,
        transport=httpx.MockTransport(router.handler),
        sleep=clock.sleep, clock=clock, backoff=0.0, **kw,
    )


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


def v4(router, *, webapi="2.8.19"):
    """A logged-out qBittorrent 4.x: 403 without a session, 200 Ok. + SID on login."""
    router.get("/api/v2/app/version").mock(
        side_effect=lambda req: httpx.Response(200, text="v4.5.2")
        if "SID=" in req.headers.get("cookie", "")
        else httpx.Response(403, text="Forbidden")
    )
    login = router.post("/api/v2/auth/login").mock(
        return_value=httpx.Response(
            200, text="Ok.", headers={"Set-Cookie": "SID=test-sid-abc; HttpOnly; path=/"}
        )
    )
    router.get("/api/v2/app/webapiVersion").mock(return_value=httpx.Response(200, text=webapi))
    return login


def v52(router, *, webapi="2.15.1"):
    router.get("/api/v2/app/version").mock(
        side_effect=lambda req: httpx.Response(200, text="v5.2.3")
        if "QBT_SID_8080=" in req.headers.get("cookie", "")
        else httpx.Response(401, text="Unauthorized")
    )
    login = router.post("/api/v2/auth/login").mock(
        return_value=httpx.Response(
            204, headers={"Set-Cookie": "QBT_SID_8080=test-sid-xyz; HttpOnly; path=/"}
        )
    )
    router.get("/api/v2/app/webapiVersion").mock(return_value=httpx.Response(200, text=webapi))
    return login


# --------------------------------------------------------------------- login


def test_login_4x_ok_keeps_sid_and_sends_csrf_headers(router, clock):
    login = v4(router)
    qbt = make(router, clock)
    assert qbt.version() == "4.5.2"
    assert login.call_count == 1
    request = login.calls.last.request
    assert request.headers["Referer"] == BASE + "/"
    assert request.headers["Origin"] == BASE
    assert form(request) == {"username": ["admin"], "password": ["test-pass-abc"]}
    assert qbt.webapi_version() == (2, 8, 19)
    assert not qbt.uses_stop_start
    assert qbt.login_attempts == 1


def test_login_52_204_with_port_cookie(router, clock):
    login = v52(router)
    qbt = make(router, clock)
    assert qbt.version() == "5.2.3"
    assert login.call_count == 1
    assert qbt.webapi_version() == (2, 15, 1)
    assert qbt.uses_stop_start


def test_login_4x_fails_is_auth_error_and_never_retried(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(403, text="Forbidden"))
    login = router.post("/api/v2/auth/login").mock(return_value=httpx.Response(200, text="Fails."))
    qbt = make(router, clock)
    with pytest.raises(AuthError, match="QB_USERNAME/QB_PASSWORD"):
        qbt.login()
    # later calls on the same client fail at once, without another login attempt
    with pytest.raises(AuthError):
        qbt.torrents()
    with pytest.raises(AuthError):
        qbt.login()
    assert login.call_count == 1
    assert qbt.login_attempts == 1


def test_login_52_401_is_auth_error(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(401, text="Unauthorized"))
    login = router.post("/api/v2/auth/login").mock(return_value=httpx.Response(401, text="Unauthorized"))
    qbt = make(router, clock)
    with pytest.raises(AuthError, match="refused QB_USERNAME/QB_PASSWORD") as info:
        qbt.version()
    assert info.value.exit_code == 3
    assert "test-pass-abc" not in str(info.value)
    assert login.call_count == 1


def test_login_banned(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(403, text="Forbidden"))
    login = router.post("/api/v2/auth/login").mock(
        return_value=httpx.Response(
            403,
            text="Your IP address has been banned after too many failed authentication attempts.",
        )
    )
    qbt = make(router, clock)
    with pytest.raises(AuthError, match="banned"):
        qbt.login()
    with pytest.raises(AuthError, match="banned"):
        qbt.login()
    assert login.call_count == 1


def test_login_5xx_is_not_retried(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(403))
    login = router.post("/api/v2/auth/login").mock(return_value=httpx.Response(503))
    qbt = make(router, clock)
    with pytest.raises(ServiceError):
        qbt.login()
    assert login.call_count == 1


def test_localhost_auth_off_skips_login(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(200, text="v4.5.2"))
    login = router.post("/api/v2/auth/login").mock(return_value=httpx.Response(200, text="Fails."))
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=[]))
    qbt = make(router, clock, username="stale", password="stale-pass")
    qbt.login()
    assert qbt.auth_required is False
    assert qbt.torrents() == []
    assert qbt.version() == "4.5.2"
    assert login.call_count == 0


def test_no_credentials_but_auth_required(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(403, text="Forbidden"))
    login = router.post("/api/v2/auth/login")
    qbt = make(router, clock, username="", password="")
    with pytest.raises(AuthError, match="requires a login"):
        qbt.torrents()
    assert login.call_count == 0


def test_relogin_once_on_expired_session(router, clock):
    login = v4(router)
    info = router.get("/api/v2/torrents/info").mock(
        side_effect=[httpx.Response(403, text="Forbidden"), httpx.Response(200, json=[])]
    )
    qbt = make(router, clock)
    qbt.login()
    assert qbt.torrents() == []
    assert login.call_count == 2
    assert info.call_count == 2


def test_relogin_only_once(router, clock):
    login = v4(router)
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(403, text="Forbidden"))
    qbt = make(router, clock)
    with pytest.raises(AuthError):
        qbt.torrents()
    assert login.call_count == 2  # the first login, then one re-login: never a loop


def test_relogin_refused_stops(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(403))
    login = router.post("/api/v2/auth/login").mock(
        side_effect=[httpx.Response(200, text="Ok."), httpx.Response(200, text="Fails.")]
    )
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(403, text="Forbidden"))
    qbt = make(router, clock)
    with pytest.raises(AuthError):
        qbt.torrents()
    with pytest.raises(AuthError):
        qbt.torrents()
    assert login.call_count == 2


def test_bad_url_rejected():
    with pytest.raises(ValueError):
        QBittorrent("qbt.test:8080")


# ------------------------------------------------------------ pause / resume


@pytest.mark.parametrize(
    ("setup", "pause_path", "resume_path"),
    [
        (v4, "/api/v2/torrents/pause", "/api/v2/torrents/resume"),
        (v52, "/api/v2/torrents/stop", "/api/v2/torrents/start"),
    ],
)
def test_pause_resume_branch_on_webapi(router, clock, setup, pause_path, resume_path):
    setup(router)
    pause = router.post(pause_path).mock(return_value=httpx.Response(200))
    resume = router.post(resume_path).mock(return_value=httpx.Response(204))
    qbt = make(router, clock)
    qbt.pause(["AAAA", "bbbb"])
    qbt.resume("all")
    assert form(pause.calls.last.request) == {"hashes": ["aaaa|bbbb"]}
    assert form(resume.calls.last.request) == {"hashes": ["all"]}


def test_pause_5_0_uses_stop(router, clock):
    v4(router, webapi="2.11.2")
    stop = router.post("/api/v2/torrents/stop").mock(return_value=httpx.Response(200))
    qbt = make(router, clock)
    qbt.pause("abc")
    assert stop.call_count == 1


def test_pause_falls_back_when_endpoint_missing(router, clock):
    v4(router, webapi="2.8.19")
    router.post("/api/v2/torrents/pause").mock(return_value=httpx.Response(404, text="Not Found"))
    stop = router.post("/api/v2/torrents/stop").mock(return_value=httpx.Response(200))
    qbt = make(router, clock)
    qbt.pause("abc")
    assert stop.call_count == 1


def test_pause_nothing_sends_nothing(router, clock):
    v4(router)
    qbt = make(router, clock)
    qbt.pause([])  # no request at all: an empty "hashes" must never become "all"


# ----------------------------------------------------------------------- add


def seed_row(**over):
    row = next(r for r in fixture("qbt-4.5.2-torrents-info.json") if r["hash"] == SEED_HASH)
    return {**row, **over}


@pytest.fixture
def torrent_bytes(tmp_path):
    src = tmp_path / "Book"
    src.mkdir()
    (src / "01.mp3").write_bytes(b"a" * 40_000)
    data = make_torrent(src, "http://127.0.0.1:1/announce")
    return data, parse_torrent(data).info_hash


def test_add_torrent_4x_multipart_and_confirm(router, clock, torrent_bytes):
    data, info_hash = torrent_bytes
    v4(router)
    row = seed_row(hash=info_hash, name="Book", state="pausedDL", progress=0, tags="abook, x")
    info = router.get("/api/v2/torrents/info").mock(
        side_effect=[
            httpx.Response(200, json=[]),  # not there before
            httpx.Response(200, json=[]),  # not yet listed: the add is asynchronous
            httpx.Response(200, json=[row]),
        ]
    )
    add = router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Ok."))
    qbt = make(router, clock)
    torrent = qbt.add_torrent(data, category="audiobooks", tags=["abook", "x"], paused=True)
    assert torrent.hash == info_hash
    assert torrent.is_paused
    assert torrent.tags == ("abook", "x")
    assert add.call_count == 1
    assert info.calls.last.request.url.params["hashes"] == info_hash
    body = add.calls.last.request.content
    assert add.calls.last.request.headers["content-type"].startswith("multipart/form-data")
    assert f'filename="{info_hash}.torrent"'.encode() in body
    assert data in body
    for name, value in [
        ("category", "audiobooks"), ("tags", "abook,x"), ("paused", "true"),
        ("stopped", "true"), ("autoTMM", "true"),
    ]:
        assert f'name="{name}"\r\n\r\n{value}\r\n'.encode() in body
    assert b'name="savepath"' not in body


def test_add_torrent_with_save_path_turns_off_autotmm(router, clock, torrent_bytes):
    data, info_hash = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(
        side_effect=[httpx.Response(200, json=[]), httpx.Response(200, json=[seed_row(hash=info_hash)])]
    )
    add = router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Ok."))
    qbt = make(router, clock)
    qbt.add_torrent(data, category="audiobooks", save_path="/srv/books")
    body = add.calls.last.request.content
    assert b'name="savepath"\r\n\r\n/srv/books\r\n' in body
    assert b'name="autoTMM"\r\n\r\nfalse\r\n' in body
    assert b'name="paused"\r\n\r\nfalse\r\n' in body


def test_add_torrent_52_json_answer(router, clock, torrent_bytes):
    data, info_hash = torrent_bytes
    v52(router)
    router.get("/api/v2/torrents/info").mock(
        side_effect=[
            httpx.Response(200, json=[]),
            httpx.Response(200, json=[seed_row(hash=info_hash, state="stoppedDL", completion_on=-1)]),
        ]
    )
    add = router.post("/api/v2/torrents/add").mock(
        return_value=httpx.Response(
            200,
            json={"success_count": 1, "failure_count": 0, "pending_count": 0,
                  "added_torrent_ids": [info_hash]},
        )
    )
    qbt = make(router, clock)
    torrent = qbt.add_torrent(data, category="audiobooks", tags=["abook"], paused=True)
    assert add.call_count == 1
    assert torrent.is_paused
    assert torrent.completed_at is None


def test_add_magnet_base32_uses_urls_and_hex_hash(router, clock):
    v4(router)
    hex_hash = "112aab9b0aadf2179e6fa8d8451df1e55efced58"
    magnet = "magnet:?xt=urn:btih:CEVKXGYKVXZBPHTPVDMEKHPR4VPPZ3KY&dn=b32"
    info = router.get("/api/v2/torrents/info").mock(
        side_effect=[
            httpx.Response(200, json=[]),
            httpx.Response(200, json=[seed_row(hash=hex_hash, state="metaDL", total_size=-1, progress=0)]),
        ]
    )
    add = router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Ok."))
    qbt = make(router, clock)
    torrent = qbt.add_torrent(magnet=magnet, category="audiobooks", tags=["abook"])
    assert torrent.hash == hex_hash
    assert not torrent.has_metadata and not torrent.is_complete
    assert form(add.calls.last.request)["urls"] == [magnet]
    assert info.calls.last.request.url.params["hashes"] == hex_hash


def test_add_existing_is_not_added_again(router, clock, torrent_bytes):
    data, info_hash = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(
        return_value=httpx.Response(200, json=[seed_row(hash=info_hash)])
    )
    add = router.post("/api/v2/torrents/add")
    qbt = make(router, clock)
    assert qbt.add_torrent(data, category="audiobooks").hash == info_hash
    assert add.call_count == 0


def test_add_fails_and_absent_is_service_error(router, clock, torrent_bytes):
    data, _ = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=[]))
    add = router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Fails."))
    qbt = make(router, clock)
    with pytest.raises(ServiceError, match="refused the add"):
        qbt.add_torrent(data)
    assert add.call_count == 1


def test_add_52_conflict_but_present_is_fine(router, clock, torrent_bytes):
    """A race: someone added the same torrent between our check and our add."""
    data, info_hash = torrent_bytes
    v52(router)
    router.get("/api/v2/torrents/info").mock(
        side_effect=[httpx.Response(200, json=[]), httpx.Response(200, json=[seed_row(hash=info_hash)])]
    )
    router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(409, text="Conflict"))
    qbt = make(router, clock)
    assert qbt.add_torrent(data).hash == info_hash


def test_add_ok_but_never_listed(router, clock, torrent_bytes):
    data, _ = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=[]))
    router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Ok."))
    qbt = make(router, clock, confirm_timeout=5.0)
    with pytest.raises(ServiceError, match="never listed"):
        qbt.add_torrent(data)
    assert 5.0 <= sum(clock.sleeps) < 7.0


def test_add_invalid_torrent_415(router, clock, torrent_bytes):
    data, _ = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=[]))
    router.post("/api/v2/torrents/add").mock(
        return_value=httpx.Response(415, text="Error: 'x.torrent' is not a valid torrent file.")
    )
    qbt = make(router, clock)
    with pytest.raises(ServiceError, match="invalid"):
        qbt.add_torrent(data)


def test_add_is_never_resent_on_server_error(router, clock, torrent_bytes):
    data, _ = torrent_bytes
    v4(router)
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=[]))
    add = router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(502))
    qbt = make(router, clock)
    with pytest.raises(ServiceError):
        qbt.add_torrent(data)
    assert add.call_count == 1


def test_add_html_page_instead_of_torrent_is_rejected_before_any_request(router, clock):
    add = router.post("/api/v2/torrents/add")
    qbt = make(router, clock)
    with pytest.raises(ValueError, match="not a bencoded torrent"):
        qbt.add_torrent(b"<!DOCTYPE html><html>login</html>")
    with pytest.raises(ValueError):
        qbt.add_torrent(b"d4:infode", magnet="magnet:?xt=urn:btih:" + "1" * 40)
    assert add.call_count == 0
    assert not router.calls


def test_add_tags_separately_on_old_webapi(router, clock, torrent_bytes):
    data, info_hash = torrent_bytes
    v4(router, webapi="2.5.1")
    router.get("/api/v2/torrents/info").mock(
        side_effect=[
            httpx.Response(200, json=[]),
            httpx.Response(200, json=[seed_row(hash=info_hash, tags="")]),
            httpx.Response(200, json=[seed_row(hash=info_hash, tags="abook")]),
        ]
    )
    router.post("/api/v2/torrents/add").mock(return_value=httpx.Response(200, text="Ok."))
    add_tags = router.post("/api/v2/torrents/addTags").mock(return_value=httpx.Response(200))
    qbt = make(router, clock)
    assert qbt.add_torrent(data, tags=["abook"]).tags == ("abook",)
    assert form(add_tags.calls.last.request) == {"hashes": [info_hash], "tags": ["abook"]}


# -------------------------------------------------------------- categories


def test_ensure_category(router, clock):
    v4(router)
    create = router.post("/api/v2/torrents/createCategory").mock(
        side_effect=[
            httpx.Response(200),
            httpx.Response(409, text="Unable to create category"),
            httpx.Response(409, text="Incorrect category name"),
        ]
    )
    router.get("/api/v2/torrents/categories").mock(
        return_value=httpx.Response(200, json=fixture("qbt-4.5.2-torrents-categories.json"))
    )
    qbt = make(router, clock)
    qbt.ensure_category("audiobooks", "/srv/books")
    assert form(create.calls.last.request) == {"category": ["audiobooks"], "savePath": ["/srv/books"]}
    qbt.ensure_category("audiobooks")  # exists: 409 is fine
    with pytest.raises(ServiceError, match="category name"):
        qbt.ensure_category("bad\\name")


# ------------------------------------------------------------- info shapes


def test_torrents_info_fixture_shape(router, clock):
    v4(router)
    rows = fixture("qbt-4.5.2-torrents-info.json")
    router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=rows))
    qbt = make(router, clock)
    torrents = qbt.torrents()
    assert len(torrents) == len(rows)
    by_hash = {t.hash: t for t in torrents}
    seed = by_hash[SEED_HASH]
    assert seed.name == "Test Audiobook"
    assert seed.tags == ("abs", "added-later", "research")
    assert seed.is_complete and not seed.is_paused and not seed.is_error
    assert seed.completed_at == seed.completion_on > 0
    assert seed.total_size == seed.size > 0
    magnet = by_hash["0123456789abcdef0123456789abcdef01234567"]
    assert magnet.state == "metaDL" and magnet.total_size == -1
    assert magnet.is_stalled_state and not magnet.is_complete and not magnet.has_metadata
    assert magnet.completed_at is None
    paused = [t for t in torrents if t.is_paused]
    assert paused and all(t.state == "pausedDL" for t in paused)


def test_torrents_filters_client_side_too(router, clock):
    """qBittorrent < 4.4 ignores ``tag`` and answers everything: filter again ourselves."""
    v4(router, webapi="2.8.2")
    rows = fixture("qbt-4.5.2-torrents-info.json")
    info = router.get("/api/v2/torrents/info").mock(return_value=httpx.Response(200, json=rows))
    qbt = make(router, clock)
    tagged = qbt.torrents(category="audiobooks", tag="research")
    assert {t.hash for t in tagged} == {SEED_HASH, "0123456789abcdef0123456789abcdef01234567"}
    params = info.calls.last.request.url.params
    assert params["category"] == "audiobooks" and params["tag"] == "research"
    untagged = qbt.torrents(tag="")
    assert untagged and all(t.tags == () for t in untagged)
    assert qbt.torrents(hashes=[]) == []
    assert [t.hash for t in qbt.torrents(hashes=[SEED_HASH.upper()])] == [SEED_HASH]
    assert qbt.get("f" * 40) is None


def test_torrents_html_answer_is_bad_response(router, clock):
    router.get("/api/v2/app/version").mock(return_value=httpx.Response(200, text="v4.5.2"))
    router.get("/api/v2/torrents/info").mock(
        return_value=httpx.Response(200, text="<!DOCTYPE html><html></html>",
                                    headers={"content-type": "text/html"})
    )
    qbt = make(router, clock)
    with pytest.raises(BadResponse):
        qbt.torrents()


@pytest.mark.parametrize(
    ("state", "paused", "complete", "error", "stalled"),
    [
        ("pausedDL", True, False, False, False),
        ("stoppedDL", True, False, False, False),
        ("pausedUP", True, True, False, False),
        ("stoppedUP", True, True, False, False),
        ("stalledUP", False, True, False, False),
        ("uploading", False, True, False, False),
        ("stalledDL", False, False, False, True),
        ("downloading", False, False, False, False),
        ("error", False, False, True, False),
        ("missingFiles", False, False, True, False),
        ("somethingNew", False, False, False, False),
    ],
)
def test_torrent_state_predicates(state, paused, complete, error, stalled):
    t = Torrent.from_api({"hash": "AB", "name": "x", "state": state, "progress": 0.5, "total_size": 10})
    assert t.hash == "ab"
    assert (t.is_paused, t.is_complete, t.is_error, t.is_stalled_state) == (
        paused, complete, error, stalled,
    )


def test_torrent_progress_one_is_complete_and_missing_fields_default():
    t = Torrent.from_api({"hash": "ab", "name": "x", "state": "checkingResumeData", "progress": 1})
    assert t.is_complete and t.is_checking
    assert t.tags == () and t.eta == 8640000 and t.completed_at is None


def test_split_tags():
    assert split_tags("abs, research") == ("abs", "research")
    assert split_tags("") == ()
    assert split_tags(["a", " b "]) == ("a", "b")


def test_files_and_properties(router, clock):
    v4(router)
    router.get("/api/v2/torrents/files").mock(
        return_value=httpx.Response(200, json=fixture("qbt-4.5.2-torrents-files.json"))
    )
    router.get("/api/v2/torrents/properties", params={"hash": SEED_HASH}).mock(
        return_value=httpx.Response(200, json=fixture("qbt-4.5.2-torrents-properties-seeding.json"))
    )
    router.get("/api/v2/torrents/properties", params={"hash": "f" * 40}).mock(
        return_value=httpx.Response(404, text="Not Found")
    )
    qbt = make(router, clock)
    files = qbt.files(SEED_HASH)
    assert [(f.index, f.name, f.size) for f in files] == [
        (0, "Test Audiobook/01 - Chapter One.mp3", 300000),
        (1, "Test Audiobook/cover.jpg", 20000),
    ]
    props = qbt.properties(SEED_HASH)
    assert props is not None and props["hash"] == SEED_HASH
    assert qbt.properties("f" * 40) is None


def test_transfer_info(router, clock):
    v4(router)
    router.get("/api/v2/transfer/info").mock(
        return_value=httpx.Response(200, json=fixture("qbt-4.5.2-transfer-info.json"))
    )
    assert make(router, clock).transfer_info()["connection_status"] == "firewalled"


def test_client_has_no_delete():
    """abook must never delete a torrent or its files: the client offers no way to."""
    assert not [name for name in dir(QBittorrent) if "delete" in name.lower() or "remove" in name.lower()]
