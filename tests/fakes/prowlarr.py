"""A fake Prowlarr (API v1) on 127.0.0.1, with indexers that answer the way Prowlarr's do.

What it reproduces (from Prowlarr's source at v2.3.6, see the research note, parts A and D):

- every ``/api/v1/*`` call needs the key (``X-Api-Key`` header, ``apikey=`` query or a Bearer
  token): otherwise a 401 with an empty body; ``/ping`` is anonymous;
- ``GET /api/v1/indexer`` (and ``/api/v1/indexer/{id}``): each indexer's ``IndexerResource``, its
  ``capabilities.categories`` built as ``IndexerCapabilitiesCategories`` builds its tree (standard
  categories under their parent, each tracker category with a description as a top-level custom
  category 100000 + its id), and its ``fields`` (the MAM indexer's holds the tracker cookie);
- ``GET /api/v1/search`` as ``ReleaseSearchService`` dispatches it: repeated ``categories=`` /
  ``indexerIds=`` keys (a comma-separated value is a 400 ProblemDetails); ``indexerIds`` that name
  no usable indexer -> 400 "all selected indexers being unavailable"; only indexers whose own
  capabilities hold a requested category are asked; results are filtered to the requested
  categories (expanded to their children), de-duplicated by ``guid``; ``limit``/``offset`` are
  passed to each indexer; an indexer that fails adds nothing and the answer is still a 200;
- :class:`MamIndexer` is Prowlarr's MyAnonamouse indexer over a :class:`tests.fakes.mam.FakeMAM`
  catalogue: it asks the fake MAM's search what Prowlarr's request generator asks (``sortType``
  default, so newest first for an empty query; ``perpage`` = limit, ``startNumber`` = offset;
  title/author/narrator; the tracker categories the requested ones map to) and turns each row
  into a release as ``MyAnonamouseParser`` does: ``title by A, B [LANG / FILETYPE] [VIP]`` with
  MAM's HTML entities left in, ``grabs`` = snatches, ``freeleech`` flag, categories 3030 + an
  unnamed 100000 + MAM id, ``guid``/``infoUrl`` ``<MAM>/t/<id>``, ``publishDate`` in Prowlarr's
  time zone, and a proxy ``downloadUrl`` whose .torrent is the fake MAM's own (so both routes
  hand qBittorrent the same torrent, and a fetch marks it snatched on MAM);
- :class:`GenericIndexer` is any other indexer (other title shapes, magnets, gone links);
- ``GET /{indexerId}/download?apikey=&link=`` answers a real .torrent, a 301 to a ``magnet:``
  URI, or a Newznab XML error (410) for a link it no longer knows;
- faults on demand (``fail_next``: 500, 429, an HTML page, "unavailable", 401), and
  ``search_delay``: the seconds each indexer query costs (Prowlarr paces an indexer's requests
  2 s apart and waits for the tracker).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit

from tests.fakes.mam import CATEGORY_NAMES as MAM_AUDIOBOOK_NAMES
from tests.fakes.mam import FakeMAM, Fault, LoopbackServer, Recorded

#: Newznab standard categories (``NewznabStandardCategory``) a fake indexer may use.
PARENTS = {1000: "Console", 2000: "Movies", 3000: "Audio", 4000: "PC", 5000: "TV", 6000: "XXX",
           7000: "Books", 8000: "Other"}
CHILDREN = {
    2030: "Movies/SD", 2040: "Movies/HD", 3010: "Audio/MP3", 3020: "Audio/Video", 3030: "Audio/Audiobook",
    3040: "Audio/Lossless", 3050: "Audio/Other", 3060: "Audio/Foreign", 5040: "TV/HD", 7010: "Books/Mags",
    7020: "Books/EBook", 7030: "Books/Comics", 7040: "Books/Technical", 7050: "Books/Other", 7060: "Books/Foreign",
}
STANDARD = {**PARENTS, **CHILDREN}
CATEGORY_NAMES = STANDARD  # the name the earlier fake exported

AUDIOBOOK, EBOOK = 3030, 7020


def _mam_mappings() -> list[tuple[str, int, str]]:
    """MyAnonamouse's category mappings in Prowlarr (tracker id, standard id, description), in the
    order the indexer declares them."""
    out = [("13", AUDIOBOOK, "AudioBooks"), ("14", EBOOK, "E-Books"), ("15", AUDIOBOOK, "Musicology"),
           ("16", AUDIOBOOK, "Radio")]
    out += [(str(i), AUDIOBOOK, f"Audiobooks - {n}") for i, n in MAM_AUDIOBOOK_NAMES.items()]
    ebooks = {60: "Action/Adventure", 71: "Art", 61: ("Comics/Graphic novels", 7030), 62: "Crime/Thriller",
              63: "Fantasy", 64: "General Fiction", 79: ("Magazines/Newspapers", 7010),
              80: ("Math/Science/Tech", 7040), 94: "Mystery", 68: "Romance", 69: "Science Fiction",
              109: "Urban Fantasy", 112: "Young Adult"}
    for i, v in ebooks.items():
        name, std = v if isinstance(v, tuple) else (v, EBOOK)
        out.append((str(i), std, f"Ebooks - {name}"))
    out += [(str(i), AUDIOBOOK, n) for i, n in {17: "Music - Complete Editions", 19: "Guitar/Bass Tabs",
                                                 26: "Music Book"}.items()]
    out += [(str(i), AUDIOBOOK, f"Radio - {n}") for i, n in {127: " Comedy", 130: "Drama",
                                                             128: "Factual/Documentary", 132: "Reading"}.items()]
    return out


def _cat(cat_id: int, name: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cat_id}
    if name is not None:  # STJson omits nulls
        out["name"] = name
    out["subCategories"] = []
    return out


class FakeIndexer:
    """One indexer behind the fake Prowlarr. ``state``: "ok"; "disabled" (``enable`` false: left
    out); "backoff" (enabled, but failing lately: ``status.disabledTill`` is set and searches
    leave it out); "failing" (asked, fails, adds nothing to a 200)."""

    implementation = "Torznab"
    definition_name = "Torznab"

    def __init__(
        self,
        indexer_id: int,
        name: str,
        mappings: list[tuple[str, int, str | None]],
        *,
        protocol: str = "torrent",
        privacy: str = "private",
        supports_pagination: bool = True,
        limits_max: int | None = 100,
        state: str = "ok",
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        self.id = indexer_id
        self.name = name
        self.mappings = mappings
        self.protocol = protocol
        self.privacy = privacy
        self.supports_pagination = supports_pagination
        self.limits_max = limits_max
        self.state = state
        self.fields = fields or []
        self.queries: list[dict[str, Any]] = []  # what this indexer was asked

    # ------------------------------------------------------ categories
    def tree(self) -> list[dict[str, Any]]:
        """``IndexerCapabilitiesCategories`` tree: standard children under their parent, custom
        categories (100000 + tracker id) at the top, in the order the mappings declare them."""
        tree: list[dict[str, Any]] = []

        def node(cat_id: int) -> dict[str, Any] | None:
            return next((n for n in tree if n["id"] == cat_id), None)

        def add(cat_id: int, name: str) -> None:
            if cat_id in PARENTS:
                if node(cat_id) is None:
                    tree.append(_cat(cat_id, name))
            elif cat_id in CHILDREN:
                parent_id = cat_id // 1000 * 1000
                parent = node(parent_id)
                if parent is None:
                    parent = _cat(parent_id, PARENTS[parent_id])
                    tree.append(parent)
                if all(c["id"] != cat_id for c in parent["subCategories"]):
                    parent["subCategories"].append(_cat(cat_id, name))
            elif node(cat_id) is None:
                tree.append(_cat(cat_id, name))

        for tracker, std, desc in self.mappings:
            add(std, STANDARD.get(std, f"Category {std}"))
            if desc is not None:
                add(int(tracker) + 100000 if tracker.isdigit() else 100000 + len(tracker), desc)
        return tree

    def all_ids(self) -> set[int]:
        out: set[int] = set()
        for n in self.tree():
            out.add(n["id"])
            out.update(c["id"] for c in n["subCategories"])
        return out

    def supported(self, cats: set[int]) -> bool:
        return bool(self.all_ids() & cats)

    def expand(self, cats: set[int]) -> set[int]:
        out = set(cats)
        for n in self.tree():
            if n["id"] in cats and n["id"] < 100000:
                out.update(c["id"] for c in n["subCategories"])
        return out

    def tracker_cats(self, cats: set[int]) -> list[str]:
        wanted = self.expand(cats)
        out: list[str] = []
        for tracker, std, desc in self.mappings:
            custom = int(tracker) + 100000 if tracker.isdigit() and desc is not None else None
            if (std in wanted or custom in wanted) and tracker not in out:
                out.append(tracker)
        return out

    def release_categories(self, tracker: str) -> list[dict[str, Any]]:
        """``MapTrackerCatToNewznab``: the standard category (named) and the custom one, which a
        release carries without a name."""
        out: list[dict[str, Any]] = []
        for t, std, desc in self.mappings:
            if t != tracker:
                continue
            out.append(_cat(std, STANDARD.get(std)))
            if desc is not None and t.isdigit():
                out.append(_cat(int(t) + 100000, None))
        return out

    # -------------------------------------------------------- resource
    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "fields": self.fields,
            "implementationName": self.implementation, "implementation": self.implementation,
            "configContract": f"{self.implementation}Settings", "infoLink": "https://wiki.servarr.com/prowlarr",
            "tags": [], "indexerUrls": [], "legacyUrls": [], "definitionName": self.definition_name,
            "description": f"{self.name} (fake)", "language": "en-US", "encoding": "Unicode (UTF-8)",
            "enable": self.state != "disabled", "redirect": False, "supportsRss": True, "supportsSearch": True,
            "supportsRedirect": False, "supportsPagination": self.supports_pagination, "appProfileId": 1,
            "protocol": self.protocol, "privacy": self.privacy,
            "capabilities": {
                "limitsMax": self.limits_max, "limitsDefault": self.limits_max, "categories": self.tree(),
                "supportsRawSearch": False, "searchParams": ["q"], "tvSearchParams": [], "movieSearchParams": [],
                "musicSearchParams": [], "bookSearchParams": ["q"],
            },
            "priority": 25, "downloadClientId": 0, "added": "2026-01-10T08:00:00Z",
            "sortName": self.name.lower(),
        } | self._status()

    def _status(self) -> dict[str, Any]:
        if self.state != "backoff":
            return {}  # IndexerResource.status is present only when the indexer has failures
        now = datetime.now(UTC)
        return {"status": {"id": self.id, "indexerId": self.id,
                           "disabledTill": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "mostRecentFailure": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "initialFailure": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")}}

    # ---------------------------------------------------------- search
    def query(self, server: FakeProwlarr, text: str, type_: str, cats: set[int], limit: int,
              offset: int) -> list[dict[str, Any]]:
        raise NotImplementedError

    def download(self, server: FakeProwlarr, h: Any, ref: Any) -> int:
        raise NotImplementedError


# ========================================================================= MAM
class MamIndexer(FakeIndexer):
    """Prowlarr's MyAnonamouse indexer over a fake MAM's catalogue (its rows, search and
    torrents; the fake MAM need not be started)."""

    implementation = "MyAnonamouse"
    definition_name = "MyAnonamouse"

    def __init__(
        self,
        mam: FakeMAM,
        indexer_id: int = 1,
        name: str = "MyAnonamouse",
        *,
        vip_account: bool = False,
        search_languages: tuple[int, ...] = (),
        tz: timezone = timezone(timedelta(hours=2)),
        base_url: str = "https://www.myanonamouse.net/",
        session: str = "prowlarrs-own-mam-session",
        **kw: Any,
    ) -> None:
        # Prowlarr's own MAM session, in clear in the indexer's settings: abook must never show it.
        fields = [{"order": 2, "name": "mamId", "label": "Mam Id", "value": session, "type": "textbox",
                   "advanced": False, "privacy": "normal", "isFloat": False}]
        super().__init__(indexer_id, name, _mam_mappings(), fields=fields, **kw)
        self.mam = mam
        self.vip_account = vip_account
        self.search_languages = search_languages
        self.tz = tz
        self.base_url = base_url

    def query(self, server: FakeProwlarr, text: str, type_: str, cats: set[int], limit: int,
              offset: int) -> list[dict[str, Any]]:
        term = re.sub(r"[^\w]+", " ", text).strip()
        if text.strip() and not term:
            return []
        tor: dict[str, Any] = {
            "text": term, "searchType": "all",
            "srchIn": {"title": "true", "author": "true", "narrator": "true"},
            "searchIn": "torrents", "sortType": "default", "perpage": str(limit), "startNumber": str(offset),
            "cat": self.tracker_cats(cats) or ["0"],
        }
        if self.search_languages:
            tor["browse_lang"] = [str(x) for x in self.search_languages]
        self.queries.append(tor)
        with self.mam.lock:
            answer = self.mam._search({"tor": tor})
        rows = answer.get("data")
        if not isinstance(rows, list):
            return []  # "Nothing returned, out of N"
        return [self.release(server, row) for row in rows]

    def release(self, server: FakeProwlarr, row: dict[str, Any]) -> dict[str, Any]:
        """One MAM row as ``MyAnonamouseParser`` makes it a release."""
        title = str(row.get("title") or "")
        try:
            authors = list(json.loads(row.get("author_info") or "null").values())
        except (ValueError, AttributeError):
            authors = []
        if authors:
            title += " by " + ", ".join(str(a) for a in authors[:5])
        flags = [f for f in (str(row.get("lang_code") or ""), str(row.get("filetype") or "").upper()) if f]
        if flags:
            title += " [" + " / ".join(flags) + "]"
        if int(row.get("vip") or 0):
            title += " [VIP]"
        free = bool(int(row.get("free") or 0) or int(row.get("personal_freeleech") or 0)
                    or (self.vip_account and int(row.get("fl_vip") or 0)))
        added = datetime.fromisoformat(str(row["added"])).replace(tzinfo=UTC)
        age = datetime.now(UTC) - added
        info_url = f"{self.base_url}t/{row['id']}"
        out: dict[str, Any] = {
            "id": 0, "guid": info_url, "age": age.days, "ageHours": round(age.total_seconds() / 3600, 1),
            "ageMinutes": round(age.total_seconds() / 60, 1), "size": _bytes(str(row.get("size") or "")),
            "files": int(row.get("numfiles") or 0), "grabs": int(row.get("times_completed") or 0),
            "indexerId": self.id, "indexer": self.name, "title": title,
            "sortTitle": re.sub(r"[^\w]+", " ", title.lower()).strip(),
            "imdbId": 0, "tmdbId": 0, "tvdbId": 0, "tvMazeId": 0,
            "publishDate": added.astimezone(self.tz).isoformat(),
            "downloadUrl": server.proxy_link(self, ("mam", int(row["id"])), title),
            "infoUrl": info_url,
            "indexerFlags": ["freeleech"] if free else [],
            "categories": self.release_categories(str(row.get("category"))),
            "seeders": int(row.get("seeders") or 0), "leechers": int(row.get("leechers") or 0),
            "protocol": "torrent", "fileName": f"{title}.torrent",
        }
        return out

    def download(self, server: FakeProwlarr, h: Any, ref: Any) -> int:
        _, tid = ref
        with self.mam.lock:
            row = self.mam.row(tid)
            if row is None:
                return server.gone(h)
            data = self.mam.torrent_bytes(tid)
            if self.mam.mark_snatched:
                row["my_snatched"] = 1  # Prowlarr fetched it from MAM with the account's cookie
        name = html.unescape(str(row["title"]))
        server.send(h, 200, data, content_type="application/x-bittorrent",
                    headers=[("Content-Disposition", f'attachment; filename="{name}.torrent"')])
        return 200


def _bytes(text: str) -> int:
    """``ParseUtil.GetBytes``: "612.4 MiB" -> bytes (binary units)."""
    match = re.match(r"\s*([\d.,]+)\s*([KMGT]?)i?B", text, re.I)
    if not match:
        return 0
    return int(float(match.group(1).replace(",", "")) * 1024 ** " KMGT".index(match.group(2).upper() or " "))


# ===================================================================== generic
@dataclass
class FakeRelease:
    """One result a generic indexer knows, and what its download link gives."""

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


class GenericIndexer(FakeIndexer):
    """Any other indexer: its releases as given, with their own names. Categories come from the
    releases unless given (``categories``: (id, name) pairs; custom ones >= 100000)."""

    implementation = "Cardigann"

    def __init__(self, indexer_id: int, name: str, *, categories: list[tuple[Any, ...]] | None = None,
                 definition_name: str = "", **kw: Any) -> None:
        super().__init__(indexer_id, name, [], **kw)
        self.definition_name = definition_name or re.sub(r"\W+", "", name.lower())
        self.declared = categories
        self.releases: list[FakeRelease] = []

    def refresh_mappings(self) -> None:
        # (id, name[, the standard category a custom one maps to: audiobooks unless said])
        pairs = [tuple(p) for p in self.declared or []]
        for r in self.releases:
            for c in r.categories:
                if all(c != p[0] for p in pairs):
                    pairs.append((c, STANDARD.get(c, f"Custom {c}")))
        mappings: list[tuple[str, int, str | None]] = []
        for cid, cname, *std in pairs:
            if cid >= 100000:
                mappings.append((str(cid - 100000), std[0] if std else AUDIOBOOK, cname))
            else:
                mappings.append((f"s{cid}", cid, None))
        self.mappings = mappings

    def query(self, server: FakeProwlarr, text: str, type_: str, cats: set[int], limit: int,
              offset: int) -> list[dict[str, Any]]:
        low = text.lower()
        tokens = [t for t in low.replace("{", " ").replace("}", " ").replace(":", " ").split() if t]
        if type_ == "book":  # {author:...}{title:...} tokens: keep only the values
            tokens = [t for t in tokens if t not in ("author", "title")]
        self.queries.append({"text": text, "limit": limit, "offset": offset})
        found = [r for r in self.releases if not tokens or all(t in r.title.lower() for t in tokens)]
        found.sort(key=lambda r: r.publish_date, reverse=True)
        limit = limit if limit > 0 else 100  # the indexer's default page
        page = found[offset : offset + limit] if (self.supports_pagination or offset == 0) else []
        return [server.generic_resource(self, r) for r in page]

    def download(self, server: FakeProwlarr, h: Any, ref: Any) -> int:
        release = ref
        if release.kind == "gone":
            return server.gone(h)
        if release.kind == "magnet":
            server.send(h, 301, b"", content_type="text/plain", headers=[("Location", server.magnet(release))])
            return 301
        data = server.torrent_bytes(release)
        server.send(h, 200, data, content_type="application/x-bittorrent",
                    headers=[("Content-Disposition", f'attachment; filename="{release.title}.torrent"')])
        return 200


# ====================================================================== server
class FakeProwlarr(LoopbackServer):
    """Inspect ``requests``; tweak ``indexers``, ``releases``, ``api_key``; inject faults with
    ``fail_next``. ``releases`` go to generic indexers (by their ``indexer_id``)."""

    def __init__(
        self,
        releases: list[FakeRelease] | None = None,
        *,
        indexers: list[FakeIndexer] | None = None,
        api_key: str = "test-prowlarr-key",
        version: str = "2.3.5.5327",
        app_name: str = "Prowlarr",
        payload_size: int = 24 * 1024,
        search_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.version = version
        self.app_name = app_name
        self.payload_size = payload_size
        self.search_delay = search_delay
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.indexers: list[FakeIndexer] = list(indexers or [])
        self.releases: list[FakeRelease] = []
        self._links: dict[str, tuple[FakeIndexer, Any]] = {}
        self._torrents: dict[str, bytes] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-prowlarr-"))
        default = releases if releases is not None else ([] if indexers is not None else default_releases())
        for release in default:
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
            ix = self.indexer(release.indexer_id)
            if ix is None:
                ix = GenericIndexer(release.indexer_id, release.indexer, protocol=release.protocol,
                                    privacy="public" if release.indexer_id == 5 else "private")
                self.indexers.append(ix)
            assert isinstance(ix, GenericIndexer)
            ix.releases.append(release)
            ix.refresh_mappings()
        return release

    def add_indexer(self, indexer: FakeIndexer) -> FakeIndexer:
        with self.lock:
            self.indexers.append(indexer)
        return indexer

    def indexer(self, indexer_id: int) -> FakeIndexer | None:
        return next((i for i in self.indexers if i.id == indexer_id), None)

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

    def searches(self) -> list[list[tuple[str, str]]]:
        """The query pairs of every answered ``/api/v1/search``."""
        return [r.body for r in self.served("/api/v1/search")]

    # ------------------------------------------------------------- links
    def proxy_link(self, indexer: FakeIndexer, ref: Any, title: str) -> str:
        """``DownloadMappingService.ConvertToProxyLink``: the key and an opaque link inside."""
        token = base64.urlsafe_b64encode(hashlib.sha256(f"{indexer.id}:{ref}".encode()).digest()[:18]).decode()
        self._links[token] = (indexer, ref)
        return f"{self.url}/{indexer.id}/download?apikey={self.api_key}&link={token}&file={quote_plus(title)}"

    def generic_resource(self, ix: FakeIndexer, r: FakeRelease) -> dict[str, Any]:
        age = datetime.now(UTC) - r.publish_date
        link = self.proxy_link(ix, r, r.title)
        out: dict[str, Any] = {
            "id": 0,
            "guid": f"https://tracker.example/torrents/{r.link}",
            "age": age.days,
            "ageHours": round(age.total_seconds() / 3600, 1),
            "ageMinutes": round(age.total_seconds() / 60, 1),
            "size": r.size,
            "files": 1,
            "grabs": r.grabs,
            "indexerId": ix.id,
            "indexer": ix.name,
            "title": r.title,
            "sortTitle": r.title.lower(),
            "imdbId": 0, "tmdbId": 0, "tvdbId": 0, "tvMazeId": 0,
            "publishDate": r.publish_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "downloadUrl": link,
            "infoUrl": f"https://tracker.example/torrents/{r.link}",
            "indexerFlags": ["freeleech"] if r.freeleech else [],
            "categories": [{"id": c, "name": STANDARD.get(c, f"Custom {c}"), "subCategories": []}
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

    def gone(self, h: Any) -> int:
        self.send(h, 410, '<?xml version="1.0" encoding="UTF-8"?>\n'
                  '<error code="410" description="Release is no longer available"/>',
                  content_type="application/xml")
        return 410

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
        if path == "/api/v1/indexer":
            self.send(h, 200, [ix.resource() for ix in self.indexers])
            return 200
        segs = [s for s in path.split("/") if s]
        if len(segs) == 4 and segs[:3] == ["api", "v1", "indexer"] and segs[3].isdigit():
            ix = self.indexer(int(segs[3]))
            if ix is None:
                self.send(h, 404, {"message": "NotFound"})
                return 404
            self.send(h, 200, ix.resource())
            return 200
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
            return self._unavailable(h)
        if kind == "401":
            self.send(h, 401, b"", content_type="text/plain")
            return 401
        raise ValueError(f"unknown fault {kind!r}")

    def _unavailable(self, h: Any) -> int:
        self.send(h, 400, {"message": "Search failed due to all selected indexers being unavailable",
                           "description": "NzbDrone.Core.Exceptions.SearchFailedException: Search failed due to "
                                          "all selected indexers being unavailable\n   at ReleaseSearchService"})
        return 400

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
        ints: dict[str, list[int]] = {"categories": [], "indexerIds": [], "limit": [], "offset": []}
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
        text = query.get("query", "")
        limit = ints["limit"][-1] if ints["limit"] else 0  # SearchResource.Limit is an int: 0 if absent
        offset = ints["offset"][-1] if ints["offset"] else 0
        cats = set(ints["categories"])
        wanted = set(ints["indexerIds"])
        usable = [ix for ix in self.indexers if ix.state not in ("disabled", "backoff")]
        if wanted:
            usable = [ix for ix in usable if ix.id in wanted or (-1 in wanted and ix.protocol == "usenet")
                      or (-2 in wanted and ix.protocol == "torrent")]
            if not usable:
                return self._unavailable(h)
        if cats:
            usable = [ix for ix in usable if ix.supported(cats)]
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        for ix in usable:
            if self.search_delay:
                time.sleep(self.search_delay)
            if ix.state == "failing":
                continue  # logged and swallowed by ReleaseSearchService
            if not ix.supports_pagination and offset > 0:
                continue
            found = ix.query(self, text, query.get("type") or "search", cats, limit, offset)
            if cats:
                expanded = ix.expand(cats)
                found = [r for r in found if not r.get("categories")
                         or expanded & {c["id"] for c in r["categories"]}]
            for item in found:
                if item["guid"] in seen:
                    continue
                seen.add(item["guid"])
                results.append(item)
        self.send(h, 200, results)
        return 200

    def _download(self, h: Any, query: dict[str, str]) -> int:
        found = self._links.get(query.get("link") or "")
        if found is None:
            return self.gone(h)
        indexer, ref = found
        return indexer.download(self, h, ref)


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
