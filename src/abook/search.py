"""The two torrent search sources behind one small interface used by every acquisition workflow.

MAM is the primary source (ranked by snatches in a genre category, freeleech flags, snatched-before
flag). Prowlarr is the second: it has no genre browsing, so a "genre ranking" there is a text
search for the genre in the audiobook category (3030), filtered to the date window and ranked by
grabs. Both yield :class:`abook.models.Release` records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .acquisition import Guard, Policy
    from .clients.mam import MAM
    from .clients.prowlarr import Prowlarr
    from .clients.qbittorrent import QBittorrent
    from .models import Release


@dataclass
class Acquisition:
    """Where releases come from and where they go: one set per run, built by the wiring for
    ``top10``, ``search``, ``fill-series`` and ``fill-authors``."""

    search: SearchSource
    qbt: QBittorrent | None
    policy: Policy
    guard: Guard | None = None


class SearchSource(Protocol):
    name: str

    def ranked(self, genre: str, days: int, now: datetime) -> Iterator[Release]:
        """Audiobooks of ``genre`` added in the last ``days``, most snatched first."""
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
        start = (now - timedelta(days=days)).date()
        return self.client.iter_search(
            "",
            categories=categories,
            languages=self.languages,
            start_date=start,
            sort="snatchedDesc",
        )

    def find(self, title: str, author: str = "") -> list[Release]:
        self._know_the_account()
        text = f"{title} {author}".strip()
        return self.client.search(
            text, srch_in=("title", "author"), languages=self.languages, sort="seedersDesc", max_results=50
        )

    def fetch(self, release: Release, *, wedge: bool = False) -> tuple[bytes | None, str | None]:
        return self.client.download(release, wedge=wedge), None

    def close(self) -> None:
        self.client.close()


class ProwlarrSearch:
    name = "prowlarr"

    def __init__(self, client: Prowlarr) -> None:
        self.client = client

    def ranked(self, genre: str, days: int, now: datetime) -> Iterator[Release]:
        from .times import parse_iso

        cutoff = now - timedelta(days=days)
        rows = []
        for release in self.client.search(genre, categories=(3030,), type="search"):
            added = parse_iso(release.added)
            if added is not None and added < cutoff:
                continue
            rows.append(release)
        rows.sort(key=lambda r: (r.snatches, r.seeders), reverse=True)
        return iter(rows)

    def find(self, title: str, author: str = "") -> list[Release]:
        results = self.client.search(f"{title} {author}".strip(), categories=(3030,), type="search")
        return sorted(results, key=lambda r: r.seeders, reverse=True)

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
                      download_url=payload.get("download_url") or "")
    data, magnet = search.fetch(release, wedge=wedge) if wedge else search.fetch(release)
    got = (parse_torrent(data).info_hash if data else magnet_info_hash(magnet or "")).lower()
    want = (row.get("info_hash") or "").lower()
    if want and got != want:
        raise ValueError(f"the tracker now serves another torrent (hash {got[:8]}…, expected {want[:8]}…)")
    return data, magnet
