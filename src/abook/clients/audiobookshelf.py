"""Audiobookshelf (2.26+) REST client: HTTP in, plain records out.

Facts this client relies on (``research/abs-api.md``): the items list is always minified and has
no ``authors[]``/``series[]``; ``POST /api/items/batch/get`` returns expanded records (unknown ids
dropped, an empty list is a 403); authors come wrapped in an envelope only when both ``limit``
and ``page`` are given; the series list returns empty ``results`` with ``limit=0``, so it is always
paged; a 401 is a plain-text ``Unauthorized``; scans are asynchronous and finished tasks vanish.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BadResponse
from ..http import HttpService

if TYPE_CHECKING:
    import httpx

PAGE_SIZE = 2500
BATCH_SIZE = 500


@dataclass(frozen=True)
class Library:
    id: str
    name: str
    media_type: str
    folders: tuple[str, ...] = ()
    last_scan: int | None = None
    settings: dict[str, Any] = field(default_factory=dict, compare=False)


class Audiobookshelf:
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

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Audiobookshelf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        out = []
        for lib in _expect_list(data.get("libraries"), "GET /api/libraries"):
            out.append(
                Library(
                    id=str(lib.get("id")),
                    name=str(lib.get("name") or ""),
                    media_type=str(lib.get("mediaType") or "book"),
                    folders=tuple(str(f.get("fullPath")) for f in lib.get("folders") or ()),
                    last_scan=lib.get("lastScan"),
                    settings=dict(lib.get("settings") or {}),
                )
            )
        return out

    def library(self, library_id: str) -> Library:
        lib = _expect_dict(self.http.get_json(f"/api/libraries/{library_id}"), "GET /api/libraries/:id")
        return Library(
            id=str(lib.get("id")),
            name=str(lib.get("name") or ""),
            media_type=str(lib.get("mediaType") or "book"),
            folders=tuple(str(f.get("fullPath")) for f in lib.get("folders") or ()),
            last_scan=lib.get("lastScan"),
            settings=dict(lib.get("settings") or {}),
        )

    def item_pages(
        self, library_id: str, page_size: int = PAGE_SIZE
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Yield (minified items, total) page by page, sorted by ``addedAt`` for stable paging."""
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
            results = _expect_list(data.get("results"), "GET /api/libraries/:id/items")
            total = int(data.get("total") or 0)
            yield results, total
            seen += len(results)
            if not results or len(results) < page_size or seen >= total:
                return
            page += 1

    def recent_items(self, library_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The most recently added items (minified), newest first."""
        data = _expect_dict(
            self.http.get_json(
                f"/api/libraries/{library_id}/items",
                params={"limit": limit, "page": 0, "sort": "addedAt", "desc": 1},
            ),
            "GET /api/libraries/:id/items",
        )
        return _expect_list(data.get("results"), "GET /api/libraries/:id/items")

    def batch_get(self, item_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Expanded records for ``item_ids`` (ids ABS no longer has are silently dropped)."""
        if not item_ids:
            return []
        data = _expect_dict(
            self.http.json(
                "POST", "/api/items/batch/get", json={"libraryItemIds": list(item_ids)}, idempotent=True
            ),
            "POST /api/items/batch/get",
        )
        return _expect_list(data.get("libraryItems"), "POST /api/items/batch/get")

    def item(self, item_id: str) -> dict[str, Any]:
        return _expect_dict(
            self.http.get_json(f"/api/items/{item_id}", params={"expanded": 1}), "GET /api/items/:id"
        )

    def authors(self, library_id: str) -> list[dict[str, Any]]:
        """All authors of a library (without ``limit``+``page`` ABS returns the bare list)."""
        data = _expect_dict(
            self.http.get_json(f"/api/libraries/{library_id}/authors"), "GET /api/libraries/:id/authors"
        )
        return _expect_list(data.get("authors", data.get("results")), "GET /api/libraries/:id/authors")

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
