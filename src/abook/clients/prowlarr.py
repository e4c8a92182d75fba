"""Prowlarr (API v1): its indexers and their categories, searches, and the .torrent (or magnet) a
result points at. The records are parsed in :mod:`abook.clients.prowlarrdata`.

Quirks handled here (see the research note on Prowlarr for the evidence):

- The API key goes in the ``X-Api-Key`` header only, never ``?apikey=``, so it stays out of logs.
  It is sent to Prowlarr's own origin only: a redirect to a tracker must not carry it.
- Array parameters are **repeated keys** (``categories=3030&categories=7020``); a comma-separated
  value makes ASP.NET answer 400.
- ``downloadUrl`` and ``magnetUrl`` are Prowlarr *proxy* links (http, with the key inside). Fetching
  one gives either the .torrent bytes or a 301 whose ``Location`` is a ``magnet:`` URI; we never let
  httpx follow a redirect into the magnet scheme, we return the magnet instead.
- Null fields are omitted from results: every field is optional. Usenet results are dropped: abook
  only feeds qBittorrent.
- A 400 ``{"message": ...}`` means every selected indexer is unavailable (disabled, or backing
  off after failures); the message is passed on. An indexer that fails *during* a search adds
  nothing and Prowlarr still answers 200 (``SearchController`` swallows it): callers must not take
  an empty page for the end of a catalogue without saying so.
- ``GET /api/v1/indexer`` carries each indexer's settings (``fields``), the tracker's own session
  cookie among them: only ids, names, flags and categories are kept.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..errors import BadResponse, ServiceError
from ..http import HttpService, ServiceClient, redact
from ..models import Release
from .prowlarrdata import AUDIOBOOK_CATEGORY, Indexer, parse_indexer, parse_release

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("abook.prowlarr")

AUTH_MESSAGE = "Prowlarr refused PROWLARR_API_KEY: copy the key from Prowlarr (Settings -> General -> API Key)"
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class ProwlarrStatus:
    """What ``doctor`` shows: the app name and version."""

    app_name: str
    version: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class Prowlarr(ServiceClient):
    """Prowlarr's search and download proxy."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 90,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # Searches fan out to every indexer: a generous read timeout is normal here.
        self.api_key = (api_key or "").strip()
        self.http = HttpService(
            "Prowlarr",
            url,
            setting="PROWLARR_URL",
            headers={"Accept": "application/json"},
            secrets=[self.api_key],
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            auth_hint=AUTH_MESSAGE,
            transport=transport,
        )
        base = urlsplit(self.http.base_url)
        self._origin = (base.scheme.lower(), base.netloc.lower())

    def _key_header(self, url: str | None = None) -> dict[str, str]:
        """The key header for Prowlarr's own origin only (relative paths are ours)."""
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme and (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
                return {}
        return {"X-Api-Key": self.api_key}

    # ------------------------------------------------------------- status
    def system_status(self) -> ProwlarrStatus:
        """App name and version; proves the URL and key are right (for ``doctor``)."""
        data = self.http.get_json("/api/v1/system/status", headers=self._key_header())
        if not isinstance(data, dict):
            raise BadResponse("Prowlarr system/status answered with an unexpected shape", service="Prowlarr")
        app = str(data.get("appName") or "")
        if app and app.lower() != "prowlarr":
            raise BadResponse(
                f"PROWLARR_URL points at {app}, not Prowlarr", service="Prowlarr"
            )
        return ProwlarrStatus(app_name=app or "Prowlarr", version=str(data.get("version") or ""), raw=data)

    # ----------------------------------------------------------- indexers
    def indexers(self) -> list[Indexer]:
        """Every indexer Prowlarr has, with its categories (``capabilities.categories``)."""
        data = self.http.get_json("/api/v1/indexer", headers=self._key_header())
        if not isinstance(data, list):
            raise BadResponse("Prowlarr indexer list answered with an unexpected shape (not a list)",
                              service="Prowlarr")
        return [parse_indexer(item) for item in data if isinstance(item, dict)]

    # ------------------------------------------------------------- search
    def search(
        self,
        query: str,
        *,
        categories: tuple[int, ...] | list[int] = (AUDIOBOOK_CATEGORY,),
        type: str = "search",
        limit: int = 100,
        offset: int = 0,
        indexer_ids: tuple[int, ...] | list[int] = (),
        known: Mapping[int, Indexer] | None = None,
    ) -> list[Release]:
        """Search all (or the given) indexers; torrent results only, normalised.

        ``type="book"`` lets indexers that support it parse ``{author:...}{title:...}`` tokens;
        ``limit``/``offset`` apply per indexer, as Prowlarr passes them on. ``known`` (indexers by
        id, from :meth:`indexers`) names the indexer-specific categories of each result and tells
        a MyAnonamouse release by its indexer.
        """
        params: list[tuple[str, str | int]] = [("query", query), ("type", type)]
        params += [("categories", int(c)) for c in categories]
        params += [("indexerIds", int(i)) for i in indexer_ids]
        params += [("limit", int(limit)), ("offset", int(offset))]
        response = self.http.request(
            "GET", "/api/v1/search", params=params, headers=self._key_header(), ok=(400,)
        )
        if response.status_code == 400:
            said = _message(response) or "bad request"
            hint = "; check the indexer in Prowlarr (Indexers, System -> Status)" if "unavailable" in said else ""
            raise ServiceError(f"Prowlarr search failed: {said}{hint}", service="Prowlarr", status=400)
        data = self.http.decode(response, "GET /api/v1/search")
        if not isinstance(data, list):
            raise BadResponse("Prowlarr search answered with an unexpected shape (not a list)", service="Prowlarr")
        releases: list[Release] = []
        for item in data:
            if not isinstance(item, dict):
                continue
            if str(item.get("protocol") or "torrent").lower() == "usenet":
                continue
            indexer = known.get(_int_or(item.get("indexerId"))) if known else None
            releases.append(parse_release(item, indexer))
        return releases

    # -------------------------------------------------------------- fetch
    def fetch(self, release: Release | str, *, max_hops: int = 5) -> tuple[bytes | None, str | None]:
        """(torrent bytes, None) or (None, magnet URI) for a result.

        Follows ``downloadUrl`` (else ``magnetUrl``) by hand: a redirect into ``magnet:`` is
        returned, not followed; http redirects are followed up to ``max_hops``; a body must parse as
        a torrent, else :class:`BadResponse`.
        """
        from ..torrent import parse_torrent

        if isinstance(release, Release):
            url = release.download_url or str(release.raw.get("downloadUrl") or release.raw.get("magnetUrl") or "")
            label = release.title or release.torrent_id
        else:
            url, label = str(release), "the release"
        if not url:
            raise BadResponse(f"Prowlarr gave no download link for {label!r}", service="Prowlarr")
        for _ in range(max_hops + 1):
            if url.lower().startswith("magnet:"):
                return None, url
            response = self.http.request(
                "GET", url, headers=self._key_header(url), ok=(*_REDIRECTS, 400, 404, 410)
            )
            status = response.status_code
            if status in _REDIRECTS:
                location = response.headers.get("location", "")
                if not location:
                    raise BadResponse(f"Prowlarr redirected the download of {label!r} nowhere", service="Prowlarr")
                url = location if location.lower().startswith("magnet:") else urljoin(str(response.url), location)
                continue
            if status >= 400:
                raise ServiceError(
                    f"Prowlarr could not fetch {label!r}: {_message(response) or f'HTTP {status}'}",
                    service="Prowlarr", status=status,
                )
            data = response.content
            try:
                parse_torrent(data)
            except ValueError:
                head = data[:200].lstrip().lower()
                what = "an HTML page" if head.startswith((b"<!doctype", b"<html")) else "something else"
                raise BadResponse(
                    f"Prowlarr sent {what} instead of a .torrent for {label!r}", service="Prowlarr",
                    status=status,
                ) from None
            return data, None
        raise BadResponse(f"Prowlarr redirected the download of {label!r} too many times", service="Prowlarr")


def _int_or(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _message(response: httpx.Response) -> str:
    """The human part of a Prowlarr error: JSON ``message``/``title``, Newznab XML ``description``."""
    text = response.text.strip()
    if not text:
        return ""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return redact(str(data.get("message") or data.get("title") or ""))[:200]
    if text.startswith("["):
        return ""
    match = re.search(r'description="([^"]*)"', text)
    if match:
        return redact(html.unescape(match.group(1)))[:200]
    if text.lower().startswith(("<!doctype", "<html")):
        return ""
    return redact(text.splitlines()[0])[:200]


__all__ = ["AUDIOBOOK_CATEGORY", "Indexer", "Prowlarr", "ProwlarrStatus", "parse_release"]
