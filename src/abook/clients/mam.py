"""MyAnonamouse (MAM): search, download, user stats and the bonus store, JSON endpoints only.

Why only JSON: an API session (the ``mam_id`` made in *Preferences -> Security*) cannot read HTML
pages, and the site's rules forbid automating anything else. Quirks handled here (see the research
note on MAM for the evidence):

- **Cookie rotation.** MAM answers every request with ``Set-Cookie: mam_id=<new value>``. We send
  the newest value on every request (including retries) and hand each new one to ``on_cookie`` so
  the workflow can persist it; a client that keeps sending the configured value falls out of sync.
  The cookie is sent as an explicit header from an :class:`httpx.Auth` flow, never from httpx's
  jar, so a ``Domain=`` attribute on MAM's cookie cannot leave two ``mam_id`` values in flight.
- **Auth failures** look like a 403, a redirect to the login page, or an HTML page where JSON was
  expected; all become one :class:`AuthError` telling the user to make a new session.
- **Search rows** carry JSON *inside strings* (``author_info``, ``narrator_info``,
  ``series_info``), HTML entities, formatted sizes (``"612.4 MiB"``) and 0/1 flags that are
  sometimes strings. :func:`parse_row` normalises all of it into :class:`abook.models.Release`.
- **Paging** is defensive: MAM's ``found``/``total`` semantics are disputed, so we stop on a short
  or empty page, when ``start + rows`` reaches ``max(found, total)``, or when ids start repeating.
- **Pacing.** Every call goes through one :class:`abook.http.Pacer` (``MAM_RATE_LIMIT_MIN`` ..
  ``MAX`` seconds apart, optionally shared between processes through a pace file); 429 backs off.

The client makes no decisions (what to grab, when to buy VIP): workflows do.
"""

from __future__ import annotations

import html
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, BadResponse, ConfigError, ServiceError
from ..http import HttpService, Pacer, redact, register_secret
from ..models import Release, SeriesRef

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("abook.mam")

AUTH_MESSAGE = (
    "MAM session expired or IP mismatch: create a new mam_id (Preferences -> Security) and set MAM_ID"
)
SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
DOWNLOAD_PATH = "/tor/download.php"
USER_PATH = "/jsonLoad.php"
BONUS_PATH = "/json/bonusBuy.php"

#: MAM main categories (``main_cat``): old media types.
MAIN_CATEGORIES: dict[int, str] = {13: "audiobook", 14: "ebook", 15: "musicology", 16: "radio"}
AUDIOBOOKS = 13
EBOOKS = 14

#: Audiobook sub-categories (``category`` / ``tor[cat][]``, the "old" ids every client still uses).
AUDIOBOOK_CATEGORIES: dict[str, int] = {
    "Action/Adventure": 39,
    "Art": 49,
    "Biographical": 50,
    "Business": 83,
    "Computer/Internet": 51,
    "Crafts": 97,
    "Crime/Thriller": 40,
    "Fantasy": 41,
    "Food": 106,
    "General Fiction": 42,
    "General Non-Fic": 52,
    "Historical Fiction": 98,
    "History": 54,
    "Home/Garden": 55,
    "Horror": 43,
    "Humor": 99,
    "Instructional": 84,
    "Juvenile": 44,
    "Language": 56,
    "Literary Classics": 45,
    "Math/Science/Tech": 57,
    "Medical": 85,
    "Mystery": 87,
    "Nature": 119,
    "Philosophy": 88,
    "Pol/Soc/Relig": 58,
    "Recreation": 59,
    "Romance": 46,
    "Science Fiction": 47,
    "Self-Help": 53,
    "Travel/Adventure": 89,
    "True Crime": 100,
    "Urban Fantasy": 108,
    "Western": 48,
    "Young Adult": 111,
}

#: Common ways people write a genre that is not literally MAM's category name.
GENRE_ALIASES: dict[str, str] = {
    "scifi": "Science Fiction",
    "sf": "Science Fiction",
    "sciencefictionfantasy": "Science Fiction",
    "action": "Action/Adventure",
    "adventure": "Action/Adventure",
    "biography": "Biographical",
    "memoir": "Biographical",
    "computer": "Computer/Internet",
    "computers": "Computer/Internet",
    "internet": "Computer/Internet",
    "crime": "Crime/Thriller",
    "thriller": "Crime/Thriller",
    "thrillers": "Crime/Thriller",
    "suspense": "Crime/Thriller",
    "fiction": "General Fiction",
    "generalfiction": "General Fiction",
    "nonfiction": "General Non-Fic",
    "generalnonfiction": "General Non-Fic",
    "historical": "Historical Fiction",
    "home": "Home/Garden",
    "garden": "Home/Garden",
    "humour": "Humor",
    "comedy": "Humor",
    "children": "Juvenile",
    "kids": "Juvenile",
    "classics": "Literary Classics",
    "classic": "Literary Classics",
    "science": "Math/Science/Tech",
    "math": "Math/Science/Tech",
    "technology": "Math/Science/Tech",
    "mysteries": "Mystery",
    "politics": "Pol/Soc/Relig",
    "religion": "Pol/Soc/Relig",
    "society": "Pol/Soc/Relig",
    "selfhelp": "Self-Help",
    "travel": "Travel/Adventure",
    "truecrime": "True Crime",
    "ya": "Young Adult",
    "youngadult": "Young Adult",
    "westerns": "Western",
}

#: ``browse_lang`` ids (the ones Prowlarr knows).
LANGUAGES: dict[int, str] = {
    1: "English",
    4: "Spanish",
    22: "Dutch",
    36: "French",
    37: "German",
    43: "Italian",
    47: "Other",
}

#: ``browseflags`` bit for an abridged edition.
FLAG_ABRIDGED = 1 << 5

DEFAULT_SRCH_IN = ("title", "author", "narrator", "series")
_VIP_CLASSES = {"vip", "elite vip"}


# ------------------------------------------------------------------ genres
def _genre_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower().replace("&", "and"))


def genre_categories() -> dict[str, int]:
    """MAM audiobook category names -> ids (a copy; the names are MAM's own spelling)."""
    return dict(AUDIOBOOK_CATEGORIES)


def category_ids_for(genre: str) -> list[int]:
    """The audiobook category ids for one configured genre, tolerant to case, spacing and punctuation.

    Accepts MAM's names ("Science Fiction", "crime/thriller"), either half of a slashed name
    ("Thriller"), a few aliases ("Sci-Fi", "YA"), a numeric id, and several genres joined with
    ``+`` or ``|`` ("Fantasy+Urban Fantasy") when one top-10 list should span categories.
    Anything else is a :class:`ConfigError` naming TOP10_GENRES and listing the known names.
    """
    by_key: dict[str, int] = {}
    for name, cat_id in AUDIOBOOK_CATEGORIES.items():
        by_key[_genre_key(name)] = cat_id
        for part in name.split("/"):
            by_key.setdefault(_genre_key(part), cat_id)
    for alias, name in GENRE_ALIASES.items():
        by_key.setdefault(alias, AUDIOBOOK_CATEGORIES[name])
    known_ids = set(AUDIOBOOK_CATEGORIES.values())

    ids: list[int] = []
    for piece in re.split(r"[+|]", genre):
        key = _genre_key(piece)
        if not key:
            continue
        if key.isdigit() and int(key) in known_ids:
            cat_id = int(key)
        elif key in by_key:
            cat_id = by_key[key]
        else:
            known = ", ".join(sorted(AUDIOBOOK_CATEGORIES))
            raise ConfigError(
                f"TOP10_GENRES: unknown MAM audiobook genre {piece.strip()!r}; known genres: {known}"
            )
        if cat_id not in ids:
            ids.append(cat_id)
    if not ids:
        raise ConfigError("TOP10_GENRES: empty genre name")
    return ids


# ---------------------------------------------------------------- parsing
_SIZE_RE = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)\s*([kmgtpe]?)(i?)b?(?:ytes?)?\s*$", re.I)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_size(value: Any) -> int:
    """Bytes from a number or a formatted size ("612.4 MiB", "1.2 GB", "1,024 KiB", "512 B").

    Trackers label binary units both ways ("GB" meaning GiB), so both count in powers of 1024.
    Anything unreadable is 0 (unknown), never an exception: one odd row must not sink a search.
    """
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(0, int(value)) if math.isfinite(value) else 0
    match = _SIZE_RE.match(str(value))
    if not match:
        return 0
    number = float(match.group(1).replace(",", ""))
    return round(number * 1024 ** _SIZE_POWERS[match.group(2).lower()])


def parse_flag(value: Any) -> bool:
    """0/1 flags that arrive as ints, bools or strings ("0", "1", "yes", "true", "")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "off", "null", "none"):
        return False
    if text in ("true", "yes", "on"):
        return True
    try:
        return float(text) != 0
    except ValueError:
        return False


def parse_int(value: Any, default: int = 0) -> int:
    """Ints that may arrive as strings ("1,875") or floats; ``default`` if unreadable."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else default
    if value is None:
        return default
    try:
        return int(float(str(value).replace(",", "").strip()))
    except ValueError:
        return default


def parse_ratio(value: Any) -> float:
    """A share ratio: numbers, numeric strings, and "Inf"/"∞" (nothing downloaded yet) -> inf."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value or "").strip().lower().replace(",", "")
    if text in ("inf", "infinity", "∞", "+inf"):
        return math.inf
    try:
        return float(text)
    except ValueError:
        return 0.0


def unescape(text: Any) -> str:
    """HTML entities out (twice at most: MAM sometimes double-escapes "&amp;#039;")."""
    if text is None:
        return ""
    out = html.unescape(str(text))
    if "&" in out and re.search(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", out, re.I):
        out = html.unescape(out)
    return out.strip()


_PAIR_RE = re.compile(r'"(\w+)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_SERIES_RE = re.compile(r'"(\w+)"\s*:\s*\[\s*"((?:[^"\\]|\\.)*)"\s*(?:,\s*"?([^",\]]*)"?)?')


def parse_json_field(value: Any, *, series: bool = False) -> dict[str, Any]:
    """Decode a JSON-inside-a-string field (``author_info`` & co) into a dict.

    Empty, ``null`` and non-dict values give ``{}``; malformed JSON (stray quotes happen) falls
    back to pulling ``"id": "name"`` (or ``"id": ["name", "pos"]``) pairs out with a regex.
    """
    if isinstance(value, dict):
        return value
    if value is None or isinstance(value, bool | int | float | list):
        return {}
    text = str(value).strip()
    if not text or text in ("null", "[]", "{}"):
        return {}
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        return decoded
    if isinstance(decoded, str):  # double-encoded
        return parse_json_field(decoded, series=series)
    if decoded is not None:
        return {}
    if series:
        return {m.group(1): [m.group(2), (m.group(3) or "").strip()] for m in _SERIES_RE.finditer(text)}
    return {m.group(1): m.group(2) for m in _PAIR_RE.finditer(text)}


def _names(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for name in parse_json_field(value).values():
        if isinstance(name, list | tuple):
            name = name[0] if name else ""
        clean = unescape(name)
        if clean and clean not in out:
            out.append(clean)
    return tuple(out)


def _series(value: Any) -> tuple[SeriesRef, ...]:
    out: list[SeriesRef] = []
    for entry in parse_json_field(value, series=True).values():
        if isinstance(entry, list | tuple):
            name = unescape(entry[0]) if entry else ""
            position = unescape(entry[1]) if len(entry) > 1 and entry[1] is not None else ""
        elif isinstance(entry, dict):
            name = unescape(entry.get("name"))
            position = unescape(entry.get("position") or entry.get("number") or "")
        else:
            name, position = unescape(entry), ""
        if name:
            out.append(SeriesRef(name=name, position=position or None))
    return tuple(out)


def parse_mam_time(value: Any) -> datetime | None:
    """MAM's "YYYY-MM-DD HH:MM:SS" (UTC) or a unix timestamp -> aware datetime; None if empty."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        stamp = float(value)
        return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None
    text = str(value).strip()
    if text.startswith("0000-00-00"):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def _main_category(row: Mapping[str, Any]) -> str:
    main = parse_int(row.get("main_cat"), 0)
    if main in MAIN_CATEGORIES:
        return MAIN_CATEGORIES[main] if main in (AUDIOBOOKS, EBOOKS) else "other"
    media = parse_int(row.get("mediatype"), 0)  # the newer system: 1 audiobook, 2 ebook
    if media == 1:
        return "audiobook"
    if media == 2:
        return "ebook"
    catname = unescape(row.get("catname")).lower()
    if catname.startswith("audiobook"):
        return "audiobook"
    if catname.startswith(("ebook", "e-book")):
        return "ebook"
    return "other"


def _language(row: Mapping[str, Any]) -> str:
    lang = row.get("language")
    if isinstance(lang, str) and not lang.strip().isdigit():
        return lang.strip()
    name = LANGUAGES.get(parse_int(lang, -1))
    if name and name != "Other":
        return name
    return str(row.get("lang_code") or "").strip()


def _filetypes(value: Any) -> tuple[str, ...]:
    out: list[str] = []
    for token in re.split(r"[\s,;/]+", str(value or "").lower()):
        token = token.strip(". ")
        if token and token not in out:
            out.append(token)
    return tuple(out)


def parse_row(row: Mapping[str, Any], *, vip_user: bool = False) -> Release:
    """One MAM search row -> :class:`Release`.

    ``freeleech`` means "costs no download": ``free`` or ``personal_freeleech``, or ``fl_vip``
    when the account is VIP (``vip_user``), the rule Prowlarr uses.
    """
    free = parse_flag(row.get("free"))
    personal = parse_flag(row.get("personal_freeleech"))
    fl_vip = parse_flag(row.get("fl_vip"))
    return Release(
        source="mam",
        torrent_id=str(parse_int(row.get("id"), 0) or row.get("id") or ""),
        title=unescape(row.get("title")),
        authors=_names(row.get("author_info")),
        narrators=_names(row.get("narrator_info")),
        series=_series(row.get("series_info")),
        category=unescape(row.get("catname")),
        main_category=_main_category(row),
        language=_language(row),
        filetypes=_filetypes(row.get("filetype")),
        size=parse_size(row.get("size")),
        seeders=parse_int(row.get("seeders")),
        leechers=parse_int(row.get("leechers")),
        snatches=parse_int(row.get("times_completed")),
        added=_iso(parse_mam_time(row.get("added"))),
        freeleech=free or personal or (fl_vip and vip_user),
        personal_freeleech=personal,
        vip=parse_flag(row.get("vip")),
        my_snatched=parse_flag(row.get("my_snatched")),
        tags=unescape(row.get("tags")),
        description=unescape(row.get("description")),
        raw=dict(row),
    )


def is_abridged(release: Release) -> bool:
    """MAM marks abridged editions with a ``browseflags`` bit."""
    return bool(parse_int(release.raw.get("browseflags")) & FLAG_ABRIDGED)


# ---------------------------------------------------------------- records
@dataclass
class SearchPage:
    """One page of a search, as MAM answered it."""

    releases: list[Release]
    start: int
    perpage: int
    total: int  # MAM's ``total`` (0 when absent)
    found: int  # MAM's ``found`` (0 when absent)
    rows: int  # rows on this page, before any de-duplication


@dataclass(frozen=True)
class UserStats:
    """The account as ``jsonLoad.php?snatch_summary&notif`` describes it."""

    username: str
    uid: int
    user_class: str  # "Mouse", "User", "Power User", "VIP", "Elite VIP", ...
    ratio: float  # math.inf when nothing was downloaded
    uploaded: int  # bytes
    downloaded: int  # bytes
    seedbonus: float
    wedges: int = 0
    vip_until: datetime | None = None
    unsat_count: int | None = None
    unsat_limit: int | None = None
    seeding: int | None = None  # torrents seeding now (satisfied, unsatisfied, H&R, uploads)
    inactive: int | None = None  # snatched but not seeding now
    inactive_unsat: int | None = None  # not seeding and not yet satisfied (H&R candidates)
    leeching: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def classname(self) -> str:
        return self.user_class

    @property
    def is_vip(self) -> bool:
        return self.user_class.strip().lower() in _VIP_CLASSES

    @property
    def unsat_free(self) -> int | None:
        """Unsatisfied-torrent slots left, when MAM told us the limit."""
        if self.unsat_limit is None or self.unsat_count is None:
            return None
        return self.unsat_limit - self.unsat_count


@dataclass(frozen=True)
class BonusResult:
    """What the bonus store answered. ``success`` False carries MAM's reason in ``error``."""

    success: bool
    kind: str  # "VIP" | "upload"
    amount: float | None = None  # weeks of VIP or GB of upload actually added
    seedbonus: float | None = None  # points left
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def message(self) -> str:
        if self.success:
            unit = "week(s) of VIP" if self.kind == "VIP" else "GB of upload credit"
            left = f", {self.seedbonus:g} points left" if self.seedbonus is not None else ""
            amount = f"{self.amount:g} " if self.amount is not None else ""
            return f"MAM bonus store: bought {amount}{unit}{left}"
        return f"MAM bonus store refused {self.kind}: {self.error or 'no reason given'}"


def _summary_count(raw: Mapping[str, Any], *keys: str) -> int | None:
    total, seen = 0, False
    for key in keys:
        entry = raw.get(key)
        if isinstance(entry, dict) and "count" in entry:
            total += parse_int(entry.get("count"))
            seen = True
    return total if seen else None


def parse_user_stats(raw: Mapping[str, Any]) -> UserStats:
    """``jsonLoad.php`` JSON -> :class:`UserStats`; no ``username`` means the session is not valid."""
    username = str(raw.get("username") or "").strip()
    if not username:
        detail = str(raw.get("error") or raw.get("message") or "").strip()
        raise AuthError(
            AUTH_MESSAGE + (f" (MAM said: {redact(detail)[:120]})" if detail else ""),
            service="MAM",
        )
    unsat = raw.get("unsat") if isinstance(raw.get("unsat"), dict) else {}

    def _bytes(exact: str, formatted: str) -> int:
        value = raw.get(exact)
        if value not in (None, ""):
            return parse_size(value)
        return parse_size(raw.get(formatted))

    seedbonus_raw = raw.get("seedbonus")
    try:
        seedbonus = float(str(seedbonus_raw).replace(",", "")) if seedbonus_raw not in (None, "") else 0.0
    except ValueError:
        seedbonus = 0.0
    return UserStats(
        username=unescape(username),
        uid=parse_int(raw.get("uid")),
        user_class=unescape(raw.get("classname") or raw.get("class") or ""),
        ratio=parse_ratio(raw.get("ratio")),
        uploaded=_bytes("uploaded_bytes", "uploaded"),
        downloaded=_bytes("downloaded_bytes", "downloaded"),
        seedbonus=seedbonus,
        wedges=parse_int(raw.get("wedges")),
        vip_until=parse_mam_time(raw.get("vip_until")),
        unsat_count=parse_int(unsat.get("count")) if "count" in unsat else None,
        unsat_limit=parse_int(unsat.get("limit")) if "limit" in unsat else None,
        seeding=_summary_count(raw, "sSat", "seedUnsat", "seedHnr", "upAct"),
        inactive=_summary_count(raw, "inactSat", "inactUnsat", "inactHnr", "upInact"),
        inactive_unsat=_summary_count(raw, "inactUnsat", "inactHnr"),
        leeching=_summary_count(raw, "leeching"),
        raw=dict(raw),
    )


def clean_mam_id(value: str) -> str:
    """The bare cookie value from what a user pasted (``mam_id=...`` prefix and quotes stripped)."""
    text = (value or "").strip().strip("'\"").strip()
    if text.lower().startswith("mam_id="):
        text = text[len("mam_id=") :].strip()
    if not text:
        raise ConfigError("MAM_ID is not set: create a session in MAM (Preferences -> Security)")
    if any(c in text for c in ";\r\n\t "):
        raise ConfigError("MAM_ID is malformed: paste only the mam_id value (no ';', spaces or newlines)")
    return text


def _date_param(value: date | datetime | str | int | float | None) -> str | int | None:
    """Search window bounds: dates as YYYY-MM-DD, datetimes (and numbers) as unix seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return int(value)
    return str(value)


# ----------------------------------------------------------------- client
def _set_cookie_value(response: httpx.Response, name: str = "mam_id") -> str | None:
    """The value of ``name`` in the response's Set-Cookie headers, None if absent or a deletion."""
    found: str | None = None
    for header in response.headers.get_list("set-cookie"):
        first, _, attrs = header.partition(";")
        key, sep, value = first.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip().strip('"')
        lowered = attrs.lower()
        if not value or value == "deleted" or "max-age=0" in lowered.replace(" ", ""):
            continue
        found = value
    return found


class MAM:
    """MyAnonamouse over its JSON endpoints, with cookie rotation, pacing and clear auth errors."""

    def __init__(
        self,
        url: str,
        mam_id: str,
        *,
        rate_min: float,
        rate_max: float,
        pace_file: Path | None = None,
        on_cookie: Callable[[str], None] | None = None,
        timeout: float = 30,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        fallback_mam_id: str | None = None,
    ) -> None:
        """``mam_id`` is the newest value we know (the persisted rotated one, else the configured
        one); ``fallback_mam_id`` (the configured MAM_ID) is tried once if MAM refuses it, which
        covers a rotated value that was persisted but never reached MAM, or a fresh MAM_ID the user
        just pasted while an old rotated value is still stored."""
        self.mam_id = clean_mam_id(mam_id)
        fallback = clean_mam_id(fallback_mam_id) if fallback_mam_id else None
        self._fallback = fallback if fallback != self.mam_id else None
        self.on_cookie = on_cookie
        self.user_class: str | None = None  # learnt from user_stats(); decides fl_vip freeleech
        self.http = HttpService(
            "MAM",
            url,
            setting="MAM_URL",
            secrets=[self.mam_id, self._fallback or ""],
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            pacer=Pacer(rate_min, rate_max, pace_file),
            auth_hint=AUTH_MESSAGE,
            transport=transport,
        )
        self._auth = self._make_auth()

    def _make_auth(self) -> httpx.Auth:
        """An auth flow that sends the newest ``mam_id`` and learns the next one from the response.

        Living in the auth flow (not around ``HttpService.request``) means every attempt, the
        retries after a 429 included, carries the value MAM handed out last.
        """
        import httpx

        owner = self

        class RotatingCookie(httpx.Auth):
            requires_response_body = False

            def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
                request.headers["Cookie"] = f"mam_id={owner.mam_id}"
                response = yield request
                owner._learn_cookie(response)

        return RotatingCookie()

    # ------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MAM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _learn_cookie(self, response: httpx.Response) -> None:
        new = _set_cookie_value(response)
        # httpx's jar would keep MAM's cookie too (maybe under another domain); we own it alone.
        self.http.client.cookies.clear()
        if not new or new == self.mam_id:
            return
        register_secret(new)
        self.mam_id = new
        if self.on_cookie is not None:
            try:
                self.on_cookie(new)
            except Exception as exc:  # the call itself succeeded; losing it would be worse
                log.warning("MAM: could not persist the rotated mam_id: %s", redact(str(exc)))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, auth=self._auth, **kwargs)
        except AuthError:
            # A refused request was not carried out, so one retry with the fallback is safe.
            if not self._fallback:
                raise
            log.info("MAM refused the stored mam_id; trying the configured MAM_ID")
            self.mam_id, self._fallback = self._fallback, None
            response = self.http.request(method, path, auth=self._auth, **kwargs)
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            if "login" in location.lower() or not location:
                raise AuthError(AUTH_MESSAGE, service="MAM", status=response.status_code)
            raise BadResponse(
                f"MAM redirected {method} {path.split('?', 1)[0]} elsewhere; check MAM_URL",
                service="MAM", status=response.status_code,
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        where = f"{method} {path.split('?', 1)[0]}"
        text = response.text.lstrip()[:200].lower()
        if text.startswith(("<!doctype", "<html", "<head", "<body")) or (
            "text/html" in response.headers.get("content-type", "") and not text.startswith(("{", "["))
        ):
            # An API session never gets HTML: this is the login page.
            raise AuthError(AUTH_MESSAGE, service="MAM", status=response.status_code)
        return self.http.decode(response, where)

    # -------------------------------------------------------------- search
    def _search_body(
        self,
        text: str,
        *,
        srch_in: Iterable[str],
        categories: Iterable[int],
        main_cat: Iterable[int],
        languages: Iterable[int],
        start_date: Any,
        end_date: Any,
        sort: str,
        per_page: int,
        start: int,
        search_type: str,
        search_in: str,
        dl_link: bool,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        tor: dict[str, Any] = {
            "text": text,
            "srchIn": list(srch_in),
            "searchType": search_type,
            "searchIn": search_in,
            "main_cat": [int(c) for c in main_cat],
            "browse_lang": [int(lang) for lang in languages],
            "sortType": sort,
            "startNumber": str(start),
            # MAM's docs put perpage at the top level, Prowlarr inside tor: send both.
            "perpage": per_page,
        }
        cats = [int(c) for c in categories]
        if cats:
            tor["cat"] = cats
        sd, ed = _date_param(start_date), _date_param(end_date)
        if sd is not None:
            tor["startDate"] = sd
        if ed is not None:
            tor["endDate"] = ed
        if extra:
            tor.update(extra)
        body: dict[str, Any] = {"tor": tor, "perpage": per_page}
        if dl_link:
            body["dlLink"] = "true"
        return body

    def search_page(self, text: str = "", *, start: int = 0, **kwargs: Any) -> SearchPage:
        """One page of :meth:`search` starting at ``start`` (same keyword arguments)."""
        opts = _search_defaults(kwargs)
        body = self._search_body(text, start=start, **opts)
        data = self._json("POST", SEARCH_PATH, json=body, idempotent=True)
        return self._parse_page(data, start, opts["per_page"])

    def _parse_page(self, data: Any, start: int, per_page: int) -> SearchPage:
        if not isinstance(data, dict):
            raise BadResponse("MAM search answered with an unexpected shape (not an object)", service="MAM")
        error = data.get("error")
        rows = data.get("data")
        if not isinstance(rows, list):
            message = str(error or data.get("message") or "").strip()
            if not message or message.lower().startswith("nothing returned"):
                return SearchPage([], start, per_page, 0, 0, 0)
            raise ServiceError(f"MAM search failed: {redact(message)[:200]}", service="MAM")
        vip_user = (self.user_class or "").strip().lower() in _VIP_CLASSES
        releases: list[Release] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                releases.append(parse_row(row, vip_user=vip_user))
            except Exception as exc:  # one odd row must not sink the search
                log.warning("MAM: skipped an unreadable search row (%s)", type(exc).__name__)
        perpage = parse_int(data.get("perpage"), per_page) or per_page
        return SearchPage(
            releases=releases,
            start=parse_int(data.get("start"), start),
            perpage=perpage,
            total=parse_int(data.get("total")),
            found=parse_int(data.get("found")),
            rows=len(rows),
        )

    def iter_search(self, text: str = "", *, max_results: int | None = None, **kwargs: Any) -> Iterator[Release]:
        """Every matching release, page after page (see :meth:`search` for the arguments)."""
        opts = _search_defaults(kwargs)
        per_page = opts["per_page"]
        seen: set[str] = set()
        start = 0
        produced = 0
        while True:
            if max_results is not None and produced >= max_results:
                return
            body = self._search_body(text, start=start, **opts)
            data = self._json("POST", SEARCH_PATH, json=body, idempotent=True)
            page = self._parse_page(data, start, per_page)
            fresh = 0
            for release in page.releases:
                if release.torrent_id in seen:
                    continue
                seen.add(release.torrent_id)
                fresh += 1
                yield release
                produced += 1
                if max_results is not None and produced >= max_results:
                    return
            if page.rows == 0 or fresh == 0:
                return
            # The server may cap perpage below what we asked; a page shorter than that is the last.
            if page.rows < min(per_page, page.perpage or per_page):
                return
            known = max(page.total, page.found)
            start += page.rows
            if known and start >= known:
                return

    def search(
        self,
        text: str = "",
        *,
        srch_in: Iterable[str] = DEFAULT_SRCH_IN,
        categories: Iterable[int] = (),
        main_cat: Iterable[int] = (AUDIOBOOKS,),
        languages: Iterable[int] = (1,),
        start_date: date | datetime | str | int | None = None,
        end_date: date | datetime | str | int | None = None,
        sort: str = "snatchedDesc",
        per_page: int = 100,
        max_results: int | None = None,
        search_type: str = "all",
        search_in: str = "torrents",
        dl_link: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Release]:
        """Search torrents (POST JSON to ``loadSearchJSONbasic.php``), all pages up to ``max_results``.

        ``categories`` are audiobook category ids (see :func:`category_ids_for`); ``start_date`` is
        inclusive and ``end_date`` exclusive (dates as YYYY-MM-DD, datetimes as unix seconds);
        ``sort`` is MAM's ``sortType`` (``snatchedDesc``, ``dateDesc``, ``seedersDesc``...).
        ``dl_link`` asks MAM for the ``dl`` download hash (kept in ``release.raw['dl']``; it works
        like a credential, so it is off unless wanted). "Nothing returned" is an empty list.
        """
        return list(
            self.iter_search(
                text,
                max_results=max_results,
                srch_in=srch_in,
                categories=categories,
                main_cat=main_cat,
                languages=languages,
                start_date=start_date,
                end_date=end_date,
                sort=sort,
                per_page=per_page,
                search_type=search_type,
                search_in=search_in,
                dl_link=dl_link,
                extra=extra,
            )
        )

    # ------------------------------------------------------------ download
    def download(self, torrent_id: int | str | Release, *, dl: str | None = None) -> bytes:
        """The .torrent of one torrent, checked to really be a torrent.

        Uses ``/tor/download.php?tid=<id>`` (with the cookie, as Prowlarr does), or the ``dl`` hash
        link when given (or present in a Release found with ``dl_link=True``).
        """
        from ..torrent import parse_torrent

        if isinstance(torrent_id, Release):
            dl = dl or str(torrent_id.raw.get("dl") or "") or None
            tid = torrent_id.torrent_id
        else:
            tid = str(torrent_id)
        tid = tid.strip()
        if dl:
            path = f"{DOWNLOAD_PATH}/{dl}"
        elif tid.isdigit():
            path = f"{DOWNLOAD_PATH}?tid={tid}"
        else:
            raise ValueError(f"not a MAM torrent id: {tid!r}")
        response = self._request("GET", path)
        data = response.content
        try:
            parse_torrent(data)
        except ValueError:
            raise BadResponse(self._not_a_torrent(tid, response), service="MAM",
                              status=response.status_code) from None
        return data

    @staticmethod
    def _not_a_torrent(tid: str, response: httpx.Response) -> str:
        head = response.content[:300].lstrip().decode("utf-8", errors="replace")
        lowered = head.lower()
        if lowered.startswith(("<!doctype", "<html", "<head", "<body")) or "text/html" in response.headers.get(
            "content-type", ""
        ):
            return (
                f"MAM sent an HTML page instead of the .torrent for torrent {tid}: "
                "the session may have expired or the IP changed (check MAM_ID)"
            )
        if lowered.startswith("{"):
            try:
                decoded = json.loads(response.text)
            except ValueError:
                decoded = None
            detail = ""
            if isinstance(decoded, dict):
                detail = decoded.get("error") or decoded.get("message") or ""
            said = f" ({redact(str(detail))[:120]})" if detail else ""
            return f"MAM sent a JSON error instead of the .torrent for torrent {tid}{said}"
        first = head.splitlines()[0][:80] if head.strip() else "an empty body"
        return f"MAM sent something that is not a .torrent for torrent {tid}: {redact(first)!r}"

    # --------------------------------------------------------------- stats
    def user_stats(self, *, summary: bool = True) -> UserStats:
        """The account's ratio, bonus, VIP and unsatisfied counts from ``jsonLoad.php``."""
        path = f"{USER_PATH}?snatch_summary&notif" if summary else USER_PATH
        data = self._json("GET", path)
        if not isinstance(data, dict):
            raise BadResponse("MAM jsonLoad.php answered with an unexpected shape", service="MAM")
        stats = parse_user_stats(data)
        self.user_class = stats.user_class
        return stats

    def whoami(self) -> tuple[str, str]:
        """(username, class): the cheapest proof the session works, for ``doctor``."""
        stats = self.user_stats(summary=False)
        return stats.username, stats.user_class

    ping = whoami

    # ---------------------------------------------------------- bonus store
    def _bonus(self, kind: str, params: dict[str, str]) -> BonusResult:
        stamp = int(time.time() * 1000)
        query = "&".join(f"{k}={v}" for k, v in {**params, "_": str(stamp)}.items())
        # A purchase must never be resent blindly: idempotent=False disables retries.
        data = self._json("GET", f"{BONUS_PATH}/{stamp}?{query}", idempotent=False)
        if not isinstance(data, dict):
            raise BadResponse("MAM bonusBuy.php answered with an unexpected shape", service="MAM")
        success = parse_flag(data.get("success"))
        amount = data.get("amount")
        seedbonus = data.get("seedbonus")
        try:
            amount_f = float(amount) if amount not in (None, "") else None
        except (TypeError, ValueError):
            amount_f = None
        try:
            bonus_f = float(str(seedbonus).replace(",", "")) if seedbonus not in (None, "") else None
        except ValueError:
            bonus_f = None
        error = "" if success else unescape(data.get("error") or data.get("message") or "")
        return BonusResult(success=success, kind=kind, amount=amount_f, seedbonus=bonus_f,
                           error=error, raw=dict(data))

    def buy_vip(self, weeks: int | float | str) -> BonusResult:
        """Spend bonus points on VIP: ``weeks`` (MAM's minimum is 1 via the API) or ``"max"``."""
        if isinstance(weeks, str):
            duration = weeks.strip().lower()
            if duration != "max":
                raise ValueError("weeks must be a number or 'max'")
        else:
            if weeks <= 0:
                raise ValueError("weeks must be positive")
            duration = f"{weeks:g}"
        return self._bonus("VIP", {"spendtype": "VIP", "duration": duration})

    def buy_upload(self, gb: int | float | str) -> BonusResult:
        """Spend bonus points on upload credit: ``gb`` gigabytes or ``"max"`` (Max Affordable)."""
        if isinstance(gb, str):
            if gb.strip().lower() != "max":
                raise ValueError("gb must be a number or 'max'")
            amount = "Max%20Affordable%20"
        else:
            if gb <= 0:
                raise ValueError("gb must be positive")
            amount = f"{gb:g}"
        return self._bonus("upload", {"spendtype": "upload", "amount": amount})


def _search_defaults(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    allowed = {
        "srch_in": DEFAULT_SRCH_IN,
        "categories": (),
        "main_cat": (AUDIOBOOKS,),
        "languages": (1,),
        "start_date": None,
        "end_date": None,
        "sort": "snatchedDesc",
        "per_page": 100,
        "search_type": "all",
        "search_in": "torrents",
        "dl_link": False,
        "extra": None,
    }
    unknown = set(kwargs) - set(allowed)
    if unknown:
        raise TypeError(f"unknown search option(s): {', '.join(sorted(unknown))}")
    opts = {**allowed, **kwargs}
    opts["per_page"] = max(5, min(100, int(opts["per_page"])))  # MAM accepts 5..100
    return opts
