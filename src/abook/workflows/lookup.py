"""``abook search``: one ad-hoc tracker query, every result judged the way the workflows judge it
(owned? near miss? unwanted edition?), and optionally one result queued through the same grab
path as top10 (ratio guard, hold, transactions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, HeldError
from .grab import Grabber, Outcome, Policy, build_index, owned_books, queued_books, screen

if TYPE_CHECKING:
    from ..clients.qbittorrent import QBittorrent
    from ..models import Release
    from ..search import SearchSource
    from ..state import State


@dataclass
class Hit:
    release: Release
    verdict: str  # new | owned | near_miss | queued | unwanted
    reason: str

    def as_dict(self) -> dict[str, Any]:
        r = self.release
        return {
            "source": r.source, "torrent_id": r.torrent_id, "title": r.title, "authors": list(r.authors),
            "narrators": list(r.narrators), "series": [[s.name, s.position] for s in r.series],
            "size": r.size, "seeders": r.seeders, "snatches": r.snatches, "freeleech": r.freeleech,
            "vip": r.vip, "filetypes": list(r.filetypes), "language": r.language,
            "verdict": self.verdict, "reason": self.reason,
        }


@dataclass
class LookupResult:
    query: str
    hits: list[Hit]
    queued: Outcome | None = None
    dry_run: bool = False


def judge(state: State, releases: list[Release], policy: Policy) -> list[Hit]:
    """Each release with the verdict top10 would reach for it."""
    owned = build_index(owned_books(state))
    queued = build_index(queued_books(state))
    hits = []
    for release in releases:
        mine = state.find_download(source=release.source, torrent_id=release.torrent_id)
        if mine is not None and mine["status"] != "failed":
            hits.append(Hit(release, "queued", f"already queued by abook ({mine['status']})"))
            continue
        why = screen(release, policy)
        if why:
            hits.append(Hit(release, "unwanted", why))
            continue
        match = owned.find(release.book())
        if match is not None and match.verdict == "same":
            hits.append(Hit(release, "owned", f"owned: {match.owned.title!r}"))
        elif match is not None:
            hits.append(Hit(release, "near_miss", f"near miss of owned {match.owned.title!r}: {match.reason}"))
        elif (q := queued.find(release.book())) is not None and q.verdict == "same":
            hits.append(Hit(release, "queued", "the same book is already queued by abook"))
        else:
            hits.append(Hit(release, "new", "not owned"))
    return hits


def run(
    state: State,
    search: SearchSource,
    qbt: QBittorrent | None,
    policy: Policy,
    *,
    query: str,
    author: str = "",
    queue: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    task_id: int | None = None,
    guard: Any = None,
) -> LookupResult:
    """Search, judge, and with ``queue`` grab the result with that torrent id."""
    hits = judge(state, search.find(query, author), policy)
    result = LookupResult(query=" ".join(p for p in (query, author) if p), hits=hits, dry_run=dry_run)
    if queue is None:
        return result
    chosen = next((h for h in hits if h.release.torrent_id == str(queue)), None)
    if chosen is None:
        raise ConfigError(f"--queue {queue}: no result of this search has that torrent id")
    if chosen.verdict != "new" and not force:
        raise ConfigError(f"--queue {queue}: {chosen.reason}; add --force to queue it anyway")
    hold = state.hold()
    if hold:
        raise HeldError(f"ratio hold is on ({hold}); nothing queued")
    grabber = Grabber(state, search, qbt, policy, dry_run=dry_run, task_id=task_id, guard=guard)
    result.queued = grabber.grab(chosen.release, reason="manual")
    return result
