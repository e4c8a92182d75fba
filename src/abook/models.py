"""Small records shared by clients, matching and workflows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    source: str  # "mam" | "prowlarr"
    torrent_id: str  # MAM id, or Prowlarr guid
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
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def book(self) -> BookRef:
        return BookRef(
            title=self.title,
            authors=self.authors,
            series=self.series,
            narrators=self.narrators,
            language=self.language,
            ref=f"{self.source}:{self.torrent_id}",
        )
