"""MyAnonamouse's vocabulary and record shapes, parsed: categories, languages, search rows, user
stats and bonus-store answers. Pure (no HTTP): :mod:`abook.clients.mam` is the client that fetches
them. Search rows carry JSON *inside strings* (``author_info``, ``narrator_info``, ``series_info``),
HTML entities, formatted sizes (``"612.4 MiB"``) and 0/1 flags that are sometimes strings;
:func:`parse_row` normalises all of it into :class:`abook.models.Release`.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ..errors import AuthError, ConfigError
from ..http import redact
from ..models import Release, SeriesRef

AUTH_MESSAGE = (
    "MAM session expired or IP mismatch: create a new mam_id (Preferences -> Security) and set MAM_ID"
)

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
    hit_and_runs: int | None = None  # seeding or not, already counted as hit-and-run (seedHnr + inactHnr)
    exact_bytes: bool = False  # up/down came as byte counts, not as rounded "1.2 TiB" strings
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
        hit_and_runs=_summary_count(raw, "seedHnr", "inactHnr"),
        exact_bytes=raw.get("uploaded_bytes") not in (None, "") and raw.get("downloaded_bytes") not in (None, ""),
        raw=dict(raw),
    )


# ------------------------------------------------------------ snatch list
@dataclass(frozen=True)
class Snatch:
    """One torrent of the account's snatch list (``json/loadUserDetailsTorrents.php``).

    What MAM itself counts for that torrent: the bytes it booked as downloaded, the seeding credit
    it gave, and the seeding still owed (``STG``, "seed time to go") before the snatch is satisfied.
    """

    torrent_id: str
    title: str = ""
    size: int = 0
    downloaded: int = 0  # bytes MAM booked for this torrent
    uploaded: int = 0
    seed_seconds: int = 0  # seeding credit MAM counted (``seedtime``)
    seed_to_go: int | None = None  # seconds still owed (``STG``); None when MAM did not say
    finished: bool = False  # the download completed
    started: datetime | None = None  # when the snatch began (the 30-day seeding window opens)
    completed: datetime | None = None
    last_seed: datetime | None = None
    free: bool = False
    personal_freeleech: bool = False
    vip: bool = False


_STG_RE = re.compile(r"^\s*(?:(\d+)\s*d(?:ays?)?)?\s*(?:(\d+):)?(\d+):(\d+)\s*$|^\s*(\d+)\s*d(?:ays?)?\s*$", re.I)


def parse_duration(value: Any) -> int | None:
    """MAM's "seed time to go" ("1d 12:10:28", "23:46:38", "05:12", "3d") -> seconds; None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0, int(value)) if math.isfinite(value) else None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    match = _STG_RE.match(text)
    if not match:
        return None
    if match.group(5) is not None:
        return int(match.group(5)) * 86400
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.group(1, 2, 3, 4))
    if match.group(2) is None:  # "MM:SS"
        hours, minutes, seconds = 0, minutes, seconds
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def parse_snatch(row: Mapping[str, Any]) -> Snatch:
    """One snatch-list row (shape as MLM reads it: ``seedtime``, ``STG``, ``finished``...)."""
    return Snatch(
        torrent_id=str(parse_int(row.get("id"), 0) or row.get("id") or ""),
        title=unescape(row.get("title")),
        size=parse_size(row.get("size")),
        downloaded=parse_size(row.get("downloaded")),
        uploaded=parse_size(row.get("uploaded")),
        seed_seconds=parse_int(row.get("seedtime")),
        seed_to_go=parse_duration(row.get("STG")),
        finished=parse_flag(row.get("finished")),
        started=parse_mam_time(row.get("start_unix")) or parse_mam_time(row.get("start_date")),
        completed=parse_mam_time(row.get("complete_unix")) or parse_mam_time(row.get("complete_date")),
        last_seed=parse_mam_time(row.get("last_seed")),
        free=parse_flag(row.get("free")),
        personal_freeleech=parse_flag(row.get("personalFree")),
        vip=parse_flag(row.get("vip")),
    )


@dataclass
class SnatchList:
    """The snatches of one list type; ``complete`` is False when paging stopped before the end."""

    kind: str
    snatches: list[Snatch]
    complete: bool


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
