"""Google Books API v1: print/ebook metadata (ISBN, publisher, description, categories, language).

It has no narrator, duration, abridged flag, ASIN, and no series for ordinary novels, so it only
fills print-side fields and lists no bibliographies. Its quota is per day (1,000 requests with a
key; the anonymous pool is usually spent), so a quota answer ends the source for the run instead of
being retried: retrying a daily limit only burns more of tomorrow's patience.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack

from ..errors import ServiceError
from .base import (
    Candidate,
    Connection,
    Source,
    SourceUnavailable,
    dedupe,
    language_name,
    strip_html,
    year_of,
)

if TYPE_CHECKING:
    import httpx

NAME = "googlebooks"
_QUOTA_REASONS = {"ratelimitexceeded", "dailylimitexceeded", "userratelimitexceeded", "quotaexceeded"}
_KEY_REASONS = {"keyinvalid", "keyexpired", "accessnotconfigured", "iprefererblocked", "forbidden"}
_IMAGE_KEYS = ("extraLarge", "large", "medium", "small", "thumbnail", "smallThumbnail")


class GoogleBooksSource(Source):
    """``GET {url}/volumes?q=intitle:..+inauthor:..`` or ``q=isbn:..``; one request per lookup."""

    name = NAME

    def __init__(
        self, url: str = "https://www.googleapis.com/books/v1", api_key: str = "", *,
        max_results: int = 10, **connection: Unpack[Connection],
    ) -> None:
        self.api_key = api_key
        self.max_results = max(1, min(40, max_results))
        self.http = self.open_http(
            "Google Books",
            url,
            setting="GOOGLE_BOOKS_URL",
            secrets=[api_key] if api_key else [],
            auth_hint="Google Books refused the request: check GOOGLE_BOOKS_API_KEY",
            **connection,
        )

    # ------------------------------------------------------------------ API
    def find(
        self, title: str, authors: Sequence[str], *, isbn: str = "", asin: str = ""
    ) -> list[Candidate]:
        isbn = re.sub(r"[^0-9Xx]", "", isbn or "")
        if isbn:
            found = self.search(f"isbn:{isbn}")
            if found or not title:
                return found
        query = _title_query(title, authors)
        return self.search(query) if query else []

    def search(self, query: str) -> list[Candidate]:
        """One ``volumes`` search with a raw ``q`` (keywords like ``intitle:`` allowed)."""
        params: dict[str, Any] = {
            "q": query,
            "printType": "books",
            "maxResults": self.max_results,
        }
        data = self._get("/volumes", params)
        items = data.get("items") if isinstance(data, dict) else None
        return [c for c in (volume_candidate(i) for i in items or []) if c is not None]

    def volume(self, volume_id: str) -> Candidate | None:
        """One volume in full (HTML description, BISAC categories); None when unknown."""
        data = self._get(f"/volumes/{volume_id}", {}, missing_ok=True)
        return volume_candidate(data) if data else None

    # ------------------------------------------------------------- internals
    def _get(self, path: str, params: dict[str, Any], *, missing_ok: bool = False) -> Any:
        assert self.http is not None
        if self.api_key:
            params = {**params, "key": self.api_key}
        where = f"GET {path}"
        # 4xx answers are read here, not mapped by HttpService: Google's error body says whether
        # it is the quota (skip the source) or a bad key (skip it too, with a hint).
        response = self.http.request("GET", path, params=params, ok=(400, 403, 404, 429))
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status in (400, 403, 404, 429):
            self._refuse(response, where)
        return self.http.decode(response, where)

    def _refuse(self, response: httpx.Response, where: str) -> None:
        """Turn Google's error DTO into SourceUnavailable (quota, key) or a ServiceError."""
        reasons, message = _error_reasons(response)
        status = response.status_code
        if status == 429 or reasons & _QUOTA_REASONS or "quota" in message.lower():
            raise SourceUnavailable(NAME, _quota_line())
        if status == 403 or reasons & _KEY_REASONS or "api key" in message.lower():
            raise SourceUnavailable(
                NAME,
                f"Google Books refused the request (HTTP {status}"
                f"{', ' + ', '.join(sorted(reasons)) if reasons else ''}): check GOOGLE_BOOKS_API_KEY "
                "and that the Books API is enabled for it; skipped for this run",
            )
        raise ServiceError(
            f"Google Books answered {status} on {where}", service="Google Books", status=status
        )


def _quota_line() -> str:
    return (
        "Google Books quota is spent (HTTP 429/403 rate or daily limit); skipped for this run. "
        "A GOOGLE_BOOKS_API_KEY gives 1,000 requests a day"
    )


def _error_reasons(response: httpx.Response) -> tuple[set[str], str]:
    try:
        body = response.json()
    except Exception:
        return set(), ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set(), ""
    reasons = {
        str(e.get("reason", "")).lower()
        for e in error.get("errors") or []
        if isinstance(e, dict) and e.get("reason")
    }
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            reasons.add(str(detail["reason"]).lower().replace("_", ""))
    status = str(error.get("status", "")).lower()
    if status == "resource_exhausted":
        reasons.add("quotaexceeded")
    return reasons, str(error.get("message", ""))


def _clean_term(text: str) -> str:
    # quotes and colons would open phrases/keywords of their own inside ``q``
    return re.sub(r"\s+", " ", re.sub(r"[\":+]", " ", text or "")).strip()


def _title_query(title: str, authors: Sequence[str]) -> str:
    title = _clean_term(title)
    if not title:
        return ""
    query = f"intitle:{title}"
    author = next((_clean_term(a) for a in authors if _clean_term(a)), "")
    if author:
        query += f" inauthor:{author}"
    return query


def volume_candidate(item: Any) -> Candidate | None:
    """Map one ``books#volume`` to a Candidate (None when it has no title)."""
    if not isinstance(item, dict):
        return None
    info = item.get("volumeInfo") or {}
    title = (info.get("title") or "").strip()
    if not title:
        return None
    ids = {
        str(i.get("type", "")): str(i.get("identifier", ""))
        for i in info.get("industryIdentifiers") or []
        if isinstance(i, dict)
    }
    isbn = ids.get("ISBN_13") or ids.get("ISBN_10") or ""
    genres: list[str] = []
    for category in info.get("categories") or []:
        # volumes/{id} gives BISAC paths "Fiction / Science Fiction / Space Opera"
        genres.extend(p.strip() for p in str(category).split(" / "))
    images = info.get("imageLinks") or {}
    cover = next((images[k] for k in _IMAGE_KEYS if images.get(k)), "")
    if cover:
        cover = cover.replace("http://", "https://", 1).replace("&edge=curl", "")
    sale = item.get("saleInfo") or {}
    kind = "ebook" if sale.get("isEbook") and info.get("printType") != "MAGAZINE" else "book"
    return Candidate(
        source=NAME,
        source_id=str(item.get("id", "")),
        title=title,
        subtitle=(info.get("subtitle") or "").strip(),
        authors=dedupe(info.get("authors") or []),
        description=strip_html(info.get("description")),
        publisher=(info.get("publisher") or "").strip(),
        year=year_of(info.get("publishedDate")),
        isbn=isbn,
        genres=dedupe(genres),
        language=language_name(info.get("language")),
        cover_url=cover,
        kind=kind,
        url=info.get("canonicalVolumeLink") or info.get("infoLink") or "",
        raw=item,
    )
