"""``abook search``: an ad-hoc tracker search, every result judged the way the workflows judge it
(owned? near miss? unwanted edition?), and optionally one result queued through the same grab
path as top10 (ratio guard, hold, transactions).

The search itself follows the one strategy every search for a book follows (``fill-series`` and
``fill-authors`` too): :func:`run_plan` walks :func:`abook.queries.plan` - the text as written
first, looser forms after - and stops at the first query whose results settle the question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, ConfigError, HeldError, ServiceError
from ..models import Judgement
from .grab import Grabber, Outcome, Shelf, judge

if TYPE_CHECKING:
    from ..models import Release
    from ..queries import Query
    from ..search import Acquisition, SearchSource
    from ..state import State

#: how ``abook search`` names each verdict (the words of its ``--json`` schema)
VERDICT_WORDS = {
    Judgement.NEW: "new", Judgement.QUEUED: "queued", Judgement.OWNED: "owned",
    Judgement.NEAR_MISS: "near_miss", Judgement.UNWANTED: "unwanted", Judgement.DIFFERENT: "unwanted",
}


# ============================================================================ the strategy
@dataclass
class Budget:
    """Tracker queries a run may still make (``MAX_SEARCHES_PER_RUN``); shared by its books."""

    left: int
    used: int = 0

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.used += 1
        return True


@dataclass
class PlanRun:
    """What walking one plan came to."""

    tried: list[Query] = field(default_factory=list)  # the queries the tracker answered
    releases: list[Release] = field(default_factory=list)  # every result, first seen first, once
    accepted: bool = False  # a query's results settled it (the walk stopped there)
    cut_short: bool = False  # the run's budget ended the walk before the plan did
    error: ServiceError | None = None  # the tracker failed a query: nothing can be concluded
    failed_query: Query | None = None

    @property
    def sent(self) -> list[str]:
        return [q.sent for q in self.tried]


def run_plan(
    search: SearchSource,
    queries: Sequence[Query],
    *,
    accept: Callable[[list[Release]], bool],
    budget: Budget | None = None,
) -> PlanRun:
    """Ask ``search`` each query in order until ``accept`` (given each query's new results)
    says they settle it. A failed query ends the walk with ``error`` set (an AuthError is
    raised: the session is dead for every book); ``budget`` ends it with ``cut_short``."""
    run = PlanRun()
    seen: set[tuple[str, str]] = set()
    for query in queries:
        if budget is not None and not budget.take():
            run.cut_short = True
            return run
        try:
            found = search.find(query.text, query.author)
        except AuthError:
            raise
        except ServiceError as exc:
            run.error, run.failed_query = exc, query
            return run
        run.tried.append(query)
        fresh = [r for r in found if r.identity not in seen]
        seen.update(r.identity for r in fresh)
        run.releases.extend(fresh)
        if fresh and accept(fresh):
            run.accepted = True
            return run
    return run


# ============================================================================ abook search
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
    queries: list[str] = field(default_factory=list)  # the tracker queries made, in order

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"results": len(self.hits), "queries": len(self.queries)}
        if self.queued is not None:
            out[str(self.queued.decision)] = 1
        return out


def hits(releases: list[Release], shelf: Shelf) -> list[Hit]:
    """Each release with the verdict every acquisition command reaches for it."""
    out = []
    for release in releases:
        verdict = judge(release, shelf)
        out.append(Hit(release, VERDICT_WORDS[verdict.kind], verdict.reason))
    return out


def search_for(search: SearchSource, query: str, author: str = "") -> PlanRun:
    """The releases for what a person typed: the query plan of ``query`` (by ``author``),
    stopping at the first query with a result that is (or is close to) the book asked for."""
    from ..matching import compare
    from ..models import BookRef
    from ..queries import plan

    authors = (author,) if author else ()
    target = BookRef(title=query, authors=authors)

    def accept(found: list[Release]) -> bool:
        return any(compare(target, r.book()).verdict in ("same", "near_miss") for r in found)

    ran = run_plan(search, plan(query, authors), accept=accept)
    if ran.error is not None:
        raise ran.error
    return ran


def run(
    state: State,
    acq: Acquisition,
    *,
    query: str,
    author: str = "",
    queue: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    task_id: int | None = None,
) -> LookupResult:
    """Search, judge, and with ``queue`` grab the result with that torrent id."""
    shelf = Shelf.load(state, acq.policy)
    ran = search_for(acq.search, query, author)
    found = hits(ran.releases, shelf)
    result = LookupResult(query=" ".join(p for p in (query, author) if p), hits=found, dry_run=dry_run,
                          queries=ran.sent)
    if queue is None:
        return result
    chosen = next((h for h in found if h.release.torrent_id == str(queue)), None)
    if chosen is None:
        raise ConfigError(f"--queue {queue}: no result of this search has that torrent id")
    if chosen.verdict != "new" and not force:
        raise ConfigError(f"--queue {queue}: {chosen.reason}; add --force to queue it anyway")
    hold = state.hold()
    if hold:
        raise HeldError(f"ratio hold is on ({hold}); nothing queued")
    grabber = Grabber.for_run(state, acq, dry_run=dry_run, task_id=task_id)
    result.queued = grabber.grab(chosen.release, reason="manual")
    return result
