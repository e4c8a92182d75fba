"""Metadata and bibliography sources behind one interface (:class:`~abook.sources.base.Source`).

``build_sources(settings.metadata_sources, settings)`` gives the sources to ask for metadata, in
the configured order; ``build_sources(settings.bibliography_sources, settings)`` the ones that list
series and author catalogues. Source modules are imported only when built, so ``abook --help``
never pays for httpx or BeautifulSoup.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import (
    KIND_BOOK,
    KIND_COMPANION,
    KIND_NOVELLA,
    KIND_OMNIBUS,
    BibEntry,
    Candidate,
    Source,
    SourceUnavailable,
    clean_position,
)

if TYPE_CHECKING:
    import httpx

    from ..config import Settings

KNOWN = ("googlebooks", "goodreads", "audible", "hardcover")
ALIASES = {
    "google": "googlebooks",
    "google_books": "googlebooks",
    "google-books": "googlebooks",
    "gr": "goodreads",
    "audible": "audible",
}

# name -> (module, class, URL setting, secret setting passed after the URL, on/off setting)
_BUILD = {
    "googlebooks": (".googlebooks", "GoogleBooksSource", "GOOGLE_BOOKS_URL", "google_books_api_key", ""),
    "goodreads": (".goodreads", "GoodreadsSource", "GOODREADS_URL", "", "goodreads_enabled"),
    "audible": (".audible", "AudibleSource", "AUDIBLE_URL", "", ""),
    "hardcover": (".hardcover", "HardcoverSource", "HARDCOVER_URL", "hardcover_token", "hardcover_token"),
}

# Seconds between requests to remote services (none for a service on this machine):
# Hardcover allows 60/min, Audible's catalog is unmetered but private, Goodreads is scraped and
# must be visited slowly if at all. Google Books is limited per day, not per second.
PACE = {"googlebooks": 0.0, "audible": 0.5, "hardcover": 1.0, "goodreads": 2.0}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    return ALIASES.get(key, key)


def build_sources(
    names: Sequence[str],
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
) -> list[Source]:
    """The enabled sources among ``names``, in that order.

    Hardcover is built only when HARDCOVER_TOKEN is set and Goodreads only when
    GOODREADS_ENABLED is true; a name listed twice is built once; an unknown name is a
    ConfigError naming METADATA_SOURCES / BIBLIOGRAPHY_SOURCES."""
    from .base import is_loopback

    common = {
        "timeout": settings.http_timeout,
        "retries": settings.http_retries,
        "backoff": settings.http_backoff,
        "transport": transport,
    }
    sources: list[Source] = []
    seen: set[str] = set()
    for raw in names:
        name = canonical_name(raw)
        if not name:
            continue
        if name not in KNOWN:
            raise ConfigError(
                f"METADATA_SOURCES / BIBLIOGRAPHY_SOURCES name an unknown source {raw.strip()!r}: "
                f"use some of {', '.join(KNOWN)} (comma separated)"
            )
        if name in seen:
            continue
        seen.add(name)
        module, cls, url_env, secret_attr, enabled_attr = _BUILD[name]
        if enabled_attr and not getattr(settings, enabled_attr):
            continue  # Goodreads switched off, or Hardcover without a token
        settings.require(url_env)
        url = getattr(settings, url_env.lower())
        source_cls = getattr(import_module(module, __name__), cls)
        extra = (getattr(settings, secret_attr),) if secret_attr else ()
        pace = 0.0 if is_loopback(url) else PACE[name]
        sources.append(source_cls(url, *extra, pace=pace, **common))
    return sources


__all__ = [
    "KIND_BOOK",
    "KIND_COMPANION",
    "KIND_NOVELLA",
    "KIND_OMNIBUS",
    "KNOWN",
    "BibEntry",
    "Candidate",
    "Source",
    "SourceUnavailable",
    "build_sources",
    "canonical_name",
    "clean_position",
]
