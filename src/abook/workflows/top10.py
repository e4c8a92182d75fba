"""``abook top10``: queue the week's most snatched new audiobooks per genre, never one owned.

For each genre the tracker's ranking (most snatched first, added in the last ``days``) is walked
in order. A torrent abook already took for this genre counts toward the ``count`` (so a second run
in the same window queues nothing new, even after the first run's books reached the library);
everything else that is not wanted is skipped with its reason, and the next ranked book is taken
until exactly ``count`` are covered, or the ranking runs out (said clearly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import HeldError
from ..progress import NullProgress, Progress
from .grab import Grabber, Policy, build_index, owned_books, queued_books, screen

if TYPE_CHECKING:
    from ..clients.qbittorrent import QBittorrent
    from ..search import SearchSource
    from ..state import State


@dataclass
class Decision:
    rank: int
    title: str
    author: str
    decision: str  # queued | pending | held | counted | skipped | near_miss | would_queue | failed
    reason: str
    torrent_id: str = ""
    size: int = 0
    freeleech: bool = False


@dataclass
class GenreResult:
    genre: str
    wanted: int
    decisions: list[Decision] = field(default_factory=list)

    @property
    def covered(self) -> int:
        return sum(d.decision in ("queued", "pending", "counted", "would_queue") for d in self.decisions)

    @property
    def new(self) -> int:
        return sum(d.decision in ("queued", "pending", "would_queue") for d in self.decisions)

    @property
    def short(self) -> bool:
        return self.covered < self.wanted


@dataclass
class Top10Result:
    genres: list[GenreResult]
    dry_run: bool = False
    source: str = "mam"

    def counts(self) -> dict[str, int]:
        every = [d for g in self.genres for d in g.decisions]
        return {
            "queued": sum(d.decision == "queued" for d in every),
            "pending": sum(d.decision == "pending" for d in every),
            "held": sum(d.decision == "held" for d in every),
            "skipped": sum(d.decision in ("skipped", "near_miss") for d in every),
            "already": sum(d.decision == "counted" for d in every),
            "failed": sum(d.decision == "failed" for d in every),
        }


def run(
    state: State,
    search: SearchSource,
    qbt: QBittorrent | None,
    policy: Policy,
    *,
    genres: list[str],
    count: int,
    days: int,
    now: datetime,
    dry_run: bool = False,
    task_id: int | None = None,
    guard: Any = None,
    progress: Progress | None = None,
    max_walk: int = 500,
) -> Top10Result:
    """Walk each genre's ranking and queue until ``count`` new books are covered."""
    progress = progress or NullProgress()
    hold = state.hold()
    if hold:
        raise HeldError(f"ratio hold is on ({hold}); top10 queues nothing until `abook ratio-check` clears it")
    owned = build_index(owned_books(state))
    queued = build_index(queued_books(state))
    grabber = Grabber(state, search, qbt, policy, dry_run=dry_run, task_id=task_id, guard=guard)
    result = Top10Result(genres=[], dry_run=dry_run, source=search.name)
    for genre in genres:
        gres = GenreResult(genre=genre, wanted=count)
        result.genres.append(gres)
        progress.start(f"top10 {genre}", count)
        for rank, release in enumerate(search.ranked(genre, days, now), start=1):
            if gres.covered >= count or rank > max_walk:
                break
            decision = _decide(release, rank, genre, grabber, policy, owned, queued, task_id)
            gres.decisions.append(decision)
            if decision.decision in ("queued", "pending", "counted", "would_queue"):
                progress.advance()
            if decision.decision in ("queued", "pending", "would_queue", "held"):
                queued.add(release.book())
            # queued/pending/held rows were written together with their download.
            if decision.decision not in ("queued", "pending", "held") and not dry_run:
                state.record_decision(_decision_row(decision, genre, search.name, task_id))
            progress.event(f"{genre} #{rank}: {decision.decision}: {release.title} ({decision.reason})")
            if decision.decision == "held":
                break  # the guard said no: the rest of the ranking would be refused too
        progress.done()
        if gres.short:
            progress.warn(
                f"{genre}: only {gres.covered} of {count} new books could be taken; the ranking ran out"
            )
    return result


def _decide(
    release: Any,
    rank: int,
    genre: str,
    grabber: Grabber,
    policy: Policy,
    owned: Any,
    queued: Any,
    task_id: int | None,
) -> Decision:
    author = ", ".join(release.authors)
    base = {"rank": rank, "title": release.title, "author": author, "torrent_id": str(release.torrent_id),
            "size": release.size, "freeleech": bool(release.freeleech or release.personal_freeleech)}
    mine = grabber.known(release)
    if mine is not None:
        if mine["reason"] == "top10" and (mine["genre"] or "") == genre:
            return Decision(**base, decision="counted", reason=f"queued by abook earlier ({mine['status']})")
        return Decision(**base, decision="skipped", reason=f"already queued by abook ({mine['reason']})")
    why = screen(release, policy)
    if why:
        return Decision(**base, decision="skipped", reason=why)
    book = release.book()
    match = owned.find(book)
    if match is not None and match.verdict == "same":
        return Decision(**base, decision="skipped", reason=f"owned: {_label(match)}")
    near = match if match is not None and match.verdict == "near_miss" else None
    qmatch = queued.find(book)
    if qmatch is not None and qmatch.verdict == "same":
        return Decision(**base, decision="skipped", reason="same book already queued by abook")
    if near is not None:
        return Decision(**base, decision="near_miss", reason=f"near miss of owned {_label(near)}: not grabbed")
    decision_row = {
        "task_id": task_id, "genre": genre, "rank": rank, "source": release.source,
        "torrent_id": str(release.torrent_id), "title": release.title, "author": author, "reason": "",
    }
    outcome = grabber.grab(release, reason="top10", genre=genre, decision=decision_row)
    return Decision(**base, decision=outcome.decision, reason=outcome.reason)


def _label(match: Any) -> str:
    owned = getattr(match, "owned", None) or getattr(match, "book", None)
    title = getattr(owned, "title", "") if owned is not None else ""
    why = getattr(match, "reason", "")
    return f"{title!r} ({why})" if title else why


def _decision_row(d: Decision, genre: str, source: str, task_id: int | None) -> dict[str, Any]:
    return {
        "task_id": task_id, "genre": genre, "rank": d.rank, "source": source, "torrent_id": d.torrent_id,
        "title": d.title, "author": d.author, "decision": d.decision, "reason": d.reason,
    }
