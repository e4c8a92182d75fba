"""A fake Prowlarr (API v1) on 127.0.0.1.

What it reproduces (from Prowlarr's source, see the research note):

- every ``/api/v1/*`` call needs the key (``X-Api-Key`` header, or ``apikey=`` query): otherwise a
  401 with an empty body; ``/ping`` is anonymous;
- ``GET /api/v1/search`` takes repeated ``categories=``/``indexerIds=`` keys (a comma-separated value
  is a 400 ProblemDetails, as ASP.NET model binding answers), ``query``, ``type``, ``limit``
  (per indexer), ``offset``; results omit null fields and carry *proxy* ``downloadUrl`` /
  ``magnetUrl`` links with the key inside;
- ``GET /{indexerId}/download?apikey=&link=`` answers a real .torrent (``application/x-bittorrent``,
  made with :func:`abook.torrent.make_torrent`), or a 301 to a ``magnet:`` URI, or a Newznab XML error
  (410) for an unknown link;
- ``GET /api/v1/system/status``; faults (500, 429, HTML, "all indexers unavailable") on demand.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

from tests.fakes.mam import Fault, LoopbackServer, Recorded

CATEGORY_NAMES = {
    3000: "Audio", 3010: "Audio/MP3", 3030: "Audio/Audiobook", 3040: "Audio/Lossless",
    7000: "Books", 7020: "Books/EBook", 7050: "Books/Other",
}


@dataclass
class FakeRelease:
    """One result the fake indexers know, and what its download link gives."""

    title: str
    indexer_id: int = 3
    indexer: str = "ExampleTracker"
    kind: str = "torrent"  # "torrent" (200 + bytes) | "magnet" (301 to magnet:) | "gone" (410)
    size: int = 300 * 1024 * 1024
    seeders: int | None = 10
    leechers: int | None = 1
    grabs: int | None = 100
    categories: tuple[int, ...] = (3030,)
    freeleech: bool = False
    protocol: str = "torrent"
    publish_date: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=3))
    with_magnet_url: bool = True
    with_info_hash: bool = True
    link: str = ""  # set by the server
    info_hash: str = ""  # set by the server (real, from the generated torrent)


class FakeProwlarr(LoopbackServer):
    """Inspect ``requests``; tweak ``releases``, ``api_key``; inject faults with ``fail_next``."""

    def __init__(
        self,
        releases: list[FakeRelease] | None = None,
        *,
        api_key: str = "test-prowlarr-key",
        version: str = "2.3.5.5327",
        app_name: str = "Prowlarr",
        payload_size: int = 24 * 1024,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.version = version
        self.app_name = app_name
        self.payload_size = payload_size
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.releases: list[FakeRelease] = []
        self._torrents: dict[str, bytes] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-prowlarr-"))
        for release in releases if releases is not None else default_releases():
            self.add(release)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ------------------------------------------------------------ controls
    def add(self, release: FakeRelease) -> FakeRelease:
        with self.lock:
            release.link = hashlib.sha1(f"{len(self.releases)}:{release.title}".encode()).hexdigest()[:16]
            release.info_hash = self._hash_for(release)
            self.releases.append(release)
        return release

    def fail_next(self, kind: str | int, times: int = 1, path: str | None = None) -> None:
        """Faults: 500, 429, html, unavailable (400 all indexers down), 401."""
        with self.lock:
            self.faults.append(Fault(str(kind), times, path))

    def torrent_bytes(self, release: FakeRelease) -> bytes:
        from abook.torrent import make_torrent

        with self.lock:
            if release.link not in self._torrents:
                folder = self._tmp / release.link / "".join(c for c in release.title if c.isalnum() or c in " .-()")
                folder.mkdir(parents=True, exist_ok=True)
                block = hashlib.sha256(release.title.encode()).digest()
                (folder / "audio.m4b").write_bytes((block * (self.payload_size // 32 + 1))[: self.payload_size])
                self._torrents[release.link] = make_torrent(folder, "http://tracker.invalid/announce")
            return self._torrents[release.link]

    def _hash_for(self, release: FakeRelease) -> str:
        from abook.torrent import parse_torrent

        return parse_torrent(self.torrent_bytes(release)).info_hash

    def magnet(self, release: FakeRelease) -> str:
        return f"magnet:?xt=urn:btih:{release.info_hash}&dn={quote_plus(release.title)}"

    def served(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if 200 <= r.status < 400 and (path is None or r.path == path)]

    # ------------------------------------------------------------ dispatch
    def _dispatch(self, h: Any) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        rec = Recorded(h.command, path, dict(pairs), None, None, time.monotonic(),
                       headers={k.lower(): v for k, v in h.headers.items()})
        rec.body = pairs  # the raw pairs: repeated keys matter here
        self._current.rec = rec
        with self.lock:
            self.requests.append(rec)
            self._answer(h, path, pairs)

    def _authorised(self, h: Any, query: dict[str, str]) -> bool:
        key = query.get("apikey") or h.headers.get("X-Api-Key") or ""
        bearer = h.headers.get("Authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        return key == self.api_key

    def _answer(self, h: Any, path: str, pairs: list[tuple[str, str]]) -> int:
        query = dict(pairs)
        for fault in list(self.faults):
            if fault.times > 0 and (fault.path is None or path.startswith(fault.path)):
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return self._fault(h, fault.kind)
        if path in ("/ping", "/api/v1/ping"):
            self.send(h, 200, {"status": "OK"})
            return 200
        if not self._authorised(h, query):
            self.send(h, 401, b"", content_type="text/plain")
            return 401
        if path == "/api/v1/system/status":
            self.send(h, 200, self._status())
            return 200
        if path == "/api/v1/search":
            return self._search(h, pairs)
        segs = [s for s in path.split("/") if s]
        if (len(segs) == 2 and segs[1] == "download" and segs[0].isdigit()) or (
            len(segs) == 5 and segs[:3] == ["api", "v1", "indexer"] and segs[4] == "download"
        ):
            return self._download(h, query)
        self.send(h, 404, {"message": "NotFound"})
        return 404

    def _fault(self, h: Any, kind: str) -> int:
        if kind == "500":
            self.send(h, 500, {"message": "Internal failure", "description": "System.Exception"})
            return 500
        if kind == "429":
            self.send(h, 429, '<?xml version="1.0"?><error code="429" description="Grab limit reached"/>',
                      content_type="application/xml", headers=[("Retry-After", "0")])
            return 429
        if kind == "html":
            self.send(h, 200, "<!DOCTYPE html><html><body>Sonarr login</body></html>", content_type="text/html")
            return 200
        if kind == "unavailable":
            self.send(h, 400, {"message": "Search failed due to all selected indexers being unavailable",
                               "description": "NzbDrone.Core.Exceptions.SearchFailedException"})
            return 400
        if kind == "401":
            self.send(h, 401, b"", content_type="text/plain")
            return 401
        raise ValueError(f"unknown fault {kind!r}")

    def _status(self) -> dict[str, Any]:
        return {
            "appName": self.app_name, "instanceName": self.app_name, "version": self.version,
            "buildTime": "2026-04-02T00:00:00Z", "isDebug": False, "isProduction": True, "isAdmin": False,
            "isUserInteractive": False, "osName": "debian", "isNetCore": True, "isLinux": True,
            "isOsx": False, "isWindows": False, "isDocker": False, "mode": "console", "branch": "master",
            "databaseType": "sqLite", "databaseVersion": "3.40.1", "authentication": "forms",
            "migrationVersion": 42, "urlBase": "", "runtimeVersion": "8.0.11", "runtimeName": ".NET",
            "startTime": "2026-04-03T00:00:00Z", "packageUpdateMechanism": "builtIn",
        }

    def _search(self, h: Any, pairs: list[tuple[str, str]]) -> int:
        errors: dict[str, list[str]] = {}
        ints: dict[str, list[int]] = {"categories": [], "indexerIds": []}
        for key, value in pairs:
            if key in ints:
                try:
                    ints[key].append(int(value))
                except ValueError:
                    errors.setdefault(key, []).append(f"The value '{value}' is not valid.")
        if errors:
            self.send(h, 400, {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                               "title": "One or more validation errors occurred.", "status": 400,
                               "errors": errors, "traceId": "00-fake-00"},
                      content_type="application/problem+json")
            return 400
        query = dict(pairs)
        text = query.get("query", "").lower()
        tokens = [t for t in text.replace("{", " ").replace("}", " ").replace(":", " ").split() if t]
        if query.get("type") == "book":  # {author:...}{title:...} tokens: keep only the values
            tokens = [t for t in tokens if t not in ("author", "title")]
        try:
            limit = int(query.get("limit") or 100)
            offset = int(query.get("offset") or 0)
        except ValueError:
            limit, offset = 100, 0
        cats = set(ints["categories"])
        wanted_indexers = set(ints["indexerIds"])
        per_indexer: dict[int, list[dict[str, Any]]] = {}
        for release in self.releases:
            if wanted_indexers and release.indexer_id not in wanted_indexers and not (
                -2 in wanted_indexers and release.protocol == "torrent"
            ):
                continue
            if cats and not self._in_categories(release, cats):
                continue
            title = release.title.lower()
            if tokens and not all(t in title for t in tokens):
                continue
            per_indexer.setdefault(release.indexer_id, []).append(self._resource(release))
        results: list[dict[str, Any]] = []
        for items in per_indexer.values():
            results.extend(items[offset : offset + limit])
        self.send(h, 200, results)
        return 200

    @staticmethod
    def _in_categories(release: FakeRelease, cats: set[int]) -> bool:
        if not release.categories:
            return True  # Prowlarr keeps releases without categories
        return any(cat in cats or (cat // 1000 * 1000) in cats for cat in release.categories)

    def _resource(self, r: FakeRelease) -> dict[str, Any]:
        age = datetime.now(UTC) - r.publish_date
        link = (f"{self.url}/{r.indexer_id}/download?apikey={self.api_key}&link={r.link}"
                f"&file={quote_plus(r.title)}")
        out: dict[str, Any] = {
            "id": 0,
            "guid": f"https://tracker.example/torrents/{r.link}",
            "age": age.days,
            "ageHours": round(age.total_seconds() / 3600, 1),
            "ageMinutes": round(age.total_seconds() / 60, 1),
            "size": r.size,
            "files": 1,
            "grabs": r.grabs,
            "indexerId": r.indexer_id,
            "indexer": r.indexer,
            "title": r.title,
            "sortTitle": r.title.lower(),
            "imdbId": 0, "tmdbId": 0, "tvdbId": 0, "tvMazeId": 0,
            "publishDate": r.publish_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "downloadUrl": link,
            "infoUrl": f"https://tracker.example/torrents/{r.link}",
            "indexerFlags": ["freeleech"] if r.freeleech else [],
            "categories": [{"id": c, "name": CATEGORY_NAMES.get(c, f"Custom {c}"), "subCategories": []}
                           for c in r.categories],
            "magnetUrl": link if r.with_magnet_url and r.protocol == "torrent" else None,
            "infoHash": r.info_hash if r.with_info_hash and r.protocol == "torrent" else None,
            "seeders": r.seeders if r.protocol == "torrent" else None,
            "leechers": r.leechers if r.protocol == "torrent" else None,
            "protocol": r.protocol,
            "fileName": f"{r.title}.{'torrent' if r.protocol == 'torrent' else 'nzb'}",
        }
        # STJson omits nulls.
        return {k: v for k, v in out.items() if v is not None}

    def _download(self, h: Any, query: dict[str, str]) -> int:
        release = next((r for r in self.releases if r.link == query.get("link")), None)
        if release is None or release.kind == "gone":
            self.send(h, 410, '<?xml version="1.0" encoding="UTF-8"?>\n'
                      '<error code="410" description="Release is no longer available"/>',
                      content_type="application/xml")
            return 410
        if release.kind == "magnet":
            self.send(h, 301, b"", content_type="text/plain", headers=[("Location", self.magnet(release))])
            return 301
        data = self.torrent_bytes(release)
        self.send(h, 200, data, content_type="application/x-bittorrent",
                  headers=[("Content-Disposition", f'attachment; filename="{release.title}.torrent"')])
        return 200


def default_releases() -> list[FakeRelease]:
    """A small mixed result set: torrent, magnet-only, freeleech, an ebook and a usenet result."""
    return [
        FakeRelease("Mara Ellison - The Clockwork Lighthouse (Unabridged) [M4B]", freeleech=True, grabs=311,
                    seeders=42, leechers=3, categories=(3030, 100013)),
        FakeRelease("Idris Vane - Winter of the Salt Kings [MP3]", kind="magnet", indexer_id=5,
                    indexer="PublicTracker", seeders=7, grabs=None, with_info_hash=False),
        FakeRelease("Idris Vane - Winter of the Salt Kings [EPUB]", categories=(7020,), size=2 * 1024 * 1024),
        FakeRelease("Mara Ellison - The Clockwork Lighthouse [NZB]", protocol="usenet", indexer_id=7,
                    indexer="ExampleNZB"),
    ]
