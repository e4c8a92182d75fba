"""Shared mechanics of every acquisition (top10, fill-series, fill-authors, search --queue).

Order of a grab, chosen so that a run killed at any point and run again never queues a torrent
twice and loses no record:

1. ask the guard (ratio / unsatisfied slots; see ``ratio.py``);
2. in ONE transaction: the ``downloads`` row (status ``pending``) and the decision that chose it.
   This comes before the tracker is asked for anything: on MAM fetching a .torrent is a snatch,
   and a run killed right after it must find its own record, not a "snatched before" flag;
3. a guard refusal, or ``MAX_ACTIVE_DOWNLOADS`` reached, stops here: the row waits ``pending``
   and ``abook downloads`` fetches and submits it later;
4. fetch the .torrent (or magnet) and compute its info hash; a torrent the tracker refuses, one
   abook already has under another row, or one already in qBittorrent discards the row again;
   the .torrent is never stored (it carries the passkey), a later submission fetches it again;
5. add it to qBittorrent, confirm it by hash, and mark it ``queued``. Killed before that, the row
   stays ``pending`` and ``abook downloads`` submits it; killed after the add, the resubmission
   finds the hash already in qBittorrent and only marks it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, ServiceError

if TYPE_CHECKING:
    from ..clients.qbittorrent import QBittorrent
    from ..matching import LibraryIndex
    from ..models import BookRef, Release
    from ..search import SearchSource
    from ..state import State

log = logging.getLogger("abook")


@dataclass(frozen=True)
class Policy:
    """What a grab may take and where it goes (from Settings)."""

    languages: tuple[str, ...] = ("English",)
    allow_abridged: bool = False
    allow_dramatized: bool = False
    category: str = "audiobooks"
    tags: tuple[str, ...] = ("abook",)
    save_path: str = ""
    max_active: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(
            languages=tuple(settings.languages),
            allow_abridged=settings.allow_abridged,
            allow_dramatized=settings.allow_dramatized,
            category=settings.qb_category,
            tags=tuple(settings.qb_tags),
            save_path=settings.qb_save_path,
            max_active=settings.max_active_downloads,
        )


def screen(release: Release, policy: Policy) -> str | None:
    """Why this release must not be grabbed at all, or None. Pure."""
    from ..matching import edition_class, language_ok

    if release.main_category and release.main_category != "audiobook":
        return f"not an audiobook ({release.main_category})"
    if release.my_snatched:
        return "snatched before"
    if release.language and policy.languages and not language_ok(release.language, policy.languages):
        return f"language {release.language}"
    classes = edition_class(release.title, release.tags, release.description)
    if "summary" in classes:
        return "a summary / study guide"
    if "omnibus" in classes:
        return "an omnibus / box set"
    if "abridged" in classes and not policy.allow_abridged:
        return "abridged edition"
    if "dramatized" in classes and not policy.allow_dramatized:
        return "dramatized / full-cast edition"
    return None


@dataclass
class Outcome:
    decision: str  # queued | pending | held | skipped | would_queue | failed
    reason: str
    download_id: int | None = None
    info_hash: str = ""


@dataclass
class Grabber:
    state: State
    search: SearchSource
    qbt: QBittorrent | None
    policy: Policy
    dry_run: bool = False
    task_id: int | None = None
    # guard(release) -> refusal reason or None; the ratio guard plugs in here.
    guard: Callable[[Release], str | None] | None = None
    _qbt_hashes: set[str] | None = field(default=None, init=False)
    _active: int = field(default=0, init=False)

    # -------------------------------------------------------------- lookups
    def _load_qbt(self) -> None:
        if self._qbt_hashes is not None:
            return
        if self.qbt is None:
            self._qbt_hashes, self._active = set(), 0
            return
        torrents = self.qbt.torrents()
        self._qbt_hashes = {t.hash.lower() for t in torrents}
        mine = {d["qb_hash"] or d["info_hash"] for d in self.state.downloads(("queued", "downloading"))}
        tag = self.policy.tags[0] if self.policy.tags else ""
        self._active = sum(
            1 for t in torrents
            if not t.is_complete and (t.hash.lower() in mine or (tag and tag in t.tags))
        )

    def in_qbittorrent(self, info_hash: str) -> bool:
        self._load_qbt()
        assert self._qbt_hashes is not None
        return info_hash.lower() in self._qbt_hashes

    def active(self) -> int:
        self._load_qbt()
        return self._active

    def known(self, release: Release) -> dict[str, Any] | None:
        """abook's earlier download of this very torrent (failed ones excluded)."""
        row = self.state.find_download(source=release.source, torrent_id=release.torrent_id,
                                       info_hash=release.info_hash)
        return row if row and row["status"] != "failed" else None

    # ----------------------------------------------------------------- grab
    def grab(
        self,
        release: Release,
        *,
        reason: str,
        genre: str = "",
        book: BookRef | None = None,
        decision: dict[str, Any] | None = None,
    ) -> Outcome:
        """Queue one release (see the module docstring for the order of steps)."""
        if self.dry_run:
            return Outcome("would_queue", "dry run: would queue")
        known_hash = (release.info_hash or "").lower()
        if known_hash and self.state.find_download(info_hash=known_hash):
            return Outcome("skipped", "already queued by abook (same torrent)", info_hash=known_hash)
        if known_hash and self.in_qbittorrent(known_hash):
            return Outcome("skipped", "already in qBittorrent", info_hash=known_hash)
        refusal = self.guard(release) if self.guard else None
        waiting = ""
        if refusal is None and self.active() >= self.policy.max_active:
            waiting = f"{self.policy.max_active} downloads active; waits for `abook downloads`"
        label = "held" if refusal else "pending" if waiting else "queued"
        # Recorded BEFORE the tracker is asked for the .torrent: fetching it counts as a snatch on
        # MAM, so a run killed right after the fetch must find its own record, not "snatched before".
        row = _download_row(release, reason=reason, genre=genre, info_hash=known_hash,
                            status_reason=refusal or waiting or "fetching the .torrent",
                            task_id=self.task_id, book=book)
        dl_id = self.state.add_download(row, {**decision, "decision": label} if decision else None)
        if refusal is not None:
            return Outcome("held", refusal, dl_id, known_hash)
        if waiting:
            return Outcome("pending", waiting, dl_id, known_hash)
        try:
            data, magnet = self.search.fetch(release)
        except AuthError:
            raise
        except ServiceError as exc:
            if exc.status is None or exc.status >= 500:
                raise  # the tracker itself is in trouble: stop (the row stays pending for later)
            return self._failed(release, reason, f"the tracker refused this torrent ({exc})", dl_id)
        except ValueError as exc:
            return self._failed(release, reason, f"the tracker did not send a torrent ({exc})", dl_id)
        from ..torrent import magnet_info_hash, parse_torrent

        info_hash = (parse_torrent(data).info_hash if data else magnet_info_hash(magnet or "")).lower()
        other = self.state.find_download(info_hash=info_hash)
        if other is not None and other["id"] != dl_id:
            self.state.discard_download(dl_id, "skipped", "already queued by abook (same torrent)")
            return Outcome("skipped", "already queued by abook (same torrent)", info_hash=info_hash)
        if self.in_qbittorrent(info_hash):
            self.state.discard_download(dl_id, "skipped", "already in qBittorrent")
            return Outcome("skipped", "already in qBittorrent", info_hash=info_hash)
        self.state.update_download(dl_id, info_hash=info_hash, status_reason=None)
        try:
            self.submit(dl_id, release_tags=_extra_tags(reason, genre, release.source), data=data, magnet=magnet,
                        info_hash=info_hash)
        except ServiceError as exc:
            # The row stays pending: `abook downloads` retries the submission.
            self.state.update_download(dl_id, status_reason=f"qBittorrent add failed: {exc}")
            return Outcome("pending", f"qBittorrent add failed, will retry: {exc}", dl_id, info_hash)
        return Outcome("queued", "queued", dl_id, info_hash)

    def _failed(self, release: Release, reason: str, why: str, dl_id: int) -> Outcome:
        with self.state.tx():
            self.state.discard_download(dl_id, "failed", why)
            self.state.record_failure(
                reason, "grab", "fetch", why, ref=f"{release.source}:{release.torrent_id}", title=release.title,
                task_id=self.task_id,
            )
        return Outcome("failed", why)

    def submit(
        self, dl_id: int, *, release_tags: Iterable[str], data: bytes | None, magnet: str | None, info_hash: str
    ) -> None:
        """Add a recorded download to qBittorrent, confirm it, mark it queued."""
        assert self.qbt is not None
        self.qbt.ensure_category(self.policy.category, self.policy.save_path)
        torrent = self.qbt.add_torrent(
            data if data else None,
            magnet=None if data else magnet,
            category=self.policy.category,
            tags=[*self.policy.tags, *release_tags],
            save_path=self.policy.save_path,
            expected_hash=info_hash,
        )
        self.state.update_download(dl_id, status="queued", qb_hash=torrent.hash.lower(),
                                   info_hash=(info_hash or torrent.hash).lower(), status_reason=None)
        self._load_qbt()
        assert self._qbt_hashes is not None
        self._qbt_hashes.add(torrent.hash.lower())
        self._active += 1


def _extra_tags(reason: str, genre: str, source: str) -> list[str]:
    tags = [f"abook:{reason}", f"src:{source}"]
    if genre:
        tags.append(f"genre:{genre}")
    return tags


def _download_row(
    release: Release,
    *,
    reason: str,
    genre: str,
    info_hash: str,
    status_reason: str,
    task_id: int | None,
    book: BookRef | None,
) -> dict[str, Any]:
    series = release.series[0] if release.series else None
    if book is not None and book.series and series is None:
        series = book.series[0]
    return {
        "source": release.source,
        "torrent_id": str(release.torrent_id),
        "info_hash": info_hash,
        "title": release.title,
        "author": ", ".join(release.authors),
        "series": series.name if series else None,
        "series_position": series.position if series else None,
        "narrator": ", ".join(release.narrators),
        "language": release.language or None,
        "genre": genre or None,
        "reason": reason,
        "size": release.size,
        "freeleech": int(release.freeleech or release.personal_freeleech),
        "vip": int(release.vip),
        "filetype": ",".join(release.filetypes) or None,
        "status": "pending",
        "status_reason": status_reason or None,
        "payload": json.dumps(_payload(release), default=str),
        "task_id": task_id,
    }


def _payload(release: Release) -> dict[str, Any]:
    return {
        "title": release.title,
        "authors": list(release.authors),
        "narrators": list(release.narrators),
        "series": [[s.name, s.position] for s in release.series],
        "category": release.category,
        "language": release.language,
        "filetypes": list(release.filetypes),
        "size": release.size,
        "seeders": release.seeders,
        "snatches": release.snatches,
        "added": release.added,
        "freeleech": release.freeleech,
        "vip": release.vip,
        "tags": release.tags,
        "description": release.description[:2000],
        "download_url": _without_key(release.download_url),
    }


def _without_key(url: str) -> str:
    """A Prowlarr proxy link minus its ``apikey`` (the client sends the key as a header)."""
    if not url:
        return ""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "apikey"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def refetch(search: SearchSource, row: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """The .torrent (or magnet) of a recorded download, fetched again and checked by hash.

    The state file keeps no .torrent: a private tracker's .torrent carries the user's passkey,
    and the only secret the state file may hold is the tracker's session cookie.
    """
    from ..models import Release
    from ..torrent import magnet_info_hash, parse_torrent

    payload = json.loads(row.get("payload") or "{}")
    release = Release(source=row["source"], torrent_id=str(row["torrent_id"]), title=row.get("title") or "",
                      download_url=payload.get("download_url") or "")
    data, magnet = search.fetch(release)
    got = (parse_torrent(data).info_hash if data else magnet_info_hash(magnet or "")).lower()
    want = (row.get("info_hash") or "").lower()
    if want and got != want:
        raise ValueError(f"the tracker now serves another torrent (hash {got[:8]}…, expected {want[:8]}…)")
    return data, magnet


def queued_books(state: State) -> list[BookRef]:
    """What abook has queued or downloaded (not failed), as BookRefs for the owned-check."""
    from ..models import BookRef, SeriesRef

    out = []
    for row in state.downloads(("pending", "queued", "downloading", "completed", "imported", "done")):
        out.append(
            BookRef(
                title=row["title"] or "",
                authors=tuple(a.strip() for a in (row["author"] or "").split(",") if a.strip()),
                series=(SeriesRef(row["series"], row["series_position"]),) if row["series"] else (),
                ref=f"download:{row['id']}",
            )
        )
    return out


def owned_books(state: State) -> list[BookRef]:
    """The mirrored library as BookRefs."""
    from ..library import book_ref

    return [book_ref(row) for row in state.books()]


def build_index(books: Iterable[BookRef]) -> LibraryIndex:
    from ..matching import LibraryIndex

    return LibraryIndex(books)
