"""The two torrent search sources behind one small interface used by every acquisition workflow.

MAM is the primary source: a genre's ranking is MAM's own (most snatched first in the genre's
category, added since the window's first day), with freeleech and snatched-before flags.

Prowlarr is the route of users who reach the tracker only through it. A genre there is an
indexer category, not a word: each audiobook indexer's categories are read once per run
(``GET /api/v1/indexer``), the genre's category is found by name on each ("Audiobooks - Science
Fiction" is MAM's 47 as Prowlarr's 100047), and the category is browsed with an empty query,
newest first, page by page, until uploads are older than the window; then ranked by grabs
(seeders break ties). A MAM torrent is identified by its MAM id whichever route found it. When
``MAM_ID`` is set too, each MAM torrent the walk reaches is read once from MAM's JSON (one paced
request) for what Prowlarr drops: narrators, series, every author, tags and the snatched-before
flag. Both sources yield :class:`abook.models.Release` records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .acquisition import Guard, Policy
    from .clients.mam import MAM
    from .clients.prowlarr import Prowlarr
    from .clients.prowlarrdata import Indexer
    from .clients.qbittorrent import QBittorrent
    from .models import Release

log = logging.getLogger("abook")


@dataclass
class Acquisition:
    """Where releases come from and where they go: one set per run, built by the wiring for
    ``top10``, ``search``, ``fill-series`` and ``fill-authors``."""

    search: SearchSource
    qbt: QBittorrent | None
    policy: Policy
    guard: Guard | None = None


def window_start(now: datetime, days: int) -> datetime:
    """The first moment of a TOP10_DAYS window: midnight (UTC) of the day ``days`` ago, the
    day MAM's ``startDate`` names, so both routes rank the same uploads."""
    first = (now.astimezone(UTC) - timedelta(days=days)).date()
    return datetime.combine(first, time.min, tzinfo=UTC)


class Ranking:
    """One genre's ranking, best first (an iterator of releases), and what the source has to say
    if it runs out before the walk is done: an indexer that stopped paging, one that failed."""

    def __init__(self, releases: Iterable[Release], *, notes: Sequence[str] = (), seen: int | None = None) -> None:
        self._it = iter(releases)
        self.notes = list(notes)
        self.seen = seen  # candidates in the window, when the source knows them up front

    def __iter__(self) -> Ranking:
        return self

    def __next__(self) -> Release:
        return next(self._it)


class SearchSource(Protocol):
    name: str

    def ranked(self, genre: str, days: int, now: datetime) -> Iterator[Release]:
        """Audiobooks of ``genre`` added in the last ``days``, most snatched first (a
        :class:`Ranking`, or any iterator)."""
        ...

    def find(self, title: str, author: str = "") -> list[Release]:
        """Audiobooks matching a title (and author), best first."""
        ...

    def fetch(self, release: Release, *, wedge: bool = False) -> tuple[bytes | None, str | None]:
        """The .torrent bytes, or a magnet link, of one release (``wedge``: ask the tracker to spend
        a freeleech wedge with this download; only MAM knows wedges)."""
        ...


class MamSearch:
    name = "mam"

    def __init__(self, client: MAM, languages: tuple[int, ...] = (1,)) -> None:
        self.client = client
        self.languages = languages

    def _know_the_account(self) -> None:
        """MAM's VIP-only freeleech (``fl_vip``) is free only for a VIP account: learn the class
        once per run before reading results, or such torrents would look like they cost ratio."""
        if self.client.user_class is None:
            self.client.user_stats()

    def ranked(self, genre: str, days: int, now: datetime) -> Iterator[Release]:
        from .clients.mam import category_ids_for

        categories = category_ids_for(genre)  # an unknown genre fails before any request
        self._know_the_account()
        return Ranking(self.client.iter_search(
            "",
            categories=categories,
            languages=self.languages,
            start_date=window_start(now, days).date(),
            sort="snatchedDesc",
        ))

    def find(self, title: str, author: str = "") -> list[Release]:
        self._know_the_account()
        text = f"{title} {author}".strip()
        # the series field too: a query by series name (abook.queries) must find the uploads
        return self.client.search(
            text, srch_in=("title", "author", "series"), languages=self.languages, sort="seedersDesc",
            max_results=50,
        )

    def fetch(self, release: Release, *, wedge: bool = False) -> tuple[bytes | None, str | None]:
        return self.client.download(release, wedge=wedge), None

    def close(self) -> None:
        self.client.close()


class ProwlarrSearch:
    """Prowlarr as a search source (see the module docstring). ``mam`` gives the run's one MAM
    session when ``MAM_ID`` is set (built on first use), for the optional enrichment."""

    name = "prowlarr"
    page_size = 100  # MAM's largest page, and what Prowlarr's UI asks for
    max_pages = 50  # a safety stop: 5,000 uploads of one genre inside one window

    def __init__(self, client: Prowlarr, *, mam: Callable[[], MAM] | None = None) -> None:
        self.client = client
        self._mam = mam
        self._indexers: list[Indexer] | None = None
        self._read: dict[str, Release | None] = {}  # MAM torrent id -> MAM's record (one run)

    @property
    def enriches(self) -> bool:
        return self._mam is not None

    def indexers(self) -> list[Indexer]:
        """Prowlarr's indexers, read once per run."""
        if self._indexers is None:
            self._indexers = self.client.indexers()
        return self._indexers

    def _known(self) -> dict[int, Indexer]:
        return {ix.id: ix for ix in self.indexers()}

    # ------------------------------------------------------------ ranking
    def ranked(self, genre: str, days: int, now: datetime) -> Ranking:
        from .clients.prowlarrdata import genre_plan
        from .errors import AuthError, ServiceError

        plan = genre_plan(genre, self.indexers())  # an unknown genre fails before any search
        cutoff = window_start(now, days)
        found: dict[tuple[str, str], Release] = {}
        notes: list[str] = []
        failed: list[ServiceError] = []
        for indexer, categories in plan:
            try:
                releases, note = self._browse(indexer, categories, cutoff)
            except AuthError:
                raise
            except ServiceError as exc:
                # One indexer down among several: rank what the others have, and say so.
                failed.append(exc)
                notes.append(f"{indexer.name} could not be searched ({exc})")
                if len(plan) > 1:
                    log.warning("%s: %s could not be searched (%s); ranking the other indexers", genre,
                                indexer.name, exc)
                continue
            if note:
                notes.append(note)
            for release in releases:
                found.setdefault(release.identity, release)
        if failed and len(failed) == len(plan):
            raise failed[0]
        # Newest first in, most grabbed first out; sorted() keeps the newer of two equal ones first.
        ordered = sorted(found.values(), key=lambda r: (r.snatches, r.seeders), reverse=True)
        return Ranking((self.enrich(r) for r in ordered), notes=notes, seen=len(ordered))

    def _browse(self, indexer: Indexer, categories: tuple[int, ...], cutoff: datetime) -> tuple[list[Release], str]:
        """Every upload of ``categories`` on ``indexer`` since ``cutoff``: an empty query pages
        through the newest first. Returns them and a note when the listing ended early."""
        from .times import parse_iso

        limit = min(self.page_size, indexer.limits_max or self.page_size)
        known = self._known()
        out: list[Release] = []
        seen: set[tuple[str, str]] = set()
        offset = 0
        for _ in range(self.max_pages):
            page = self.client.search("", categories=categories, indexer_ids=(indexer.id,), limit=limit,
                                      offset=offset, known=known)
            if not page:
                if offset == 0:
                    return out, ""
                # Prowlarr answers an indexer that failed mid-search with an empty 200 as well.
                paging = "" if indexer.supports_pagination else " (Prowlarr says it cannot page)"
                return out, (f"{indexer.name} listed {offset} uploads, all inside the window, then nothing "
                             f"more{paging}: the end of the category, or the indexer stopped answering")
            fresh = [r for r in page if r.identity not in seen]
            if not fresh:
                return out, f"{indexer.name} answered offset {offset} with uploads it had already listed: it does not page"
            seen.update(r.identity for r in fresh)
            older = False
            for release in fresh:
                added = parse_iso(release.added)
                if added is not None and added < cutoff:
                    older = True
                    continue
                out.append(release)
            if older:
                return out, ""
            # Advance by what came back, not by what was asked: an indexer may cap its pages.
            offset += len(page)
        return out, f"stopped after {self.max_pages} pages ({offset} uploads) of {indexer.name}"

    # ---------------------------------------------------------- enrichment
    def enrich(self, release: Release) -> Release:
        """A MAM torrent seen through Prowlarr, completed from MAM's own record (one paced
        request, once per run) when MAM_ID is set; else as Prowlarr named it."""
        if self._mam is None or release.tracker != "mam" or not release.torrent_id.isdigit():
            return release
        tid = release.torrent_id
        if tid not in self._read:
            self._read[tid] = self._mam().torrent(tid)
        record = self._read[tid]
        if record is None:
            return replace(release, basis=f"MAM does not list torrent {tid} (any more); {release.basis}")
        return replace(
            record, source=self.name, tracker="mam", download_url=release.download_url,
            freeleech=record.freeleech or release.freeleech, info_hash=release.info_hash or record.info_hash,
            basis="", raw=release.raw,
        )

    # --------------------------------------------------------------- find
    def find(self, title: str, author: str = "") -> list[Release]:
        """A text search (title and author) of every audiobook indexer, best seeded first. With
        MAM_ID set, the MAM torrents whose title resembles ``title`` are read from MAM too (the
        others cannot be the book, and each read is a paced tracker request)."""
        from .clients.prowlarrdata import AUDIOBOOK_CATEGORY
        from .matching import title_similarity
        from .matching.distance import MIN_NEAR_TITLE

        text = f"{title} {author}".strip()
        results = self.client.search(text, categories=(AUDIOBOOK_CATEGORY,), type="search", known=self._known())
        results.sort(key=lambda r: r.seeders, reverse=True)
        if self._mam is None:
            return results
        budget = 10
        out = []
        for release in results:
            if budget and release.tracker == "mam" and title_similarity(title, release.title) >= MIN_NEAR_TITLE:
                budget -= 1
                release = self.enrich(release)
            out.append(release)
        return out

    def fetch(self, release: Release, *, wedge: bool = False) -> tuple[bytes | None, str | None]:
        if wedge:
            raise ValueError("freeleech wedges are asked for on MAM's own downloads only")
        return self.client.fetch(release)

    def close(self) -> None:
        self.client.close()


def refetch(search: SearchSource, row: Mapping[str, Any], *, wedge: bool = False) -> tuple[bytes | None, str | None]:
    """The .torrent (or magnet) of a recorded download, fetched again and checked by hash
    (``wedge``: with a freeleech wedge asked for, see :meth:`MamSearch.fetch`).

    The state file keeps no .torrent: a private tracker's .torrent carries the user's passkey,
    and the only secret the state file may hold is the tracker's session cookie.
    """
    import json

    from .models import Release
    from .torrent import magnet_info_hash, parse_torrent

    payload = json.loads(row.get("payload") or "{}")
    release = Release(source=row["source"], torrent_id=str(row["torrent_id"]), title=row.get("title") or "",
                      download_url=payload.get("download_url") or "", tracker=row.get("tracker") or "")
    data, magnet = search.fetch(release, wedge=wedge) if wedge else search.fetch(release)
    got = (parse_torrent(data).info_hash if data else magnet_info_hash(magnet or "")).lower()
    want = (row.get("info_hash") or "").lower()
    if want and got != want:
        raise ValueError(f"the tracker now serves another torrent (hash {got[:8]}…, expected {want[:8]}…)")
    return data, magnet
