"""Prowlarr's records, parsed: search results, indexers and their categories, and the release
name MyAnonamouse gets behind Prowlarr. Pure (no HTTP): :mod:`abook.clients.prowlarr` fetches.

What Prowlarr does to a MAM torrent (``src/NzbDrone.Core/Indexers/Definitions/MyAnonamouse.cs``,
read at v2.3.6; see the research note on Prowlarr, part D):

- ``title`` is MAM's title (HTML entities left in) + `` by `` + up to five authors joined with
  ``", "`` + `` [<lang_code> / <FILETYPE>]`` + `` [VIP]``. Narrators, series, tags, the language
  id and the snatched-before flag are dropped.
- ``categories`` are the standard one (3030 Audio/Audiobook for Musicology and Radio too) and the
  indexer-specific one, 100000 + MAM's category id, which carries **no name** in a release: names
  come from the indexer's ``capabilities.categories`` (``GET /api/v1/indexer``).
- ``guid`` and ``infoUrl`` are ``<MAM base>/t/<torrent id>``; ``grabs`` is MAM's snatch count;
  ``indexerFlags`` holds ``freeleech``; ``publishDate`` is in Prowlarr's local time zone.

Other indexers behind the same Prowlarr name releases their own way: a title is split only when it
has MAM's shape, and an author is never guessed from a name that cannot be split.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..models import Release
from .mamdata import GENRE_ALIASES, _genre_key

AUDIOBOOK_CATEGORY = 3030
CUSTOM_BASE = 100000  # indexer-specific categories: tracker category id + 100000

#: what a verdict on a MAM torrent seen only through Prowlarr cannot know
MAM_TITLE_BASIS = "Prowlarr's name only: no narrator, series or snatched-before flag; MAM_ID adds them"
TITLE_ONLY_BASIS = "title only: no author could be read from this release name"
OTHER_TITLE_BASIS = "Prowlarr's name only: no narrator or series"

#: Language codes MAM (and other trackers) put in release names -> the names LANGUAGES uses.
#: ISO 639-2 bibliographic and terminology codes and ISO 639-1 codes all appear in the wild.
LANGUAGE_CODES: dict[str, str] = {}
for _name, _codes in {
    "English": ("ENG", "EN"), "Spanish": ("SPA", "ES"), "French": ("FRE", "FRA", "FR"),
    "German": ("GER", "DEU", "DE"), "Italian": ("ITA", "IT"), "Dutch": ("DUT", "NLD", "NL"),
    "Portuguese": ("POR", "PT"), "Russian": ("RUS", "RU"), "Japanese": ("JPN", "JA"),
    "Chinese": ("CHI", "ZHO", "ZH"), "Korean": ("KOR", "KO"), "Swedish": ("SWE", "SV"),
    "Norwegian": ("NOR", "NOB", "NNO", "NO"), "Danish": ("DAN", "DA"), "Finnish": ("FIN", "FI"),
    "Polish": ("POL", "PL"), "Czech": ("CZE", "CES", "CS"), "Hungarian": ("HUN", "HU"),
    "Greek": ("GRE", "ELL", "EL"), "Turkish": ("TUR", "TR"), "Arabic": ("ARA", "AR"),
    "Hebrew": ("HEB", "HE"), "Hindi": ("HIN", "HI"), "Ukrainian": ("UKR", "UK"),
    "Romanian": ("RUM", "RON", "RO"), "Catalan": ("CAT", "CA"), "Latin": ("LAT", "LA"),
    "Afrikaans": ("AFR", "AF"), "Bulgarian": ("BUL", "BG"), "Croatian": ("HRV", "HR"),
    "Serbian": ("SRP", "SR"), "Slovenian": ("SLV", "SL"), "Slovak": ("SLO", "SLK", "SK"),
    "Estonian": ("EST", "ET"), "Latvian": ("LAV", "LV"), "Lithuanian": ("LIT", "LT"),
    "Icelandic": ("ICE", "ISL", "IS"), "Irish": ("GLE", "GA"), "Scottish Gaelic": ("GLA", "GD"),
    "Indonesian": ("IND", "ID"), "Malay": ("MAY", "MSA", "MS"), "Thai": ("THA", "TH"),
    "Vietnamese": ("VIE", "VI"), "Tagalog": ("TGL", "TL"), "Farsi": ("PER", "FAS", "FA"),
    "Bengali": ("BEN", "BN"), "Tamil": ("TAM", "TA"), "Telugu": ("TEL", "TE"), "Urdu": ("URD", "UR"),
    "Punjabi": ("PAN", "PA"), "Marathi": ("MAR", "MR"), "Gujarati": ("GUJ", "GU"),
    "Kannada": ("KAN", "KN"), "Malayalam": ("MAL", "ML"), "Burmese": ("BUR", "MYA", "MY"),
    "Javanese": ("JAV", "JV"), "Sanskrit": ("SAN", "SA"), "Cantonese": ("YUE",),
    "Bosnian": ("BOS", "BS"), "Manx": ("GLV", "GV"),
}.items():
    for _code in _codes:
        LANGUAGE_CODES[_code] = _name

_FILETYPES = {"m4b", "m4a", "mp3", "flac", "ogg", "opus", "aac", "wma", "wav", "epub", "mobi", "azw3",
              "azw", "pdf", "cbz", "cbr", "zip", "rar", "txt", "djvu", "lit"}
_FILETYPE_RE = re.compile(r"\b(" + "|".join(sorted(_FILETYPES)) + r")\b", re.I)
_TAIL_VIP = " [VIP]"
_TAIL_FLAGS_RE = re.compile(r"\s\[([^\[\]]*)\]\s*$")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}$")
_MAM_ID_RE = re.compile(r"/t/(\d+)/?$")


# ---------------------------------------------------------------------- indexers
@dataclass(frozen=True)
class Category:
    """One category of an indexer's capabilities (flattened from Prowlarr's tree)."""

    id: int
    name: str
    parent: int | None = None

    @property
    def custom(self) -> bool:
        return self.id >= CUSTOM_BASE


@dataclass(frozen=True)
class Indexer:
    """What abook needs of one ``IndexerResource`` (its ``fields``, which hold the indexer's
    own credentials, are never kept)."""

    id: int
    name: str
    implementation: str = ""  # "MyAnonamouse", "Cardigann", "Torznab", ...
    definition: str = ""  # definitionName
    protocol: str = "torrent"
    enabled: bool = True
    supports_search: bool = True
    supports_pagination: bool = True
    privacy: str = ""
    limits_max: int | None = None
    categories: tuple[Category, ...] = ()

    @property
    def is_mam(self) -> bool:
        return "myanonamouse" in {self.implementation.lower(), self.definition.lower()}

    @property
    def audiobooks(self) -> bool:
        """Enabled, searchable, torrent, and offers the standard audiobook category."""
        return (self.enabled and self.supports_search and self.protocol == "torrent"
                and any(c.id == AUDIOBOOK_CATEGORY for c in self.categories))

    def category(self, cat_id: int) -> Category | None:
        return next((c for c in self.categories if c.id == cat_id), None)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError):
        return default


def flatten_categories(tree: Any, parent: int | None = None) -> list[Category]:
    """Prowlarr's category tree (``[{id, name, subCategories: [...]}]``) as a flat list."""
    out: list[Category] = []
    for node in tree if isinstance(tree, list) else []:
        if not isinstance(node, dict) or node.get("id") is None:
            continue
        cat = Category(_int(node.get("id")), str(node.get("name") or ""), parent)
        out.append(cat)
        out.extend(flatten_categories(node.get("subCategories"), cat.id))
    return out


def parse_indexer(item: Mapping[str, Any]) -> Indexer:
    """One ``IndexerResource`` -> :class:`Indexer` (every field may be missing)."""
    caps = item.get("capabilities") if isinstance(item.get("capabilities"), dict) else {}
    limits = caps.get("limitsMax")
    return Indexer(
        id=_int(item.get("id")),
        name=str(item.get("name") or f"indexer {item.get('id')}"),
        implementation=str(item.get("implementation") or item.get("implementationName") or ""),
        definition=str(item.get("definitionName") or ""),
        protocol=str(item.get("protocol") or "torrent").lower(),
        enabled=bool(item.get("enable", True)),
        supports_search=bool(item.get("supportsSearch", True)),
        supports_pagination=bool(item.get("supportsPagination", True)),
        privacy=str(item.get("privacy") or ""),
        limits_max=_int(limits) if limits not in (None, "") and _int(limits) > 0 else None,
        categories=tuple(flatten_categories(caps.get("categories"))),
    )


# ------------------------------------------------------------------------ genres
_MEDIUM_SPLIT_RE = re.compile(r"\s+[-–>:|]\s+|\s*/\s*")


def category_genre(name: str) -> str | None:
    """The genre an indexer category stands for, when it is an audiobook genre:
    "Audiobooks - Science Fiction" -> "Science Fiction"; "Ebooks - Fantasy", "Radio - Drama",
    "AudioBooks" (no genre) -> None."""
    match = _MEDIUM_SPLIT_RE.search(name or "")
    if not match:
        return None
    medium, genre = name[: match.start()], name[match.end() :].strip()
    folded = _genre_key(medium)
    if "audio" not in folded or "ebook" in folded or not _genre_key(genre):
        return None
    return genre


def _canon(key: str) -> str:
    return _genre_key(GENRE_ALIASES[key]) if key in GENRE_ALIASES else key


def _category_keys(genre: str) -> tuple[str, set[str]]:
    """(the whole genre's key, the keys of its slashed halves), aliases resolved."""
    whole = _canon(_genre_key(genre))
    halves = {_canon(_genre_key(part)) for part in genre.split("/")} - {"", whole}
    return whole, halves


def genre_categories(piece: str, indexer: Indexer) -> list[Category]:
    """The categories of ``indexer`` that one genre name stands for, matched the way
    TOP10_GENRES names match MAM's genres: case, spacing and punctuation ignored, MAM's aliases
    ("Sci-Fi", "YA"), either half of a slashed name ("Thriller"), or the tracker's category id."""
    key = _canon(_genre_key(piece))
    if not key:
        return []
    genres = [(c, category_genre(c.name)) for c in indexer.categories if c.custom]
    genres = [(c, g) for c, g in genres if g]
    if key.isdigit():
        return [c for c, _ in genres if c.id - CUSTOM_BASE == int(key)]
    whole = [c for c, g in genres if _category_keys(g)[0] == key]
    if whole:
        return whole
    # "Adventure" is half of both "Action/Adventure" and "Travel/Adventure": the first wins, as
    # for the MAM route.
    half = next((c for c, g in genres if key in _category_keys(g)[1]), None)
    return [half] if half else []


def known_genres(indexers: Iterable[Indexer]) -> list[str]:
    names: dict[str, str] = {}
    for ix in indexers:
        for c in ix.categories:
            g = category_genre(c.name) if c.custom else None
            if g:
                names.setdefault(_genre_key(g), g)
    return sorted(names.values(), key=str.lower)


def genre_plan(genre: str, indexers: Sequence[Indexer]) -> list[tuple[Indexer, tuple[int, ...]]]:
    """Which categories to browse on which indexer for one TOP10_GENRES entry (pieces joined
    with ``+`` or ``|`` span several categories). An unknown genre is a ConfigError naming the
    genres the audiobook indexers know."""
    usable = [ix for ix in indexers if ix.audiobooks]
    if not usable:
        raise ConfigError(
            "Prowlarr has no enabled torrent indexer with audiobooks (category 3030): "
            "add or enable one in Prowlarr (Indexers), or set SEARCH_SOURCE=mam"
        )
    pieces = [p.strip() for p in re.split(r"[+|]", genre) if p.strip()]
    if not pieces:
        raise ConfigError("TOP10_GENRES: empty genre name")
    plan: list[tuple[Indexer, tuple[int, ...]]] = []
    for ix in usable:
        ids: list[int] = []
        for piece in pieces:
            for cat in genre_categories(piece, ix):
                if cat.id not in ids:
                    ids.append(cat.id)
        if ids:
            plan.append((ix, tuple(ids)))
    found = {p for p in pieces if any(genre_categories(p, ix) for ix in usable)}
    missing = [p for p in pieces if p not in found]
    if missing:
        known = known_genres(usable)
        where = ", ".join(ix.name for ix in usable)
        listed = f"known genres: {', '.join(known)}" if known else "none of them has genre categories"
        raise ConfigError(
            f"TOP10_GENRES: unknown audiobook genre {missing[0]!r} on Prowlarr's indexers ({where}); {listed}"
        )
    return plan


# ------------------------------------------------------------------------ titles
@dataclass(frozen=True)
class TitleParts:
    """A release name taken apart. ``split`` says whether the author came from the name."""

    title: str
    authors: tuple[str, ...] = ()
    language: str = ""  # the code as written ("ENG")
    filetypes: tuple[str, ...] = ()
    vip: bool = False
    split: bool = False


def _flags(text: str, *, mam: bool) -> tuple[str, tuple[str, ...]] | None:
    """``"ENG / M4B"`` -> ("ENG", ("m4b",)); ``"ENG"`` -> ("ENG", ()); ``"MP3 M4B"`` ->
    ("", ("mp3", "m4b")); anything else (an edition tag like "Unabridged") -> None. MAM writes
    one bracket, language and/or FILETYPE upper-cased, so there any short upper-case word counts."""
    parts = [p.strip() for p in text.split(" / ")]
    if len(parts) == 2 and _LANG_RE.match(parts[0]) and parts[1]:
        return parts[0].upper(), tuple(t.lower() for t in parts[1].split())
    if len(parts) != 1 or not parts[0]:
        return None
    tokens = parts[0].split()
    if all(t.lower() in _FILETYPES for t in tokens):
        return "", tuple(t.lower() for t in tokens)
    if len(tokens) == 1 and (parts[0].upper() in LANGUAGE_CODES or (mam and _LANG_RE.match(parts[0])
                                                                   and parts[0].isupper())):
        return parts[0].upper(), ()
    if mam and all(t.isupper() and t.isalnum() and len(t) <= 5 for t in tokens):
        return "", tuple(t.lower() for t in tokens)
    return None


def split_title(raw: str, *, mam: bool) -> TitleParts:
    """Take a release name apart.

    ``mam``: the release comes from Prowlarr's MyAnonamouse indexer, so the name has its shape
    ``<title> by <authors> [<LANG> / <FILETYPE>] [VIP]`` (the parts after the title are each
    optional). Another indexer's name is split only when it has that whole shape, language and
    format bracket included: "Stand by Me [MP3]" is a title, not a book by "Me".
    """
    clean = " ".join(html.unescape(html.unescape(raw or "")).split())
    text = clean
    vip = False
    if mam and text.endswith(_TAIL_VIP):
        vip, text = True, text[: -len(_TAIL_VIP)].rstrip()
    language, filetypes, full_shape = "", (), False
    match = _TAIL_FLAGS_RE.search(text)
    flags = _flags(match.group(1), mam=mam) if match else None
    if match and flags is not None and (mam or (flags[0] and flags[1])):
        language, filetypes = flags
        full_shape = bool(flags[0] and flags[1])
        text = text[: match.start()].rstrip()
    if not mam and not full_shape:
        return TitleParts(clean, filetypes=_loose_filetypes(clean))
    head, sep, tail = text.rpartition(" by ")
    if not sep or not head.strip() or not tail.strip():
        return TitleParts(text, language=language, filetypes=filetypes or _loose_filetypes(raw), vip=vip)
    from ..matching import split_names

    authors = tuple(split_names(tail))
    return TitleParts(head.strip(), authors, language, filetypes, vip, split=bool(authors))


def _loose_filetypes(raw: str) -> tuple[str, ...]:
    out: list[str] = []
    for match in _FILETYPE_RE.finditer(raw or ""):
        kind = match.group(1).lower()
        if kind not in out:
            out.append(kind)
    return tuple(out)


def language_name(code: str) -> str:
    """A release name's language code as LANGUAGES spells it ("DEU" -> "German"); an unknown
    code is kept as written (so it never passes for English)."""
    code = (code or "").strip()
    return LANGUAGE_CODES.get(code.upper(), code)


def mam_torrent_id(*urls: str) -> str:
    """The MAM torrent id in a guid / infoUrl like ``https://www.myanonamouse.net/t/123``."""
    for url in urls:
        if not url:
            continue
        path = urlsplit(url).path if "://" in url else url
        match = _MAM_ID_RE.search(path)
        if match:
            return match.group(1)
    return ""


def looks_like_mam(*urls: str) -> bool:
    return any("myanonamouse" in urlsplit(u).netloc.lower() for u in urls if u and "://" in u)


# ---------------------------------------------------------------------- releases
def iso_utc(value: Any) -> str:
    """Prowlarr's publishDate (in its own time zone, often with an offset) -> UTC ISO 8601."""
    if not value:
        return ""
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _main_category(ids: list[int], custom: list[Category], indexer: Indexer | None) -> str:
    if indexer is not None and indexer.is_mam and custom:
        # MAM's Musicology and Radio torrents carry 3030 too: MAM's own category says what it is
        names = " ".join(_genre_key(c.name) for c in custom)
        if "audiobook" in names:
            return "audiobook"
        if "ebook" in names:
            return "ebook"
        return "other"
    if AUDIOBOOK_CATEGORY in ids:
        return "audiobook"
    if any(7000 <= i < 8000 for i in ids):
        return "ebook"
    return "other"


@dataclass
class _Cats:
    ids: list[int] = field(default_factory=list)
    standard: list[str] = field(default_factory=list)
    custom: list[Category] = field(default_factory=list)


def _categories(item: Mapping[str, Any], indexer: Indexer | None) -> _Cats:
    out = _Cats()
    for c in item.get("categories") or []:
        if not isinstance(c, dict):
            continue
        cid = _int(c.get("id"))
        out.ids.append(cid)
        name = str(c.get("name") or "")
        if cid < CUSTOM_BASE:
            if name:
                out.standard.append(name)
            continue
        known = indexer.category(cid) if indexer is not None else None
        out.custom.append(known or Category(cid, name))
    return out


def _category_name(named: list[Category], standard: list[str], *, mam: bool) -> str:
    """MAM's own category name for a MAM torrent ("Audiobooks - Fantasy", as the MAM route has
    it); the standard one for others (custom names are tracker-local)."""
    first = [c.name for c in named] if mam else standard
    rest = standard if mam else [c.name for c in named]
    return (first or rest or [""])[0]


def parse_release(item: Mapping[str, Any], indexer: Indexer | None = None) -> Release:
    """One ``ReleaseResource`` -> :class:`Release`. Every field may be missing.

    A MAM torrent (from Prowlarr's MyAnonamouse indexer, or with a MAM ``guid``) is identified by
    its MAM torrent id (``tracker="mam"``), whichever route found it; any other release by its
    ``guid``. ``basis`` says what the name could not tell.
    """
    guid = str(item.get("guid") or "")
    info_url = str(item.get("infoUrl") or "")
    info_hash = str(item.get("infoHash") or "").strip().lower()
    url = str(item.get("downloadUrl") or item.get("magnetUrl") or "")
    mam = (indexer.is_mam if indexer is not None else False) or looks_like_mam(guid, info_url)
    mam_id = mam_torrent_id(guid, info_url) if mam else ""
    cats = _categories(item, indexer)
    parts = split_title(str(item.get("title") or ""), mam=bool(mam_id))
    flags = {str(f).strip().lower() for f in item.get("indexerFlags") or []}
    named = [c for c in cats.custom if c.name]
    if not parts.split:
        basis = TITLE_ONLY_BASIS
    else:
        basis = MAM_TITLE_BASIS if mam_id else OTHER_TITLE_BASIS
    return Release(
        source="prowlarr",
        tracker="mam" if mam_id else "prowlarr",
        torrent_id=mam_id or guid or info_hash or url,
        title=parts.title,
        authors=parts.authors,
        category=_category_name(named, cats.standard, mam=bool(mam_id)),
        main_category=_main_category(cats.ids, named, indexer),
        language=language_name(parts.language),
        filetypes=parts.filetypes,
        size=max(0, _int(item.get("size"))),
        seeders=_int(item.get("seeders")),
        leechers=_int(item.get("leechers")),
        snatches=_int(item.get("grabs")),
        added=iso_utc(item.get("publishDate")),
        freeleech="freeleech" in flags,
        vip=parts.vip,
        info_hash=info_hash,
        download_url=url,
        basis=basis,
        raw=dict(item),
    )


__all__ = [
    "AUDIOBOOK_CATEGORY", "CUSTOM_BASE", "LANGUAGE_CODES", "MAM_TITLE_BASIS", "OTHER_TITLE_BASIS",
    "TITLE_ONLY_BASIS", "Category", "Indexer", "TitleParts", "category_genre", "flatten_categories",
    "genre_categories", "genre_plan", "iso_utc", "known_genres", "language_name", "looks_like_mam",
    "mam_torrent_id", "parse_indexer", "parse_release", "split_title",
]
