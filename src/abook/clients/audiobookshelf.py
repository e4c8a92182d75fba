"""Audiobookshelf (2.26+) REST client: HTTP in, plain records out.

Facts this client relies on (``research/abs-api.md``): the items list is always minified and has
no ``authors[]``/``series[]``; ``POST /api/items/batch/get`` returns expanded records (unknown ids
dropped, an empty list is a 403); authors come wrapped in an envelope only when both ``limit``
and ``page`` are given; the series list returns empty ``results`` with ``limit=0``, so it is always
paged; a 401 is a plain-text ``Unauthorized``; scans are asynchronous and finished tasks vanish.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import BadResponse
from ..http import HttpService, ServiceClient
from ..library import (
    AbsAuthor,
    AbsFilterData,
    AbsItem,
    AbsLibrary,
    AbsPerson,
    AbsSeries,
    fingerprint_of,
)

if TYPE_CHECKING:
    import httpx

PAGE_SIZE = 2500
# A batch/get costs ABS ~0.4 s whatever its size on a 50k library, plus ~1.4 ms per item; 1,000
# items are ~25 MB of JSON, which is what abook's memory allows at once.
BATCH_SIZE = 1000


_BATCH_HEAD = re.compile(r'\s*\{\s*"libraryItems"\s*:\s*\[\s*')
_DECODER = json.JSONDecoder()

# The record type the rest of abook knows a library by (kept under its old name here).
Library = AbsLibrary


def parse_library(lib: Mapping[str, Any]) -> AbsLibrary:
    return AbsLibrary(
        id=str(lib.get("id")),
        name=str(lib.get("name") or ""),
        media_type=str(lib.get("mediaType") or "book"),
        folders=tuple(str(f.get("fullPath")) for f in lib.get("folders") or ()),
        last_scan=lib.get("lastScan"),
        settings=dict(lib.get("settings") or {}),
    )


class AbsPage:
    """One page of minified items, parsed only as far as asked.

    A re-scan of a big library looks at every item but needs only its id and fingerprint; a
    full record (:meth:`item`) is made for the few that changed. ``entries`` holds
    ``(id, media type, fingerprint)`` per item, in page order."""

    __slots__ = ("_raw", "entries", "total")

    def __init__(self, raw: list[dict[str, Any]], total: int) -> None:
        self._raw = raw
        self.total = total
        entries = []
        for r in raw:  # 2,500 rounds per page: plain lookups only
            meta = (r.get("media") or {}).get("metadata") or {}
            entries.append((
                str(r.get("id") or ""), str(r.get("mediaType") or "book"),
                fingerprint_of(r.get("updatedAt"), bool(r.get("isMissing")), meta.get("authorName"),
                               meta.get("narratorName"), meta.get("seriesName")),
            ))
        self.entries: list[tuple[str, str, str]] = entries

    def __len__(self) -> int:
        return len(self._raw)

    def item(self, index: int) -> AbsItem:
        return parse_item(self._raw[index])


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_item(item: Mapping[str, Any]) -> AbsItem:
    """A minified or expanded item record as an :class:`AbsItem`.

    Runs for every item of every scan page (50,000 on a big library): plain lookups only."""
    media = item.get("media") or {}
    meta = media.get("metadata") or {}
    authors = meta.get("authors")
    series = meta.get("series")
    narrators = meta.get("narrators")
    expanded = isinstance(authors, list)
    return AbsItem(
        id=str(item.get("id") or ""),
        library_id=item.get("libraryId"),
        media_id=media.get("id"),
        media_type=str(item.get("mediaType") or "book"),
        path=item.get("path"),
        rel_path=str(item.get("relPath") or ""),
        title=meta.get("title"),
        subtitle=meta.get("subtitle"),
        author_name=meta.get("authorName"),
        narrator_name=meta.get("narratorName"),
        series_name=meta.get("seriesName"),
        genres=tuple(str(g) for g in meta.get("genres") or () if g),
        tags=tuple(str(t) for t in media.get("tags") or () if t),
        published_year=_str(meta.get("publishedYear")),
        publisher=meta.get("publisher"),
        description=meta.get("description"),
        isbn=meta.get("isbn"),
        asin=meta.get("asin"),
        language=meta.get("language"),
        explicit=bool(meta.get("explicit")),
        abridged=bool(meta.get("abridged")),
        cover_path=media.get("coverPath"),
        duration=float(media.get("duration") or 0.0),
        size=int(media.get("size") or item.get("size") or 0),
        num_audio_files=int(media.get("numAudioFiles") or 0),
        added_at=item.get("addedAt"),
        updated_at=item.get("updatedAt"),
        is_missing=bool(item.get("isMissing")),
        authors=tuple(
            AbsPerson(_str(a.get("id")), str(a.get("name") or "")) for a in authors if isinstance(a, dict)
        ) if expanded else None,
        narrators=tuple(str(n) for n in narrators if n) if isinstance(narrators, list) else None,
        series=tuple(
            AbsSeries(_str(x.get("id")), str(x.get("name") or ""), _str(x.get("sequence")))
            for x in series if isinstance(x, dict)
        ) if isinstance(series, list) else None,
    )


class Audiobookshelf(ServiceClient):
    """Thin client; every method is one or a few HTTP calls."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = HttpService(
            "Audiobookshelf",
            url,
            setting="ABS_URL",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            secrets=[token],
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            auth_hint=(
                "Audiobookshelf: ABS_TOKEN was refused: create an API key in ABS "
                "(Settings -> API Keys, tick 'active') and put it in ABS_TOKEN"
            ),
            forbidden_hint=(
                "Audiobookshelf accepted ABS_TOKEN but refused this action (403): the key's user "
                "needs admin rights (library scans) and the 'update' permission (metadata edits)"
            ),
            transport=transport,
        )

    # ----------------------------------------------------------- service
    def status(self) -> dict[str, Any]:
        """``GET /status`` (no auth): ``serverVersion`` and ``isInit``."""
        data = self.http.get_json("/status")
        if not isinstance(data, dict) or "serverVersion" not in data:
            raise BadResponse(
                "Audiobookshelf: /status has no serverVersion: is ABS_URL an Audiobookshelf server?",
                service="Audiobookshelf",
            )
        return data

    def me(self) -> dict[str, Any]:
        """``GET /api/me``: proves the token is accepted."""
        return _expect_dict(self.http.get_json("/api/me"), "GET /api/me")

    # ---------------------------------------------------------- libraries
    def libraries(self) -> list[Library]:
        data = _expect_dict(self.http.get_json("/api/libraries"), "GET /api/libraries")
        return [parse_library(lib) for lib in _expect_list(data.get("libraries"), "GET /api/libraries")]

    def library(self, library_id: str) -> Library:
        return parse_library(
            _expect_dict(self.http.get_json(f"/api/libraries/{library_id}"), "GET /api/libraries/:id")
        )

    def item_pages(self, library_id: str, page_size: int = PAGE_SIZE) -> Iterator[AbsPage]:
        """Yield the minified items page by page, sorted by ``addedAt`` for stable paging."""
        page = 0
        seen = 0
        while True:
            data = _expect_dict(
                self.http.get_json(
                    f"/api/libraries/{library_id}/items",
                    params={"limit": page_size, "page": page, "sort": "addedAt"},
                ),
                "GET /api/libraries/:id/items",
            )
            results = [r for r in _expect_list(data.get("results"), "GET /api/libraries/:id/items")
                       if isinstance(r, dict)]
            got = AbsPage(results, int(data.get("total") or 0))
            del data
            yield got
            seen += len(results)
            if not results or len(results) < page_size or seen >= got.total:
                return
            page += 1

    def recent_items(self, library_id: str, limit: int = 200) -> list[AbsItem]:
        """The most recently added items (minified), newest first."""
        data = _expect_dict(
            self.http.get_json(
                f"/api/libraries/{library_id}/items",
                params={"limit": limit, "page": 0, "sort": "addedAt", "desc": 1},
            ),
            "GET /api/libraries/:id/items",
        )
        return [parse_item(r) for r in _expect_list(data.get("results"), "GET /api/libraries/:id/items")
                if isinstance(r, dict)]

    def batch_get(self, item_ids: Sequence[str]) -> list[AbsItem]:
        """Expanded records for ``item_ids`` (ids ABS no longer has are silently dropped).

        An expanded item is ~25 KB of JSON (every audio file, track and chapter) and several
        times that once decoded, so the answer is decoded one item at a time and only its record
        kept: 1,000 items stay a ~50 MB affair instead of ~150 MB."""
        if not item_ids:
            return []
        where = "POST /api/items/batch/get"
        response = self.http.request(
            "POST", "/api/items/batch/get", json={"libraryItemIds": list(item_ids)}, idempotent=True
        )
        try:
            text = response.content.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        head = _BATCH_HEAD.match(text)
        if head is None:  # not the usual shape: decode it whole (an HTML page or bad JSON is an error)
            data = _expect_dict(self.http.decode(response, where), where)
            return [parse_item(r) for r in _expect_list(data.get("libraryItems"), where) if isinstance(r, dict)]
        del response
        out: list[AbsItem] = []
        decode, pos, end = _DECODER.raw_decode, head.end(), len(text)
        try:
            while pos < end and text[pos] != "]":
                obj, pos = decode(text, pos)
                if isinstance(obj, dict):
                    out.append(parse_item(obj))
                while pos < end and text[pos] in " \t\r\n,":
                    pos += 1
        except ValueError:
            raise BadResponse(
                f"Audiobookshelf sent malformed JSON for {where}: is ABS_URL right?", service="Audiobookshelf"
            ) from None
        if pos >= end or text[pos + 1:].strip() != "}":
            raise BadResponse(
                f"Audiobookshelf sent malformed JSON for {where}: is ABS_URL right?", service="Audiobookshelf"
            )
        return out

    def item(self, item_id: str) -> AbsItem:
        """One item's expanded record."""
        return parse_item(_expect_dict(
            self.http.get_json(f"/api/items/{item_id}", params={"expanded": 1}), "GET /api/items/:id"
        ))

    def filter_data(self, library_id: str) -> AbsFilterData:
        """``GET /api/libraries/:id/filterdata``: the library's author and series names with their
        ids and its narrators, in one request (ABS keeps the answer up to 30 minutes)."""
        data = _expect_dict(
            self.http.get_json(f"/api/libraries/{library_id}/filterdata"), "GET /api/libraries/:id/filterdata"
        )
        where = "GET /api/libraries/:id/filterdata"
        loaded = data.get("loadedAt")
        return AbsFilterData(
            authors=tuple(
                AbsPerson(str(a["id"]), str(a.get("name") or ""))
                for a in _expect_list(data.get("authors", []), where) if isinstance(a, dict) and a.get("id")
            ),
            series=tuple(
                AbsSeries(str(x["id"]), str(x.get("name") or ""))
                for x in _expect_list(data.get("series", []), where) if isinstance(x, dict) and x.get("id")
            ),
            narrators=tuple(str(n) for n in _expect_list(data.get("narrators", []), where) if isinstance(n, str)),
            loaded_at=int(loaded) if isinstance(loaded, int | float) and not isinstance(loaded, bool) else None,
        )

    def authors(self, library_id: str) -> list[AbsAuthor]:
        """All authors of a library (without ``limit``+``page`` ABS returns the bare list)."""
        data = _expect_dict(
            self.http.get_json(f"/api/libraries/{library_id}/authors"), "GET /api/libraries/:id/authors"
        )
        rows = _expect_list(data.get("authors", data.get("results")), "GET /api/libraries/:id/authors")
        return [
            AbsAuthor(str(a["id"]), str(a.get("name") or ""), a.get("asin"), a.get("numBooks"))
            for a in rows if isinstance(a, dict) and a.get("id")
        ]

    def series(self, library_id: str, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every series of a library, paged (``limit=0`` would return an empty list)."""
        page = 0
        seen = 0
        while True:
            data = _expect_dict(
                self.http.get_json(
                    f"/api/libraries/{library_id}/series",
                    params={"limit": page_size, "page": page, "sort": "name"},
                ),
                "GET /api/libraries/:id/series",
            )
            results = _expect_list(data.get("results"), "GET /api/libraries/:id/series")
            yield from results
            seen += len(results)
            if not results or len(results) < page_size or seen >= int(data.get("total") or 0):
                return
            page += 1

    # ------------------------------------------------------------- writes
    def patch_media(self, item_id: str, payload: dict[str, Any]) -> bool:
        """PATCH an item's media; True when ABS changed something (it omits ``updated`` otherwise)."""
        data = self.http.json("PATCH", f"/api/items/{item_id}/media", json=payload, idempotent=True)
        return bool(isinstance(data, dict) and data.get("updated"))

    def set_cover_url(self, item_id: str, url: str) -> None:
        """Have ABS download a cover from ``url`` (ABS's SSRF filter refuses private hosts)."""
        self.http.request("POST", f"/api/items/{item_id}/cover", json={"url": url}, idempotent=True)

    def scan_library(self, library_id: str, force: bool = False) -> None:
        params = {"force": 1} if force else None
        self.http.request("POST", f"/api/libraries/{library_id}/scan", params=params, idempotent=True)

    def tasks(self) -> list[dict[str, Any]]:
        data = _expect_dict(self.http.get_json("/api/tasks"), "GET /api/tasks")
        return _expect_list(data.get("tasks"), "GET /api/tasks")

    def watcher_update(self, library_id: str, path: str) -> None:
        self.http.request(
            "POST", "/api/watcher/update", json={"libraryId": library_id, "path": path, "type": "add"},
            idempotent=True,
        )


def _expect_dict(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadResponse(
            f"Audiobookshelf answered {where} with {type(data).__name__} instead of an object: "
            "is ABS_URL an Audiobookshelf server?",
            service="Audiobookshelf",
        )
    return data


def _expect_list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadResponse(
            f"Audiobookshelf answered {where} without the expected list: is ABS_URL an Audiobookshelf server?",
            service="Audiobookshelf",
        )
    return data
