from __future__ import annotations

import itertools
import logging

import httpx
import pytest
import respx

from abook.errors import AuthError, BadResponse, ServiceError
from abook.http import HttpService, Pacer, RedactingFilter, redact, register_secret


def test_redact_masks_registered_secrets_and_credential_shapes():
    register_secret("s3cr3t-token-value")
    text = (
        "GET http://h/x?apikey=abc123&mam_id=zzzz Authorization: Bearer eyJhbGciOi.x.y "
        "cookie: SID=qwerty s3cr3t-token-value password=hunter2"
    )
    out = redact(text)
    for secret in ("abc123", "zzzz", "eyJhbGciOi", "qwerty", "s3cr3t-token-value", "hunter2"):
        assert secret not in out
    assert "apikey=***" in out


def test_redact_masks_a_passkey_in_an_announce_url():
    # the two shapes private trackers use: a path segment, and a query parameter
    out = redact("tracker https://t.example.net/tracker.php/a1B2c3D4e5F6g7H8i9J0/announce and "
                 "http://127.0.0.1:9/announce.php?passkey=Zz9Yy8Xx7Ww6Vv5Uu4")
    assert "a1B2c3D4e5F6g7H8i9J0" not in out and "Zz9Yy8Xx7Ww6Vv5Uu4" not in out
    assert "/tracker.php/***/announce" in out and "passkey=***" in out
    assert redact("https://h/announce") == "https://h/announce"  # nothing to hide


def test_logging_filter_redacts_records(caplog: pytest.LogCaptureFixture):
    register_secret("another-secret-1234")
    logger = logging.getLogger("abook.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="abook.test"):
        logger.info("token is %s", "another-secret-1234")
    assert "another-secret-1234" not in caplog.text


def _svc(handler, **kw):
    return HttpService("Svc", "http://127.0.0.1:9", setting="SVC_URL", transport=httpx.MockTransport(handler),
                       backoff=0.001, sleep=lambda s: None, **kw)


def test_retries_5xx_on_idempotent_requests_then_succeeds():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(502) if len(calls) < 3 else httpx.Response(200, json={"ok": True})

    assert _svc(handler).get_json("/x") == {"ok": True}
    assert len(calls) == 3


def test_never_retries_a_post_unless_marked_idempotent():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500, text="boom")

    with pytest.raises(ServiceError, match="answered 500"):
        _svc(handler).request("POST", "/add")
    assert len(calls) == 1


def test_429_honours_retry_after():
    slept = []
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200, json=[])

    svc = HttpService("Svc", "http://127.0.0.1:9", transport=httpx.MockTransport(handler), backoff=0.001,
                      sleep=slept.append)
    assert svc.get_json("/x") == []
    assert slept and slept[0] >= 2


def test_401_is_auth_error_with_hint_and_no_secret():
    register_secret("tok-very-secret")

    def handler(request):
        return httpx.Response(401, text="Unauthorized")

    with pytest.raises(AuthError) as err:
        _svc(handler, headers={"Authorization": "Bearer tok-very-secret"},
             auth_hint="SVC_TOKEN was refused").get("/x")
    assert "SVC_TOKEN was refused" in str(err.value)
    assert "tok-very-secret" not in str(err.value)


def test_html_and_malformed_json_are_bad_responses():
    with pytest.raises(BadResponse, match="HTML page"):
        _svc(lambda r: httpx.Response(200, html="<!DOCTYPE html><html></html>")).get_json("/x")
    with pytest.raises(BadResponse, match="malformed JSON"):
        _svc(lambda r: httpx.Response(200, text="{not json")).get_json("/x")


def test_unreachable_names_the_setting_and_hides_query():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ServiceError) as err:
        _svc(handler).get("/x?apikey=abcdef")
    assert "SVC_URL" in str(err.value) and "unreachable" in str(err.value)
    assert "abcdef" not in str(err.value)


@respx.mock
def test_user_agent_is_sent():
    route = respx.get("http://127.0.0.1:9/ua").mock(return_value=httpx.Response(200, json={}))
    HttpService("Svc", "http://127.0.0.1:9").get_json("/ua")
    assert route.calls[0].request.headers["User-Agent"].startswith("abook/")


def test_pacer_keeps_the_minimum_interval_across_instances(tmp_path):
    import time

    pace = tmp_path / "pace"
    stamps = []
    for _ in range(3):
        with Pacer(0.05, 0.08, pace).slot():  # a new Pacer each time = another process
            stamps.append(time.time())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(g >= 0.05 for g in gaps), gaps
