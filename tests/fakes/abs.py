"""A fake Audiobookshelf 2.36 server on a real loopback socket, for tests and benchmarks.

It answers with the shapes and quirks of a real ABS 2.36 (see the research note on the ABS API and
the recorded responses in ``tests/fixtures/audiobookshelf/``), not with whatever a client expects:

- ``GET /api/libraries/:id/items`` is always minified (``authorName``/``narratorName``/``seriesName``
  strings, no ``authors[]``/``series[]``), takes ``limit`` (0, absent or non-numeric = all; negative
  or fractional = 400), 0-based ``page``, ``sort`` (no sort = store order), ``desc`` and ``filter``
  (``<group>.<base64>``; ``filter=series.<b64 id>`` adds ``media.metadata.series``; a value that
  is not base64 simply matches nothing);
- ``POST /api/items/batch/get`` returns expanded items in store order, drops unknown ids and answers
  an empty list with 403; ``GET /api/items/:id`` without ``expanded=1`` has no duration/size;
- ``GET /api/libraries/:id/series`` with no limit or ``limit=0`` returns EMPTY ``results`` with the
  right ``total`` (a quirk seen on a real server at scale): page it;
- ``GET /api/libraries/:id/authors`` wraps in the paging envelope only when both ``limit`` and
  ``page`` are given, otherwise ``{"authors": [...]}``;
- ``PATCH /api/items/:id/media``: authors must be ``[{name}]`` (plain strings wipe every author),
  a numeric series sequence becomes null, narrators/genres must be arrays of strings, the response
  has no ``updated`` key when nothing changed, ``updatedAt`` is bumped on change;
- ``POST /api/libraries/:id/scan`` answers ``OK`` at once and scans the library folder on disk in the
  background (``Author/Series/Title`` folders, ``{Narrator}``, ``Vol N - ``, ``metadata.json``
  first), showing a ``library-scan`` task in ``GET /api/tasks`` until it is finished;
- 401 bodies are the plain text ``Unauthorized``.

- ``GET /api/libraries/:id/filterdata`` (and ``GET /api/libraries/:id?include=filterdata``) gives
  the author and series names with ids, narrators, genres, ... and ``loadedAt``; like ABS
  (``server/utils/queries/libraryFilters.js getFilterData``) the answer is kept for
  :attr:`FakeABS.filterdata_ttl` (30 minutes): edits and scans add the authors and series they
  attach (scans also narrators and genres), removals drop orphans, but renames are NOT followed,
  so it lags the library the way the real one does;
- ``GET /api/libraries*`` answers are cached per token and URL and dropped on any write, like ABS's
  ``ApiCacheManager`` (LRU of 10 MB; bigger answers are never kept; ``sort=random`` never).

Costs (:data:`COSTS`): the fake charges what a real ABS 2.36 costs on 2 cores, from the figures
measured at 50,000 books (the research note on the ABS API §9, ``shared/bench/perf``): item lists
~2 us per library book per request plus ~0.39 ms per item returned; ``batch/get`` ~15 us per library
book (SQLite builds the whole book-author and book-series joins) plus ~1.3 ms per item; a single
item ~8 us per library book; ``filterdata`` ~64 us per library book when it has to be built, ~30 ms
at 50,000 books when kept; the authors list ~53 us per book-author link. Requests are served one at a time, like
ABS's single JavaScript thread. Each request's modelled cost (seconds at full scale) is recorded
(``RequestRecord.cost``, :attr:`FakeABS.modelled_seconds`) and the fake sleeps ``cost *
cost_scale`` minus the time it really spent: ``cost_scale=1`` is the real server's speed,
``0`` charges nothing (the ledger still counts).

Fault injection: :meth:`FakeABS.fail_next` (status/body for the next N matching requests) and
:meth:`FakeABS.set_mode` (``html`` | ``malformed`` | ``slow`` per path prefix).

Speed: each item's minified JSON is rendered once and cached (invalidated on change), and sorted
orders are cached per data version, so the fake's own work stays far below the costs it charges.

Run it alone for benchmarks::

    python -m tests.fakes.abs --items 50000 --port 0 --token test-token-abc [--cost-scale 0.25]
    # prints "READY http://127.0.0.1:<port>" once listening, then serves until killed
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import functools
import gc
import html
import ipaddress
import json
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVER_VERSION = "2.36.0"
DEFAULT_TOKEN = "test-token-abc"
AUDIO_EXTS = frozenset(
    {".mp3", ".m4b", ".m4a", ".flac", ".ogg", ".opus", ".oga", ".mp4", ".aac", ".wma", ".aiff",
     ".aif", ".wav", ".webm", ".webma", ".mka", ".awb", ".caf", ".mpeg", ".mpg"}
)
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
_SORT_PREFIXES = ("the", "a")  # ABS server setting sortingPrefixes, default
_CD_DIR = re.compile(r"^(cd|dis[ck])\s*\d{1,3}$", re.I)
_MIME = {".mp3": "audio/mpeg", ".m4b": "audio/mp4", ".m4a": "audio/mp4", ".flac": "audio/flac",
         ".ogg": "audio/ogg", ".opus": "audio/ogg", ".oga": "audio/ogg", ".mp4": "audio/mp4",
         ".aac": "audio/aac", ".wav": "audio/wav", ".webm": "audio/webm"}
_CODEC = {".mp3": ("mp3", "MP2/3 (MPEG audio layer 2/3)"), ".m4b": ("aac", "QuickTime / MOV"),
          ".m4a": ("aac", "QuickTime / MOV"), ".flac": ("flac", "raw FLAC"), ".ogg": ("vorbis", "Ogg"),
          ".opus": ("opus", "Ogg")}
_HTML_PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Audiobookshelf"
              b"</title></head><body><div id=\"__nuxt\"></div><script src=\"/_nuxt/app.js\"></script>"
              b"</body></html>")


# Seconds a real ABS 2.36 spends per request on 2 cores, fitted to what was measured at 50,000
# books (items pages of 500/1000/5000: 29.6/24.6/23.6 s; batch/get of 500/1000/2500/5000 ids:
# 1.42/2.04/3.99/7.28 s per request; filterdata 3.2 s cold, 0.03 s kept; authors 2.9 s for 54.5k
# book-author links; series pages of 500 with ~2,200 embedded books 2.3 s).
COSTS: dict[str, float] = {
    "request": 0.002,  # routing and the API key looked up, on every request
    "list_per_book": 2e-6,  # an items page, per book of the library (the count and the joins)
    "list_per_item": 0.39e-3,  # ... and per item returned (ABS hydrates every column)
    "batch_per_book": 15e-6,  # batch/get: the whole book-author and book-series joins ...
    "batch_per_item": 1.3e-3,  # ... and per expanded item
    "item_per_book": 8e-6,  # GET /api/items/:id: the same joins for one item ...
    "item": 1.3e-3,
    "filterdata_per_book": 64e-6,  # filterdata built: every book's tags/genres/narrators, all names
    "filterdata_kept_per_book": 0.6e-6,  # filterdata from ABS's own 30-minute copy: sending it
    "filterdata_check_per_book": 1e-6,  # after 30 minutes: the "anything changed?" counts
    "authors_per_link": 53e-6,  # the authors list, per book-author link
    "series_per_book": 8e-6,  # a series page: the joins ...
    "series_per_embedded": 0.85e-3,  # ... and every minified book it embeds
    "write": 0.02,  # an edit: the rows, metadata.json, the socket event
    "cache_hit": 0.0005,  # an answer ABS's ApiCacheManager kept: sent as it is
}
FILTERDATA_TTL = 30 * 60.0  # seconds ABS keeps a library's filterdata
API_CACHE_BYTES = 10_000_000  # ApiCacheManager's LRU maxSize


# ----------------------------------------------------------------------------- small helpers
class _Clock:
    """Millisecond timestamps that never repeat, so every edit visibly bumps ``updatedAt``."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = max(int(time.time() * 1000), self._last + 1)
            self._last = now
            return now


def _dumps(obj: Any) -> bytes:
    # Express sends compact UTF-8 JSON.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def ignore_prefix(title: str | None) -> str | None:
    """ABS ``titleIgnorePrefix``: "The Final Empire" -> "Final Empire, The"."""
    if not title:
        return title
    low = title.lower()
    for prefix in _SORT_PREFIXES:
        if low.startswith(prefix + " ") and len(title) > len(prefix) + 1:
            return f"{title[len(prefix) + 1:]}, {title[:len(prefix)]}"
    return title


_LAST_PREFIXES = frozenset({"ab", "al", "bar", "bin", "da", "dal", "de", "del", "della", "der", "di",
                            "du", "ibn", "la", "le", "san", "st", "st.", "ste", "van", "vel", "von",
                            "den", "ter", "ten", "dos", "das", "lo"})
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "md"})


def _split_first_last(name: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) < 2:
        return "", name
    suffix: list[str] = []
    while len(parts) > 2 and parts[-1].lower().rstrip(",") in _NAME_SUFFIXES:
        suffix.insert(0, parts.pop())
    i = len(parts) - 1
    while i - 1 >= 0 and parts[i - 1].lower() in _LAST_PREFIXES:
        i -= 1
    first = " ".join(parts[:i] + suffix)
    return first, " ".join(parts[i:])


@functools.lru_cache(maxsize=200_000)
def last_first(name: str) -> str:
    """ABS ``nameToLastFirst``: "Ursula K. Le Guin" -> "Le Guin, Ursula K."."""
    first, last = _split_first_last(name)
    return f"{last}, {first}" if first else last


def parse_name_string(text: str | None) -> list[str]:
    """ABS ``parseNameString.parse``: "A & B", "A, B", "Last, First; Last2, First2" -> names."""
    if not text or not text.strip():
        return []
    if "&" in text:
        chunks = [c for part in text.split("&") for c in part.split(",")]
    elif ";" in text:
        chunks = [c for part in text.split(";") for c in part.split(",")]
    else:
        chunks = text.split(",")
    chunks = [c.strip() for c in chunks if c.strip()]
    if len(chunks) <= 1:
        names = chunks
    else:
        first_is_last = " " not in chunks[0] or not _split_first_last(chunks[0])[0]
        if first_is_last and len(chunks) % 2:
            chunks = chunks[:-1]  # a straggler (suffix, roman numeral): ABS drops it
        if first_is_last:
            names = [f"{chunks[i + 1]} {chunks[i]}" for i in range(0, len(chunks), 2)]
        else:
            names = chunks
    return list(dict.fromkeys(names))


def _js_number_str(text: str) -> str:
    """JavaScript ``Number(text).toString()`` for the digit strings ABS feeds it."""
    try:
        value = float(text) if text else 0.0
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else repr(value)


_SEQ_RE = re.compile(
    r"^(?P<label>vol\.? |volume |book )?(?P<seq>\d{0,3}(?:\.\d{1,2})?)(?P<dot>\.?)(?: (?P<suffix>.*))?$",
    re.I,
)
_YEAR_RE = re.compile(r"^ *\(?([0-9]{4})\)? *- *(.+)")
_ASIN_RE = re.compile(r"(?: |^)\[([A-Z0-9]{10})\](?= |$)")
_NARR_RE = re.compile(r"^(?P<title>.*) \{(?P<narrators>.*)\}$")


def parse_book_dir(rel_path: str, parse_subtitle: bool = False) -> dict[str, Any]:
    """ABS ``scandir.getBookDataFromDir``: metadata from ``Author/Series/Title`` folder names."""
    parts = [p for p in rel_path.replace("\\", "/").split("/") if p]
    folder = parts.pop() if parts else ""
    series = parts.pop() if len(parts) > 1 else None
    author = parts.pop() if parts else None

    asin = None
    match = _ASIN_RE.search(folder)
    if match:
        asin = match.group(1)
        folder = folder.replace(match.group(0), "", 1).strip()
    narrators: list[str] = []
    match = _NARR_RE.match(folder)
    if match:
        folder, narrators = match.group("title"), parse_name_string(match.group("narrators"))
    sequence = None
    if series:
        pieces = folder.split(" - ")
        for i, piece in enumerate(pieces):
            m = _SEQ_RE.match(piece)
            # "101 Dalmatians" is a title, "101. Dalmatians" and "Book 101 Dalmatians" are not
            if m and not (m.group("suffix") and not (m.group("label") or m.group("dot"))):
                sequence = _js_number_str(m.group("seq"))
                if m.group("suffix"):
                    pieces[i] = m.group("suffix")
                else:
                    del pieces[i]
                break
        folder = " - ".join(pieces)
    year = None
    match = _YEAR_RE.match(folder)
    if match:
        year, folder = match.group(1), match.group(2)
    subtitle = None
    if parse_subtitle and " - " in folder:
        folder, subtitle = folder.split(" - ", 1)
    return {
        "title": folder, "subtitle": subtitle, "asin": asin, "authors": parse_name_string(author),
        "narrators": narrators, "series": [(series, sequence)] if series else [],
        "publishedYear": year,
    }


def parse_metadata_json(text: str) -> dict[str, Any]:
    """ABS ``abmetadataGenerator.parseJson`` + ``AbsMetadataFileScanner``: the overrides it yields.

    Flat (2.x) and old nested ``{"metadata": {...}}`` files are both read. Null values and empty
    author/genre/tag lists do not override; series strings ``"Name #seq"`` are split.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        return {}
    nested = data.pop("metadata", None)
    if isinstance(nested, dict):
        for key, value in nested.items():
            data.setdefault(key, value)
    out: dict[str, Any] = {}

    def clean_list(value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        return list(dict.fromkeys(v.strip() for v in value if isinstance(v, str) and v.strip()))

    for key in ("title", "subtitle", "publishedYear", "publishedDate", "publisher", "description",
                "isbn", "asin", "language"):
        value = data.get(key)
        if value is None:
            continue
        out[key] = str(value) if not isinstance(value, str) else value
    for key in ("authors", "genres", "tags"):
        if key in data and clean_list(data[key]):
            out[key] = clean_list(data[key])
    if isinstance(data.get("narrators"), list):
        out["narrators"] = clean_list(data["narrators"])
    if isinstance(data.get("series"), list):
        series = []
        for entry in clean_list(data["series"]):
            m = re.search(r" #(.*)$", entry)
            series.append((entry[: m.start()], m.group(1)) if m else (entry, None))
        out["series"] = series
    for key in ("explicit", "abridged"):
        if data.get(key) is not None:
            out[key] = bool(data[key])
    return out


_ALLOWED_TAGS = frozenset({"p", "b", "strong", "i", "em", "u", "br", "ul", "ol", "li", "a", "div",
                           "span", "s", "h1", "h2", "h3", "h4", "blockquote", "hr"})


def sanitize_html(text: str) -> str:
    """Rough stand-in for ABS ``htmlSanitizer.sanitize``: drop scripts, styles and unknown tags."""
    text = re.sub(r"(?is)<(script|style|iframe)[^>]*>.*?</\1\s*>", "", text)

    def keep(m: re.Match[str]) -> str:
        name = m.group(2).lower()
        if name not in _ALLOWED_TAGS:
            return ""
        if m.group(1):
            return f"</{name}>"
        href = re.search(r"""href\s*=\s*["']([^"']*)["']""", m.group(3) or "", re.I)
        if name == "a" and href and not href.group(1).lower().startswith("javascript:"):
            return f'<a href="{href.group(1)}">'
        return f"<{name}>"

    return re.sub(r"<(/?)([a-zA-Z0-9]+)([^>]*)>", keep, text)


def strip_html(text: str | None) -> str | None:
    if text is None:
        return None
    return html.unescape(re.sub(r"<[^>]+>", "", text))


# ----------------------------------------------------------------------------- records
def _file_kind(ext: str) -> str:
    if ext in AUDIO_EXTS:
        return "audio"
    if ext in IMAGE_EXTS:
        return "image"
    if ext in (".json", ".opf", ".nfo", ".abs"):
        return "metadata"
    if ext in (".txt", ".md"):
        return "text"
    return "unknown"


@dataclass(slots=True)
class _File:
    ino: str
    rel_path: str  # relative to the item folder
    size: int
    mtime: int
    duration: float = 0.0  # audio only
    ext: str = ""
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.ext:
            self.ext = os.path.splitext(self.rel_path)[1].lower()
            self.kind = _file_kind(self.ext)


@dataclass(slots=True)
class _Author:
    id: str
    name: str
    library_id: str
    added_at: int
    updated_at: int
    asin: str | None = None
    description: str | None = None
    image_path: str | None = None


@dataclass(slots=True)
class _Series:
    id: str
    name: str
    library_id: str
    added_at: int
    updated_at: int
    description: str | None = None


@dataclass(slots=True)
class _Library:
    id: str
    name: str
    folder_id: str
    full_path: str
    media_type: str
    created_at: int
    display_order: int
    has_path: bool  # created with a real folder: scans read it
    settings: dict[str, Any]
    last_scan: int | None = None
    last_update: int = 0


@dataclass(slots=True)
class _Item:
    id: str
    ino: str
    library_id: str
    folder_id: str
    path: str
    rel_path: str
    is_file: bool
    mtime: int
    ctime: int
    birthtime: int
    added_at: int
    updated_at: int
    last_scan: int | None
    media_id: str
    title: str
    subtitle: str | None = None
    author_ids: list[str] = field(default_factory=list)
    narrators: list[str] = field(default_factory=list)
    series: list[list[Any]] = field(default_factory=list)  # [series_id, sequence|None]
    genres: list[str] = field(default_factory=list)
    published_year: str | None = None
    published_date: str | None = None
    publisher: str | None = None
    description: str | None = None
    isbn: str | None = None
    asin: str | None = None
    language: str | None = None
    explicit: bool = False
    abridged: bool = False
    tags: list[str] = field(default_factory=list)
    cover_path: str | None = None
    files: list[_File] = field(default_factory=list)
    chapters: list[dict[str, Any]] = field(default_factory=list)
    is_missing: bool = False
    on_disk: bool = False  # created by a scan: a later scan marks it missing if its folder goes
    signature: tuple[Any, ...] = ()

    @property
    def audio_files(self) -> list[_File]:
        return [f for f in self.files if f.kind == "audio"]


@dataclass(slots=True)
class RequestRecord:
    """One request the fake received (the body is the raw bytes)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    cost: float = 0.0  # what a real ABS would have spent on it, in seconds (see COSTS)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(slots=True)
class PatchRecord:
    """One metadata update: ``via`` is ``"patch"`` (PATCH /media) or ``"batch"`` (batch/update)."""

    item_id: str
    body: Any
    via: str = "patch"


@dataclass(slots=True)
class _Fault:
    status: int
    body: bytes
    content_type: str
    path_prefix: str
    method: str | None
    times: int
    headers: dict[str, str]


class _HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


# ----------------------------------------------------------------------------- the fake
class FakeABS:
    """An in-memory Audiobookshelf 2.36 with a real HTTP listener on 127.0.0.1.

    ``library_path``: a real folder for the default library; ``POST /api/libraries/:id/scan``
    then reads it. Without it the default folder is ``/audiobooks`` (not on disk, never scanned).
    ``scan_delay``: seconds between the scan request and the scan itself (the task is visible in
    ``GET /api/tasks`` meanwhile). ``slow_delay``: how long ``slow`` mode stalls a response.
    ``token=None`` turns authentication off.
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        library_path: str | os.PathLike[str] | None = None,
        library_name: str = "Audiobooks",
        scan_delay: float = 0.2,
        watcher_delay: float = 0.3,
        slow_delay: float = 30.0,
        user_type: str = "root",
        can_update: bool = True,
        cost_scale: float = 1.0,
    ) -> None:
        self.token = token
        self.cost_scale = cost_scale
        self.filterdata_ttl = FILTERDATA_TTL
        self.modelled_seconds = 0.0  # sum of every request's modelled cost
        self.scan_delay = scan_delay
        self.watcher_delay = watcher_delay
        self.slow_delay = slow_delay
        self.user_type = user_type
        self.can_update = can_update
        self.now = _Clock()
        self.user_id = str(uuid.uuid4())
        self.requests: list[RequestRecord] = []
        self.patches: list[PatchRecord] = []
        self.scan_requests: list[tuple[str, bool]] = []  # (library id, force)
        self.shuffle_unsorted = False  # True: no-sort pages come in random order, as SQL may
        self.record_requests = True

        self._lock = threading.RLock()
        self._libraries: dict[str, _Library] = {}
        self._items: dict[str, _Item] = {}
        self._authors: dict[str, _Author] = {}
        self._series: dict[str, _Series] = {}
        self._author_by_name: dict[tuple[str, str], str] = {}
        self._series_by_name: dict[tuple[str, str], str] = {}
        self._tasks: list[dict[str, Any]] = []
        self._scanning: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._faults: list[_Fault] = []
        self._modes: dict[str, str] = {}
        self._version = 0
        self._min_cache: dict[str, bytes] = {}
        self._order_cache: dict[tuple[Any, ...], tuple[int, list[str]]] = {}
        self._index_cache: tuple[int, dict[str, Any]] | None = None
        self._ino = 5_000_000
        self._filterdata: dict[str, dict[str, Any]] = {}  # ABS's Database.libraryFilterData
        self._api_cache: dict[tuple[str, str], tuple[int, bytes, str]] = {}  # insertion = LRU order
        self._api_cache_bytes = 0
        self._loop = threading.Lock()  # one request at a time, like ABS's JavaScript thread
        self._tl = threading.local()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.default_library_id = self.add_library(library_name, library_path)

    # ------------------------------------------------------------------ libraries
    def add_library(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        *,
        media_type: str = "book",
        **settings: Any,
    ) -> str:
        """Add a library; with a ``path`` that exists on disk, scans read that folder."""
        now = self.now()
        full = str(path) if path is not None else "/" + re.sub(r"\W+", "", name.lower() or "lib")
        lib_settings = {
            "coverAspectRatio": 1, "disableWatcher": False, "autoScanCronExpression": None,
            "skipMatchingMediaWithAsin": False, "skipMatchingMediaWithIsbn": False,
            "audiobooksOnly": False, "epubsAllowScriptedContent": False,
            "hideSingleBookSeries": False, "onlyShowLaterBooksInContinueSeries": False,
            "metadataPrecedence": ["folderStructure", "audioMetatags", "nfoFile", "txtFiles",
                                   "opfFile", "absMetadata"],
            "markAsFinishedPercentComplete": None, "markAsFinishedTimeRemaining": 10,
        }
        lib_settings.update(settings)
        lib = _Library(
            id=str(uuid.uuid4()), name=name, folder_id=str(uuid.uuid4()), full_path=full.rstrip("/") or "/",
            media_type=media_type, created_at=now, display_order=len(self._libraries) + 1,
            has_path=path is not None, settings=lib_settings, last_update=now,
        )
        with self._lock:
            self._libraries[lib.id] = lib
            self._touch()
        return lib.id

    def library_id(self, name_or_id: str | None = None) -> str:
        """The id of a library given its name or id (default: the default library)."""
        if name_or_id is None:
            return self.default_library_id
        if name_or_id in self._libraries:
            return name_or_id
        for lib in self._libraries.values():
            if lib.name == name_or_id:
                return lib.id
        raise KeyError(f"no library {name_or_id!r}")

    # ------------------------------------------------------------------ authors / series
    def _touch(self) -> None:
        """Any write: new data version, and ABS's ApiCacheManager drops every kept answer."""
        self._version += 1
        self._api_cache.clear()
        self._api_cache_bytes = 0

    def _charge(self, seconds: float) -> None:
        """Add to the modelled cost of the request being served (see COSTS)."""
        if getattr(self._tl, "cost", None) is not None:
            self._tl.cost += seconds

    # ABS updates its kept filterdata in place on some writes (Database.add*ToFilterData): the
    # authors and series an edit attaches (scans: narrators and genres too), the orphans removed.
    # Renames are not followed: the kept copy goes on naming the old name until it is rebuilt.
    def _fd_note(self, item: _Item, *, scanned: bool) -> None:
        data = self._filterdata.get(item.library_id)
        if data is None:
            return
        have_a = {a["id"] for a in data["authors"]}
        for aid in item.author_ids:
            if aid in self._authors and aid not in have_a:
                data["authors"].append({"id": aid, "name": self._authors[aid].name})
        have_s = {x["id"] for x in data["series"]}
        for sid, _seq in item.series:
            if sid in self._series and sid not in have_s:
                data["series"].append({"id": sid, "name": self._series[sid].name})
        if scanned:
            data["narrators"] += [n for n in item.narrators if n not in data["narrators"]]
            data["genres"] += [g for g in item.genres if g not in data["genres"]]

    def _fd_forget(self, author_ids: Iterable[str], series_ids: Iterable[str]) -> None:
        author_ids, series_ids = set(author_ids), set(series_ids)
        for data in self._filterdata.values():
            data["authors"] = [a for a in data["authors"] if a["id"] not in author_ids]
            data["series"] = [x for x in data["series"] if x["id"] not in series_ids]

    def load_filterdata(self, library: str | None = None) -> None:
        """Build a library's filterdata now, as ABS does when the web UI opens the library."""
        with self._lock:
            self._filterdata_for(self.library_id(library))

    def _author_for(self, lib_id: str, name: str, when: int | None = None) -> str:
        key = (lib_id, name.strip().lower())
        aid = self._author_by_name.get(key)
        if aid is None:
            now = when if when is not None else self.now()
            aid = str(uuid.uuid4())
            self._authors[aid] = _Author(aid, name.strip(), lib_id, now, now)
            self._author_by_name[key] = aid
        return aid

    def _series_for(self, lib_id: str, name: str, when: int | None = None) -> str:
        key = (lib_id, name.strip().lower())
        sid = self._series_by_name.get(key)
        if sid is None:
            now = when if when is not None else self.now()
            sid = str(uuid.uuid4())
            self._series[sid] = _Series(sid, name.strip(), lib_id, now, now)
            self._series_by_name[key] = sid
        return sid

    def _drop_orphans(self, author_ids: Iterable[str], series_ids: Iterable[str]) -> None:
        """ABS deletes authors and series left without books after an edit or a removal."""
        author_ids, series_ids = set(author_ids), set(series_ids)
        if not author_ids and not series_ids:
            return
        for item in self._items.values():
            author_ids.difference_update(item.author_ids)
            series_ids.difference_update(s[0] for s in item.series)
        for aid in author_ids:
            author = self._authors.pop(aid, None)
            if author:
                self._author_by_name.pop((author.library_id, author.name.lower()), None)
        for sid in series_ids:
            series = self._series.pop(sid, None)
            if series:
                self._series_by_name.pop((series.library_id, series.name.lower()), None)
        self._fd_forget(author_ids, series_ids)

    def author_id(self, name: str, library: str | None = None) -> str | None:
        """The id of the author called ``name`` (case-insensitive) in a library, if any."""
        return self._author_by_name.get((self.library_id(library), name.strip().lower()))

    def series_id(self, name: str, library: str | None = None) -> str | None:
        """The id of the series called ``name`` (case-insensitive) in a library, if any."""
        return self._series_by_name.get((self.library_id(library), name.strip().lower()))

    def rename_author(self, author_id: str, new_name: str) -> None:
        """Rename an author like ``PATCH /api/authors/:id``: items' ``updatedAt`` is NOT bumped.

        Renaming to another author's name merges the two, as ABS does.
        """
        with self._lock:
            author = self._authors[author_id]
            other = self._author_by_name.get((author.library_id, new_name.strip().lower()))
            affected = [i for i in self._items.values() if author_id in i.author_ids]
            if other and other != author_id:
                for item in affected:
                    item.author_ids = list(dict.fromkeys(
                        other if a == author_id else a for a in item.author_ids))
                self._drop_orphans([author_id], [])
                self._authors[other].updated_at = self.now()
            else:
                self._author_by_name.pop((author.library_id, author.name.lower()), None)
                author.name = new_name.strip()
                author.updated_at = self.now()
                self._author_by_name[(author.library_id, author.name.lower())] = author_id
            for item in affected:
                self._min_cache.pop(item.id, None)
            self._touch()

    def rename_series(self, series_id: str, new_name: str) -> None:
        """Rename a series like ``PATCH /api/series/:id``; items' ``updatedAt`` is not bumped."""
        with self._lock:
            series = self._series[series_id]
            self._series_by_name.pop((series.library_id, series.name.lower()), None)
            series.name = new_name.strip()
            series.updated_at = self.now()
            self._series_by_name[(series.library_id, series.name.lower())] = series_id
            for item in self._items.values():
                if any(s[0] == series_id for s in item.series):
                    self._min_cache.pop(item.id, None)
            self._touch()

    # ------------------------------------------------------------------ books
    def _next_ino(self) -> str:
        self._ino += 1
        return str(self._ino)

    def add_book(
        self,
        title: str,
        authors: Iterable[str] = (),
        narrators: Iterable[str] = (),
        series: Iterable[tuple[str, str | float | int | None]] = (),
        genres: Iterable[str] = (),
        isbn: str | None = None,
        asin: str | None = None,
        publisher: str | None = None,
        description: str | None = None,
        year: str | int | None = None,
        language: str | None = None,
        duration: float = 36000.0,
        size: int | None = None,
        path: str | None = None,
        library: str | None = None,
        *,
        subtitle: str | None = None,
        tags: Iterable[str] = (),
        explicit: bool = False,
        abridged: bool = False,
        added_at: int | None = None,
        updated_at: int | None = None,
        num_audio_files: int = 1,
        cover: bool = False,
        ext: str = ".m4b",
    ) -> str:
        """Add a book as if ABS had scanned it; returns the new item id.

        ``path`` is relative to the library folder (default ``Author/Series/Vol N - Title {Narrator}``
        like the recorded library). No file is written: the fake treats the book as present on
        disk, and a later scan leaves it alone.
        """
        with self._lock:
            lib = self._libraries[self.library_id(library)]
            now = self.now()
            added = added_at if added_at is not None else now
            authors, narrators, series = list(authors), list(narrators), list(series)
            rel = path or _default_rel_path(title, authors, narrators, series)
            item_id = str(uuid.uuid4())
            mtime = added - 5000
            item = _Item(
                id=item_id, ino=self._next_ino(), library_id=lib.id, folder_id=lib.folder_id,
                path=f"{lib.full_path}/{rel}", rel_path=rel, is_file=False, mtime=mtime, ctime=mtime,
                birthtime=mtime, added_at=added, updated_at=updated_at if updated_at is not None else added,
                last_scan=added, media_id=str(uuid.uuid4()), title=title, subtitle=subtitle,
                author_ids=list(dict.fromkeys(self._author_for(lib.id, a, added) for a in authors if a.strip())),
                narrators=narrators, genres=list(genres), tags=list(tags),
                series=[[self._series_for(lib.id, n, added), _seq_str(s)] for n, s in series if n.strip()],
                isbn=isbn, asin=asin, publisher=publisher, description=description,
                published_year=str(year) if year is not None else None, language=language,
                explicit=explicit, abridged=abridged,
            )
            item.files, item.chapters = self._fake_files(
                item, title, duration, size, num_audio_files, ext, cover, mtime)
            if cover:
                item.cover_path = f"{item.path}/cover.jpg"
            self._items[item_id] = item
            self._fd_note(item, scanned=True)
            self._touch()
            return item_id

    def _fake_files(self, item: _Item, title: str, duration: float, size: int | None, parts: int,
                    ext: str, cover: bool, mtime: int) -> tuple[list[_File], list[dict[str, Any]]]:
        parts = max(1, parts)
        total = size if size is not None else int(duration * 64000 / 8)  # 64 kbit/s
        base = _safe(title)[:80]
        ext = ext.lower()
        kind = _file_kind(ext)
        files = []
        part_size, part_duration = total // parts, round(duration / parts, 6)
        for n in range(parts):
            self._ino += 1
            name = f"{base}{ext}" if parts == 1 else f"{base} - Part {n + 1:02d}{ext}"
            files.append(_File(str(self._ino), name, part_size, mtime, part_duration, ext, kind))
        if cover:
            self._ino += 1
            files.append(_File(str(self._ino), "cover.jpg", 48_213, mtime, 0.0, ".jpg", "image"))
        if duration <= 0:
            return files, []
        nchap = 1 if duration < 600 else 2 + int(duration) % 3
        step = duration / nchap
        chapters = [{"id": i, "start": i * step, "end": (i + 1) * step, "title": f"Chapter {i + 1}"}
                    for i in range(nchap)]
        return files, chapters

    def edit_book(self, item_id: str, **fields: Any) -> None:
        """Change a book as an edit in the web UI would (bumps ``updatedAt``).

        Fields: the :meth:`add_book` names (``title``, ``authors``, ``narrators``, ``series``,
        ``genres``, ``isbn``, ``asin``, ``publisher``, ``description``, ``year``, ``language``,
        ``subtitle``, ``tags``, ``explicit``, ``abridged``, ``duration``, ``cover_path``, ``is_missing``).
        """
        with self._lock:
            item = self._items[item_id]
            old_authors, old_series = list(item.author_ids), [s[0] for s in item.series]
            for key, value in fields.items():
                if key == "authors":
                    item.author_ids = list(dict.fromkeys(
                        self._author_for(item.library_id, a) for a in value if a.strip()))
                elif key == "series":
                    item.series = [[self._series_for(item.library_id, n), _seq_str(s)]
                                   for n, s in value if n.strip()]
                elif key == "year":
                    item.published_year = str(value) if value is not None else None
                elif key == "duration":
                    if not item.audio_files:
                        item.files, item.chapters = self._fake_files(
                            item, item.title, float(value), None, 1, ".m4b", False, item.mtime)
                    audio = item.audio_files
                    for f in audio:
                        f.duration = round(float(value) / len(audio), 6)
                elif key in ("narrators", "genres", "tags"):
                    setattr(item, key, list(value))
                elif key in ("title", "subtitle", "isbn", "asin", "publisher", "description",
                             "language", "explicit", "abridged", "cover_path", "is_missing",
                             "published_date"):
                    setattr(item, key, value)
                else:
                    raise TypeError(f"edit_book: unknown field {key!r}")
            self._changed(item)
            self._drop_orphans(old_authors, old_series)
            self._fd_note(item, scanned=False)

    def _changed(self, item: _Item) -> None:
        item.updated_at = self.now()
        self._min_cache.pop(item.id, None)
        self._touch()

    def remove_book(self, item_id: str, *, missing: bool = False) -> None:
        """Delete a book (orphaned authors/series go too), or with ``missing=True`` only flag
        it ``isMissing`` the way a scan does when its folder disappears."""
        with self._lock:
            if missing:
                item = self._items[item_id]
                item.is_missing = True
                self._changed(item)
                return
            item = self._items.pop(item_id)
            self._min_cache.pop(item_id, None)
            self._drop_orphans(item.author_ids, [s[0] for s in item.series])
            self._touch()

    def book(self, item_id: str, *, expanded: bool = True) -> dict[str, Any]:
        """The item as ``GET /api/items/:id[?expanded=1]`` would return it."""
        with self._lock:
            item = self._items[item_id]
            return self._expanded(item) if expanded else self._old_json(item)

    @property
    def item_ids(self) -> list[str]:
        return list(self._items)

    def find_books(self, title: str) -> list[str]:
        """Ids of the books whose title equals ``title`` (case-insensitive)."""
        low = title.lower()
        return [i.id for i in self._items.values() if i.title.lower() == low]

    # ------------------------------------------------------------------ generation
    def generate(self, n: int, seed: int = 0, library: str | None = None) -> list[str]:
        """Create ``n`` plausible books quickly (50,000 in a few seconds); returns their ids.

        Shaped like the 50,000-book library measured on a real ABS (``shared/bench/perf``): about
        6 books per author, 56% of books in series (sequences 1..k, some "x.5" and "0", 5% of
        series unnumbered, umbrella series so a few books are in two), 8% co-authored, 9% without
        a narrator and 9% with several, metadata-poor books; and the names that make ABS's joined
        strings hard to read: authors like "Martin Luther King, Jr.", series with a "#" or a ","
        in their name, and now and then an author named like two others joined ("A, B").
        Timestamps spread over three years. Deterministic for a given ``seed`` (ids included).
        """
        rng = random.Random(seed)
        r = rng.random
        bits = rng.getrandbits

        def pick(seq: Any) -> Any:
            return seq[int(r() * len(seq))]

        def uid() -> str:
            h = f"{bits(128):032x}"
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

        def person() -> str:
            first = pick(_FIRST)
            x = r()
            if x < 0.12:
                first = f"{first} {pick(_INITIALS)}"
            elif x < 0.17:
                first = f"{pick(_INITIALS)} {pick(_INITIALS)}"
            return f"{first} {pick(_LAST)}"

        def title_() -> str:
            a, b, c = pick(_ADJ), pick(_NOUN), pick(_NOUN)
            return pick(_TITLE_FORMS).format(a=a, n=b, n2=c, a2=pick(_ADJ))

        blurbs = [" ".join(pick(_SENTENCES).format(
            who=pick(_FIRST), thing=pick(_NOUN).lower(), role=pick(_ROLES), adj=pick(_ADJ).lower(),
            place=pick(_NOUN).lower(), title="{title}") for _ in range(4 + int(r() * 3)))
            for _ in range(min(4000, max(50, n)))]
        ids: list[str] = []
        gc_was_on = gc.isenabled()
        gc.disable()  # millions of small objects: the cyclic GC would only slow this down
        try:
            self._generate(n, lib_id=self.library_id(library), rng=rng, r=r, pick=pick, uid=uid,
                           person=person, title_=title_, blurbs=blurbs, ids=ids)
        finally:
            if gc_was_on:
                gc.enable()
        return ids

    def _generate(self, n: int, *, lib_id: str, rng: random.Random, r: Any, pick: Any, uid: Any,
                  person: Any, title_: Any, blurbs: list[str], ids: list[str]) -> None:
        with self._lock:
            lib = self._libraries[lib_id]
            now = self.now()
            start = now - 3 * 365 * 86_400_000
            t = start
            step = max(2, (now - 86_400_000 - start) // max(n, 1))
            recent_authors: list[str] = []
            author_names: set[str] = {a.name for a in self._authors.values()}
            items = self._items
            prefix = lib.full_path
            umbrella: list[str] = []
            while len(ids) < n:
                x = r()
                if x < 0.01:  # "Martin Luther King, Jr.": a comma in one author's name
                    name = f"{person()}, {pick(('Jr.', 'Sr.', 'III', 'PhD'))}"
                elif x < 0.0115 and len(recent_authors) > 1:  # "A, B": looks like two authors
                    name = ", ".join(self._authors[a].name for a in recent_authors[-2:])
                else:
                    name = person()  # one author and their books
                while name in author_names:
                    name = person()
                author_names.add(name)
                aid = uid()
                self._authors[aid] = _Author(aid, name, lib.id, t, t)
                self._author_by_name[(lib.id, name.lower())] = aid
                recent_authors.append(aid)
                nbooks = min(n - len(ids), 1 + int(rng.expovariate(1 / 5.5)))
                narrator = person()
                series_left, sid, sname, seq = 0, None, "", 0
                titles: set[str] = set()
                for _ in range(nbooks):
                    if series_left == 0:
                        sid = None
                        if r() < 0.36:  # runs of ~3 books: 56% of books end up in a series
                            sname = pick(_SERIES_FORM).format(a=pick(_ADJ), n=pick(_NOUN))
                            y = r()
                            if y < 0.004:
                                sname = f"{pick(_NOUN)} #{1 + int(r() * 9)}"  # "Kitchen #5"
                            elif y < 0.008:
                                sname = f"{pick(_NOUN)}, {pick(_ADJ)} and {pick(_NOUN)}"
                            numbered = r() > 0.05
                            key = (lib.id, sname.lower())
                            sid = self._series_by_name.get(key)
                            if sid is None:
                                sid = uid()
                                self._series[sid] = _Series(sid, sname, lib.id, t, t)
                                self._series_by_name[key] = sid
                            series_left = 1 + min(64, int(rng.expovariate(1 / 2.2)))
                            seq = 0 if r() < 0.05 else 1
                            if sid is not None and r() < 0.02 and sid not in umbrella:
                                umbrella.append(sid)
                    title = title_()
                    while title in titles:
                        title = title_()
                    titles.add(title)
                    t += 1 + int(r() * step * 2)
                    added = min(t, now - 1000)
                    updated = added if r() < 0.7 else min(now - 1, added + int(1 + r() * 400) * 86_400_000)
                    author_ids = [aid]
                    if r() < 0.08 and len(recent_authors) > 1:
                        co = pick(recent_authors[-50:])
                        if co != aid:
                            author_ids.append(co)
                    y = r()
                    narrators = [] if y < 0.09 else [narrator if r() < 0.8 else person()]
                    if y > 0.91:
                        narrators.append(person())
                    series: list[list[Any]] = []
                    rel_series: list[tuple[str, Any]] = []
                    if sid is not None:
                        series_left -= 1
                        number = str(seq) if r() > 0.03 else f"{seq}.5"
                        seq += 1
                        series = [[sid, number if numbered else None]]
                        rel_series = [(sname, series[0][1])]
                        if len(umbrella) > 1 and r() < 0.012:  # also in an umbrella series
                            other = pick(umbrella)
                            if other != sid:
                                series.append([other, None if r() < 0.5 else str(1 + int(r() * 40))])
                    duration = round((3.5 + r() * 24.5) * 3600, 6)
                    size = int(duration * pick((64000, 64000, 128000, 32000)) / 8)
                    poor = r() < 0.15
                    rel = _default_rel_path(title, [self._authors[author_ids[0]].name], narrators,
                                            rel_series)
                    item_id = uid()
                    self._ino += 1
                    item = _Item(
                        id=item_id, ino=str(self._ino), library_id=lib.id, folder_id=lib.folder_id,
                        path=f"{prefix}/{rel}", rel_path=rel, is_file=False, mtime=added - 9000,
                        ctime=added - 9000, birthtime=added - 9500, added_at=added,
                        updated_at=updated, last_scan=added, media_id=uid(), title=title,
                        subtitle=None if r() < 0.8 else f"{pick(_ADJ)} {pick(_NOUN)}: A Novel",
                        author_ids=author_ids, narrators=narrators, series=series,
                        genres=[] if poor else rng.sample(_GENRES, 1 + int(r() * 3)),
                        published_year=None if poor else str(1950 + int(r() * 76)),
                        publisher=None if poor else pick(_PUBLISHERS),
                        description=None if poor else pick(blurbs).replace("{title}", title),
                        isbn=f"978{int(r() * 1e10):010d}" if r() < 0.6 else None,
                        asin=f"B0{int(r() * 0xFFFFFFFF):08X}" if r() < 0.75 else None,
                        language="English" if r() < 0.9 else None,
                    )
                    if item.description and r() < 0.4:
                        item.description = f"<p>{item.description}</p>"
                    parts = 1 if r() < 0.6 else 2 + int(r() * 2)
                    cover = r() < 0.7
                    item.files, item.chapters = self._fake_files(
                        item, title, duration, size, parts, ".m4b" if parts == 1 else ".mp3", cover,
                        added - 9000)
                    if cover:
                        item.cover_path = f"/metadata/items/{item_id}/cover.jpg"
                    items[item_id] = item
                    ids.append(item_id)
            self._touch()

    def warm(self) -> None:
        """Render every minified item now, so the first full listing is as fast as the rest."""
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            with self._lock:
                for item in self._items.values():
                    if item.id not in self._min_cache:
                        self._min_cache[item.id] = _dumps(self._minified(item))
        finally:
            if gc_was_on:
                gc.enable()

    # ------------------------------------------------------------------ fault injection
    def fail_next(
        self,
        status: int,
        body: str | bytes | dict[str, Any] | list[Any] | None = None,
        *,
        path_prefix: str = "/api/",
        times: int = 1,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` (and, if
        given, whose method is ``method``) with ``status`` and ``body`` instead of the real thing.
        A dict/list body is sent as JSON; the default body is the plain-text reason phrase."""
        if body is None:
            raw, ctype = _REASONS.get(status, "Error").encode(), "text/plain; charset=utf-8"
        elif isinstance(body, dict | list):
            raw, ctype = _dumps(body), "application/json; charset=utf-8"
        elif isinstance(body, bytes):
            raw, ctype = body, "text/plain; charset=utf-8"
        else:
            raw, ctype = body.encode(), "text/plain; charset=utf-8"
        with self._lock:
            self._faults.append(_Fault(status, raw, content_type or ctype, path_prefix,
                                       method.upper() if method else None, times, dict(headers or {})))

    def set_mode(self, mode: str | None, path_prefix: str = "/api/") -> None:
        """``html``: 200 with the web UI's HTML (a proxy or wrong base URL); ``malformed``: 200
        with truncated JSON; ``slow``: stall ``slow_delay`` seconds before answering (beyond any
        sane client timeout); ``None``/``"normal"``: clear the mode for that prefix."""
        if mode not in (None, "normal", "html", "malformed", "slow"):
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            if mode in (None, "normal"):
                self._modes.pop(path_prefix, None)
            else:
                self._modes[path_prefix] = mode

    @property
    def mode(self) -> str | None:
        """The mode applied to every ``/api/`` path (set it to apply one to all of the API)."""
        return self._modes.get("/api/")

    @mode.setter
    def mode(self, value: str | None) -> None:
        self.set_mode(value, "/api/")

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._modes.clear()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeABS is not running; call start() or use serve()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Listen on ``host:port`` (0 = any free port) in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.url
        self._stopping.clear()
        server = _Server((host, port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-abs", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @contextlib.contextmanager
    def serve(self) -> Iterator[FakeABS]:
        """``with FakeABS().serve() as abs_: httpx.get(abs_.url + "/ping")``."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def __enter__(self) -> FakeABS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ JSON shapes
    def _names(self, item: _Item) -> tuple[str, str, str, str]:
        names = [self._authors[a].name for a in item.author_ids if a in self._authors]
        series_bits = []
        for sid, seq in item.series:
            s = self._series.get(sid)
            if s:
                series_bits.append(f"{s.name} #{seq}" if seq else s.name)
        return (", ".join(names), ", ".join(last_first(n) for n in names),
                ", ".join(item.narrators), ", ".join(series_bits))

    def _minified(self, item: _Item) -> dict[str, Any]:
        author_name, author_lf, narrator_name, series_name = self._names(item)
        audio = item.audio_files
        media_size = sum(f.size for f in audio)
        return {
            "id": item.id, "ino": item.ino, "oldLibraryItemId": None, "libraryId": item.library_id,
            "folderId": item.folder_id, "path": item.path, "relPath": item.rel_path,
            "isFile": item.is_file, "mtimeMs": item.mtime, "ctimeMs": item.ctime,
            "birthtimeMs": item.birthtime, "addedAt": item.added_at, "updatedAt": item.updated_at,
            "isMissing": item.is_missing, "isInvalid": False, "mediaType": "book",
            "media": {
                "id": item.media_id,
                "metadata": {
                    "title": item.title, "titleIgnorePrefix": ignore_prefix(item.title),
                    "subtitle": item.subtitle, "authorName": author_name, "authorNameLF": author_lf,
                    "narratorName": narrator_name, "seriesName": series_name,
                    "genres": list(item.genres), "publishedYear": item.published_year,
                    "publishedDate": item.published_date, "publisher": item.publisher,
                    "description": item.description, "isbn": item.isbn, "asin": item.asin,
                    "language": item.language, "explicit": item.explicit, "abridged": item.abridged,
                },
                "coverPath": item.cover_path, "tags": list(item.tags), "numTracks": len(audio),
                "numAudioFiles": len(audio), "numChapters": len(item.chapters),
                "duration": round(sum(f.duration for f in audio), 6), "size": media_size,
            },
            "numFiles": len(item.files), "size": sum(f.size for f in item.files),
        }

    def _min_bytes(self, item: _Item) -> bytes:
        cached = self._min_cache.get(item.id)
        if cached is None:
            cached = self._min_cache[item.id] = _dumps(self._minified(item))
        return cached

    def _full_metadata(self, item: _Item) -> dict[str, Any]:
        return {
            "title": item.title, "subtitle": item.subtitle,
            "authors": [{"id": a, "name": self._authors[a].name} for a in item.author_ids
                        if a in self._authors],
            "narrators": list(item.narrators),
            "series": [{"id": sid, "name": self._series[sid].name, "sequence": seq}
                       for sid, seq in item.series if sid in self._series],
            "genres": list(item.genres), "publishedYear": item.published_year,
            "publishedDate": item.published_date, "publisher": item.publisher,
            "description": item.description, "isbn": item.isbn, "asin": item.asin,
            "language": item.language, "explicit": item.explicit, "abridged": item.abridged,
        }

    def _file_meta(self, item: _Item, f: _File) -> dict[str, Any]:
        return {"filename": os.path.basename(f.rel_path), "ext": f.ext, "path": f"{item.path}/{f.rel_path}",
                "relPath": f.rel_path, "size": f.size, "mtimeMs": f.mtime, "ctimeMs": f.mtime,
                "birthtimeMs": f.mtime}

    def _audio_json(self, item: _Item) -> list[dict[str, Any]]:
        out = []
        for index, f in enumerate(item.audio_files, 1):
            codec, fmt = _CODEC.get(f.ext, ("mp3", "MP2/3 (MPEG audio layer 2/3)"))
            bitrate = int(f.size * 8 / f.duration) if f.duration else 64000
            out.append({
                "index": index, "ino": f.ino, "metadata": self._file_meta(item, f),
                "addedAt": item.added_at, "updatedAt": item.added_at, "trackNumFromMeta": index,
                "discNumFromMeta": None, "trackNumFromFilename": index if len(item.audio_files) > 1 else None,
                "discNumFromFilename": None, "manuallyVerified": False, "exclude": False, "error": None,
                "format": fmt, "duration": f.duration, "bitRate": bitrate, "language": None,
                "codec": codec, "timeBase": "1/44100", "channels": 2, "channelLayout": "stereo",
                "chapters": [], "embeddedCoverArt": None,
                "metaTags": {"tagAlbum": item.title, "tagTitle": os.path.splitext(f.rel_path)[0],
                             "tagEncoder": "Lavf59.27.100"},
                "mimeType": _MIME.get(f.ext, "audio/mpeg"),
            })
        return out

    def _library_files(self, item: _Item) -> list[dict[str, Any]]:
        return [{"ino": f.ino, "metadata": self._file_meta(item, f), "isSupplementary": None,
                 "addedAt": item.added_at, "updatedAt": item.added_at, "fileType": f.kind}
                for f in item.files]

    def _old_json(self, item: _Item) -> dict[str, Any]:
        """``LibraryItem.toOldJSON``: what PATCH returns and GET /api/items/:id without expanded."""
        return {
            "id": item.id, "ino": item.ino, "oldLibraryItemId": None, "libraryId": item.library_id,
            "folderId": item.folder_id, "path": item.path, "relPath": item.rel_path,
            "isFile": item.is_file, "mtimeMs": item.mtime, "ctimeMs": item.ctime,
            "birthtimeMs": item.birthtime, "addedAt": item.added_at, "updatedAt": item.updated_at,
            "lastScan": item.last_scan, "scanVersion": SERVER_VERSION, "isMissing": item.is_missing,
            "isInvalid": False, "mediaType": "book",
            "media": {
                "id": item.media_id, "libraryItemId": item.id, "metadata": self._full_metadata(item),
                "coverPath": item.cover_path, "tags": list(item.tags),
                "audioFiles": self._audio_json(item), "chapters": [dict(c) for c in item.chapters],
                "ebookFile": None,
            },
            "libraryFiles": self._library_files(item),
        }

    def _expanded(self, item: _Item) -> dict[str, Any]:
        """``LibraryItem.toOldJSONExpanded`` (GET ?expanded=1, batch/get)."""
        mini = self._minified(item)
        meta = self._full_metadata(item)
        mm = mini["media"]["metadata"]
        for key in ("titleIgnorePrefix", "authorName", "authorNameLF", "narratorName", "seriesName"):
            meta[key] = mm[key]
        meta["descriptionPlain"] = strip_html(item.description)
        audio = self._audio_json(item)
        tracks, offset = [], 0.0
        for a in audio:
            track = dict(a)
            track.update(title=a["metadata"]["filename"], startOffset=round(offset, 6),
                         contentUrl=f"/api/items/{item.id}/file/{a['ino']}")
            offset += a["duration"]
            tracks.append(track)
        media = dict(mini["media"])
        media["metadata"] = meta
        media.update(libraryItemId=item.id, audioFiles=audio,
                     chapters=[dict(c) for c in item.chapters], ebookFile=None, tracks=tracks)
        out = dict(mini)
        out["media"] = media
        out.update(lastScan=item.last_scan, scanVersion=SERVER_VERSION,
                   libraryFiles=self._library_files(item))
        return out

    def _library_json(self, lib: _Library) -> dict[str, Any]:
        return {
            "id": lib.id, "name": lib.name,
            "folders": [{"id": lib.folder_id, "fullPath": lib.full_path, "libraryId": lib.id,
                         "addedAt": lib.created_at}],
            "displayOrder": lib.display_order, "icon": "database", "mediaType": lib.media_type,
            "provider": "google", "settings": dict(lib.settings), "lastScan": lib.last_scan,
            "lastScanVersion": SERVER_VERSION if lib.last_scan else None,
            "createdAt": lib.created_at, "lastUpdate": lib.last_update,
        }

    def _user_json(self) -> dict[str, Any]:
        admin = self.user_type in ("root", "admin")
        return {
            "id": self.user_id, "username": "root" if self.user_type == "root" else "abook",
            "email": None, "type": self.user_type, "mediaProgress": [],
            "seriesHideFromContinueListening": [], "bookmarks": [], "isActive": True,
            "isLocked": False, "lastSeen": self.now(), "createdAt": 1_700_000_000_000,
            "permissions": {"download": True, "update": self.can_update, "delete": admin,
                            "upload": admin, "createEreader": admin, "accessAllLibraries": True,
                            "accessAllTags": True, "accessExplicitContent": True,
                            "selectedTagsNotAccessible": False},
            "librariesAccessible": [], "itemTagsSelected": [], "hasOpenIDLink": False,
        }

    # ------------------------------------------------------------------ indexes
    def _index(self) -> dict[str, Any]:
        """Per-version indexes: items per library, per author and per series."""
        if self._index_cache and self._index_cache[0] == self._version:
            return self._index_cache[1]
        by_lib: dict[str, list[_Item]] = {}
        by_author: dict[str, int] = {}
        by_series: dict[str, list[tuple[_Item, str | None]]] = {}
        for item in self._items.values():
            by_lib.setdefault(item.library_id, []).append(item)
            for a in item.author_ids:
                by_author[a] = by_author.get(a, 0) + 1
            for sid, seq in item.series:
                by_series.setdefault(sid, []).append((item, seq))
        idx = {"lib": by_lib, "author": by_author, "series": by_series}
        self._index_cache = (self._version, idx)
        return idx

    # ------------------------------------------------------------------ request handling
    def _record(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
                headers: dict[str, str]) -> RequestRecord | None:
        if not self.record_requests:
            return None
        record = RequestRecord(method, path, query, body, headers)
        with self._lock:
            self.requests.append(record)
        return record

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            best = ""
            for prefix in self._modes:
                if path.startswith(prefix) and len(prefix) > len(best):
                    best = prefix
            if best:
                return _Fault(0, b"", self._modes[best], best, None, 0, {})  # a mode marker
        return None

    def _authorized(self, headers: dict[str, str], query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip() == self.token:
            return True
        return query.get("token", [None])[0] == self.token

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        """Route one request; returns (status, body, content type, extra headers)."""
        split = urlsplit(raw_path)
        path = split.path
        if path.startswith("/audiobookshelf/") or path == "/audiobookshelf":
            path = path[len("/audiobookshelf"):] or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        query = parse_qs(split.query, keep_blank_values=True)
        record = self._record(method, path, query, body, headers)

        fault = self._take_fault(method, path)
        if fault is not None:
            if fault.status:
                return fault.status, fault.body, fault.content_type, fault.headers
            if fault.content_type == "slow":
                self._stopping.wait(self.slow_delay)
            elif fault.content_type == "html":
                return 200, _HTML_PAGE, "text/html; charset=UTF-8", {}
            elif fault.content_type == "malformed":
                return 200, b'{"results":[{"id":"5d1fba07-371b-4bdd-8017-7aa31b0930f4","ino":', \
                    "application/json; charset=utf-8", {}

        if path.startswith("/api/") and not self._authorized(headers, query):
            return 401, b"Unauthorized", "text/plain; charset=utf-8", {}
        with self._loop:
            started = time.perf_counter()
            self._tl.cost = COSTS["request"]
            try:
                answer = self._cached_or_routed(method, path, split.query, query, headers, body)
            finally:
                cost, self._tl.cost = self._tl.cost, None
                with self._lock:
                    self.modelled_seconds += cost
                if record is not None:
                    record.cost = cost
                wait = cost * self.cost_scale - (time.perf_counter() - started)
                if wait > 0:
                    self._stopping.wait(wait)
        return answer

    def _cached_or_routed(self, method: str, path: str, raw_query: str, query: dict[str, list[str]],
                          headers: dict[str, str], body: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        """ABS's ApiCacheManager in front of ``GET /api/libraries*``: kept per user and URL until
        the next write, at most 10 MB in all (least recently used out first)."""
        cacheable = method == "GET" and path.startswith("/api/libraries") and \
            query.get("sort", [""])[0] != "random"
        if not cacheable:
            return self._route(method, path, query, body)
        key = (headers.get("authorization", "") or query.get("token", [""])[0],
               f"{path}?{raw_query}" if raw_query else path)
        with self._lock:
            kept = self._api_cache.pop(key, None)
            if kept is not None:
                self._api_cache[key] = kept  # most recently used
        if kept is not None:
            self._tl.cost = COSTS["request"] + COSTS["cache_hit"]
            return kept[0], kept[1], kept[2], {}
        version = self._version
        answer = self._route(method, path, query, body)
        size = len(answer[1])
        with self._lock:
            if version == self._version and size <= API_CACHE_BYTES:
                self._api_cache[key] = answer[:3]
                self._api_cache_bytes += size
                while self._api_cache_bytes > API_CACHE_BYTES:
                    oldest = next(iter(self._api_cache))
                    self._api_cache_bytes -= len(self._api_cache.pop(oldest)[1])
        return answer

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               body: bytes) -> tuple[int, bytes, str, dict[str, str]]:
        try:
            for route_method, pattern, name in _ROUTES:
                if route_method != method:
                    continue
                m = pattern.fullmatch(path)
                if m:
                    payload = None
                    if method in ("POST", "PATCH", "PUT") and body:
                        try:
                            payload = json.loads(body)
                        except ValueError:
                            raise _HttpError(400, "Bad Request") from None
                    result = getattr(self, name)(query, payload, *m.groups())
                    if isinstance(result, tuple):
                        return result[0], result[1], result[2], {}
                    if isinstance(result, bytes):
                        return 200, result, "application/json; charset=utf-8", {}
                    if isinstance(result, str):
                        return 200, result.encode(), "text/plain; charset=utf-8", {}
                    return 200, _dumps(result), "application/json; charset=utf-8", {}
            raise _HttpError(404, "Not Found")
        except _HttpError as err:
            return err.status, err.text.encode(), "text/plain; charset=utf-8", {}

    # -- helpers for handlers
    def _lib(self, lib_id: str) -> _Library:
        lib = self._libraries.get(lib_id)
        if lib is None:
            raise _HttpError(404, "Library not found")
        return lib

    def _admin(self) -> None:
        if self.user_type not in ("root", "admin"):
            raise _HttpError(403, "Forbidden")

    # -- misc
    def r_healthcheck(self, q: Any, p: Any) -> str:
        return "OK"

    def r_ping(self, q: Any, p: Any) -> dict[str, Any]:
        return {"success": True}

    def r_status(self, q: Any, p: Any) -> dict[str, Any]:
        return {"app": "audiobookshelf", "serverVersion": SERVER_VERSION, "isInit": True,
                "language": "en-us", "authMethods": ["local"],
                "authFormData": {"authLoginCustomMessage": None}}

    def r_me(self, q: Any, p: Any) -> dict[str, Any]:
        return self._user_json()

    def r_authorize(self, q: Any, p: Any) -> dict[str, Any]:
        return {"user": self._user_json(), "userDefaultLibraryId": self.default_library_id,
                "serverSettings": {"id": "server-settings", "version": SERVER_VERSION,
                                   "scannerParseSubtitle": False, "sortingPrefixes": list(_SORT_PREFIXES),
                                   "scannerPreferMatchedMetadata": False},
                "ereaderDevices": [], "Source": "docker"}

    def r_tasks(self, q: Any, p: Any) -> dict[str, Any]:
        with self._lock:
            return {"tasks": [dict(t) for t in self._tasks]}

    # -- libraries
    def r_libraries(self, q: Any, p: Any) -> dict[str, Any]:
        with self._lock:
            libs = sorted(self._libraries.values(), key=lambda lb: lb.display_order)
            return {"libraries": [self._library_json(lb) for lb in libs]}

    def r_library(self, q: Any, p: Any, lib_id: str) -> dict[str, Any]:
        with self._lock:
            lib = self._library_json(self._lib(lib_id))
            if "filterdata" in q.get("include", [""])[0].split(","):
                data = self._filterdata_for(lib_id)
                return {"filterdata": data, "issues": data["numIssues"], "numUserPlaylists": 0,
                        "library": lib}
            return lib

    def r_filterdata(self, q: Any, p: Any, lib_id: str) -> dict[str, Any]:
        with self._lock:
            self._lib(lib_id)
            return self._filterdata_for(lib_id)

    def _filterdata_for(self, lib_id: str) -> dict[str, Any]:
        """``libraryFilters.getFilterData``: kept for ``filterdata_ttl``; after that, rebuilt only
        when a book, series or author changed since it was built (or a count moved)."""
        items = self._index()["lib"].get(lib_id, [])
        kept = self._filterdata.get(lib_id)
        now = self.now()
        if kept is not None and now - kept["loadedAt"] < self.filterdata_ttl * 1000:
            self._charge(len(items) * COSTS["filterdata_kept_per_book"])
            return _copy_filterdata(kept)
        authors = [a for a in self._authors.values() if a.library_id == lib_id]
        series = [x for x in self._series.values() if x.library_id == lib_id]
        if kept is not None:
            self._charge(len(items) * COSTS["filterdata_check_per_book"])
            since = kept["loadedAt"]
            unchanged = (
                not any(i.updated_at > since for i in items)
                and not any(x.updated_at > since for x in series)
                and not any(a.updated_at > since for a in authors)
                and (kept["bookCount"], kept["seriesCount"], kept["authorCount"])
                == (len(items), len(series), len(authors))
            )
            if unchanged:
                kept["loadedAt"] = now
                return _copy_filterdata(kept)
        self._charge(len(items) * COSTS["filterdata_per_book"])

        def natural(values: Iterable[str]) -> list[str]:
            return sorted(set(values), key=lambda v: (v.lower(), v))

        decades = {str(int(y) // 10 * 10) for i in items if (y := i.published_year) and y.isdigit()
                   and 0 < int(y) < 3000}
        data: dict[str, Any] = {
            "authors": sorted(({"id": a.id, "name": a.name} for a in authors),
                              key=lambda a: a["name"].lower()),
            "genres": natural(g for i in items for g in i.genres),
            "tags": natural(t for i in items for t in i.tags),
            "series": sorted(({"id": x.id, "name": x.name or "No Title"} for x in series),
                             key=lambda x: x["name"].lower()),
            "narrators": natural(n for i in items for n in i.narrators),
            "languages": natural(i.language for i in items if i.language),
            "publishers": natural(i.publisher for i in items if i.publisher),
            "publishedDecades": natural(decades),
            "bookCount": len(items), "authorCount": len(authors), "seriesCount": len(series),
            "podcastCount": 0, "numIssues": sum(1 for i in items if i.is_missing),
            "loadedAt": now,
        }
        self._filterdata[lib_id] = data
        return _copy_filterdata(data)

    def r_items(self, q: Any, p: Any, lib_id: str) -> bytes:
        limit = _int_param(q, "limit")
        page = _int_param(q, "page")
        sort = q.get("sort", [None])[0] or None
        desc = q.get("desc", [""])[0] == "1"
        filt = q.get("filter", [None])[0] or None
        with self._lock:
            self._lib(lib_id)
            ids, series_id = self._ordered_items(lib_id, sort, desc, filt)
            total = len(ids)
            offset = page * limit
            chosen = ids[offset:offset + limit] if limit else ids
            self._charge(len(self._index()["lib"].get(lib_id, ())) * COSTS["list_per_book"]
                         + len(chosen) * COSTS["list_per_item"])
            if series_id is None:
                parts = [self._min_bytes(self._items[i]) for i in chosen]
            else:
                series = self._series.get(series_id)
                parts = []
                for i in chosen:
                    item = self._items[i]
                    mini = self._minified(item)
                    seq = next((s[1] for s in item.series if s[0] == series_id), None)
                    mini["media"]["metadata"]["series"] = {
                        "id": series_id, "name": series.name if series else None, "sequence": seq}
                    parts.append(_dumps(mini))
        env: dict[str, Any] = {"total": total, "limit": limit, "page": page}
        if sort:
            env["sortBy"] = sort
        env["sortDesc"] = desc
        if filt:
            env["filterBy"] = filt
        env.update(mediaType="book", minified=q.get("minified", [""])[0] == "1",
                   collapseseries=q.get("collapseseries", [""])[0] == "1",
                   include=q.get("include", [""])[0], offset=offset)
        return b'{"results":[' + b",".join(parts) + b"]," + _dumps(env)[1:]

    def _ordered_items(self, lib_id: str, sort: str | None, desc: bool,
                       filt: str | None) -> tuple[list[str], str | None]:
        series_id = None
        group, value = None, None
        if filt:
            group, _, raw = filt.partition(".")
            value = _b64(raw) if raw else None
            if group == "series":
                series_id = value or ""
        shuffle = sort == "random" or (not sort and self.shuffle_unsorted)
        if sort == "random":
            sort, desc = None, False
        key = (lib_id, sort, desc, filt)
        cached = self._order_cache.get(key)
        if cached and cached[0] == self._version:
            ids = cached[1]
        else:
            ids = self._sorted_ids(lib_id, sort, desc, group, value)
            if len(self._order_cache) > 64:
                self._order_cache.clear()
            self._order_cache[key] = (self._version, ids)
        if shuffle:
            ids = list(ids)
            random.shuffle(ids)
        return ids, series_id

    def _sorted_ids(self, lib_id: str, sort: str | None, desc: bool, group: str | None,
                    value: str | None) -> list[str]:
        items = self._index()["lib"].get(lib_id, [])
        if group:
            items = [i for i in items if self._matches(i, group, value)]
        keyf = self._sort_key(sort, group)
        if keyf is not None:
            # SQL sorts NULL first ascending; our keys put None as (0,) before (1, value)
            items = sorted(items, key=keyf, reverse=desc)
        return [i.id for i in items]

    def _sort_key(self, sort: str | None, group: str | None) -> Any:
        def nocase(s: str | None) -> tuple[int, Any]:
            return (0, "") if s is None else (1, s.lower())

        def num(v: Any) -> tuple[int, Any]:
            return (0, 0) if v is None else (1, v)

        if sort == "media.metadata.title":
            return lambda i: nocase(i.title)
        if sort in ("media.metadata.authorName", "media.metadata.authorNameLF"):
            lf = sort.endswith("LF")

            def author_key(i: _Item) -> tuple[int, Any]:
                names = [self._authors[a].name for a in i.author_ids if a in self._authors]
                if not names:
                    return (0, "")
                return nocase(", ".join(last_first(n) for n in names) if lf else ", ".join(names))
            return author_key
        if sort == "media.metadata.publishedYear":
            return lambda i: num(_int_or_none(i.published_year))
        if sort == "media.duration":
            return lambda i: sum(f.duration for f in i.audio_files)
        if sort == "size":
            return lambda i: sum(f.size for f in i.files)
        if sort in ("addedAt", "mtimeMs", "birthtimeMs"):
            attr = {"addedAt": "added_at", "mtimeMs": "mtime", "birthtimeMs": "birthtime"}[sort]
            return lambda i: getattr(i, attr)
        if sort == "sequence" and group == "series":
            def seq_key(i: _Item) -> tuple[int, Any]:
                seq = next((s[1] for s in i.series), None)
                try:
                    return num(float(seq)) if seq is not None else (0, 0)
                except ValueError:
                    return (1, float("inf"))
            return seq_key
        return None  # no sort, progress sorts, unknown sorts: no ORDER BY

    def _matches(self, item: _Item, group: str, value: str | None) -> bool:
        if group == "series":
            return any(s[0] == value for s in item.series)
        if group == "authors":
            return value in item.author_ids
        if group == "genres":
            return value in item.genres
        if group == "tags":
            return value in item.tags
        if group == "narrators":
            return value in item.narrators
        if group == "publishers":
            return item.publisher == value
        if group == "languages":
            return item.language == value
        if group == "issues":
            return item.is_missing
        if group == "recent":
            return item.added_at > self.now() - 60 * 86_400_000
        if group == "missing":
            attr = {"publishedYear": "published_year", "cover": "cover_path",
                    "authors": "author_ids"}.get(value or "", value or "")
            return not getattr(item, attr, True)
        return True  # unknown groups do not filter

    # -- single items
    def r_item(self, q: Any, p: Any, item_id: str) -> dict[str, Any]:
        with self._lock:
            self._charge(len(self._items) * COSTS["item_per_book"] + COSTS["item"])
            item = self._items.get(item_id)
            if item is None:
                raise _HttpError(404, "Not Found")
            if q.get("expanded", [""])[0] == "1":
                return self._expanded(item)
            return self._old_json(item)

    def r_item_delete(self, q: Any, p: Any, item_id: str) -> str:
        self._admin()
        with self._lock:
            if item_id not in self._items:
                raise _HttpError(404, "Not Found")
            self.remove_book(item_id)
        return "OK"

    def r_batch_get(self, q: Any, p: Any) -> bytes:
        ids = p.get("libraryItemIds") if isinstance(p, dict) else None
        if not isinstance(ids, list) or not ids:
            raise _HttpError(403, "Invalid payload")
        wanted = {i for i in ids if isinstance(i, str)}
        with self._lock:
            # store order, not request order: the SQL has no ORDER BY
            items = [self._expanded(i) for i in self._items.values() if i.id in wanted]
            self._charge(len(self._items) * COSTS["batch_per_book"] + len(items) * COSTS["batch_per_item"])
        return _dumps({"libraryItems": items})

    # -- metadata updates
    def r_cover(self, q: Any, p: Any, item_id: str) -> dict[str, Any]:
        """``POST /api/items/:id/cover {"url"}``: ABS downloads the image; its SSRF filter refuses
        loopback and private hosts with a 400 (``Call to 127.0.0.1 is blocked``)."""
        if not self.can_update:
            raise _HttpError(403, "Forbidden")
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                raise _HttpError(404, "Not Found")
            url = p.get("url") if isinstance(p, dict) else None
            self.patches.append(PatchRecord(item_id, {"cover": url}, "cover"))
            if not isinstance(url, str) or not url:
                raise _HttpError(400, "Invalid request")
            if not _cover_url_ok(url):
                raise _HttpError(400, f"Call to {urlsplit(url).hostname} is blocked")
            item.cover_path = f"/metadata/items/{item.id}/cover.jpg"
            self._charge(COSTS["write"])
            self._changed(item)
            return {"success": True, "cover": item.cover_path}

    def r_patch_media(self, q: Any, p: Any, item_id: str) -> dict[str, Any]:
        if not self.can_update:
            raise _HttpError(403, "Forbidden")
        with self._lock:
            item = self._items.get(item_id)
            if item is None:
                raise _HttpError(404, "Not Found")
            self.patches.append(PatchRecord(item_id, p, "patch"))
            if not isinstance(p, dict):
                p = {}
            url = p.get("url")
            if isinstance(url, str) and url and not _cover_url_ok(url):
                raise _HttpError(400, "Failed to download image from url")
            updated = self._apply_media(item, p)
            if isinstance(url, str) and url:
                item.cover_path = f"/metadata/items/{item.id}/cover.jpg"
                updated = True
            self._charge(len(self._items) * COSTS["item_per_book"] + COSTS["write"])
            if updated:
                self._changed(item)
            out: dict[str, Any] = {"updated": True} if updated else {}
            out["libraryItem"] = self._old_json(item)
            return out

    def r_batch_update(self, q: Any, p: Any) -> dict[str, Any]:
        if not self.can_update:
            raise _HttpError(403, "Forbidden")
        if not isinstance(p, list) or not p:
            raise _HttpError(400, "Bad Request")
        with self._lock:
            ids = [e.get("id") if isinstance(e, dict) else None for e in p]
            if len(set(ids)) != len(ids):
                raise _HttpError(400, "Bad Request")
            if any(i not in self._items for i in ids):
                raise _HttpError(404, "Not Found")
            count = 0
            self._charge(len(self._items) * COSTS["batch_per_book"] + len(p) * COSTS["write"])
            for entry in p:
                payload = entry.get("mediaPayload")
                self.patches.append(PatchRecord(entry["id"], payload, "batch"))
                item = self._items[entry["id"]]
                if isinstance(payload, dict) and self._apply_media(item, payload):
                    self._changed(item)
                    count += 1
            return {"success": True, "updates": count}

    def _apply_media(self, item: _Item, payload: dict[str, Any]) -> bool:
        """``Book.updateFromRequest`` + authors/series: only keys present are touched."""
        meta = payload.get("metadata")
        changed = False
        old_authors, old_series = list(item.author_ids), [s[0] for s in item.series]
        if isinstance(meta, dict):
            for key, attr in (("title", "title"), ("subtitle", "subtitle"),
                              ("publishedYear", "published_year"), ("publishedDate", "published_date"),
                              ("publisher", "publisher"), ("description", "description"),
                              ("isbn", "isbn"), ("asin", "asin"), ("language", "language")):
                if key not in meta:
                    continue
                value = meta[key]
                if isinstance(value, bool):
                    continue
                if isinstance(value, int | float):
                    value = str(int(value)) if float(value).is_integer() else repr(float(value))
                elif value == "":
                    value = None
                elif value is not None and not isinstance(value, str):
                    continue
                if key == "title" and value is None:
                    continue  # the column is NOT NULL
                if value == getattr(item, attr):
                    continue
                if key == "description" and value is not None:
                    value = sanitize_html(value)  # compared raw above: "<script>" always "changes"
                setattr(item, attr, value)
                changed = True
            for key in ("explicit", "abridged"):
                if key in meta and bool(meta[key]) != getattr(item, key):
                    setattr(item, key, bool(meta[key]))
                    changed = True
            for key in ("narrators", "genres"):
                value = meta.get(key)
                if isinstance(value, list) and all(isinstance(v, str) for v in value) \
                        and value != getattr(item, key):
                    setattr(item, key, list(value))
                    changed = True
            if isinstance(meta.get("authors"), list):
                changed |= self._set_authors(item, meta["authors"])
            if isinstance(meta.get("series"), list):
                changed |= self._set_series(item, meta["series"])
        tags = payload.get("tags")
        if isinstance(tags, list) and all(isinstance(t, str) for t in tags) and tags != item.tags:
            item.tags = list(tags)
            changed = True
        if changed:
            self._drop_orphans(old_authors, old_series)
            self._fd_note(item, scanned=False)
            self._min_cache.pop(item.id, None)
            self._touch()
        return changed

    def _set_authors(self, item: _Item, authors: list[Any]) -> bool:
        # Only {name: "..."} objects count; ids are ignored; plain strings are dropped, so
        # ["Andy Weir"] is an empty list and removes every author.
        wanted: list[str] = []
        for entry in authors:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.strip() and name.strip().lower() not in \
                    [w.lower() for w in wanted]:
                wanted.append(name.strip())
        current = {self._authors[a].name.lower(): a for a in item.author_ids if a in self._authors}
        wanted_low = [w.lower() for w in wanted]
        keep = [a for low, a in current.items() if low in wanted_low]
        added = [self._author_for(item.library_id, w) for w in wanted if w.lower() not in current]
        new = keep + added
        if new == item.author_ids:
            return False
        item.author_ids = new
        return True

    def _set_series(self, item: _Item, series: list[Any]) -> bool:
        wanted: list[tuple[str, str | None]] = []
        for entry in series:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                continue
            seq = entry.get("sequence")
            seq = seq if isinstance(seq, str) and seq != "" else None  # numbers silently -> null
            if name.strip().lower() not in [w[0].lower() for w in wanted]:
                wanted.append((name.strip(), seq))
        current = {self._series[s[0]].name.lower(): s for s in item.series if s[0] in self._series}
        new: list[list[Any]] = []
        for name, seq in wanted:
            if name.lower() in current:
                new.append([current[name.lower()][0], seq])
        for name, seq in wanted:
            if name.lower() not in current:
                new.append([self._series_for(item.library_id, name), seq])
        if new == item.series:
            return False
        item.series = new
        return True

    # -- series and authors
    def r_series(self, q: Any, p: Any, lib_id: str) -> bytes:
        limit = _int_param(q, "limit")
        page = _int_param(q, "page")
        sort = q.get("sort", [None])[0] or None
        desc = q.get("desc", [""])[0] == "1"
        with self._lock:
            lib = self._lib(lib_id)
            by_series = self._index()["series"]
            rows = []
            for s in self._series.values():
                books = by_series.get(s.id)
                if s.library_id != lib_id or not books:
                    continue
                if lib.settings.get("hideSingleBookSeries") and len(books) == 1:
                    continue
                rows.append((s, books))
            rows = _sort_series(rows, sort, desc)
            total = len(rows)
            # Quirk of the real server at scale: no limit (or 0) gives EMPTY results.
            chosen = rows[page * limit: page * limit + limit] if limit else []
            parts = []
            self._charge(len(self._items) * COSTS["series_per_book"]
                         + sum(len(b) for _s, b in chosen) * COSTS["series_per_embedded"])
            for s, books in chosen:
                ordered = sorted(books, key=lambda b: _seq_sort_key(b[1]))
                head = _dumps({"id": s.id, "name": s.name, "nameIgnorePrefix": ignore_prefix(s.name),
                               "description": s.description, "addedAt": s.added_at,
                               "updatedAt": s.updated_at, "libraryId": s.library_id})
                parts.append(head[:-1] + b',"books":[' +
                             b",".join(self._min_bytes(b[0]) for b in ordered) + b"]}")
        env: dict[str, Any] = {"total": total, "limit": limit, "page": page}
        if sort:
            env["sortBy"] = sort
        env.update(sortDesc=desc, minified=q.get("minified", [""])[0] == "1",
                   include=q.get("include", [""])[0])
        return b'{"results":[' + b",".join(parts) + b"]," + _dumps(env)[1:]

    def r_authors(self, q: Any, p: Any, lib_id: str) -> dict[str, Any]:
        with self._lock:
            self._lib(lib_id)
            counts = self._index()["author"]
            authors = [a for a in self._authors.values() if a.library_id == lib_id]
            self._charge(sum(counts.get(a.id, 0) for a in authors) * COSTS["authors_per_link"])
            rows = [{"id": a.id, "asin": a.asin, "name": a.name, "description": a.description,
                     "imagePath": a.image_path, "libraryId": a.library_id, "addedAt": a.added_at,
                     "updatedAt": a.updated_at, "numBooks": counts.get(a.id, 0),
                     "lastFirst": last_first(a.name)} for a in authors]
        if "limit" not in q or "page" not in q:
            return {"authors": rows}
        limit = _int_param(q, "limit")
        page = _int_param(q, "page")
        sort = q.get("sort", [None])[0] or None
        desc = q.get("desc", [""])[0] == "1"
        keyf = {"name": lambda r: r["name"].lower(), "lastFirst": lambda r: r["lastFirst"].lower(),
                "addedAt": lambda r: r["addedAt"], "updatedAt": lambda r: r["updatedAt"],
                "numBooks": lambda r: r["numBooks"]}.get(sort or "")
        if keyf:
            rows.sort(key=keyf, reverse=desc)
        chosen = rows[page * limit: page * limit + limit] if limit else rows
        env: dict[str, Any] = {"results": chosen, "total": len(rows), "limit": limit, "page": page}
        if sort:
            env["sortBy"] = sort
        env.update(sortDesc=desc, minified=False)
        return env

    # -- scanning
    def r_scan(self, q: Any, p: Any, lib_id: str) -> str:
        self._admin()
        force = q.get("force", [""])[0] in ("1", "true")
        with self._lock:
            lib = self._lib(lib_id)
            self.scan_requests.append((lib_id, force))
            if lib_id in self._scanning:
                return "OK"  # already scanning: a silent no-op
            self._scanning.add(lib_id)
            task = self._add_task("library-scan", lib, f'Scanning "{lib.name}" library')
        self._spawn(self._scan_job, lib_id, force, task, self.scan_delay, True)
        return "OK"

    def r_watcher(self, q: Any, p: Any) -> str:
        self._admin()
        if not isinstance(p, dict) or not p.get("libraryId") or not p.get("path") or not p.get("type"):
            raise _HttpError(400, "Bad Request")
        if p["type"] not in ("add", "unlink", "rename"):
            raise _HttpError(400, "Bad Request")
        if p["type"] == "rename" and not p.get("oldPath"):
            raise _HttpError(400, "Bad Request")
        with self._lock:
            lib = self._libraries.get(p["libraryId"])
            if lib is None or lib.settings.get("disableWatcher") or lib.id in self._scanning:
                return "OK"  # "Invalid library id from watcher": 200 and nothing happens
            self._scanning.add(lib.id)
            task = self._add_task("watcher-scan", lib, f'Scanning file changes in "{lib.name}"')
        self._spawn(self._scan_job, lib.id, False, task, self.watcher_delay, False)
        return "OK"

    def _add_task(self, action: str, lib: _Library, title: str) -> dict[str, Any]:
        task = {"id": str(uuid.uuid4()), "action": action,
                "data": {"libraryId": lib.id, "libraryName": lib.name,
                         "libraryMediaType": lib.media_type},
                "title": title, "titleKey": None, "titleSubs": None, "description": None,
                "descriptionKey": None, "descriptionSubs": None, "error": None, "errorKey": None,
                "errorSubs": None, "showSuccess": True, "isFailed": False, "isFinished": False,
                "startedAt": self.now(), "finishedAt": None}
        self._tasks.append(task)
        return task

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fake-abs-scan")
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _scan_job(self, lib_id: str, force: bool, task: dict[str, Any], delay: float,
                  full: bool) -> None:
        try:
            if delay > 0:
                self._stopping.wait(delay)
            self.scan_now(lib_id, force=force, update_last_scan=full)
        finally:
            with self._lock:
                self._scanning.discard(lib_id)
                if task in self._tasks:
                    self._tasks.remove(task)  # finished tasks vanish from /api/tasks

    @property
    def tasks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self._tasks]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no scan is running; True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._tasks and not self._scanning:
                    return True
            time.sleep(0.01)
        return False

    def scan_now(self, library: str | None = None, *, force: bool = False,
                 update_last_scan: bool = True) -> dict[str, int]:
        """Scan a library folder synchronously; returns ``{added, updated, missing}``."""
        lib_id = self.library_id(library)
        lib = self._libraries[lib_id]
        result = {"added": 0, "updated": 0, "missing": 0}
        root = lib.full_path
        found = _scan_dirs(root) if lib.has_path and os.path.isdir(root) else {}
        with self._lock:
            by_rel = {i.rel_path: i for i in self._items.values()
                      if i.library_id == lib_id and i.on_disk}
            for rel, (is_file, files) in found.items():
                item = by_rel.pop(rel, None)
                if item is None:
                    self._create_scanned(lib, rel, is_file, files)
                    result["added"] += 1
                elif self._rescan(lib, item, is_file, files, force):
                    result["updated"] += 1
            for item in by_rel.values():
                if not item.is_missing:
                    item.is_missing = True
                    self._changed(item)
                    result["missing"] += 1
            if update_last_scan:
                lib.last_scan = lib.last_update = self.now()
            self._touch()
        return result

    def _read_dir_metadata(self, lib: _Library, rel: str, is_file: bool,
                           files: list[tuple[str, os.stat_result]]) -> dict[str, Any]:
        if is_file:
            meta = {"title": os.path.splitext(os.path.basename(rel))[0], "authors": [],
                    "narrators": [], "series": []}
            return meta
        meta = parse_book_dir(rel)
        folder = os.path.join(lib.full_path, rel)
        names = {name.lower(): name for name, _ in files}
        if "desc.txt" in names:
            with contextlib.suppress(OSError):
                meta["description"] = Path(folder, names["desc.txt"]).read_text(errors="replace").strip()
        if "reader.txt" in names:
            with contextlib.suppress(OSError):
                meta["narrators"] = parse_name_string(
                    Path(folder, names["reader.txt"]).read_text(errors="replace").strip())
        if "metadata.json" in names:
            with contextlib.suppress(OSError, ValueError):
                meta.update(parse_metadata_json(
                    Path(folder, names["metadata.json"]).read_text(errors="replace")))
        return meta

    def _files_from_stat(self, files: list[tuple[str, os.stat_result]]) -> list[_File]:
        out = []
        for rel, st in files:
            ext = os.path.splitext(rel)[1].lower()
            duration = round(st.st_size * 8 / 64000, 6) if ext in AUDIO_EXTS else 0.0
            out.append(_File(str(st.st_ino), rel, st.st_size, int(st.st_mtime * 1000), duration))
        return out

    def _create_scanned(self, lib: _Library, rel: str, is_file: bool,
                        files: list[tuple[str, os.stat_result]]) -> None:
        full = os.path.join(lib.full_path, rel)
        st = os.stat(full)
        now = self.now()
        item = _Item(
            id=str(uuid.uuid4()), ino=str(st.st_ino), library_id=lib.id, folder_id=lib.folder_id,
            path=full, rel_path=rel, is_file=is_file, mtime=int(st.st_mtime * 1000),
            ctime=int(st.st_ctime * 1000), birthtime=int(st.st_mtime * 1000), added_at=now,
            updated_at=now, last_scan=now, media_id=str(uuid.uuid4()), title="", on_disk=True,
        )
        self._set_files(item, files)
        self._apply_scanned_meta(item, self._read_dir_metadata(lib, rel, is_file, files))
        self._items[item.id] = item
        self._fd_note(item, scanned=True)

    def _set_files(self, item: _Item, files: list[tuple[str, os.stat_result]]) -> None:
        item.files = self._files_from_stat(files)
        item.files.sort(key=lambda f: (f.kind != "audio", f.rel_path.lower()))
        item.signature = tuple((r, s.st_size, int(s.st_mtime * 1000)) for r, s in files)
        audio = item.audio_files
        chapters, start = [], 0.0
        if len(audio) > 1:
            for n, f in enumerate(audio):
                chapters.append({"id": n, "start": round(start, 6), "end": round(start + f.duration, 6),
                                 "title": os.path.splitext(os.path.basename(f.rel_path))[0]})
                start += f.duration
        item.chapters = chapters
        images = [f for f in item.files if f.kind == "image"]
        cover = next((f for f in images if os.path.splitext(os.path.basename(f.rel_path))[0].lower()
                      in ("cover", "folder")), images[0] if images else None)
        item.cover_path = f"{item.path}/{cover.rel_path}" if cover else item.cover_path

    def _apply_scanned_meta(self, item: _Item, meta: dict[str, Any]) -> None:
        old_authors, old_series = list(item.author_ids), [s[0] for s in item.series]
        simple = {"title": "title", "subtitle": "subtitle", "publishedYear": "published_year",
                  "publishedDate": "published_date", "publisher": "publisher",
                  "description": "description", "isbn": "isbn", "asin": "asin", "language": "language",
                  "explicit": "explicit", "abridged": "abridged"}
        for key, attr in simple.items():
            if key in meta and (meta[key] is not None or key not in ("title",)):
                setattr(item, attr, meta[key])
        if isinstance(item.description, str) and item.description:
            # BookScanner sanitizes every scanned description (metadata.json, desc.txt, tags)
            item.description = sanitize_html(item.description)
        for key in ("narrators", "genres", "tags"):
            if key in meta:
                setattr(item, key, list(meta[key]))
        if "authors" in meta:
            item.author_ids = list(dict.fromkeys(
                self._author_for(item.library_id, a) for a in meta["authors"] if a.strip()))
        if "series" in meta:
            item.series = [[self._series_for(item.library_id, n), s] for n, s in meta["series"]
                           if n and n.strip()]
        self._drop_orphans(old_authors, old_series)
        self._min_cache.pop(item.id, None)

    def _rescan(self, lib: _Library, item: _Item, is_file: bool,
                files: list[tuple[str, os.stat_result]], force: bool) -> bool:
        signature = tuple((r, s.st_size, int(s.st_mtime * 1000)) for r, s in files)
        if not force and signature == item.signature and not item.is_missing:
            return False  # only items whose files changed are re-probed
        item.is_missing = False
        self._set_files(item, files)
        # ABS keeps each item's metadata.json (rewritten after every edit) as the highest
        # precedence, so edits survive; a metadata.json in the item folder still wins.
        name = next((n for n, _ in files if n.lower() == "metadata.json"), None)
        if name is not None and not is_file:
            with contextlib.suppress(OSError, ValueError):
                self._apply_scanned_meta(
                    item, parse_metadata_json(Path(item.path, name).read_text(errors="replace")))
        item.last_scan = self.now()
        self._changed(item)
        self._fd_note(item, scanned=True)
        return True


# ----------------------------------------------------------------------------- module helpers
def _scan_dirs(root: str) -> dict[str, tuple[bool, list[tuple[str, os.stat_result]]]]:
    """``scandir.groupFileItemsIntoLibraryItemDirs``: item folder -> (isFile, [(relpath, stat)]).

    Files are taken shallowest first, so a folder holding audio absorbs the audio of its
    subfolders; ``CD1``/``Disc 2`` folders merge into their parent; an audio file in the library
    root is a single-file item. Dotfiles are ignored. Non-audio files ride along with the item.
    """
    entries: list[tuple[int, str, str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        depth = len(rel_dir.split("/")) if rel_dir else 0
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            entries.append((depth, rel_dir, name, st))
    entries.sort(key=lambda e: e[0])
    groups: dict[str, tuple[bool, list[tuple[str, os.stat_result]]]] = {}
    for _depth, rel_dir, name, st in entries:
        if os.path.splitext(name)[1].lower() not in AUDIO_EXTS:
            continue
        if not rel_dir:
            groups[name] = (True, [(name, st)])
            continue
        dirparts = rel_dir.split("/")
        path = ""
        while dirparts:
            part = dirparts.pop(0)
            path = f"{path}/{part}" if path else part
            rest = "/".join(dirparts)
            if path in groups:
                groups[path][1].append((f"{rest}/{name}" if rest else name, st))
                break
            if not dirparts:
                groups[path] = (False, [(name, st)])
                break
            if len(dirparts) == 1 and _CD_DIR.match(dirparts[0]):
                groups[path] = (False, [(f"{dirparts[0]}/{name}", st)])
                break
    # other files (covers, metadata.json, desc.txt) join the item whose folder holds them
    for _depth, rel_dir, name, st in entries:
        if os.path.splitext(name)[1].lower() in AUDIO_EXTS or not rel_dir:
            continue
        parts = rel_dir.split("/")
        for n in range(len(parts), 0, -1):
            key = "/".join(parts[:n])
            if key in groups and not groups[key][0]:
                rest = "/".join(parts[n:])
                groups[key][1].append((f"{rest}/{name}" if rest else name, st))
                break
    return groups


def _copy_filterdata(data: dict[str, Any]) -> dict[str, Any]:
    """What goes out: the kept copy is changed in place by later writes."""
    return {k: list(v) if isinstance(v, list) else v for k, v in data.items()}


def _sort_series(rows: list[tuple[_Series, list[Any]]], sort: str | None,
                 desc: bool) -> list[tuple[_Series, list[Any]]]:
    if sort == "random":
        rows = list(rows)
        random.shuffle(rows)
        return rows
    keys: dict[str, Any] = {
        "name": lambda r: r[0].name.lower(),
        "numBooks": lambda r: len(r[1]),
        "addedAt": lambda r: r[0].added_at,
        "totalDuration": lambda r: sum(sum(f.duration for f in b[0].audio_files) for b in r[1]),
        "lastBookAdded": lambda r: max(b[0].added_at for b in r[1]),
        "lastBookUpdated": lambda r: max(b[0].updated_at for b in r[1]),
    }
    keyf = keys.get(sort or "")
    return sorted(rows, key=keyf, reverse=desc) if keyf else rows


def _seq_sort_key(seq: str | None) -> tuple[int, float, str]:
    if seq is None:
        return (1, 0.0, "")
    try:
        return (0, float(seq), seq)
    except ValueError:
        return (0, float("inf"), seq)


def _int_param(q: dict[str, list[str]], name: str) -> int:
    """ABS LibraryController.middleware: non-numeric -> 0; negative or fractional -> 400."""
    raw = q.get(name, [""])[0].strip()
    if not raw:
        return 0
    try:
        value = float(raw)
    except ValueError:
        return 0
    if value != value or value in (float("inf"), float("-inf")):
        return 0
    if value < 0 or not value.is_integer():
        raise _HttpError(400, f"Invalid request. {name} must be a positive integer")
    return int(value)


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(str(text).strip()[:4]) if text else None
    except ValueError:
        return None


def _b64(text: str) -> str:
    """Lenient base64 decoding like Node's Buffer: garbage in, garbage out, never an error."""
    cleaned = re.sub(r"[^A-Za-z0-9+/_-]", "", text)
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_")).decode(
            "utf-8", "replace")
    except (binascii.Error, ValueError):
        return "\ufffd"


def _seq_str(seq: str | float | int | None) -> str | None:
    if seq is None or seq == "":
        return None
    if isinstance(seq, float) and seq.is_integer():
        return str(int(seq))
    return str(seq)


def _cover_url_ok(url: str) -> bool:
    """What ABS's cover download + SSRF filter would allow: http(s) to a public host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    if host in ("localhost",) or host.endswith(".local"):
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return True
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified)


_UNSAFE = str.maketrans("", "", '/\\:*?"<>|')


def _safe(name: str) -> str:
    return name.translate(_UNSAFE).strip() or "Unknown"


def _default_rel_path(title: str, authors: list[str], narrators: list[str],
                      series: list[tuple[str, Any]]) -> str:
    author = _safe(authors[0]) if authors else "Unknown Author"
    leaf = _safe(title)
    if narrators:
        leaf += " {" + _safe(", ".join(narrators)) + "}"
    if series:
        name, seq = series[0]
        seq = _seq_str(seq)
        return f"{author}/{_safe(name)}/Vol {seq} - {leaf}" if seq else f"{author}/{_safe(name)}/{leaf}"
    return f"{author}/{leaf}"


# ----------------------------------------------------------------------------- generator pools
def _words(text: str) -> list[str]:
    return text.split()


_FIRST = _words("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
          "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy "
          "Anthony Betty Mark Sandra Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua "
          "Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie "
          "Ronald Rebecca Jason Laura Edward Helen Jeffrey Sharon Ryan Cynthia Jacob Kathleen Gary "
          "Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Ruth Larry Brenda Justin Pamela "
          "Scott Nicole Brandon Katherine Benjamin Samantha Samuel Christine Gregory Emma Alexander "
          "Catherine Frank Debra Patrick Virginia Raymond Rachel Jack Carolyn Dennis Janet Jerry "
          "Maria Tyler Heather Aaron Diane Jose Julie Adam Joyce Nathan Victoria Henry Kelly "
          "Zachary Christina Douglas Joan Peter Evelyn Kyle Lauren Noah Judith Ethan Olivia Jeremy "
          "Martha Walter Cheryl Christian Megan Keith Andrea Roger Hannah Terry Jacqueline Austin "
          "Ann Sean Gloria Gerald Jean Carl Kathryn Harold Alice Dylan Teresa Arthur Sara Lawrence "
          "Janice Jordan Doris Jesse Madison Bryan Julia Billy Grace Bruce Judy Gabriel Abigail "
          "Logan Marie Alan Denise Juan Beverly Wayne Amber Elijah Theresa Randy Marilyn Roy "
          "Danielle Vincent Diana Ralph Brittany Eugene Natalie Russell Sophia Bobby Rose Mason "
          "Isabella Philip Alexis Louis Kayla Naomi Ursula Pierce Robin Blake Martha Adrian Liu "
          "Kazuo Haruki Chimamanda Ngozi Arundhati Salman Orhan Elif Yaa Ken Ted Becky Ann Leckie")
_INITIALS = [f"{c}." for c in "ABCDEFGHJKLMNPRSTW"]
_LAST = _words("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
         "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
         "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
         "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
         "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris "
         "Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly "
         "Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza "
         "Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell "
         "Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher "
         "Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace "
         "Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray "
         "Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells "
         "Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter "
         "Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black "
         "Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels "
         "Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins "
         "Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan "
         "Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman "
         "Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Novik Hobb "
         "Crouch Weir Rothfuss Jemisin Dinniman Tchaikovsky Herbert Corey Sanderson Abercrombie "
         "Okorafor Kowal Chambers Wells Leckie Scalzi Bujold Cherryh Banks Reynolds Hamilton")
_ADJ = _words("Silent Broken Hidden Burning Last Lost Golden Iron Crimson Shattered Fallen Endless "
        "Forgotten Dark Bright Hollow Wild Frozen Sunken Stolen Quiet Secret Distant Ancient "
        "Scarlet Silver Bitter Savage Sacred Wandering Restless Empty Final Infinite Emerald "
        "Obsidian Pale Radiant Wicked Gentle Hungry Drowned Winter Summer Autumn Midnight Electric "
        "Clockwork Glass Paper Bone Velvet Copper Ashen Starless Thorned Veiled Rising Burnt")
_NOUN = _words("Crown Empire Sword Kingdom Shadow River Storm Throne City Gate Star Tower Garden Sea "
         "Mountain Forest Engine Harbor Bridge Oath Song Heart Mirror Witch King Queen Dragon Wolf "
         "Raven Ghost Door Road Light Fire Ash Dust Blood Stone Moon Sun Sky Night Dawn Dusk Key "
         "Map Clock Machine Ship Fleet Station Colony Signal Horizon Archive Library House Orchard "
         "Labyrinth Compass Lantern Circus Harvest Covenant Prophecy Rebellion Inheritance Exile "
         "Frontier Voyage Reckoning Requiem Memory Atlas Cipher Paradox Protocol Legacy")
_SERIES_FORM = ("The {a} {n} Saga", "{n} Chronicles", "The {n} Cycle", "{a} {n}", "The {n} Trilogy",
                "Tales of the {a} {n}", "{n} Wars", "The {a} {n} Sequence", "{n}fall", "Book of the {n}")
_GENRES = ["Science Fiction", "Fantasy", "Thriller", "Mystery", "Horror", "Romance", "Historical Fiction",
           "Literary Fiction", "Nonfiction", "Biography", "History", "Self-Help", "Young Adult",
           "Space Opera", "Epic Fantasy", "Urban Fantasy", "LitRPG", "Cozy Mystery", "Suspense",
           "Humor"]
_PUBLISHERS = ["Audible Studios", "Podium Audio", "Tantor Audio", "Brilliance Audio", "Macmillan Audio",
               "Penguin Random House Audio", "HarperAudio", "Recorded Books", "Hachette Audio",
               "Blackstone Publishing", "Simon & Schuster Audio", "Graphic Audio"]
_SENTENCES = (
    "When {who} discovers the truth about the {thing}, nothing will ever be the same.",
    "In a world where the {thing} decides who lives and who dies, one {role} dares to ask why.",
    "Hunted by the {adj} {thing}, {who} must cross the {place} before the last light fails.",
    "An unforgettable story of loyalty, betrayal and the price of the {thing}.",
    "The {adj} {place} has kept its secrets for a thousand years; now someone is listening.",
    "{who} never wanted to be a {role}, but the {thing} has other plans.",
    "Told with wit and heart, {title} is a gripping tale of survival against impossible odds.",
    "From the bestselling author comes a sweeping new adventure set beyond the {adj} {place}.",
)
_ROLES = ("hero", "thief", "soldier", "scholar", "captain", "healer", "spy", "pilot", "heir", "mage")


_TITLE_FORMS = ("The {a} {n}", "{n} of {n2}s", "A {n} of {a} {n2}s", "{a} {n}",
                "The {n} of the {a} {n2}", "{n}s and {n2}s", "{a} {n}: {a2} {n2}", "The {n}'s {n2}",
                "Beyond the {a} {n}", "{n} in the {n2}")


# ----------------------------------------------------------------------------- HTTP plumbing
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), n) for m, p, n in (
        ("GET", r"/healthcheck", "r_healthcheck"),
        ("GET", r"/ping", "r_ping"),
        ("GET", r"/status", "r_status"),
        ("GET", r"/api/me", "r_me"),
        ("POST", r"/api/authorize", "r_authorize"),
        ("GET", r"/api/tasks", "r_tasks"),
        ("GET", r"/api/libraries", "r_libraries"),
        ("GET", r"/api/libraries/([^/]+)", "r_library"),
        ("GET", r"/api/libraries/([^/]+)/items", "r_items"),
        ("GET", r"/api/libraries/([^/]+)/series", "r_series"),
        ("GET", r"/api/libraries/([^/]+)/authors", "r_authors"),
        ("GET", r"/api/libraries/([^/]+)/filterdata", "r_filterdata"),
        ("POST", r"/api/libraries/([^/]+)/scan", "r_scan"),
        ("POST", r"/api/items/batch/get", "r_batch_get"),
        ("POST", r"/api/items/batch/update", "r_batch_update"),
        ("GET", r"/api/items/([^/]+)", "r_item"),
        ("DELETE", r"/api/items/([^/]+)", "r_item_delete"),
        ("PATCH", r"/api/items/([^/]+)/media", "r_patch_media"),
        ("POST", r"/api/items/([^/]+)/cover", "r_cover"),
        ("POST", r"/api/watcher/update", "r_watcher"),
    )
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    fake: FakeABS


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Express
    server_version = "Express"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, payload, ctype, extra = self.server.fake.handle(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake should be visible, not a hang
            status, payload, ctype, extra = 500, f"fake ABS error: {exc!r}".encode(), "text/plain", {}
        if self.server.fake._stopping.is_set():
            self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve


# ----------------------------------------------------------------------------- pytest + CLI
try:
    import pytest

    @pytest.fixture
    def fake_abs(tmp_path: Path) -> Iterator[FakeABS]:
        """A running FakeABS whose default library folder is ``tmp_path / "library"``."""
        folder = tmp_path / "library"
        folder.mkdir(exist_ok=True)
        fake = FakeABS(library_path=folder, scan_delay=0.05, watcher_delay=0.05, slow_delay=5.0)
        with fake.serve():
            yield fake
except ImportError:  # pragma: no cover - the benchmark process may lack pytest
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.abs", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=0, help="books to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="API key to accept ('' = no auth)")
    parser.add_argument("--library-path", default=None, help="real folder for the default library")
    parser.add_argument("--scan-delay", type=float, default=0.2)
    parser.add_argument("--no-warm", action="store_true", help="render items lazily")
    parser.add_argument("--cost-scale", type=float, default=1.0,
                        help="charge this share of a real ABS 2.36's costs (1 = its speed, 0 = none)")
    args = parser.parse_args(argv)

    fake = FakeABS(args.token or None, library_path=args.library_path, scan_delay=args.scan_delay,
                   cost_scale=args.cost_scale)
    fake.record_requests = False  # a benchmark must not grow memory per request
    if args.items:
        fake.generate(args.items, seed=args.seed)
    if not args.no_warm:
        fake.warm()
    gc.freeze()  # the generated library lives forever: keep the cyclic GC from rescanning it
    url = fake.start(port=args.port, host=args.host)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"READY {url}", flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
