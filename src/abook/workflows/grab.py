"""The one acquisition path: judge a release, grab it, submit it to qBittorrent.

``top10``, ``search``, ``fill-series`` and ``fill-authors`` all decide with :func:`judge`, so one
release gets one verdict whichever command looks at it; all of them (and ``downloads``) add to
qBittorrent through one :class:`Submitter`.

Order of a grab, chosen so that a run killed at any point and run again never queues a torrent
twice and loses no record:

1. ask the guard (ratio, upload buffer, unsatisfied slots; see ``guard.py``) on the search's flags;
   when it agrees and there is room, take the **fresh look**: the torrent read again by id (one
   paced request) and judged again on its flags as they are now (freeleech may have ended since
   the search; a torrent the account snatched meanwhile, or the tracker no longer lists, is not
   taken); the look also decides whether to ask for a freeleech wedge with the download;
2. in ONE transaction: the ``downloads`` row (status ``pending``) and the decision that chose it.
   This comes before the tracker is asked for anything: on MAM fetching a .torrent is a snatch,
   and a run killed right after it must find its own record, not a "snatched before" flag;
3. a guard refusal, or ``MAX_ACTIVE_DOWNLOADS`` reached, stops here: the row waits ``pending``
   and ``abook downloads`` looks again, fetches and submits it later;
4. record that the .torrent is being fetched (``fetched_at``: the snatch, which the guard counts
   as abook's own until MAM's numbers show it) and, with a wedge, ``wedge=requested`` and the
   account's wedge count, all before asking: a run killed in between never asks for a second
   wedge for the same download. Then fetch the .torrent (or magnet) and compute its info hash; a
   torrent the tracker refuses, one abook already has under another row, or one already in
   qBittorrent discards the row again; the .torrent is never stored (it carries the passkey), a
   later submission fetches it again. After a wedge the account is read again: the wedge is
   ``used`` only when the account's wedge count dropped (``not_spent`` otherwise, and MAM's JSON
   refusal is ``refused``, after which the torrent is fetched without one); each outcome is a
   tracker snapshot like a purchase, and every one but ``used`` also a ``failed_attempts`` row;
5. add it to qBittorrent, confirm it by hash, and mark it ``queued``. Killed before that, the row
   stays ``pending`` and ``abook downloads`` submits it; killed after the add, the resubmission
   finds the hash already in qBittorrent and only marks it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..acquisition import Guard, Policy, Verdict
from ..acquisition import judge as judge_release
from ..errors import AuthError, ServiceError
from ..models import LIVE, Decision, DownloadStatus
from ..search import Acquisition

if TYPE_CHECKING:
    from ..clients.qbittorrent import QBittorrent
    from ..matching import LibraryIndex
    from ..models import BookRef, Release
    from ..search import SearchSource
    from ..state import State

log = logging.getLogger("abook")


# =================================================================================== judge
@dataclass
class Shelf:
    """What a release is judged against: the owned library, what abook has queued, and abook's
    own download records. Build once per run with :meth:`load`; :meth:`remember` what the run
    takes so that a second torrent of the same book is refused in the same run."""

    state: State
    policy: Policy
    owned: LibraryIndex
    queued: LibraryIndex

    @classmethod
    def load(cls, state: State, policy: Policy) -> Shelf:
        from ..library import book_ref
        from ..matching import LibraryIndex

        return cls(state, policy, LibraryIndex(book_ref(r) for r in state.books()),
                   LibraryIndex(queued_books(state)))

    def mine(self, release: Release) -> dict[str, Any] | None:
        """abook's earlier download of this very torrent, by tracker id (whichever route found
        it) or info hash."""
        tracker, torrent_id = release.identity
        return self.state.find_download(tracker=tracker, torrent_id=torrent_id, info_hash=release.info_hash)

    def remember(self, *books: BookRef) -> None:
        for book in books:
            self.queued.add(book)


def judge(release: Release, shelf: Shelf, *, target: BookRef | None = None) -> Verdict:
    """:func:`abook.acquisition.judge` with what the shelf knows (the one verdict of every
    acquisition command)."""
    return judge_release(release, shelf.policy, owned=shelf.owned, queued=shelf.queued,
                         mine=shelf.mine(release), target=target)


def queued_books(state: State) -> list[BookRef]:
    """What abook has queued or downloaded (not failed), as BookRefs for the owned-check."""
    from ..models import BookRef, SeriesRef

    return [
        BookRef(
            title=row["title"] or "",
            authors=tuple(a.strip() for a in (row["author"] or "").split(",") if a.strip()),
            series=(SeriesRef(row["series"], row["series_position"]),) if row["series"] else (),
            ref=f"download:{row['id']}",
        )
        for row in state.downloads(LIVE)
    ]


# ================================================================================= submit
@dataclass
class Submitter:
    """The one way a recorded download goes into qBittorrent: add, confirm by hash, mark queued.

    Knows what qBittorrent holds (read once) and how many of abook's torrents are unfinished."""

    state: State
    qbt: QBittorrent | None
    policy: Policy
    _hashes: set[str] | None = field(default=None, init=False)
    _active: int = field(default=0, init=False)

    def _load(self) -> set[str]:
        if self._hashes is None:
            if self.qbt is None:
                self._hashes, self._active = set(), 0
            else:
                torrents = self.qbt.torrents()
                self._hashes = {t.hash.lower() for t in torrents}
                mine = {d["qb_hash"] or d["info_hash"]
                        for d in self.state.downloads((DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING))}
                tag = self.policy.tags[0] if self.policy.tags else ""
                self._active = sum(
                    1 for t in torrents
                    if not t.is_complete and (t.hash.lower() in mine or (tag and tag in t.tags))
                )
        return self._hashes

    def in_qbittorrent(self, info_hash: str) -> bool:
        return info_hash.lower() in self._load()

    def active(self) -> int:
        self._load()
        return self._active

    def room(self) -> bool:
        """Fewer than MAX_ACTIVE_DOWNLOADS of abook's torrents are unfinished."""
        return self.active() < self.policy.max_active

    def submit(
        self, dl_id: int, *, release_tags: Iterable[str], data: bytes | None, magnet: str | None, info_hash: str
    ) -> None:
        """Add a recorded download to qBittorrent, confirm it, mark it queued."""
        if self.qbt is None:
            raise ServiceError("qBittorrent is not configured: set QB_URL", service="qBittorrent")
        self.qbt.ensure_category(self.policy.category, self.policy.save_path)
        torrent = self.qbt.add_torrent(
            data if data else None,
            magnet=None if data else magnet,
            category=self.policy.category,
            tags=[*self.policy.tags, *release_tags],
            save_path=self.policy.save_path,
            expected_hash=info_hash,
        )
        self.state.update_download(dl_id, status=DownloadStatus.QUEUED, qb_hash=torrent.hash.lower(),
                                   info_hash=(info_hash or torrent.hash).lower(), status_reason=None)
        self._load().add(torrent.hash.lower())
        self._active += 1


# ============================================================================ fresh look
def fresh_look(guard: Guard | None, release: Release, *, fresh: bool = True) -> Any:
    """The guard's fresh look at a pick right before its .torrent is fetched (a
    :class:`abook.guard.Clearance`), or None when the guard has none (Prowlarr, tests)."""
    look = getattr(guard, "look", None)
    if look is None or release.identity[0] != "mam":
        return None
    return look(release, fresh=fresh)


@dataclass
class WedgeUse:
    """What became of a wedge asked for with a download."""

    outcome: str  # used | not_spent | refused | unconfirmed
    message: str


def fetch_torrent(
    state: State,
    guard: Guard | None,
    fetch: Callable[[bool], tuple[bytes | None, str | None]],
    dl_id: int,
    release: Release,
    clearance: Any,
    *,
    command: str,
    task_id: int | None,
) -> tuple[bytes | None, str | None, WedgeUse | None]:
    """Fetch a recorded download's .torrent (``fetch(wedge)``), the fetch and any wedge recorded
    first (see the module docstring, step 4)."""
    from ..clients.mam import DownloadRefused

    wedge = bool(clearance is not None and clearance.wedge)
    before = guard.current().wedges if wedge else None  # type: ignore[union-attr]
    first = not (state.get_download(dl_id) or {}).get("fetched_at")
    state.mark_fetching(dl_id, wedges_before=before)
    try:
        try:
            data, magnet = fetch(wedge)
        except DownloadRefused as exc:
            if not wedge:
                raise
            # MAM said no to the wedge (and served nothing): the guard passed the pick as one that
            # costs ratio, so it is fetched without a wedge.
            use = record_wedge(state, dl_id, release, "refused",
                               f"MAM refused the wedge ({exc.detail or 'no reason given'}); fetched without one",
                               command=command, task_id=task_id)
            data, magnet = fetch(False)
            return data, magnet, use
    except ServiceError as exc:
        if exc.status is not None and first:
            state.unmark_fetching(dl_id)  # the tracker answered with an error: nothing was snatched
        raise
    if not wedge:
        return data, magnet, None
    return data, magnet, settle_wedge(state, guard, dl_id, release, before, command=command, task_id=task_id)


def settle_wedge(
    state: State, guard: Any, dl_id: int, release: Release, before: int | None, *, command: str, task_id: int | None
) -> WedgeUse:
    """Read the account again: the wedge was spent only if its wedge count dropped."""
    try:
        stats = guard.wedges_now()
    except AuthError:
        raise
    except ServiceError as exc:
        return record_wedge(state, dl_id, release, "unconfirmed",
                            f"the account could not be read to confirm the wedge ({exc}); counted as not spent",
                            command=command, task_id=task_id)
    after = stats.wedges
    if before is not None and after is not None and after < before:
        return record_wedge(state, dl_id, release, "used", f"{after} wedges left", stats=stats,
                            command=command, task_id=task_id)
    return record_wedge(state, dl_id, release, "not_spent",
                        f"the account still holds {after} wedges: MAM did not spend one, the torrent costs ratio",
                        stats=stats, command=command, task_id=task_id)


def record_wedge(
    state: State, dl_id: int, release: Release, outcome: str, message: str, *,
    command: str, task_id: int | None, stats: Any = None,
) -> WedgeUse:
    """One wedge outcome, recorded like a bonus-store purchase: the download's ``wedge``, a tracker
    snapshot whose action says it, and (all but ``used``) a permanent ``failed_attempts`` row."""
    from ..times import iso

    label = f"{release.title} (#{release.torrent_id})"
    with state.tx():
        state.set_wedge(dl_id, outcome, freeleech=True if outcome == "used" else None)
        if stats is not None:
            state.add_snapshot({
                "taken_at": iso(), "username": stats.username, "ratio": stats.ratio if math.isfinite(stats.ratio) else None,
                "uploaded": stats.uploaded, "downloaded": stats.downloaded, "bonus": float(stats.seedbonus or 0),
                "class_name": stats.user_class, "vip_until": iso(stats.vip_until) if stats.vip_until else None,
                "unsat_count": stats.unsat_count, "unsat_limit": stats.unsat_limit,
                "action": f"wedge {outcome.replace('_', ' ')}: {label}: {message}", "raw": None,
            })
        if outcome != "used":
            state.record_failure(command, "bonus", f"wedge_{outcome}", f"wedge for {label}: {message}",
                                 ref=f"{release.source}:{release.torrent_id}", title=release.title, task_id=task_id)
    return WedgeUse(outcome, message)


def resolve_wedge(state: State, row: dict[str, Any], clearance: Any) -> None:
    """A wedge asked for by an earlier run that did not see the answer (killed, or the account
    unreadable): the fresh look shows the torrent personal freeleech only if it was spent."""
    if clearance is None or not clearance.looked or row.get("wedge") not in ("requested", "unconfirmed"):
        return
    if clearance.release.personal_freeleech:
        state.set_wedge(row["id"], "used", freeleech=True)
    elif row.get("wedge") == "requested":
        state.set_wedge(row["id"], "unconfirmed")


# =================================================================================== grab
@dataclass
class Outcome:
    decision: Decision  # queued | pending | held | skipped | would_queue | failed
    reason: str
    download_id: int | None = None
    info_hash: str = ""


@dataclass
class Grabber:
    """Takes releases that :func:`judge` called new (see the module docstring for the order)."""

    state: State
    search: SearchSource
    submitter: Submitter
    dry_run: bool = False
    task_id: int | None = None
    guard: Guard | None = None

    @classmethod
    def for_run(cls, state: State, acq: Acquisition, *, dry_run: bool = False,
                task_id: int | None = None) -> Grabber:
        return cls(state, acq.search, Submitter(state, acq.qbt, acq.policy), dry_run=dry_run,
                   task_id=task_id, guard=acq.guard)

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
            return Outcome(Decision.WOULD_QUEUE, "dry run: would queue")
        known_hash = (release.info_hash or "").lower()
        if known_hash and self.state.find_download(info_hash=known_hash):
            return Outcome(Decision.SKIPPED, "already queued by abook (same torrent)", info_hash=known_hash)
        if known_hash and self.submitter.in_qbittorrent(known_hash):
            return Outcome(Decision.SKIPPED, "already in qBittorrent", info_hash=known_hash)
        refusal = self.guard(release) if self.guard else None
        waiting = ""
        if refusal is None and not self.submitter.room():
            waiting = f"{self.submitter.policy.max_active} downloads active; waits for `abook downloads`"
        clearance = None
        if refusal is None and not waiting:
            clearance = fresh_look(self.guard, release)
            if clearance is not None:
                if clearance.gone:
                    # Not SKIPPED: that says "this very torrent is already on its way".
                    return Outcome(Decision.NOT_FOUND, f"fresh look: {clearance.gone}")
                release, refusal = clearance.release, clearance.refusal
        label = Decision.HELD if refusal else Decision.PENDING if waiting else Decision.QUEUED
        # Recorded BEFORE the tracker is asked for the .torrent: fetching it counts as a snatch on
        # MAM, so a run killed right after the fetch must find its own record, not "snatched before".
        row = _download_row(release, reason=reason, genre=genre, info_hash=known_hash,
                            status_reason=refusal or waiting or "fetching the .torrent",
                            task_id=self.task_id, book=book)
        dl_id = self.state.add_download(row, {**decision, "decision": label} if decision else None)
        if refusal is not None:
            return Outcome(Decision.HELD, refusal, dl_id, known_hash)
        if waiting:
            return Outcome(Decision.PENDING, waiting, dl_id, known_hash)
        def fetch(wedge: bool) -> tuple[bytes | None, str | None]:
            return self.search.fetch(release, wedge=True) if wedge else self.search.fetch(release)

        try:
            data, magnet, _wedge = fetch_torrent(self.state, self.guard, fetch, dl_id, release, clearance,
                                                 command=reason, task_id=self.task_id)
        except AuthError:
            raise
        except ServiceError as exc:
            if exc.status is None or exc.status >= 500 or exc.status == 429:
                raise  # the tracker itself is in trouble: stop (the row stays pending for later)
            return self._failed(release, reason, f"the tracker refused this torrent ({exc})", dl_id)
        except ValueError as exc:
            return self._failed(release, reason, f"the tracker did not send a torrent ({exc})", dl_id)
        from ..torrent import magnet_info_hash, parse_torrent

        info_hash = (parse_torrent(data).info_hash if data else magnet_info_hash(magnet or "")).lower()
        other = self.state.find_download(info_hash=info_hash)
        if other is not None and other["id"] != dl_id:
            self.state.discard_download(dl_id, Decision.SKIPPED, "already queued by abook (same torrent)")
            return Outcome(Decision.SKIPPED, "already queued by abook (same torrent)", info_hash=info_hash)
        if self.submitter.in_qbittorrent(info_hash):
            self.state.discard_download(dl_id, Decision.SKIPPED, "already in qBittorrent")
            return Outcome(Decision.SKIPPED, "already in qBittorrent", info_hash=info_hash)
        self.state.update_download(dl_id, info_hash=info_hash, status_reason=None)
        try:
            self.submitter.submit(dl_id, release_tags=extra_tags(reason, genre, release.source), data=data,
                                  magnet=magnet, info_hash=info_hash)
        except ServiceError as exc:
            # The row stays pending: `abook downloads` retries the submission.
            self.state.update_download(dl_id, status_reason=f"qBittorrent add failed: {exc}")
            return Outcome(Decision.PENDING, f"qBittorrent add failed, will retry: {exc}", dl_id, info_hash)
        return Outcome(Decision.QUEUED, "queued", dl_id, info_hash)

    def _failed(self, release: Release, reason: str, why: str, dl_id: int) -> Outcome:
        with self.state.tx():
            self.state.discard_download(dl_id, Decision.FAILED, why)
            self.state.record_failure(
                reason, "grab", "fetch", why, ref=f"{release.source}:{release.torrent_id}", title=release.title,
                task_id=self.task_id,
            )
        return Outcome(Decision.FAILED, why)


def extra_tags(reason: str, genre: str, source: str) -> list[str]:
    """The qBittorrent tags that say why abook took a torrent and from where."""
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
        "tracker": release.identity[0],
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
        "status": DownloadStatus.PENDING,
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
