"""A fake MyAnonamouse on 127.0.0.1 that behaves like the real JSON endpoints.

It holds a catalog of rows in MAM's exact search shape (JSON-in-string ``author_info`` & co,
formatted sizes, 0/1 flags) and implements what abook relies on, strictly enough to catch bugs:

- ``POST`` (JSON body) and ``GET`` (``tor[...]`` brackets) ``/tor/js/loadSearchJSONbasic.php``:
  text (a full-text match like the site's: every word of the query must be a whole word of the
  ``srchIn`` fields, words split at anything but letters and digits - so "Xyz's" is "xyz" + "s"
  and never "xyzs", "&" and ":" are no words -, case and accents folded) / category / main_cat /
  language / date-window filters, ``sortType``, paging with
  ``startNumber`` + ``perpage`` (capped by ``max_per_page``), ``dlLink``, and
  ``{"error": "Nothing returned, out of N"}`` when a page is empty;
- the ``mam_id`` cookie rotates on every answered request and only the newest value (plus
  ``keep_previous`` older ones) is accepted; anything else gets a 403;
- requests closer than ``min_interval`` seconds get a 429 (and every request time is recorded);
- ``/tor/download.php?tid=`` and ``/tor/download.php/<dl>`` serve real .torrent files made with
  :func:`abook.torrent.make_torrent` from small generated files, so info-hashes are real;
- ``/jsonLoad.php`` serves user stats that tests can change; ``/json/bonusBuy.php`` sells VIP and
  upload credit against the user's points;
- a download is a **snatch**, and like the real site the account's numbers lag behind it: the
  unsatisfied count and ``/json/loadUserDetailsTorrents.php?type=unsat`` (the account's own
  unsatisfied list, 250 rows a page, MLM's row shape) show a snatch only ``snatch_lag`` seconds
  later (real MAM: 5-20 minutes; :meth:`settle` makes them show at once);
- ``download.php?...&fl=1`` asks for a freeleech **wedge** with the download: one is deducted and
  the torrent turns personal freeleech -- also on a torrent that was free or VIP already (the
  waste sevenlayercookie/MouseSearch #47 saw); without wedges, or with ``wedge_mode="disabled"``,
  the torrent is served without freeleech and nothing says so (``wedge_refusal="error"`` answers a
  JSON error instead, no snatch; ``wedge_mode="refuse"`` always answers ``Not allowed via API``);
- flags change between a search and the grab: :meth:`set_flags` at once, :meth:`change_after_search`
  right after the next search page that shows the torrent;
- faults can be injected per path: 403, an HTML login page, a login redirect, 500, 429, malformed
  JSON, a JSON error.

Usage::

    with FakeMAM(make_catalog(40), min_interval=0.05) as mam:
        client = MAM(mam.url, mam.cookie, rate_min=0.06, rate_max=0.06, ...)
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import math
import random
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mam"

# MAM's audiobook categories (old ids), kept here independently of the client on purpose.
CATEGORY_NAMES: dict[int, str] = {
    39: "Action/Adventure", 49: "Art", 50: "Biographical", 83: "Business", 51: "Computer/Internet",
    97: "Crafts", 40: "Crime/Thriller", 41: "Fantasy", 106: "Food", 42: "General Fiction",
    52: "General Non-Fic", 98: "Historical Fiction", 54: "History", 55: "Home/Garden", 43: "Horror",
    99: "Humor", 84: "Instructional", 44: "Juvenile", 56: "Language", 45: "Literary Classics",
    57: "Math/Science/Tech", 85: "Medical", 87: "Mystery", 119: "Nature", 88: "Philosophy",
    58: "Pol/Soc/Relig", 59: "Recreation", 46: "Romance", 47: "Science Fiction", 53: "Self-Help",
    89: "Travel/Adventure", 100: "True Crime", 108: "Urban Fantasy", 48: "Western", 111: "Young Adult",
}
EBOOK_CATEGORY_NAMES: dict[int, str] = {63: "Fantasy", 69: "Sci-Fi"}
LANG_CODES = {1: "ENG", 4: "SPA", 22: "NLD", 36: "FRA", 37: "DEU", 43: "ITA"}
SUMMARY_KEYS = ("leeching", "sSat", "seedHnr", "seedUnsat", "upAct", "upInact", "inactHnr",
                "inactSat", "inactUnsat", "unsat", "duplicates", "reseed", "ite")
VIP_POINTS_PER_WEEK = 1250
UPLOAD_POINTS_PER_GB = 500
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Login | My Anonamouse</title></head>"
    "<body><form action=\"/takelogin.php\" method=\"post\"><input name=\"email\">"
    "<input type=\"password\" name=\"password\"></form></body></html>"
)


# ---------------------------------------------------------------- catalog
def format_size(size: int) -> str:
    """Bytes as MAM writes them: "612.4 MiB", "1.1 GiB"."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _stable_id(text: str, base: int) -> str:
    return str(base + int(hashlib.sha1(text.encode()).hexdigest()[:6], 16) % 900000)


def mam_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def mam_row(
    tid: int,
    title: str,
    *,
    authors: Sequence[str] = ("Unknown Author",),
    narrators: Sequence[str] = (),
    series: Sequence[tuple[str, str]] = (),
    category: int = 47,
    main_cat: int = 13,
    added: datetime | str | None = None,
    size: int = 300 * 1024 * 1024,
    snatches: int = 0,
    seeders: int = 10,
    leechers: int = 0,
    free: bool = False,
    personal_freeleech: bool = False,
    fl_vip: bool = False,
    vip: bool = False,
    my_snatched: bool = False,
    filetype: str = "m4b",
    tags: str = "",
    language: int = 1,
    browseflags: int = 0,
    escape: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """One search row in MAM's shape. Names are HTML-escaped like the site does (``escape``)."""
    esc = (lambda s: html.escape(s, quote=True).replace("&#x27;", "&#039;")) if escape else (lambda s: s)
    if added is None:
        added = datetime.now(UTC) - timedelta(days=1)
    added_text = added if isinstance(added, str) else mam_time(added)
    cat_name = (CATEGORY_NAMES if main_cat == 13 else EBOOK_CATEGORY_NAMES).get(category, "General Fiction")
    prefix = "Audiobooks" if main_cat == 13 else "Ebooks"
    row: dict[str, Any] = {
        "id": tid,
        "title": esc(title),
        "author_info": json.dumps({_stable_id(a, 90000): esc(a) for a in authors}) if authors else "",
        "narrator_info": json.dumps({_stable_id(n, 70000): esc(n) for n in narrators}) if narrators else "",
        "series_info": json.dumps({_stable_id(s, 30000): [esc(s), pos] for s, pos in series}) if series else "",
        "language": language,
        "lang_code": LANG_CODES.get(language, "ENG"),
        "main_cat": main_cat,
        "category": category,
        "catname": f"{prefix} - {cat_name}",
        "mediatype": 1 if main_cat == 13 else 2,
        "maincat": 1,
        "categories": "[]",
        "cat": f'<div class="cat{category}">&nbsp;</div>',
        "size": format_size(size),
        "numfiles": 1,
        "filetype": filetype,
        "tags": tags,
        "seeders": seeders,
        "leechers": leechers,
        "times_completed": snatches,
        "comments": 0,
        "added": added_text,
        "vip": int(vip),
        "vip_expire": 0,
        "free": int(free),
        "personal_freeleech": int(personal_freeleech),
        "fl_vip": int(fl_vip),
        "w": 0,
        "browseflags": browseflags,
        "owner": 400001,
        "owner_name": "uploader_one",
        "bookmarked": None,
        "my_snatched": int(my_snatched),
    }
    row.update(extra)
    return row


_WORDS_A = ["Clockwork", "Silent", "Hollow", "Crimson", "Salt", "Winter", "Glass", "Iron", "Last",
            "Drowned", "Burning", "Quiet", "Starlit", "Forgotten", "Seventh", "Amber"]
_WORDS_B = ["Lighthouse", "Kings", "Orchard", "Archive", "Moon", "Engine", "Harbor", "Citadel",
            "Garden", "Signal", "Crown", "Atlas", "Forge", "Library", "Voyage", "Tide"]
_FIRST = ["Mara", "Idris", "Clare", "Tom", "Ruth", "Samuel", "Ada", "Jonah", "Priya", "Leo", "Nina"]
_LAST = ["Ellison", "Vane", "Hughes", "Avery", "Okafor", "Orr", "Pemberton", "Castell", "Rhee", "Moss"]


def make_catalog(
    n: int = 30,
    *,
    categories: Sequence[int] = (47, 41, 87),
    now: datetime | None = None,
    days: int = 30,
    seed: int = 1,
    start_id: int = 2_000_001,
) -> list[dict[str, Any]]:
    """``n`` generated audiobook rows spread over the last ``days`` days (deterministic per ``seed``)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    rows = []
    for i in range(n):
        title = f"The {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {i + 1}"
        author = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        narrator = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        series = [(f"{rng.choice(_WORDS_A)} Chronicles", str(rng.randint(1, 6)))] if rng.random() < 0.5 else []
        rows.append(
            mam_row(
                start_id + i,
                title,
                authors=[author],
                narrators=[narrator],
                series=series,
                category=categories[i % len(categories)],
                added=now - timedelta(days=rng.uniform(0, days), minutes=i),
                size=rng.randint(80, 1500) * 1024 * 1024,
                snatches=rng.randint(0, 3000),
                seeders=rng.randint(1, 300),
                leechers=rng.randint(0, 5),
                free=rng.random() < 0.2,
                fl_vip=rng.random() < 0.2,
                filetype=rng.choice(["m4b", "mp3", "m4b mp3"]),
                tags="unabridged" if rng.random() < 0.7 else "",
            )
        )
    return rows


def default_user() -> dict[str, Any]:
    """The user-stats fixture (``jsonLoad.php?snatch_summary&notif``) as a fresh dict."""
    return json.loads((FIXTURES / "user-stats.SYNTHETIC.json").read_text())


# ----------------------------------------------------------------- server
@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    cookie: str | None  # the mam_id it carried
    at: float  # time.monotonic()
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    kind: str  # 403 | 401 | html | login_redirect | 500 | 429 | malformed | json_error | empty
    times: int
    path: str | None  # path prefix it applies to; None = any


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 in a daemon thread; subclasses implement ``handle``."""

    def __init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.lock = threading.RLock()
        self.url = ""
        self._current = threading.local()  # the Recorded being answered by this thread

    def start(self) -> LoopbackServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _any(self) -> None:
                owner._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes | str | Any = b"",
        *,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if isinstance(body, bytes):
            data = body
            content_type = content_type or "application/octet-stream"
        elif isinstance(body, str):
            data = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        else:
            data = json.dumps(body).encode()
            content_type = content_type or "application/json; charset=utf-8"
        rec = getattr(self._current, "rec", None)
        if rec is not None:  # recorded before the client can see the answer
            rec.status = status
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            h.send_header(name, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


def _bracket_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style ``tor[cat][]=1&tor[srchIn][title]=true`` -> nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        match = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", key)
        if not match:
            continue
        keys = [match.group(1), *re.findall(r"\[([^\]]*)\]", match.group(2))]
        node: Any = out
        for i, name in enumerate(keys):
            if i == len(keys) - 1:
                if name == "" and isinstance(node, list):
                    node.append(value)
                elif isinstance(node, dict):
                    node[name] = value
                break
            if not isinstance(node, dict) or name == "":
                break  # a[][b] is not something MAM's clients send
            node = node.setdefault(name, [] if keys[i + 1] == "" else {})
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [k for k, v in value.items() if str(v).lower() not in ("", "0", "false")]
    return [value]


def _ints(value: Any) -> list[int]:
    out = []
    for item in _as_list(value):
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return out


def _bound(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _row_time(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["added"])).replace(tzinfo=UTC)


def _size_bytes(text: Any) -> float:
    match = re.match(r"([\d.]+)\s*([KMGT]?)i?B", str(text))
    if not match:
        return 0.0
    return float(match.group(1)) * 1024 ** " KMGT".index(match.group(2) or " ")


def _words(text: str) -> list[str]:
    """Words as a full-text index sees them: entities decoded, case and accents folded, split at
    every character that is not a letter or a digit."""
    folded = unicodedata.normalize("NFKD", html.unescape(text or ""))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return re.findall(r"[^\W_]+", folded)


def _json_values(field_value: Any) -> list[str]:
    if not field_value:
        return []
    try:
        data = json.loads(field_value)
    except ValueError:
        return []
    out = []
    for value in data.values() if isinstance(data, dict) else []:
        out.append(str(value[0] if isinstance(value, list) and value else value))
    return out


class FakeMAM(LoopbackServer):
    """The fake tracker. Inspect ``requests``, ``cookie``, ``issued``, ``purchases``, ``user``."""

    def __init__(
        self,
        catalog: list[dict[str, Any]] | None = None,
        *,
        mam_id: str = "test-mam-id-0",
        min_interval: float = 0.0,
        max_per_page: int = 100,
        user: dict[str, Any] | None = None,
        payload_size: int = 40 * 1024,
        keep_previous: int = 0,
        rotate: bool = True,
        retry_after: float | None = None,
        mark_snatched: bool = True,
        cookie_domain: str | None = None,
        snatch_lag: float = 600.0,
        wedge_mode: str = "spend",
        wedge_refusal: str = "silent",
    ) -> None:
        super().__init__()
        self.catalog: list[dict[str, Any]] = list(catalog) if catalog is not None else make_catalog()
        self.cookie = mam_id  # the newest valid mam_id
        self.issued: list[str] = []  # every mam_id handed out, in order
        self._valid: list[str] = [mam_id]
        self.keep_previous = keep_previous
        self.rotate = rotate
        self.min_interval = min_interval
        self.retry_after = retry_after
        self.max_per_page = max_per_page
        self.user: dict[str, Any] = user if user is not None else default_user()
        self.payload_size = payload_size
        self.mark_snatched = mark_snatched
        self.cookie_domain = cookie_domain
        self.snatch_lag = snatch_lag
        self.wedge_mode = wedge_mode  # spend | disabled (served, nothing spent) | refuse (a JSON error)
        self.wedge_refusal = wedge_refusal  # silent | error (when no wedge is left)
        self.snatches: dict[str, dict[str, Any]] = {}  # torrent id -> snatch-list row (+ "_at")
        self.wedge_requests: list[str] = []  # torrent ids downloaded with fl=1
        self.wedges_spent: list[str] = []
        self._after_search: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.purchases: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._last_served: float | None = None
        self._counter = 0
        self._torrents: dict[int, bytes] = {}
        self._swarms: dict[bytes, dict[bytes, tuple[str, int]]] = {}  # the tracker's peers
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-mam-"))

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ------------------------------------------------------- test controls
    def fail_next(self, kind: str | int, times: int = 1, path: str | None = None) -> None:
        """Answer the next ``times`` requests (to ``path`` prefix, if given) with a fault."""
        with self.lock:
            self.faults.append(Fault(str(kind), times, path))

    def expire_session(self) -> None:
        """Invalidate every cookie: the next request gets a 403, as after MAM's idle expiry."""
        with self.lock:
            self._valid = []

    def new_session(self, mam_id: str) -> None:
        """What the user does in Preferences -> Security: a new, valid cookie."""
        with self.lock:
            self._valid = [mam_id]
            self.cookie = mam_id

    def set_user(self, **fields: Any) -> None:
        with self.lock:
            self.user.update(fields)

    def set_unsat(self, count: int, limit: int | None = None) -> None:
        with self.lock:
            unsat = self.user.setdefault("unsat", {"name": "Unsatisfied", "count": 0, "red": False})
            unsat["count"] = count
            if limit is not None:
                unsat["limit"] = limit

    def set_ratio(self, ratio: float | str) -> None:
        """The ratio, with the uploaded bytes that make it (as the real account would show)."""
        with self.lock:
            self.user["ratio"] = ratio
            try:
                value = float(ratio)
            except (TypeError, ValueError):
                return
            down = int(self.user.get("downloaded_bytes") or 0)
            if math.isfinite(value) and down > 0:
                up = int(value * down)
                self.user["uploaded_bytes"] = up
                self.user["uploaded"] = format_size(up)

    def set_flags(self, tid: int | str, **flags: Any) -> None:
        """Change a torrent's row now (``free=0`` ends its freeleech, ``vip=1``...)."""
        with self.lock:
            row = self.row(tid)
            assert row is not None, tid
            row.update({k: int(v) if isinstance(v, bool) else v for k, v in flags.items()})

    def change_after_search(self, tid: int | str, **flags: Any) -> None:
        """Change a torrent's row right after the next search page (not an id lookup) shows it:
        what happens when freeleech ends between the search and the grab."""
        with self.lock:
            self._after_search[str(tid)] = flags

    def add_snatch(self, tid: int | str, *, settled: bool = True, **fields: Any) -> dict[str, Any]:
        """A snatch of the account (e.g. one made before the test), as its snatch-list row."""
        with self.lock:
            row = self._snatch_row(str(tid))
            row.update(fields)
            if settled:
                row["_at"] = time.time() - self.snatch_lag - 1
            return row

    def settle(self) -> None:
        """MAM catches up: every snatch shows in the account's numbers and its unsatisfied list."""
        with self.lock:
            for row in self.snatches.values():
                row["_at"] = min(row["_at"], time.time() - self.snatch_lag - 1)

    def settled_snatches(self) -> list[dict[str, Any]]:
        cutoff = time.time() - self.snatch_lag
        return [r for r in self.snatches.values() if r["_at"] <= cutoff]

    @property
    def wedges(self) -> int:
        return int(self.user.get("wedges") or 0)

    def add(self, *rows: dict[str, Any]) -> None:
        with self.lock:
            self.catalog.extend(rows)

    def row(self, tid: int | str) -> dict[str, Any] | None:
        for row in self.catalog:
            if str(row.get("id")) == str(tid):
                return row
        return None

    @property
    def request_times(self) -> list[float]:
        return [r.at for r in self.requests]

    def served(self, path: str | None = None) -> list[Recorded]:
        """Requests answered with 2xx, optionally only those to ``path``."""
        return [r for r in self.requests if 200 <= r.status < 300 and (path is None or r.path == path)]

    def dl_hash(self, tid: int | str) -> str:
        return hashlib.sha1(f"fake-dl:{tid}".encode()).hexdigest()

    # ------------------------------------------------------ real torrents
    def payload_path(self, tid: int | str) -> Path:
        """The folder the torrent of ``tid`` describes (generated on first use)."""
        row = self.row(tid)
        if row is None:
            raise KeyError(tid)
        name = re.sub(r"[^\w .()-]+", "", html.unescape(str(row["title"]))).strip() or f"torrent-{tid}"
        folder = self._tmp / "payload" / str(tid) / name
        if not folder.exists():
            folder.mkdir(parents=True)
            block = hashlib.sha256(f"payload:{tid}".encode()).digest()
            data = (block * (self.payload_size // len(block) + 1))[: self.payload_size]
            ext = (str(row.get("filetype") or "m4b").split() or ["m4b"])[0]
            (folder / f"{name}.{ext}").write_bytes(data)
        return folder

    def torrent_bytes(self, tid: int | str) -> bytes:
        from abook.torrent import make_torrent

        key = int(tid)
        with self.lock:
            if key not in self._torrents:
                self._torrents[key] = make_torrent(
                    self.payload_path(tid), f"{self.url}/announce.php?passkey=test", private=True
                )
            return self._torrents[key]

    def info_hash(self, tid: int | str) -> str:
        from abook.torrent import parse_torrent

        return parse_torrent(self.torrent_bytes(tid)).info_hash

    # ---------------------------------------------------------- dispatch
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        cookie = None
        for piece in (h.headers.get("Cookie") or "").split(";"):
            key, _, value = piece.strip().partition("=")
            if key == "mam_id":
                cookie = value
        rec = Recorded(h.command, path, dict(query_pairs), body, cookie, time.monotonic(),
                       headers={k.lower(): v for k, v in h.headers.items()})
        self._current.rec = rec
        with self.lock:
            self.requests.append(rec)
            self._answer(h, rec, path, query_pairs, body)

    def _answer(self, h: Any, rec: Recorded, path: str, pairs: list[tuple[str, str]], body: Any) -> int:
        fault = self._take_fault(path)
        if fault is not None:
            return self._fault(h, fault.kind)
        if path == "/announce.php":  # the tracker: authenticated by the passkey, not the cookie
            return self._announce(h)
        if rec.cookie is None or rec.cookie not in self._valid:
            self.send(h, 403, "Forbidden: mam_id expired or invalid")
            return 403
        now = time.monotonic()
        if self.min_interval and self._last_served is not None and now - self._last_served < self.min_interval:
            headers = [("Retry-After", f"{self.retry_after:g}")] if self.retry_after is not None else []
            self.send(h, 429, {"error": "Too many requests"}, headers=[*headers, *self._rotate()])
            return 429
        self._last_served = now
        if path == "/tor/js/loadSearchJSONbasic.php":
            query = body if isinstance(body, dict) else _bracket_query(pairs)
            self.send(h, 200, self._search(query), headers=self._rotate())
            return 200
        if path.startswith("/tor/download.php"):
            return self._download(h, path, dict(pairs))
        if path == "/jsonLoad.php":
            self.send(h, 200, self._user_json({k for k, _ in pairs}), headers=self._rotate())
            return 200
        if path.startswith("/json/bonusBuy.php"):
            self.send(h, 200, self._bonus(dict(pairs)), headers=self._rotate())
            return 200
        if path == "/json/loadUserDetailsTorrents.php":
            self.send(h, 200, self._snatch_list(dict(pairs)), headers=self._rotate())
            return 200
        if path == "/json/checkCookie.php":
            self.send(h, 200, {"Success": True, "username": self.user.get("username")}, headers=self._rotate())
            return 200
        self.send(h, 404, "<html><body>Not found</body></html>", content_type="text/html")
        return 404

    def _announce(self, h: Any) -> int:
        """A minimal BitTorrent HTTP tracker (BEP 3/23): remember each peer of a swarm and hand
        the others back as compact peers, so two qbittorrent-nox find each other as they would
        through the real tracker."""
        import socket
        from urllib.parse import unquote_to_bytes

        from abook.torrent import bencode

        params: dict[str, bytes] = {}
        for part in urlsplit(h.path).query.split("&"):
            key, _, value = part.partition("=")
            params[key] = unquote_to_bytes(value)
        if params.get("passkey", b"") != b"test" or len(params.get("info_hash", b"")) != 20:
            self.send(h, 200, bencode({"failure reason": "unregistered torrent"}))
            return 200
        swarm = self._swarms.setdefault(params["info_hash"], {})
        peer_id = params.get("peer_id", b"")
        if params.get("event") == b"stopped":
            swarm.pop(peer_id, None)
        else:
            swarm[peer_id] = (h.client_address[0], int(params.get("port", b"0") or 0))
        peers = b"".join(socket.inet_aton(ip) + port.to_bytes(2, "big")
                         for pid, (ip, port) in swarm.items() if pid != peer_id and port)
        self.send(h, 200, bencode({"interval": 5, "min interval": 1, "peers": peers}))
        return 200

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and (fault.path is None or path.startswith(fault.path)):
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault(self, h: Any, kind: str) -> int:
        if kind in ("403", "401"):
            self.send(h, int(kind), "Forbidden")
            return int(kind)
        if kind == "html":
            self.send(h, 200, LOGIN_PAGE, content_type="text/html; charset=utf-8")
            return 200
        if kind == "login_redirect":
            self.send(h, 302, "", headers=[("Location", "/login.php?returnto=%2F")])
            return 302
        if kind == "500":
            self.send(h, 500, "Internal Server Error")
            return 500
        if kind == "429":
            headers = [("Retry-After", f"{self.retry_after:g}")] if self.retry_after is not None else []
            self.send(h, 429, "Too many requests", headers=headers)
            return 429
        if kind == "malformed":
            self.send(h, 200, '{"perpage": 100, "data": [{"id": 1,', content_type="application/json")
            return 200
        if kind == "json_error":
            self.send(h, 200, {"error": "Torrent not found or you do not have access"})
            return 200
        if kind == "empty":
            self.send(h, 200, b"", content_type="application/x-bittorrent")
            return 200
        raise ValueError(f"unknown fault {kind!r}")

    def _rotate(self) -> list[tuple[str, str]]:
        """Issue the next mam_id (MAM does it on every response) as a Set-Cookie header."""
        if not self.rotate:
            return []
        self._counter += 1
        new = f"test-mam-id-{self._counter}-{hashlib.sha1(f'{self._counter}:{self.cookie}'.encode()).hexdigest()[:12]}"
        self.issued.append(new)
        self.cookie = new
        self._valid = [*self._valid[-self.keep_previous :], new] if self.keep_previous else [new]
        domain = f"; domain={self.cookie_domain}" if self.cookie_domain else ""
        expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        return [("Set-Cookie", f"mam_id={new}; expires={expires}; Max-Age=2592000; path=/{domain}; HttpOnly")]

    # ------------------------------------------------------------- search
    def _search(self, query: dict[str, Any]) -> dict[str, Any]:
        tor = query.get("tor") if isinstance(query.get("tor"), dict) else {}
        text = str(tor.get("text") or "")
        fields = [str(f) for f in _as_list(tor.get("srchIn"))] or ["title", "author", "narrator", "series"]
        main_cats = set(_ints(tor.get("main_cat")))
        cats = {c for c in _ints(tor.get("cat")) if c != 0}
        langs = set(_ints(tor.get("browse_lang")))
        start_date, end_date = _bound(tor.get("startDate")), _bound(tor.get("endDate"))
        tokens = _words(text)
        wanted_id = str(tor.get("id") or "")
        rows = []
        for row in self.catalog:
            if wanted_id and str(row.get("id")) != wanted_id:
                continue  # tor[id]: an exact lookup by torrent id
            if main_cats and int(row.get("main_cat", 0)) not in main_cats:
                continue
            if cats and int(row.get("category", 0)) not in cats:
                continue
            if langs and int(row.get("language", 0)) not in langs:
                continue
            added = _row_time(row)
            if start_date and added < start_date:
                continue
            if end_date and added >= end_date:
                continue
            if tokens:
                hay = set(_words(self._haystack(row, fields)))
                if not all(t in hay for t in tokens):
                    continue
            rows.append(row)
        rows = self._sort(rows, str(tor.get("sortType") or "default"))
        total = len(rows)
        try:
            start = max(0, int(tor.get("startNumber") or 0))
        except ValueError:
            start = 0
        try:
            perpage = int(query.get("perpage") or tor.get("perpage") or 25)
        except ValueError:
            perpage = 25
        perpage = max(5, min(100, self.max_per_page, perpage))
        page = rows[start : start + perpage]
        if not page:
            return {"error": f"Nothing returned, out of {total}"}
        want_dl = "dlLink" in query
        # Like the site: the extra fields come only when the request names them (a description
        # makes a row several times heavier, so real clients leave it out of big searches).
        extras = {key for key in ("description", "isbn", "thumbnail", "mediainfo")
                  if key not in query and {"mediainfo": "mediaInfo"}.get(key, key) not in query}
        data = []
        for row in page:
            out = {k: copy.deepcopy(v) for k, v in row.items() if not k.startswith("_") and k not in extras}
            if want_dl:
                out["dl"] = self.dl_hash(row["id"])
            data.append(out)
            if not wanted_id and str(row["id"]) in self._after_search:
                row.update(self._after_search.pop(str(row["id"])))  # seen as it was; changed now
        return {"perpage": perpage, "start": start, "data": data, "total": total, "found": total}

    @staticmethod
    def _haystack(row: dict[str, Any], fields: list[str]) -> str:
        parts: list[str] = []
        if "title" in fields:
            parts.append(str(row.get("title", "")))
        if "author" in fields:
            parts += _json_values(row.get("author_info"))
        if "narrator" in fields:
            parts += _json_values(row.get("narrator_info"))
        if "series" in fields:
            parts += _json_values(row.get("series_info"))
        if "tags" in fields:
            parts.append(str(row.get("tags", "")))
        if "description" in fields:
            parts.append(str(row.get("description", "")))
        if "fileTypes" in fields:
            parts.append(str(row.get("filetype", "")))
        return html.unescape(" ".join(parts)).lower()

    @staticmethod
    def _sort(rows: list[dict[str, Any]], sort_type: str) -> list[dict[str, Any]]:
        match = re.fullmatch(r"(\w+?)(Asc|Desc)?", sort_type)
        base = match.group(1) if match else "default"
        desc = not match or match.group(2) != "Asc"
        keys = {
            "snatched": lambda r: int(r.get("times_completed") or 0),
            "date": lambda r: str(r.get("added")),
            "seeders": lambda r: int(r.get("seeders") or 0),
            "leechers": lambda r: int(r.get("leechers") or 0),
            "size": lambda r: _size_bytes(r.get("size")),
            "title": lambda r: str(r.get("title", "")).lower(),
            "category": lambda r: int(r.get("category") or 0),
        }
        if base == "random":
            return random.sample(rows, len(rows))
        key = keys.get(base, keys["date"])
        # Ties broken by id, newest first, like MAM's default ordering.
        by_id = sorted(rows, key=lambda r: int(r.get("id", 0)), reverse=True)
        return sorted(by_id, key=key, reverse=desc)

    # ----------------------------------------------------------- download
    def _download(self, h: Any, path: str, query: dict[str, str]) -> int:
        tid: str | None = query.get("tid")
        if path.startswith("/tor/download.php/"):
            dl = path[len("/tor/download.php/") :].strip("/")
            tid = next((str(r["id"]) for r in self.catalog if self.dl_hash(r["id"]) == dl), None)
        row = self.row(tid) if tid else None
        if row is None:
            self.send(h, 404, "<html><body>Invalid torrent id</body></html>", content_type="text/html",
                      headers=self._rotate())
            return 404
        if "fl" in query:
            self.wedge_requests.append(str(row["id"]))
            has_wedge = int(self.user.get("wedges") or 0) > 0
            if self.wedge_mode == "spend" and has_wedge and not int(row.get("personal_freeleech") or 0):
                # Spent whatever the torrent's flags: a wedge on a free or VIP torrent is wasted.
                self.user["wedges"] = int(self.user["wedges"]) - 1
                row["personal_freeleech"] = 1
                self.wedges_spent.append(str(row["id"]))
            elif self.wedge_mode == "refuse":
                self.send(h, 200, {"success": False, "error": "Not allowed via API"}, headers=self._rotate())
                return 200
            elif not has_wedge and self.wedge_refusal == "error":
                self.send(h, 200, {"success": False, "error": "You do not have any FL Wedges"}, headers=self._rotate())
                return 200
        data = self.torrent_bytes(row["id"])
        if not int(row.get("my_snatched") or 0) and str(row["id"]) not in self.snatches:
            self._snatch_row(str(row["id"]))  # a new snatch: it shows in the counts snatch_lag later
        if self.mark_snatched:
            row["my_snatched"] = 1
        name = html.unescape(str(row["title"]))
        self.send(
            h, 200, data, content_type="application/x-bittorrent",
            headers=[("Content-Disposition", f'attachment; filename="[MAM] {name}.torrent"'), *self._rotate()],
        )
        return 200

    # --------------------------------------------------------------- user
    def _snatch_row(self, tid: str) -> dict[str, Any]:
        if tid in self.snatches:
            return self.snatches[tid]
        row = self.row(tid) or {}
        now = int(time.time())
        snatch = {
            "id": int(tid), "title": row.get("title", f"torrent {tid}"), "size": row.get("size", "0 B"),
            "catname": row.get("catname", ""), "category": row.get("category", 0), "tags": row.get("tags", ""),
            "free": row.get("free", 0), "vip": row.get("vip", 0), "personalFree": row.get("personal_freeleech", 0),
            "times_completed": row.get("times_completed", 0), "seeders": row.get("seeders", 0),
            "leechers": row.get("leechers", 0), "uploaded": 0, "downloaded": 0, "seedtime": 0, "leechtime": 0,
            "STG": "3d 00:00:00", "finished": 0, "start_unix": now, "start_date": mam_time(datetime.now(UTC)),
            "complete_unix": 0, "complete_date": "", "last_seed": "", "to_go": 0, "to_go_pretty": "",
            "dl": self.dl_hash(tid), "_at": time.time(),
        }
        self.snatches[tid] = snatch
        return snatch

    def _snatch_list(self, query: dict[str, str]) -> dict[str, Any]:
        if str(query.get("uid")) != str(self.user.get("uid")):
            return {"success": False, "error": "Invalid user"}
        kind = query.get("type", "")
        if kind == "unsat":
            rows = self._unsatisfied()
        elif kind == "leeching":
            rows = [r for r in self.settled_snatches() if not int(r.get("finished") or 0)]
        else:
            rows = []  # the other lists (sSat, upAct...) are not modelled
        page = int(query.get("iteration") or 0)
        chunk = rows[page * 250 : (page + 1) * 250]
        return {"rows": [{k: copy.deepcopy(v) for k, v in r.items() if not k.startswith("_")} for r in chunk],
                "success": True}

    def _unsatisfied(self) -> list[dict[str, Any]]:
        return [r for r in self.settled_snatches() if int(r.get("seedtime") or 0) < 72 * 3600]

    def _user_json(self, keys: set[str]) -> dict[str, Any]:
        data = copy.deepcopy(self.user)
        counted = len(self._unsatisfied())
        if counted and isinstance(data.get("unsat"), dict):
            data["unsat"]["count"] = int(data["unsat"].get("count") or 0) + counted
        if "snatch_summary" not in keys:
            for key in SUMMARY_KEYS:
                data.pop(key, None)
        if "notif" not in keys:
            data.pop("notifs", None)
        return data

    def _bonus(self, query: dict[str, str]) -> dict[str, Any]:
        spend = query.get("spendtype", "")
        points = float(self.user.get("seedbonus") or 0)
        record = {"spendtype": spend, **query}
        self.purchases.append(record)
        if spend == "VIP":
            duration = query.get("duration", "")
            held = self._vip_weeks_held()
            if str(self.user.get("classname", "")).lower() in ("mouse", "user"):
                return {"success": False, "error": "You must be a Power User or above to buy VIP"}
            if duration.lower() == "max":
                weeks = float(min(int(points // VIP_POINTS_PER_WEEK), math.floor(12.85 - held)))
            else:
                try:
                    weeks = float(duration)
                except ValueError:
                    return {"success": False, "error": "Invalid duration"}
            if weeks < 1:
                return {"success": False, "error": "Min VIP is 1 week purchased for Automated methods"}
            if held + weeks > 12.86:
                return {"success": False, "error": "You can not hold more than 12.85 weeks of VIP"}
            cost = weeks * VIP_POINTS_PER_WEEK
            if cost > points:
                return {"success": False, "error": "Not enough bonus points"}
            self.user["seedbonus"] = points - cost
            base = max(datetime.now(UTC), self._vip_until() or datetime.now(UTC))
            self.user["vip_until"] = mam_time(base + timedelta(weeks=weeks))
            record["success"] = True
            return {"success": True, "type": "VIP", "amount": weeks, "seedbonus": self.user["seedbonus"]}
        if spend == "upload":
            amount = query.get("amount", "")
            if amount.strip().lower() == "max affordable":
                gb = float(int(points // UPLOAD_POINTS_PER_GB))
            else:
                try:
                    gb = float(amount)
                except ValueError:
                    return {"success": False, "error": "Invalid amount"}
            if gb <= 0:
                return {"success": False, "error": "Invalid amount"}
            cost = gb * UPLOAD_POINTS_PER_GB
            if cost > points:
                return {"success": False, "error": "Not enough bonus points"}
            self.user["seedbonus"] = points - cost
            up = int(self.user.get("uploaded_bytes") or 0) + int(gb * 1024**3)
            down = int(self.user.get("downloaded_bytes") or 0)
            self.user["uploaded_bytes"] = up
            self.user["uploaded"] = format_size(up)
            self.user["ratio"] = round(up / down, 2) if down else "Inf"
            record["success"] = True
            return {
                "success": True, "type": "upload", "amount": gb, "seedbonus": self.user["seedbonus"],
                "uploaded": up, "downloaded": down, "uploadFancy": format_size(up),
                "downloadFancy": format_size(down), "ratio": self.user["ratio"],
            }
        return {"success": False, "error": f"Unknown spendtype {spend}"}

    def _vip_until(self) -> datetime | None:
        value = self.user.get("vip_until")
        if not value:
            return None
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)

    def _vip_weeks_held(self) -> float:
        until = self._vip_until()
        if until is None:
            return 0.0
        return max(0.0, (until - datetime.now(UTC)).total_seconds() / (7 * 86400))
