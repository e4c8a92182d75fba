"""``abook search``: one ad-hoc tracker query, every result judged the way the workflows judge it
(owned? near miss? unwanted edition?), and optionally one result queued through the same grab
path as top10 (ratio guard, hold, transactions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, HeldError
from ..models import Judgement
from .grab import Grabber, Outcome, Shelf, judge

if TYPE_CHECKING:
    from ..matching import Match
    from ..models import Release
    from ..search import Acquisition
    from ..state import State

#: how ``abook search`` names each verdict (the words of its ``--json`` schema)
VERDICT_WORDS = {
    Judgement.NEW: "new", Judgement.QUEUED: "queued", Judgement.OWNED: "owned",
    Judgement.NEAR_MISS: "near_miss", Judgement.UNWANTED: "unwanted", Judgement.DIFFERENT: "unwanted",
}


@dataclass
class Hit:
    release: Release
    verdict: str  # new | owned | near_miss | queued | unwanted
    reason: str
    match: Match | None = None  # the book it was compared with (owned, queued or wanted), if any

    def explain(self) -> str:
        """One line for ``abook search -v``: what it was compared with and how the verdict was
        reached (each component's share of the distance, the title similarity, the rule)."""
        m = self.match
        if m is None:
            return "compared with nothing close in the library"
        who = ", ".join(m.owned.authors) or "no author"
        return f"vs {m.owned.title!r} by {who}: {m.explain()}"

    def as_dict(self) -> dict[str, Any]:
        r = self.release
        m = self.match
        return {
            "source": r.source, "torrent_id": r.torrent_id, "title": r.title, "authors": list(r.authors),
            "narrators": list(r.narrators), "series": [[s.name, s.position] for s in r.series],
            "size": r.size, "seeders": r.seeders, "snatches": r.snatches, "freeleech": r.freeleech,
            "vip": r.vip, "filetypes": list(r.filetypes), "language": r.language,
            "verdict": self.verdict, "reason": self.reason,
            "match": None if m is None else {
                "title": m.owned.title, "authors": list(m.owned.authors), "verdict": m.verdict,
                "distance": m.distance, "rule": m.rule, "title_similarity": m.title_similarity,
                "components": dict(m.components), "reason": m.reason,
            },
        }


@dataclass
class LookupResult:
    query: str
    hits: list[Hit]
    queued: Outcome | None = None
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"results": len(self.hits)}
        if self.queued is not None:
            out[str(self.queued.decision)] = 1
        return out


def hits(releases: list[Release], shelf: Shelf) -> list[Hit]:
    """Each release with the verdict every acquisition command reaches for it."""
    out = []
    for release in releases:
        verdict = judge(release, shelf)
        out.append(Hit(release, VERDICT_WORDS[verdict.kind], verdict.reason, verdict.match))
    return out


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
    found = hits(acq.search.find(query, author), shelf)
    result = LookupResult(query=" ".join(p for p in (query, author) if p), hits=found, dry_run=dry_run)
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
