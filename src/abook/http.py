"""The one place httpx clients are built.

Policy shared by every service client:
- connect/read timeouts and ``User-Agent: abook/<version>``;
- retries with exponential backoff and jitter (tenacity) on transport errors, 429 (honouring
  ``Retry-After``) and 5xx, for idempotent requests only: a torrent add is never blindly resent;
- a per-service minimum interval between requests, jittered, optionally shared between processes
  through a small pace file (the tracker must never be hammered, even by two commands at once);
- status -> exception mapping (:mod:`abook.errors`) with messages that name the service, method and
  path but never a query string, header or cookie;
- redaction of every registered secret from log lines and messages; ``ABOOK_DEBUG_HTTP=1`` logs
  each request and response, redacted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from . import __version__
from .errors import AuthError, BadResponse, ServiceError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("abook.http")
USER_AGENT = f"abook/{__version__} (+https://github.com/abook)"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# ---------------------------------------------------------------- redaction
_SECRETS: set[str] = set()
_SECRET_LOCK = threading.Lock()
_PATTERNS = [
    # key=value in query strings, cookies and form bodies
    re.compile(
        r"(?i)\b(mam_id|apikey|api_key|x-api-key|token|access_token|refresh_token|password|passwd|"
        r"sid|qbt_sid_\d+|key|passkey|authorization|cookie|set-cookie)(=|:\s*)([^&;\s,\"']+)"
    ),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    # a private tracker's announce URL carries the passkey as a path segment: ".../<key>/announce"
    re.compile(r"(?i)/[A-Za-z0-9]{16,}(?=/announce\b)"),
]


def register_secret(*values: str | None) -> None:
    """Remember secret values so :func:`redact` masks them wherever they appear."""
    with _SECRET_LOCK:
        for value in values:
            if value and len(value) >= 4:
                _SECRETS.add(value)


def redact(text: str) -> str:
    """Mask registered secrets and anything that looks like a credential in ``text``."""
    if not text:
        return text
    with _SECRET_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} ***", text)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _PATTERNS[2].sub("/***", text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


# ------------------------------------------------------------------- pacing
class Pacer:
    """Keep at least a jittered interval between requests to one service.

    With ``pace_file`` the last request time lives in a file locked with ``flock``, so two
    processes (say ``top10`` and ``ratio-check`` from cron) also keep the distance.
    """

    def __init__(
        self,
        min_interval: float,
        max_interval: float | None = None,
        pace_file: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min = max(0.0, min_interval)
        self.max = max(self.min, max_interval if max_interval is not None else self.min)
        self.pace_file = pace_file
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()

    def _interval(self) -> float:
        return random.uniform(self.min, self.max) if self.max > self.min else self.min

    @contextlib.contextmanager
    def slot(self):  # type: ignore[no-untyped-def]
        """Wait for our turn; the turn is stamped when the request *ends*."""
        if self.min <= 0:
            yield
            return
        with self._lock:
            if self.pace_file is None:
                self._wait(self._last)
                try:
                    yield
                finally:
                    self._last = self._clock()
                return
            self.pace_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.pace_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.pread(fd, 64, 0).decode(errors="ignore").strip()
                last = float(raw) if raw else None
                self._wait(last)
                try:
                    yield
                finally:
                    stamp = f"{self._clock():.6f}".encode()
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, stamp, 0)
            finally:
                os.close(fd)

    def _wait(self, last: float | None) -> None:
        if last is None:
            return
        delay = last + self._interval() - self._clock()
        if delay > 0:
            self._sleep(delay)


# --------------------------------------------------------------- the client
class _Retryable(Exception):
    def __init__(self, response: httpx.Response | None, exc: Exception | None, wait: float | None):
        super().__init__("retryable")
        self.response = response
        self.exc = exc
        self.wait = wait


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    with contextlib.suppress(Exception):
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


class ServiceClient:
    """What every service client (and metadata source) shares: it owns one ``http`` service,
    closes it, and is a context manager. Clients define only their own calls."""

    http: HttpService | None

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpService:
    """One service's HTTP session with abook's policy. Clients compose it; workflows never see it."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        setting: str = "",
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        pacer: Pacer | None = None,
        auth_hint: str = "",
        forbidden_hint: str = "",
        transport: httpx.BaseTransport | None = None,
        follow_redirects: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.name = name
        self.setting = setting
        self.base_url = base_url.rstrip("/")
        self.retries = max(1, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.pacer = pacer
        self.auth_hint = auth_hint or f"{name} refused the credentials: check them in .env"
        # 403 means "refused" for most services, but "not allowed to do this" for some (ABS).
        self.forbidden_hint = forbidden_hint or self.auth_hint
        self._sleep = sleep
        register_secret(*secrets)
        hooks: dict[str, list[Callable[..., Any]]] = {"request": [], "response": []}
        if os.environ.get("ABOOK_DEBUG_HTTP") == "1":
            hooks["request"].append(_log_request)
            hooks["response"].append(_log_response)
        self.client = httpx.Client(
            base_url=self.base_url,
            verify=_ssl_context() if self.base_url.startswith("https:") else False,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            cookies=dict(cookies or {}),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            transport=transport,
            follow_redirects=follow_redirects,
            event_hooks=hooks,
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        ok: Iterable[int] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; map failures to AbookErrors. Statuses in ``ok`` are returned as is."""
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
        )

        method = method.upper()
        retry = method in IDEMPOTENT if idempotent is None else idempotent
        allowed = set(ok)
        where = f"{method} {_path_only(path)}"

        def once() -> httpx.Response:
            import httpx

            ctx = self.pacer.slot() if self.pacer else contextlib.nullcontext()
            try:
                with ctx:
                    response = self.client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                if retry:
                    raise _Retryable(None, exc, None) from None
                raise self._unreachable(where, exc) from None
            except httpx.TransportError as exc:
                if retry:
                    raise _Retryable(None, exc, None) from None
                raise self._unreachable(where, exc) from None
            status = response.status_code
            if status in allowed:
                return response
            if retry and (status == 429 or status >= 500):
                response.read()
                raise _Retryable(response, None, _retry_after(response))
            return response

        def wait(state: Any) -> float:
            exc = state.outcome.exception()
            hinted = exc.wait if isinstance(exc, _Retryable) else None
            expo = min(self.max_backoff, self.backoff * (2 ** (state.attempt_number - 1)))
            jittered = expo * random.uniform(0.5, 1.0)
            if hinted is not None:
                return min(max(hinted, jittered), self.max_backoff * 5)
            return jittered

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception()
            reason = (
                f"HTTP {exc.response.status_code}"
                if isinstance(exc, _Retryable) and exc.response is not None
                else type(getattr(exc, "exc", exc)).__name__
            )
            log.info(
                "%s %s: %s, retrying (attempt %d of %d)",
                self.name, where, reason, state.attempt_number + 1, self.retries,
            )

        try:
            response = Retrying(
                stop=stop_after_attempt(self.retries if retry else 1),
                wait=wait,
                retry=retry_if_exception_type(_Retryable),
                before_sleep=before_sleep,
                sleep=self._sleep,
                reraise=False,
            )(once)
        except RetryError as err:
            last = err.last_attempt.exception()
            assert isinstance(last, _Retryable)
            if last.response is not None:
                response = last.response
            else:
                raise self._unreachable(where, last.exc) from None
        except _Retryable as last:  # pragma: no cover - reraise=False makes this rare
            if last.response is None:
                raise self._unreachable(where, last.exc) from None
            response = last.response
        return self._check(response, where, allowed)

    def _unreachable(self, where: str, exc: Exception | None) -> ServiceError:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            why = "timed out"
        elif isinstance(exc, httpx.ConnectError):
            why = "connection refused or host not found"
        else:
            why = type(exc).__name__ if exc else "transport error"
        fix = f": check {self.setting} and that the service is running" if self.setting else ""
        return ServiceError(
            redact(f"{self.name} at {self.base_url} is unreachable ({why}) on {where}{fix}"),
            service=self.name,
        )

    def _check(self, response: httpx.Response, where: str, allowed: set[int]) -> httpx.Response:
        status = response.status_code
        if status in allowed or status < 400:
            return response
        if status in (401, 403):
            hint = self.auth_hint if status == 401 else self.forbidden_hint
            raise AuthError(redact(hint), service=self.name, status=status)
        if status == 429:
            raise ServiceError(
                f"{self.name} kept answering 429 Too Many Requests on {where}: try again later",
                service=self.name, status=status,
            )
        reason = response.reason_phrase or ""
        detail = _short_body(response)
        raise ServiceError(
            redact(f"{self.name} answered {status} {reason} on {where}{detail}").strip(),
            service=self.name, status=status,
        )

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Request and decode JSON; an HTML page or broken JSON is a one-line BadResponse."""
        response = self.request(method, path, **kwargs)
        return self.decode(response, f"{method.upper()} {_path_only(path)}")

    def decode(self, response: httpx.Response, where: str) -> Any:
        body = response.content
        head = body[:200].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html")) or (
            "text/html" in response.headers.get("content-type", "") and not head.startswith((b"{", b"["))
        ):
            raise BadResponse(
                f"{self.name} answered {where} with an HTML page instead of JSON: "
                f"check that {self.setting or 'the URL'} points at {self.name} itself",
                service=self.name, status=response.status_code,
            )
        try:
            return _loads(body)
        except ValueError:
            try:  # not UTF-8 (orjson insists): let httpx pick the charset
                return json.loads(response.text)
            except ValueError:
                pass
            raise BadResponse(
                f"{self.name} sent malformed JSON for {where}: is {self.setting or 'the URL'} right?",
                service=self.name, status=response.status_code,
            ) from None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.json("GET", path, **kwargs)


_SSL: Any = None


def _loads(body: bytes) -> Any:
    """JSON from bytes: orjson when installed (3-4x faster on 50,000-item libraries), else json."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; stay usable without it
        return json.loads(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def _ssl_context() -> Any:
    """One TLS context per process: building one reads the CA bundle (tens of ms each).

    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` name your own CA (a self-hosted ABS behind a reverse
    proxy with a private certificate authority); otherwise certifi's bundle is used."""
    global _SSL
    if _SSL is None:
        import ssl

        cafile = os.environ.get("SSL_CERT_FILE") or None
        capath = os.environ.get("SSL_CERT_DIR") or None
        if cafile is None and capath is None:
            import certifi

            cafile = certifi.where()
        _SSL = ssl.create_default_context(cafile=cafile, capath=capath)
    return _SSL


def _path_only(path: str) -> str:
    return path.split("?", 1)[0]


def _short_body(response: httpx.Response) -> str:
    try:
        text = response.text.strip()
    except Exception:
        return ""
    if not text or text.lower().startswith(("<!doctype", "<html")):
        return ""
    first = text.splitlines()[0][:120]
    return f": {first}"


def _log_request(request: httpx.Request) -> None:
    log.warning(redact(f"HTTP -> {request.method} {request.url}"))


def _log_response(response: httpx.Response) -> None:
    request = response.request
    log.warning(redact(f"HTTP <- {response.status_code} {request.method} {request.url}"))
