"""qBittorrent WebUI API v2 client (qBittorrent 4.1 → 5.2).

Why one module of this size: one service with two API generations (4.x pause/resume, 5.x
stop/start, their login and add answers), and every method branches on the same version facts.

The quirks this module absorbs (evidence: research/prowlarr-qbittorrent.md, parts B and D):

- **Login.** ``POST auth/login``: up to 5.1 a refusal is ``200 Fails.``, from 5.2 it is ``401``;
  success is ``200 Ok.`` or ``204``. The session cookie is ``SID`` or ``QBT_SID_<port>``: the httpx
  cookie jar keeps whichever comes. Five failed logins ban the IP for an hour, so a refused login is
  reported at once and **never retried**, not even by a later call on the same client. A ``403``
  mid-session means the session expired: log in again once, then give up.
- **Localhost auth off.** When ``app/version`` answers 200 without a session no login is needed
  (``WebUI\\LocalHostAuth=false`` or a whitelisted subnet); we probe first, so a machine set up that
  way never burns a failed-login count on stale credentials.
- **CSRF.** ``Referer``/``Origin`` are sent equal to the base URL (qBittorrent compares them with
  ``Host``; a mismatch is a 401 for every endpoint).
- **Version branches.** WebAPI 2.11 (qBittorrent 5.0) renamed pause/resume to stop/start and the
  states ``pausedXX`` to ``stoppedXX``; ``paused`` on add became ``stopped`` (we send both). WebAPI
  2.14 (5.2) answers an add with JSON, 409 when nothing was added.
- **Adds are asynchronous.** ``Ok.`` proves nothing: every add is confirmed by polling
  ``torrents/info?hashes=<info-hash>``. An add is never resent blindly (not idempotent).
- **Tags** come back as one ``", "``-joined string; the ``tag`` filter needs 4.4+ (older versions
  ignore it), so category/tag filters are also applied client-side.

There is deliberately **no delete**: abook never removes a torrent or its files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import AuthError, BadResponse, ServiceError
from ..http import HttpService, ServiceClient

if TYPE_CHECKING:
    import httpx

__all__ = ["QBittorrent", "Torrent", "TorrentFileEntry"]

SERVICE = "qBittorrent"
AUTH_HINT = (
    "qBittorrent refused QB_USERNAME/QB_PASSWORD: check them in .env "
    "(abook does not retry a refused login: qBittorrent bans the IP for an hour after 5 failures)"
)
BAN_HINT = (
    "qBittorrent has banned this IP after too many failed logins (default: for one hour, or until "
    "qBittorrent restarts): fix QB_USERNAME/QB_PASSWORD and wait"
)

STOPPED_STATES = frozenset({"pausedDL", "pausedUP", "stoppedDL", "stoppedUP"})
COMPLETE_STATES = frozenset(
    {"uploading", "stalledUP", "queuedUP", "forcedUP", "pausedUP", "stoppedUP", "checkingUP"}
)
ERROR_STATES = frozenset({"error", "missingFiles"})
# States in which a download is not making progress right now: no peer sends data (stalledDL) or
# nobody supplies the metadata of a magnet (metaDL). The workflow decides how long is too long.
STALLED_STATES = frozenset({"stalledDL", "metaDL", "forcedMetaDL"})
DOWNLOADING_STATES = frozenset(
    {"downloading", "forcedDL", "metaDL", "forcedMetaDL", "stalledDL", "queuedDL",
     "checkingDL", "allocating"}
)
CHECKING_STATES = frozenset({"checkingDL", "checkingUP", "checkingResumeData", "queuedForChecking"})
ETA_INFINITY = 8640000


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.strip().lstrip("vV").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def split_tags(value: Any) -> tuple[str, ...]:
    """qBittorrent sends tags as ``"a, b"`` (a list in some forks): normalise to a tuple."""
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = str(value or "").split(",")
    return tuple(t.strip() for t in items if t.strip())


@dataclass(frozen=True)
class Torrent:
    """One row of ``torrents/info``; missing fields (older versions) take neutral defaults."""

    hash: str
    name: str
    state: str
    progress: float = 0.0
    size: int = 0  # selected bytes
    total_size: int = 0  # all bytes; -1 before a magnet's metadata arrives
    downloaded: int = 0
    uploaded: int = 0
    ratio: float = 0.0
    eta: int = ETA_INFINITY
    dlspeed: int = 0
    upspeed: int = 0
    category: str = ""
    tags: tuple[str, ...] = ()
    save_path: str = ""
    content_path: str = ""
    added_on: int = 0
    completion_on: int = 0  # 0 (4.x) or -1 (5.x) when not completed
    seeding_time: int = 0
    time_active: int = 0
    amount_left: int = 0
    num_seeds: int = 0
    num_leechs: int = 0
    num_complete: int = 0
    num_incomplete: int = 0
    last_activity: int = 0
    tracker: str = ""
    infohash_v1: str = ""
    infohash_v2: str = ""
    magnet_uri: str = ""

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> Torrent:
        return cls(
            hash=str(row.get("hash", "")).lower(),
            name=str(row.get("name", "")),
            state=str(row.get("state", "unknown")),
            progress=_float(row.get("progress")),
            size=_int(row.get("size")),
            total_size=_int(row.get("total_size")),
            downloaded=_int(row.get("downloaded")),
            uploaded=_int(row.get("uploaded")),
            ratio=_float(row.get("ratio")),
            eta=_int(row.get("eta"), ETA_INFINITY),
            dlspeed=_int(row.get("dlspeed")),
            upspeed=_int(row.get("upspeed")),
            category=str(row.get("category") or ""),
            tags=split_tags(row.get("tags")),
            save_path=str(row.get("save_path") or ""),
            content_path=str(row.get("content_path") or ""),
            added_on=_int(row.get("added_on")),
            completion_on=_int(row.get("completion_on")),
            seeding_time=_int(row.get("seeding_time")),
            time_active=_int(row.get("time_active")),
            amount_left=_int(row.get("amount_left")),
            num_seeds=_int(row.get("num_seeds")),
            num_leechs=_int(row.get("num_leechs")),
            num_complete=_int(row.get("num_complete")),
            num_incomplete=_int(row.get("num_incomplete")),
            last_activity=_int(row.get("last_activity")),
            tracker=str(row.get("tracker") or ""),
            infohash_v1=str(row.get("infohash_v1") or "").lower(),
            infohash_v2=str(row.get("infohash_v2") or "").lower(),
            magnet_uri=str(row.get("magnet_uri") or ""),
        )

    @property
    def has_metadata(self) -> bool:
        return self.total_size >= 0 and not self.state.endswith("MetaDL") and self.state != "metaDL"

    @property
    def is_complete(self) -> bool:
        """All selected bytes are here (seeding, paused after completion, or re-checking them)."""
        if not self.has_metadata:
            return False
        return self.progress >= 1.0 or self.state in COMPLETE_STATES

    @property
    def is_paused(self) -> bool:
        """Paused (4.x) or stopped (5.x): the two names of the same thing."""
        return self.state in STOPPED_STATES

    @property
    def is_error(self) -> bool:
        return self.state in ERROR_STATES

    @property
    def is_stalled_state(self) -> bool:
        return self.state in STALLED_STATES

    @property
    def is_downloading(self) -> bool:
        return self.state in DOWNLOADING_STATES

    @property
    def is_checking(self) -> bool:
        return self.state in CHECKING_STATES

    @property
    def completed_at(self) -> int | None:
        """Completion time (epoch seconds) or None: 4.x says 0, 5.x says -1 for "not yet"."""
        return self.completion_on if self.completion_on > 0 else None


@dataclass(frozen=True)
class TorrentFileEntry:
    """One row of ``torrents/files``."""

    index: int
    name: str  # relative path with "/"
    size: int
    progress: float
    priority: int

    @classmethod
    def from_api(cls, row: dict[str, Any], position: int) -> TorrentFileEntry:
        return cls(
            index=_int(row.get("index"), position),  # "index" appeared in WebAPI 2.8.2
            name=str(row.get("name", "")),
            size=_int(row.get("size")),
            progress=_float(row.get("progress")),
            priority=_int(row.get("priority"), 1),
        )


def _hashes(hashes: str | Iterable[str]) -> str:
    if isinstance(hashes, str):
        return hashes.lower()
    return "|".join(h.lower() for h in hashes)


class QBittorrent(ServiceClient):
    """A typed client for one qBittorrent WebUI. Lazy: the first call logs in when it must."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        *,
        timeout: float = 30,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        confirm_timeout: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base = url.rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"QB_URL must be an http(s) URL, got {url!r}")
        origin = f"{parts.scheme}://{parts.netloc}"
        self.url = base
        self.username = username
        self.password = password
        self.confirm_timeout = confirm_timeout
        self._sleep = sleep
        self._clock = clock
        self.http = HttpService(
            SERVICE,
            base,
            setting="QB_URL",
            # qBittorrent's CSRF check compares Origin/Referer with Host: send exactly our base URL.
            headers={"Referer": base + "/", "Origin": origin},
            secrets=[password] if password else [],
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            auth_hint=AUTH_HINT,
            transport=transport,
            sleep=sleep,
        )
        self.login_attempts = 0  # POSTs to auth/login made by this client (tests assert on it)
        self._logged_in = False
        self._auth_required: bool | None = None
        self._refused: AuthError | None = None
        self._webapi: tuple[int, ...] | None = None
        self._version: str | None = None

    # ------------------------------------------------------------- lifecycle
    # ----------------------------------------------------------------- auth
    @property
    def auth_required(self) -> bool | None:
        """False when qBittorrent lets us in without a login (localhost auth off); None until known."""
        return self._auth_required

    def login(self) -> None:
        """Open a session, or find that none is needed. Raises AuthError at once on refusal.

        A refused login is remembered: later calls raise the same error without asking
        qBittorrent again, so a long run can never walk into the five-failures ban.
        """
        if self._refused is not None:
            raise self._refused
        if self._auth_required is None:
            probe = self.http.request("GET", "/api/v2/app/version", ok=(401, 403))
            if probe.status_code == 200:
                self._auth_required = False
                self._version = probe.text.strip()
                return
            self._auth_required = True
            if probe.status_code == 403 and "banned" in probe.text.lower():
                self._refused = AuthError(BAN_HINT, service=SERVICE, status=403)
                raise self._refused
        if not self._auth_required:
            return
        if not self.username and not self.password:
            raise AuthError(
                "qBittorrent requires a login: set QB_USERNAME and QB_PASSWORD "
                "(or disable WebUI authentication for localhost in qBittorrent)",
                service=SERVICE,
            )
        self._do_login()

    def _do_login(self) -> None:
        if self._refused is not None:
            raise self._refused
        self.login_attempts += 1
        response = self.http.request(
            "POST",
            "/api/v2/auth/login",
            data={"username": self.username, "password": self.password},
            ok=(200, 204, 401, 403),
            idempotent=False,  # never resend a login: failures count toward an IP ban
        )
        status, body = response.status_code, response.text.strip()
        if status == 403:
            hint = BAN_HINT if "banned" in body.lower() else AUTH_HINT
            self._refused = AuthError(hint, service=SERVICE, status=403)
            raise self._refused
        if status == 401:
            # 5.2+: bad credentials. Any version: Origin/Referer did not match Host (a proxy).
            self._refused = AuthError(
                AUTH_HINT + "; behind a reverse proxy also check that QB_URL is the address the "
                "proxy serves (qBittorrent compares Origin/Referer with Host)",
                service=SERVICE,
                status=401,
            )
            raise self._refused
        if status == 200 and body.lower().startswith("fails"):
            self._refused = AuthError(AUTH_HINT, service=SERVICE, status=200)
            raise self._refused
        self._logged_in = True

    def _ensure_session(self) -> None:
        if self._refused is not None:
            raise self._refused
        if self._auth_required is None or (self._auth_required and not self._logged_in):
            self.login()

    def _call(
        self,
        method: str,
        path: str,
        *,
        ok: Sequence[int] = (),
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One API call with a session; a 403 (expired session) triggers one re-login and retry.

        Resending after a 403 is safe even for an add: qBittorrent refused it before doing anything.
        """
        self._ensure_session()
        url = f"/api/v2/{path.lstrip('/')}"
        accept = (*ok, 403)
        response = self.http.request(method, url, ok=accept, idempotent=idempotent, **kwargs)
        if response.status_code == 403 and 403 not in ok:
            if "banned" in response.text.lower():
                raise AuthError(BAN_HINT, service=SERVICE, status=403)
            if not self.username and not self.password:
                raise AuthError(
                    "qBittorrent answered 403 Forbidden: it requires a login, set QB_USERNAME "
                    "and QB_PASSWORD",
                    service=SERVICE,
                    status=403,
                )
            self._logged_in = False
            self._auth_required = True
            self._do_login()
            response = self.http.request(method, url, ok=ok, idempotent=idempotent, **kwargs)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call(method, path, **kwargs)
        return self.http.decode(response, f"{method} /api/v2/{path}")

    # ------------------------------------------------------------- versions
    def version(self) -> str:
        """The application version without its leading "v", e.g. ``"4.5.2"``."""
        if self._version is None:
            self._version = self._call("GET", "app/version").text.strip()
        return self._version.lstrip("vV")

    def webapi_version(self) -> tuple[int, ...]:
        """``app/webapiVersion`` as a tuple, e.g. ``(2, 8, 19)``; fetched once per client."""
        if self._webapi is None:
            text = self._call("GET", "app/webapiVersion").text.strip()
            parsed = _version_tuple(text)
            if not parsed:
                raise BadResponse(
                    f"qBittorrent answered app/webapiVersion with {text[:40]!r}: "
                    "is QB_URL the qBittorrent WebUI?",
                    service=SERVICE,
                )
            self._webapi = parsed
        return self._webapi

    @property
    def uses_stop_start(self) -> bool:
        """True on qBittorrent 5.x (WebAPI >= 2.11): stop/start and ``stoppedXX`` states."""
        return self.webapi_version() >= (2, 11)

    # ----------------------------------------------------------- categories
    def categories(self) -> dict[str, dict[str, Any]]:
        data = self._json("GET", "torrents/categories")
        if not isinstance(data, dict):
            raise BadResponse("qBittorrent sent categories that are not an object", service=SERVICE)
        return data

    def ensure_category(self, name: str, save_path: str = "") -> None:
        """Create the category if it is missing; an existing one is left as it is (409 is fine)."""
        if not name:
            return
        form = {"category": name, "savePath": save_path}
        response = self._call(
            "POST", "torrents/createCategory", data=form, ok=(409,), idempotent=False
        )
        if response.status_code == 409 and name not in self.categories():
            raise ServiceError(
                f"qBittorrent refused the category name {name!r}: {response.text.strip()[:80]}",
                service=SERVICE,
                status=409,
            )

    # ------------------------------------------------------------- torrents
    def torrents(
        self,
        category: str | None = None,
        tag: str | None = None,
        hashes: str | Iterable[str] | None = None,
    ) -> list[Torrent]:
        """``torrents/info`` filtered by category, tag and/or hashes (also client-side: old
        versions ignore ``tag``)."""
        params: dict[str, str] = {}
        if category is not None:
            params["category"] = category
        if tag is not None:
            params["tag"] = tag
        if hashes is not None:
            joined = _hashes(hashes)
            if not joined:
                return []
            params["hashes"] = joined
        rows = self._json("GET", "torrents/info", params=params)
        if not isinstance(rows, list):
            raise BadResponse("qBittorrent sent a torrent list that is not a list", service=SERVICE)
        result = [Torrent.from_api(r) for r in rows if isinstance(r, dict)]
        if category is not None:
            result = [t for t in result if t.category == category]
        if tag is not None:
            result = [t for t in result if (tag in t.tags if tag else not t.tags)]
        if hashes is not None:
            wanted = set(params["hashes"].split("|"))
            if "all" not in wanted:
                result = [
                    t for t in result
                    if t.hash in wanted or t.infohash_v1 in wanted or t.infohash_v2[:40] in wanted
                ]
        return result

    def get(self, info_hash: str) -> Torrent | None:
        found = self.torrents(hashes=[info_hash])
        return found[0] if found else None

    def add_torrent(
        self,
        data: bytes | None = None,
        *,
        magnet: str | None = None,
        category: str = "",
        tags: Sequence[str] = (),
        save_path: str = "",
        paused: bool = False,
        expected_hash: str = "",
        skip_checking: bool = False,
    ) -> Torrent:
        """Add a .torrent (bytes) or a magnet and return the torrent as qBittorrent lists it.

        ``expected_hash`` defaults to the hash computed from ``data``/``magnet``. A torrent already
        present is returned as it is (qBittorrent would refuse the duplicate anyway). Without
        ``save_path`` and with a category, Automatic Torrent Management puts the files in the
        category's folder. Raises ServiceError when the add cannot be confirmed by hash.
        """
        from ..torrent import magnet_info_hash, parse_torrent

        if (data is None) == (magnet is None):
            raise ValueError("add_torrent needs exactly one of data or magnet")
        if data is not None:
            computed = parse_torrent(data).info_hash  # ValueError for an HTML page or junk
        else:
            assert magnet is not None
            computed = magnet_info_hash(magnet)
        info_hash = (expected_hash or computed).lower()

        existing = self.get(info_hash)
        if existing is not None:
            return existing

        form: dict[str, str] = {
            # 4.x reads "paused", 5.x reads "stopped"; each ignores the other, so send both.
            "paused": "true" if paused else "false",
            "stopped": "true" if paused else "false",
        }
        if category:
            form["category"] = category
        if tags:
            form["tags"] = ",".join(tags)
        if save_path:
            form["savepath"] = save_path
            form["autoTMM"] = "false"
        elif category:
            form["autoTMM"] = "true"
        if skip_checking:
            form["skip_checking"] = "true"

        kwargs: dict[str, Any] = {"data": form}
        if data is not None:
            kwargs["files"] = {"torrents": (f"{info_hash}.torrent", data, "application/x-bittorrent")}
        else:
            form["urls"] = magnet or ""
        response = self._call(
            "POST", "torrents/add", ok=(200, 202, 409, 415), idempotent=False, **kwargs
        )
        status, body = response.status_code, response.text.strip()
        if status == 415:
            raise ServiceError(
                f"qBittorrent rejected the torrent file as invalid: {body[:120]}",
                service=SERVICE,
                status=415,
            )
        refused = status == 409 or body.lower().startswith("fails")
        torrent = self._confirm(info_hash, quick=refused)
        if torrent is None:
            why = "refused the add" if refused else "accepted the add but never listed"
            raise ServiceError(
                f"qBittorrent {why} torrent {info_hash}: check its log and free disk space",
                service=SERVICE,
                status=status,
            )
        if tags and self.webapi_version() < (2, 6, 2):
            # The "tags" field on add arrived in WebAPI 2.6.2 (4.3.2); older ones ignore it.
            self.add_tags([info_hash], tags)
            torrent = self.get(info_hash) or torrent
        return torrent

    def _confirm(self, info_hash: str, *, quick: bool = False) -> Torrent | None:
        """Poll ``torrents/info?hashes=`` until the torrent shows up (adds are asynchronous)."""
        deadline = self._clock() + (min(2.0, self.confirm_timeout) if quick else self.confirm_timeout)
        delay = 0.2
        while True:
            torrent = self.get(info_hash)
            if torrent is not None or self._clock() >= deadline:
                return torrent
            self._sleep(delay)
            delay = min(delay * 2, 1.0)

    def _post_hashes(self, endpoint: str, hashes: str | Iterable[str], **extra: str) -> None:
        joined = _hashes(hashes)
        if not joined:
            return
        self._call("POST", f"torrents/{endpoint}", data={"hashes": joined, **extra}, idempotent=True)

    def _pause_or_stop(self, old: str, new: str, hashes: str | Iterable[str]) -> None:
        first, second = (new, old) if self.uses_stop_start else (old, new)
        try:
            self._post_hashes(first, hashes)
        except ServiceError as exc:
            # An odd build (a fork, a dev version) without the endpoint its version implies.
            if exc.status != 404:
                raise
            self._post_hashes(second, hashes)

    def pause(self, hashes: str | Iterable[str]) -> None:
        """Pause (4.x) / stop (5.x) torrents; ``"all"`` works too."""
        self._pause_or_stop("pause", "stop", hashes)

    def resume(self, hashes: str | Iterable[str]) -> None:
        """Resume (4.x) / start (5.x) torrents."""
        self._pause_or_stop("resume", "start", hashes)

    def files(self, info_hash: str) -> list[TorrentFileEntry]:
        rows = self._json("GET", "torrents/files", params={"hash": info_hash.lower()})
        if not isinstance(rows, list):
            raise BadResponse("qBittorrent sent a file list that is not a list", service=SERVICE)
        return [TorrentFileEntry.from_api(r, i) for i, r in enumerate(rows) if isinstance(r, dict)]

    def properties(self, info_hash: str) -> dict[str, Any] | None:
        """``torrents/properties`` as a dict, or None for an unknown hash (404)."""
        response = self._call("GET", "torrents/properties", params={"hash": info_hash.lower()}, ok=(404,))
        if response.status_code == 404:
            return None
        data = self.http.decode(response, "GET /api/v2/torrents/properties")
        if not isinstance(data, dict):
            raise BadResponse("qBittorrent sent properties that are not an object", service=SERVICE)
        return data

    def trackers(self, info_hash: str) -> list[dict[str, Any]]:
        rows = self._json("GET", "torrents/trackers", params={"hash": info_hash.lower()})
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def add_tags(self, hashes: str | Iterable[str], tags: Sequence[str]) -> None:
        if tags:
            self._post_hashes("addTags", hashes, tags=",".join(tags))

    def set_category(self, hashes: str | Iterable[str], category: str) -> None:
        self._post_hashes("setCategory", hashes, category=category)

    def set_location(self, hashes: str | Iterable[str], location: str) -> None:
        """Move the files (qBittorrent moves them itself; abook never deletes anything)."""
        self._post_hashes("setLocation", hashes, location=location)

    def recheck(self, hashes: str | Iterable[str]) -> None:
        self._post_hashes("recheck", hashes)

    def reannounce(self, hashes: str | Iterable[str]) -> None:
        self._post_hashes("reannounce", hashes)

    def add_peers(self, hashes: str | Iterable[str], peers: Sequence[str]) -> None:
        """Tell qBittorrent about peers ``host:port`` (WebAPI 2.3.0+)."""
        if peers:
            self._post_hashes("addPeers", hashes, peers="|".join(peers))

    def transfer_info(self) -> dict[str, Any]:
        data = self._json("GET", "transfer/info")
        return data if isinstance(data, dict) else {}

    def default_save_path(self) -> str:
        return self._call("GET", "app/defaultSavePath").text.strip()
