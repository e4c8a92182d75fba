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

from ..errors import HeldError, PartialFailure
from ..models import TAKEN, Decision, Judgement
from ..progress import NullProgress, Progress
from .grab import Grabber, Shelf, judge

if TYPE_CHECKING:
    from ..models import Release
    from ..search import Acquisition
    from ..state import State

#: decisions that cover one of the N books of a genre
COVERED = (*TAKEN, Decision.COUNTED)


@dataclass
class Pick:
    """What this run decided for one ranked torrent."""

    rank: int
    title: str
    author: str
    decision: Decision  # queued | pending | held | counted | skipped | near_miss | would_queue | failed
    reason: str
    torrent_id: str = ""
    size: int = 0
    freeleech: bool = False


@dataclass
class GenreResult:
    genre: str
    wanted: int
    decisions: list[Pick] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the source said of its ranking

    @property
    def covered(self) -> int:
        return sum(d.decision in COVERED for d in self.decisions)

    @property
    def new(self) -> int:
        return sum(d.decision in TAKEN for d in self.decisions)

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
            "queued": sum(d.decision == Decision.QUEUED for d in every),
            "pending": sum(d.decision == Decision.PENDING for d in every),
            "held": sum(d.decision == Decision.HELD for d in every),
            "skipped": sum(d.decision in (Decision.SKIPPED, Decision.NEAR_MISS) for d in every),
            "already": sum(d.decision == Decision.COUNTED for d in every),
            "failed": sum(d.decision == Decision.FAILED for d in every),
        }

    def error(self) -> PartialFailure | None:
        """What the command's exit code must say (None: done)."""
        failed = self.counts()["failed"]
        return PartialFailure(f"{failed} torrents could not be fetched (see above)") if failed else None


def run(
    state: State,
    acq: Acquisition,
    *,
    genres: list[str],
    count: int,
    days: int,
    now: datetime,
    dry_run: bool = False,
    task_id: int | None = None,
    progress: Progress | None = None,
    max_walk: int = 500,
) -> Top10Result:
    """Walk each genre's ranking and queue until ``count`` new books are covered."""
    progress = progress or NullProgress()
    hold = state.hold()
    if hold:
        raise HeldError(f"ratio hold is on ({hold}); top10 queues nothing until `abook ratio-check` clears it")
    search = acq.search
    shelf = Shelf.load(state, acq.policy)
    grabber = Grabber.for_run(state, acq, dry_run=dry_run, task_id=task_id)
    result = Top10Result(genres=[], dry_run=dry_run, source=search.name)
    for genre in genres:
        gres = GenreResult(genre=genre, wanted=count)
        result.genres.append(gres)
        progress.start(f"top10 {genre}", count)
        ranking = iter(search.ranked(genre, days, now))
        rank = 0
        # Checked before the next one is pulled: a source may pay a tracker request for it.
        while gres.covered < count and rank < max_walk:
            release = next(ranking, None)
            if release is None:
                break
            rank += 1
            pick = _decide(release, rank, genre, grabber, shelf, task_id)
            gres.decisions.append(pick)
            if pick.decision in COVERED:
                progress.advance()
            if pick.decision in (*TAKEN, Decision.HELD):
                shelf.remember(release.book())
            # queued/pending/held rows were written together with their download.
            if pick.decision not in (Decision.QUEUED, Decision.PENDING, Decision.HELD) and not dry_run:
                state.record_decision(_decision_row(pick, genre, search.name, task_id))
            progress.event(f"{genre} #{rank}: {pick.decision}: {release.title} ({pick.reason})")
            if pick.decision == Decision.HELD:
                break  # the guard said no: the rest of the ranking would be refused too
        progress.done()
        if gres.short:
            gres.notes = list(getattr(ranking, "notes", []))
            said = "".join(f"; {note}" for note in gres.notes)
            progress.warn(
                f"{genre}: only {gres.covered} of {count} new books could be taken; the ranking ran out "
                f"after {rank} candidates{said}"
            )
    return result


def _decide(release: Release, rank: int, genre: str, grabber: Grabber, shelf: Shelf, task_id: int | None) -> Pick:
    """top10's decision from the one verdict: a torrent taken for this genre before counts."""
    author = ", ".join(release.authors)
    base = {"rank": rank, "title": release.title, "author": author, "torrent_id": str(release.torrent_id),
            "size": release.size, "freeleech": bool(release.freeleech or release.personal_freeleech)}
    verdict = judge(release, shelf)
    mine = verdict.mine
    if verdict.kind == Judgement.QUEUED and mine is not None:
        if mine["reason"] == "top10" and (mine["genre"] or "") == genre:
            return Pick(**base, decision=Decision.COUNTED, reason=f"queued by abook earlier ({mine['status']})")
        return Pick(**base, decision=Decision.SKIPPED, reason=f"already queued by abook ({mine['reason']})")
    if verdict.kind == Judgement.NEAR_MISS:
        return Pick(**base, decision=Decision.NEAR_MISS, reason=verdict.reason)
    if not verdict.grabbable:
        return Pick(**base, decision=Decision.SKIPPED, reason=verdict.reason)
    # A pick made on less than the tracker's record says so ("queued; not owned (from Prowlarr's ...)").
    basis = verdict.reason if release.basis else ""
    decision_row = {
        "task_id": task_id, "genre": genre, "rank": rank, "source": release.source,
        "torrent_id": str(release.torrent_id), "title": release.title, "author": author, "reason": basis,
    }
    outcome = grabber.grab(release, reason="top10", genre=genre, decision=decision_row)
    reason = f"{outcome.reason}; {basis}" if basis else outcome.reason
    return Pick(**base, decision=outcome.decision, reason=reason)


def _decision_row(d: Pick, genre: str, source: str, task_id: int | None) -> dict[str, Any]:
    return {
        "task_id": task_id, "genre": genre, "rank": d.rank, "source": source, "torrent_id": d.torrent_id,
        "title": d.title, "author": d.author, "decision": d.decision, "reason": d.reason,
    }
