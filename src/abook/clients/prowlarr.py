"""Prowlarr (API v1): search every configured indexer, and fetch what a result points at.

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
- A 400 ``{"message": ...}`` means every indexer is unavailable; the message is passed on.
"""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ..errors import BadResponse, ServiceError
from ..http import HttpService, redact
from ..models import Release

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("abook.prowlarr")

AUTH_MESSAGE = "Prowlarr refused PROWLARR_API_KEY: copy the key from Prowlarr (Settings -> General -> API Key)"
AUDIOBOOK_CATEGORY = 3030
_REDIRECTS = (301, 302, 303, 307, 308)
_FILETYPE_RE = re.compile(r"\b(m4b|m4a|mp3|flac|ogg|opus|aac|wma|epub|mobi|azw3|pdf)\b", re.I)


@dataclass(frozen=True)
class ProwlarrStatus:
    """What ``doctor`` shows: the app name and version."""

    app_name: str
    version: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _iso(value: Any) -> str:
    """Prowlarr's ISO-8601 publishDate -> "YYYY-MM-DDTHH:MM:SSZ" (as MAM's ``added``)."""
    if not value:
        return ""
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: Any) -> int:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        return 0


def _main_category(ids: list[int]) -> str:
    if AUDIOBOOK_CATEGORY in ids:
        return "audiobook"
    if any(7000 <= i < 8000 for i in ids):
        return "ebook"
    return "other"


def parse_release(item: dict[str, Any]) -> Release:
    """One ReleaseResource -> :class:`Release`. Every field may be missing."""
    cats = [c for c in item.get("categories") or [] if isinstance(c, dict)]
    ids = [_int(c.get("id")) for c in cats]
    # The first standard (< 100000) category names the release best; custom ones are tracker-local.
    standard = [c for c in cats if _int(c.get("id")) < 100000]
    category = str((standard or cats or [{}])[0].get("name") or "")
    flags = {str(f).strip().lower() for f in item.get("indexerFlags") or []}
    title = str(item.get("title") or "").strip()
    filetypes: list[str] = []
    for match in _FILETYPE_RE.finditer(title):
        kind = match.group(1).lower()
        if kind not in filetypes:
            filetypes.append(kind)
    info_hash = str(item.get("infoHash") or "").strip().lower()
    url = str(item.get("downloadUrl") or item.get("magnetUrl") or "")
    guid = str(item.get("guid") or "") or info_hash or url
    return Release(
        source="prowlarr",
        torrent_id=guid,
        title=title,
        category=category,
        main_category=_main_category(ids),
        filetypes=tuple(filetypes),
        size=max(0, _int(item.get("size"))),
        seeders=_int(item.get("seeders")),
        leechers=_int(item.get("leechers")),
        snatches=_int(item.get("grabs")),
        added=_iso(item.get("publishDate")),
        freeleech="freeleech" in flags,
        info_hash=info_hash,
        download_url=url,
        raw=dict(item),
    )


class Prowlarr:
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

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Prowlarr:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    ) -> list[Release]:
        """Search all (or the given) indexers; torrent results only, normalised.

        ``type="book"`` lets indexers that support it parse ``{author:...}{title:...}`` tokens;
        ``limit``/``offset`` apply per indexer, as Prowlarr passes them on.
        """
        params: list[tuple[str, str | int]] = [("query", query), ("type", type)]
        params += [("categories", int(c)) for c in categories]
        params += [("indexerIds", int(i)) for i in indexer_ids]
        params += [("limit", int(limit)), ("offset", int(offset))]
        response = self.http.request(
            "GET", "/api/v1/search", params=params, headers=self._key_header(), ok=(400,)
        )
        if response.status_code == 400:
            raise ServiceError(
                f"Prowlarr search failed: {_message(response) or 'bad request'}",
                service="Prowlarr", status=400,
            )
        data = self.http.decode(response, "GET /api/v1/search")
        if not isinstance(data, list):
            raise BadResponse("Prowlarr search answered with an unexpected shape (not a list)", service="Prowlarr")
        releases: list[Release] = []
        for item in data:
            if not isinstance(item, dict):
                continue
            if str(item.get("protocol") or "torrent").lower() == "usenet":
                continue
            releases.append(parse_release(item))
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


__all__ = ["AUDIOBOOK_CATEGORY", "Prowlarr", "ProwlarrStatus", "parse_release"]
