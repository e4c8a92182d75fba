"""The interface every metadata / bibliography source implements, and the helpers they share.

A source only does HTTP and parsing (through :class:`abook.http.HttpService`): it answers
"what do you know about this title/author/ISBN/ASIN?" with :class:`Candidate` records and, when it
can, "which books make up this series / this author's catalogue?" with :class:`BibEntry` records.
It never decides whether a candidate *is* the book being fixed: the metadata workflow verifies
every candidate with :mod:`abook.matching` before a single field is filled, because wrong matches
overwriting good data is the complaint users of every peer tool share.

A source that cannot be used for the rest of the run (daily quota spent, bot challenge, token
refused) raises :class:`SourceUnavailable`; the workflow drops it and says why, once.
"""

from __future__ import annotations

import html
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

from ..errors import AbookError, ServiceError
from ..http import HttpService, Pacer, ServiceClient

# BibEntry and the KIND_* names are re-exported here: every source makes them.
from ..models import (
    KIND_BOOK,
    KIND_COMPANION,
    KIND_NOVELLA,
    KIND_OMNIBUS,
    BibEntry,
    BookRef,
    SeriesRef,
)

if TYPE_CHECKING:
    import httpx

class SourceUnavailable(AbookError):
    """This source must be skipped for the rest of the run; ``reason`` is one printable line."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(reason)
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class Candidate:
    """What one source says about one book (or one edition of it)."""

    source: str  # "googlebooks" | "goodreads" | "audible" | "hardcover" | "openlibrary"
    source_id: str  # the id inside that source (volume id, ASIN, Goodreads book id, ...)
    title: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesRef, ...] = ()  # primary series first
    description: str = ""  # plain text, paragraphs separated by blank lines
    publisher: str = ""
    year: str = ""  # "2018"
    isbn: str = ""  # ISBN-13 when the source has one
    asin: str = ""
    genres: tuple[str, ...] = ()
    language: str = ""  # a language *name*, "English", like ABS stores it
    duration_minutes: int | None = None
    cover_url: str = ""
    abridged: bool | None = None
    kind: str = ""  # "audiobook" | "ebook" | "book" | "" (unknown)
    url: str = ""  # a human-readable page for the record, for reports and provenance
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    def book(self) -> BookRef:
        """The fields matching compares, in the shared record."""
        return BookRef(
            title=self.title,
            authors=self.authors,
            series=self.series,
            narrators=self.narrators,
            subtitle=self.subtitle,
            asin=self.asin,
            isbn=self.isbn,
            year=self.year,
            language=self.language,
            abridged=self.abridged,
            ref=f"{self.source}:{self.source_id}",
        )


class Connection(TypedDict, total=False):
    """How a source reaches its service: the keywords every source's constructor takes.

    ``build_sources`` passes the HTTP_* settings and a pace for remote services; a key left out
    takes :meth:`Source.open_http`'s default."""

    timeout: float
    retries: int
    backoff: float
    pace: float  # seconds between requests; 0 for no pacing
    transport: httpx.BaseTransport | None


class Source(ServiceClient, ABC):
    """A metadata source. ``series_books``/``author_books`` return None when it cannot list them."""

    name: str = ""
    #: the service's HTTP session, from :meth:`open_http`; ``close`` releases it
    http: HttpService | None = None
    #: the reason :meth:`_request` gives for skipping the source when the service still answers
    #: one of ``throttled_statuses`` after HttpService's retries ("{status}" is filled in);
    #: "" keeps the ServiceError
    throttled: str = ""
    throttled_statuses: tuple[int, ...] = (429,)

    def open_http(
        self,
        service: str,
        url: str,
        *,
        setting: str,
        headers: dict[str, str] | None = None,
        secrets: Sequence[str] = (),
        auth_hint: str = "",
        follow_redirects: bool = False,
        pace_spread: float = 1.0,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        pace: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> HttpService:
        """The HttpService every source talks through, built one way for all of them.

        A source passes what is its own (``service`` and its URL ``setting`` for messages,
        headers, secrets, hints, redirects) and the :class:`Connection` keywords its constructor
        was given. A ``pace`` above 0 keeps that many seconds between requests, jittered up to
        ``pace * pace_spread``."""
        return HttpService(
            service,
            url,
            setting=setting,
            headers=headers,
            secrets=secrets,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            pacer=Pacer(pace, pace * pace_spread) if pace > 0 else None,
            auth_hint=auth_hint,
            transport=transport,
            follow_redirects=follow_redirects,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``self.http.request``, but a throttling answer that outlasts HttpService's retries
        (429 with Retry-After honoured, ...) ends the source for the run: see ``throttled``."""
        assert self.http is not None
        try:
            return self.http.request(method, path, **kwargs)
        except ServiceError as exc:
            if self.throttled and exc.status in self.throttled_statuses:
                reason = self.throttled.format(status=exc.status)
                raise SourceUnavailable(self.name, reason) from None
            raise

    @abstractmethod
    def find(
        self, title: str, authors: Sequence[str], *, isbn: str = "", asin: str = ""
    ) -> list[Candidate]:
        """Candidates for a book, best first as the source ranks them ([] when none)."""

    def series_books(self, series_name: str, author: str = "") -> list[BibEntry] | None:
        """Every work of a series in reading order; [] when the series is unknown here."""
        return None

    def author_books(self, author: str) -> list[BibEntry] | None:
        """Works written by ``author``; [] when the author is unknown here."""
        return None


    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# ------------------------------------------------------------------ shared parsing helpers
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"(?i)<\s*/?\s*(br|p|div|li|h\d)\b[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")


def strip_html(text: str | None) -> str:
    """HTML description -> plain text; ``<br>``/``</p>`` become line breaks."""
    if not text:
        return ""
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


_POSITION = re.compile(r"\d+(?:\.\d+)?(?:\s*[-–—]\s*\d+(?:\.\d+)?)?|\.\d+")


def clean_position(value: object) -> str | None:
    """A series position as a string like ABS stores it: "Book 1" -> "1", 1.0 -> "1",
    "2, Dramatized Adaptation" -> "2", "Books 1-3" -> "1-3", "" -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() else f"{number:g}"
    match = _POSITION.search(str(value))
    if not match:
        return _worded_position(str(value))
    parts = []
    for part in re.split(r"\s*[-–—]\s*", match.group(0)):
        number = float(part)
        parts.append(str(int(number)) if number.is_integer() else f"{number:g}")
    return "-".join(parts)


def _worded_position(text: str) -> str | None:
    """"Book Two", "Book II", "Three" (no digit at all) -> "2", "2", "3"; None otherwise.

    Without this a position written in words reads as none, and the entry is taken for an
    unnumbered companion and dropped."""
    from ..matching import parse_position

    head = re.split(r"[,;(]", text, maxsplit=1)[0].strip()
    found = parse_position(head) if head else None
    if found is None:
        return None
    lo, hi = (_fmt_number(x) for x in found)
    return lo if lo == hi else f"{lo}-{hi}"


def _fmt_number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def position_kind(position: str | None, *, omnibus: bool = False) -> str:
    """The kind a position implies: range -> omnibus, fraction -> novella, none -> companion."""
    if omnibus:
        return KIND_OMNIBUS
    if position is None:
        return KIND_COMPANION
    if "-" in position:
        return KIND_OMNIBUS
    if "." in position:
        return KIND_NOVELLA
    return KIND_BOOK


def year_of(value: object) -> str:
    """The leading four-digit year of a date-ish value ("2019-10-03T00:00:00+02:00" -> "2019").

    Far-future placeholder dates (Audible's 2200-01-01 for unscheduled titles) give ""."""
    if value is None:
        return ""
    match = re.match(r"\s*(\d{4})", str(value))
    if not match:
        return ""
    year = int(match.group(1))
    if year < 1000 or year > date.today().year + 10:
        return ""
    return match.group(1)


def is_upcoming(release_date: str, today: date | None = None) -> bool | None:
    """True when an ISO date lies in the future; None when there is no usable date."""
    if not release_date:
        return None
    try:
        when = date.fromisoformat(release_date[:10])
    except ValueError:
        return None
    return when > (today or date.today())


def norm_key(text: str) -> str:
    """A loose comparison key for names: case, accents, punctuation and spaces removed.

    Sources use it only to pick the series/author record a query meant (a Goodreads series
    title vs "Series" suffix, "J.K. Rowling" vs "J. K. Rowling"), never to decide ownership."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"\bseries\b|\bthe\b|&|\band\b", " ", text)
    return re.sub(r"[\W_]+", "", text)


def dedupe(values: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for value in values:
        value = (value or "").strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)


LANGUAGES = {
    "en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "sv": "Swedish", "no": "Norwegian", "nb": "Norwegian",
    "nn": "Norwegian", "da": "Danish", "fi": "Finnish", "pl": "Polish", "ru": "Russian",
    "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "cs": "Czech", "hu": "Hungarian",
    "tr": "Turkish", "el": "Greek", "he": "Hebrew", "ar": "Arabic", "hi": "Hindi",
    "uk": "Ukrainian", "ro": "Romanian", "ca": "Catalan", "is": "Icelandic", "et": "Estonian",
    "eng": "English", "fre": "French", "fra": "French", "ger": "German", "deu": "German",
    "spa": "Spanish", "ita": "Italian", "dut": "Dutch", "nld": "Dutch", "por": "Portuguese",
    "swe": "Swedish", "nor": "Norwegian", "dan": "Danish", "fin": "Finnish", "pol": "Polish",
    "rus": "Russian", "jpn": "Japanese", "chi": "Chinese", "zho": "Chinese",
}


def language_name(value: str | None) -> str:
    """ISO 639 code or lower-case name -> a display name ("en" -> "English",
    "english" -> "English", "en-GB" -> "English"); unknown codes are returned as given."""
    if not value:
        return ""
    value = value.strip()
    code = value.lower().replace("_", "-").split("-")[0]
    if code in LANGUAGES:
        return LANGUAGES[code]
    if len(value) > 3:
        return " ".join(w.capitalize() for w in value.split())
    return value


def is_loopback(url: str) -> bool:
    """True for a service on this machine: a local mirror or a test fake needs no pacing."""
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
