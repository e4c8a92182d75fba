"""Small records shared by clients, matching and workflows, and the statuses abook stores.

The statuses are ``StrEnum``s: each member *is* its stored string (``DownloadStatus.DONE ==
"done"``), so the state file keeps the values it always had and SQL can compare with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DownloadStatus(StrEnum):
    """``downloads.status``: the life of one grab."""

    PENDING = "pending"  # recorded; not in qBittorrent yet (guard, MAX_ACTIVE_DOWNLOADS, or a crash)
    QUEUED = "queued"  # added to qBittorrent and confirmed by hash
    DOWNLOADING = "downloading"
    COMPLETED = "completed"  # all bytes there; not imported yet
    IMPORTED = "imported"  # ABS has the item; its empty fields not filled yet
    DONE = "done"
    FAILED = "failed"  # gave up after DOWNLOAD_RETRIES (a failed_attempts row says why)


#: downloads that still hold a place in qBittorrent's queue (or wait for one)
UNFINISHED = (DownloadStatus.PENDING, DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING)
#: every download that is, or will be, a book in the library
LIVE = (*UNFINISHED, DownloadStatus.COMPLETED, DownloadStatus.IMPORTED, DownloadStatus.DONE)
#: downloads that reached the library
ARRIVED = (DownloadStatus.IMPORTED, DownloadStatus.DONE)


class Judgement(StrEnum):
    """What :func:`abook.workflows.grab.judge` says of one release."""

    NEW = "new"  # not owned, not queued, acceptable: may be grabbed
    QUEUED = "queued"  # abook has this torrent, or the same book, already
    OWNED = "owned"
    NEAR_MISS = "near_miss"  # close to an owned book: reported, never grabbed
    UNWANTED = "unwanted"  # not an audiobook, wrong language / edition, snatched or failed before
    DIFFERENT = "different"  # not the book that was asked for (gap commands)


class Decision(StrEnum):
    """What an acquisition run did with one candidate (``top10_runs.decision``, fetch decisions)."""

    QUEUED = "queued"  # in qBittorrent
    PENDING = "pending"  # recorded; `abook downloads` submits it
    HELD = "held"  # recorded; the guard refused it for now
    WOULD_QUEUE = "would_queue"  # dry run
    COUNTED = "counted"  # top10: taken for this genre by an earlier run
    SKIPPED = "skipped"
    NEAR_MISS = "near_miss"
    FAILED = "failed"  # the tracker sent no torrent
    ALREADY = "already"  # gap commands: the book is already on its way
    NOT_FOUND = "not_found"  # gap commands: the searches answered, no torrent of the book
    UNWANTED = "unwanted"  # gap commands: the tracker has the book only in editions not taken
    IN_LIBRARY = "in_library"  # gap commands: a tracker result showed the book is owned


#: decisions that took a release (a downloads row exists for it)
TAKEN = (Decision.QUEUED, Decision.PENDING, Decision.WOULD_QUEUE)


class MissingStatus(StrEnum):
    """``missing_books.status``: where a book a series or author lacks stands."""

    WANTED = "wanted"
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    IN_LIBRARY = "in_library"
    NOT_FOUND = "not_found"  # the searches answered; no torrent of this book
    UNWANTED = "unwanted"  # the tracker has it, but only in editions abook may not take
    IGNORED = "ignored"


class TaskStatus(StrEnum):
    """``tasks.status``: how a run ended."""

    RUNNING = "running"
    OK = "ok"
    DRY_RUN = "dry_run"
    PARTIAL = "partial"  # exit 1: finished, some items failed
    FAILED = "failed"
    HELD = "held"  # exit 4
    LOCKED = "locked"  # exit 75 (not recorded: the run did nothing)
    INTERRUPTED = "interrupted"  # Ctrl-C
    KILLED = "killed"  # found dead by a later run


@dataclass(frozen=True)
class SeriesRef:
    name: str
    position: str | None = None  # "1", "2.5", "1-3"; always a string like ABS


@dataclass(frozen=True)
class BookRef:
    """What matching needs to know about one book, owned or offered."""

    title: str
    authors: tuple[str, ...] = ()
    series: tuple[SeriesRef, ...] = ()
    narrators: tuple[str, ...] = ()
    subtitle: str = ""
    asin: str = ""
    isbn: str = ""
    year: str = ""
    language: str = ""
    abridged: bool | None = None
    ref: str = ""  # the id where the book lives (ABS item id, torrent id, ...)


@dataclass
class Release:
    """One torrent offered by a search source (MAM or Prowlarr), normalised."""

    source: str  # the route that found it and fetches its .torrent: "mam" | "prowlarr"
    torrent_id: str  # the tracker's id: MAM's torrent id (whichever route), else Prowlarr's guid
    title: str
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesRef, ...] = ()
    category: str = ""  # "Audiobooks - Science Fiction"
    main_category: str = ""  # "audiobook" | "ebook" | "other"
    language: str = ""
    filetypes: tuple[str, ...] = ()  # ("m4b",), ("mp3",)
    size: int = 0  # bytes
    seeders: int = 0
    leechers: int = 0
    snatches: int = 0
    added: str = ""  # ISO 8601, UTC
    freeleech: bool = False
    personal_freeleech: bool = False
    vip: bool = False
    my_snatched: bool = False
    info_hash: str = ""  # when the source knows it
    download_url: str = ""  # Prowlarr: the downloadUrl / magnetUrl
    tags: str = ""  # MAM free-text tags ("Unabridged, ...")
    description: str = ""
    #: the tracker the torrent lives on ("mam" for a MAM torrent found through Prowlarr too), so
    #: one torrent is one torrent whichever route found it; empty means the same as ``source``
    tracker: str = ""
    #: what this record could not tell, when it is less than the tracker's own record
    #: ("Prowlarr's name only: no narrator, ..."); verdicts on it say so
    basis: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def identity(self) -> tuple[str, str]:
        """(tracker, torrent id): the same torrent whichever route found it."""
        return (self.tracker or self.source, self.torrent_id)

    def book(self) -> BookRef:
        return BookRef(
            title=self.title,
            authors=self.authors,
            series=self.series,
            narrators=self.narrators,
            language=self.language,
            ref=f"{self.source}:{self.torrent_id}",
        )


# Kinds of works in a bibliography. "book" is a main-line entry; a fractional position marks a
# novella/short work between books; a range ("1-3") or a box set is an omnibus; an entry without a
# number is a companion (guides, anthologies, side stories).
KIND_BOOK = "book"
KIND_NOVELLA = "novella"
KIND_OMNIBUS = "omnibus"
KIND_COMPANION = "companion"


@dataclass(frozen=True)
class BibEntry:
    """One work in a series or an author's catalogue, as a bibliography source lists it."""

    title: str
    authors: tuple[str, ...] = ()
    position: str | None = None  # "1", "2.5", "1-3"; None when the source gives no number
    asin: str = ""
    isbn: str = ""
    year: str = ""
    is_audiobook: bool | None = None  # True: an audio edition exists; None: the source cannot say
    kind: str = ""  # KIND_* when known
    series: tuple[SeriesRef, ...] = ()  # the series the work belongs to (author lists)
    narrators: tuple[str, ...] = ()
    abridged: bool | None = None
    release_date: str = ""  # ISO date when the source has one
    upcoming: bool | None = None  # announced but not yet released
    source: str = ""
    source_id: str = ""
    language: str = ""  # a language name ("English", "German") when the source says

    def book(self) -> BookRef:
        return BookRef(
            title=self.title,
            authors=self.authors,
            series=self.series,
            narrators=self.narrators,
            asin=self.asin,
            isbn=self.isbn,
            year=self.year,
            abridged=self.abridged,
            ref=f"{self.source}:{self.source_id}" if self.source else "",
        )
