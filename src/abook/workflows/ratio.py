"""``abook ratio-check``: watch the tracker account, hold and release, pause and resume, buy.

The guard every grab passes is in :mod:`abook.guard`; this workflow owns the hold it obeys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..guard import account_of, cache_account

if TYPE_CHECKING:
    from ..config import Settings
    from ..errors import AbookError
    from ..state import State

# =====================================================================================
# ``abook ratio-check``: watch the account, hold/release, pause/resume, buy from the store
# =====================================================================================
#
# The state machine (hysteresis between RATIO_FLOOR and RATIO_RESUME so it does not flap):
#
#   no hold --(ratio < FLOOR  or  free unsatisfied slots < UNSAT_MARGIN)--> hold: pause abook's
#            downloading torrents, remember exactly which, exit 4
#   hold ----(still low, or FLOOR <= ratio < RESUME)--> hold kept: pause any new downloading one, exit 4
#   hold ----(ratio >= RESUME  and  free slots >= UNSAT_MARGIN)--> released: resume exactly the
#            remembered torrents, forget them, exit 0
#
# Only torrents that are still downloading are ever paused. A complete (seeding) torrent is never
# paused, stopped or removed by abook: the tracker wants SEED_MIN_HOURS of seeding per snatch.

VIP_POINTS_PER_WEEK = 1250  # MAM bonus store price (research: client constants, not an API value)
UPLOAD_POINTS_PER_GB = 500
VIP_MAX_WEEKS = 12.85  # the most VIP an account may hold
NO_VIP_CLASSES = {"mouse", "user"}  # VIP can be bought from Power User up
REFUSAL_BACKOFF_HOURS = 24  # after MAM refuses a purchase, do not ask again for a day


@dataclass(frozen=True)
class CheckOptions:
    floor: float = 1.5
    resume: float = 1.7
    margin: int = 5
    vip_warn_days: int = 7
    buy_vip: bool = False
    buy_upload_gb: float = 0.0
    seed_min_hours: float = 72.0
    category: str = "audiobooks"
    tag: str = "abook"

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckOptions:
        return cls(
            floor=settings.ratio_floor, resume=settings.ratio_resume, margin=settings.unsat_margin,
            vip_warn_days=settings.vip_warn_days, buy_vip=settings.auto_buy_vip,
            buy_upload_gb=settings.auto_buy_upload_gb, seed_min_hours=settings.seed_min_hours,
            category=settings.qb_category, tag=settings.qb_tags[0] if settings.qb_tags else "",
        )


@dataclass
class Purchase:
    """One bonus-store decision: bought, refused (by MAM or by abook's own check), or dry run."""

    kind: str  # "VIP" | "upload"
    amount: float  # weeks or GB asked for
    outcome: str  # "bought" | "refused" | "would_buy" | "skipped"
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": self.amount, "outcome": self.outcome, "message": self.message}


@dataclass
class SeedObligation:
    """An abook torrent that has not seeded SEED_MIN_HOURS yet."""

    hash: str
    name: str
    state: str
    seeded_hours: float
    needed_hours: float
    stopped: bool  # complete but paused/stopped (by someone else): it is not seeding

    def as_dict(self) -> dict[str, Any]:
        return {"hash": self.hash, "name": self.name, "state": self.state,
                "seeded_hours": round(self.seeded_hours, 1), "needed_hours": self.needed_hours,
                "remaining_hours": round(max(0.0, self.needed_hours - self.seeded_hours), 1),
                "stopped": self.stopped}


@dataclass
class RatioCheckResult:
    username: str = ""
    class_name: str = ""
    ratio: float = 0.0
    uploaded: int = 0
    downloaded: int = 0
    bonus: float = 0.0
    vip_until: str | None = None
    unsat_count: int | None = None
    unsat_limit: int | None = None
    floor: float = 0.0
    resume: float = 0.0
    margin: int = 0
    hold_before: str | None = None
    hold: str | None = None
    transition: str = "ok"  # ok | hold_on | hold_kept | released
    paused: list[tuple[str, str]] = field(default_factory=list)  # (hash, name)
    resumed: list[tuple[str, str]] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seeding: list[SeedObligation] = field(default_factory=list)
    qbt_error: str = ""
    dry_run: bool = False

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def unsat_free(self) -> int | None:
        if self.unsat_limit is None or self.unsat_count is None:
            return None
        return self.unsat_limit - self.unsat_count

    @property
    def action(self) -> str:
        """One line for ``tracker_snapshots.action``: what this run did."""
        parts = [self.transition]
        if self.paused:
            parts.append(f"paused {len(self.paused)}")
        if self.resumed:
            parts.append(f"resumed {len(self.resumed)}")
        parts += [f"{p.kind} {p.outcome}: {p.message}" for p in self.purchases]
        if self.qbt_error:
            parts.append(f"qBittorrent error: {self.qbt_error}")
        return "; ".join(parts)

    def error(self) -> AbookError | None:
        """What the command's exit code must say: 3 when qBittorrent failed, 4 while held."""
        from ..errors import HeldError, ServiceError

        if self.qbt_error:
            return ServiceError(f"qBittorrent: {self.qbt_error}")
        if self.held:
            return HeldError(f"ratio hold is on: {self.hold}")
        return None

    def counts(self) -> dict[str, Any]:
        return {
            "ratio": None if not math.isfinite(self.ratio) else round(self.ratio, 3),
            "held": int(self.held), "paused": len(self.paused), "resumed": len(self.resumed),
            "bought": sum(p.outcome == "bought" for p in self.purchases),
            "refused": sum(p.outcome == "refused" for p in self.purchases),
            "seeding_owed": len(self.seeding),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": 1, "dry_run": self.dry_run, "username": self.username, "class": self.class_name,
            "ratio": self.ratio if math.isfinite(self.ratio) else None,
            "uploaded": self.uploaded, "downloaded": self.downloaded, "bonus": self.bonus,
            "vip_until": self.vip_until, "unsat_count": self.unsat_count, "unsat_limit": self.unsat_limit,
            "unsat_free": self.unsat_free, "floor": self.floor, "resume": self.resume,
            "margin": self.margin, "hold": self.hold, "held": self.held,
            "transition": self.transition,
            "paused": [{"hash": h, "name": n} for h, n in self.paused],
            "resumed": [{"hash": h, "name": n} for h, n in self.resumed],
            "purchases": [p.as_dict() for p in self.purchases],
            "warnings": list(self.warnings),
            "seeding": [s.as_dict() for s in self.seeding],
            "qbt_error": self.qbt_error or None,
        }


def hold_decision(
    ratio: float, unsat_free: int | None, *, held: bool, floor: float, resume: float, margin: int
) -> tuple[str, str | None]:
    """(transition, hold reason or None) for the account as it is now. Pure.

    Hold when the ratio is below ``floor`` or fewer than ``margin`` unsatisfied slots are free;
    once held, release only at ``resume`` or above with the slots free again.
    """
    reasons = []
    if ratio < floor:
        reasons.append(f"ratio {ratio:.2f} is below RATIO_FLOOR {floor:g}")
    if unsat_free is not None and unsat_free < margin:
        reasons.append(f"only {max(unsat_free, 0)} unsatisfied-torrent slots free (UNSAT_MARGIN {margin})")
    if reasons:
        return ("hold_kept" if held else "hold_on"), "; ".join(reasons)
    if held and ratio < resume:
        return "hold_kept", f"ratio {ratio:.2f} has not reached RATIO_RESUME {resume:g} yet"
    return ("released" if held else "ok"), None


def vip_weeks_to_buy(days_left: float | None, warn_days: int, points: float) -> tuple[int, str]:
    """Whole weeks of VIP to buy now (0 = none) and why. Pure.

    Enough weeks to carry VIP past the warning window, at least one, no more than the points pay
    for and never above what an account may hold.
    """
    held_weeks = max(0.0, (days_left or 0.0) / 7.0)
    room = math.floor(VIP_MAX_WEEKS - held_weeks)
    if room < 1:
        return 0, f"VIP already near the {VIP_MAX_WEEKS:g}-week maximum"
    need = max(1, math.ceil((warn_days - max(days_left or 0.0, 0.0)) / 7.0))
    affordable = int(points // VIP_POINTS_PER_WEEK)
    if affordable < 1:
        return 0, f"not enough bonus points for a week of VIP ({points:,.0f} < {VIP_POINTS_PER_WEEK:,})"
    return min(need, affordable, room), ""


def is_abook_torrent(t: Any, hashes: set[str], category: str, tag: str) -> bool:
    """abook's own torrents: added by abook (hash in its downloads), or carrying its category AND tag."""
    if t.hash.lower() in hashes or (t.infohash_v1 and t.infohash_v1 in hashes):
        return True
    return bool(tag) and t.category == category and tag in t.tags


def pausable(t: Any) -> bool:
    """Still downloading: the only torrents a hold pauses.

    A downloading state (downloading, stalled, queued, fetching metadata, checking an incomplete
    torrent) and not complete. A torrent already stopped is left alone (it is not ours to resume
    later), and so is one whose state qBittorrent does not know yet (``checkingResumeData`` just
    after an add or a restart): the next run, five minutes later, sees what it is.
    """
    return t.is_downloading and not t.is_complete and not t.is_paused


def run(
    state: State,
    mam: Any,
    qbt: Any,
    options: CheckOptions,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    task_id: int | None = None,
    progress: Any = None,
) -> RatioCheckResult:
    """One watch of the tracker account (see the state machine above)."""
    from ..errors import AbookError
    from ..progress import NullProgress
    from ..times import iso, utcnow

    now = now or utcnow()
    progress = progress or NullProgress()
    res = RatioCheckResult(floor=options.floor, resume=options.resume, margin=options.margin, dry_run=dry_run)
    res.hold_before = state.hold()

    stats = mam.user_stats()
    _buy(state, mam, stats, options, res, now=now, dry_run=dry_run, task_id=task_id, progress=progress)
    if any(p.outcome == "bought" for p in res.purchases):
        stats = mam.user_stats()  # the purchase changed the ratio / VIP: decide on fresh numbers
    _fill_stats(res, stats)

    days_left = _vip_days_left(stats, now)
    if days_left is not None and 0 <= days_left <= options.vip_warn_days:
        res.warnings.append(
            f"VIP ends in {days_left:.1f} days ({res.vip_until}); buy more with --buy-vip or AUTO_BUY_VIP=true"
        )

    res.transition, res.hold = hold_decision(
        stats.ratio, stats.unsat_free, held=res.hold_before is not None,
        floor=options.floor, resume=options.resume, margin=options.margin,
    )
    if not dry_run:
        # The state changes first: if qBittorrent fails below, the hold still stops new grabs.
        if res.hold is not None:
            state.set_hold(res.hold)
        cache_account(state, account_of(stats))

    try:
        if qbt is not None:
            _torrents(state, qbt, options, res, dry_run=dry_run, progress=progress)
        else:
            res.warnings.append("QB_URL is not set: torrents cannot be paused, resumed or checked for seeding")
            if res.transition == "released" and not dry_run and state.paused_by_abook():
                res.hold = res.hold_before  # keep the hold until the paused torrents are resumed
                res.transition = "hold_kept"
    except AbookError as exc:
        res.qbt_error = str(exc)
        if res.transition == "released":
            res.hold, res.transition = res.hold_before, "hold_kept"  # try again next run

    if not dry_run:
        if res.transition == "released" and not res.qbt_error:
            state.clear_hold()
        state.add_snapshot({
            "taken_at": iso(now), "username": res.username, "ratio": res.ratio if math.isfinite(res.ratio) else None,
            "uploaded": res.uploaded, "downloaded": res.downloaded, "bonus": res.bonus,
            "class_name": res.class_name, "vip_until": res.vip_until, "unsat_count": res.unsat_count,
            "unsat_limit": res.unsat_limit, "action": res.action, "raw": None,
        })
        if qbt is not None and not res.qbt_error:
            state.set_kv("seed_obligations", json.dumps(
                {"at": iso(now), "min_hours": options.seed_min_hours, "torrents": [s.as_dict() for s in res.seeding]}
            ))
    return res  # warnings are rendered with the result (stdout), not logged twice


def _fill_stats(res: RatioCheckResult, stats: Any) -> None:
    from ..times import iso

    res.username, res.class_name, res.ratio = stats.username, stats.user_class, stats.ratio
    res.uploaded, res.downloaded, res.bonus = stats.uploaded, stats.downloaded, float(stats.seedbonus or 0)
    res.vip_until = iso(stats.vip_until) if stats.vip_until else None
    res.unsat_count, res.unsat_limit = stats.unsat_count, stats.unsat_limit


def _vip_days_left(stats: Any, now: datetime) -> float | None:
    if stats.vip_until is None:
        return None
    return (stats.vip_until - now).total_seconds() / 86400.0


def _recently_refused(state: State, kind: str, now: datetime) -> str | None:
    from ..times import parse_iso

    at = parse_iso(state.get_kv(f"bonus_refused:{kind}"))
    if at is not None and (now - at).total_seconds() < REFUSAL_BACKOFF_HOURS * 3600:
        return at.isoformat(timespec="minutes")
    return None


def _buy(
    state: State, mam: Any, stats: Any, options: CheckOptions, res: RatioCheckResult, *,
    now: datetime, dry_run: bool, task_id: int | None, progress: Any,
) -> None:
    """Spend bonus points when asked to (upload credit below the floor; VIP before it runs out)."""
    points = float(stats.seedbonus or 0)
    if options.buy_upload_gb > 0 and stats.ratio < options.floor:
        gb = options.buy_upload_gb
        cost = gb * UPLOAD_POINTS_PER_GB
        if points < cost:
            _decide(state, res, Purchase("upload", gb, "refused",
                    f"not enough bonus points for {gb:g} GB of upload ({points:,.0f} < {cost:,.0f})"),
                    task_id, dry_run)
        else:
            _spend(state, res, "upload", gb, lambda: mam.buy_upload(gb), now=now, dry_run=dry_run,
                   task_id=task_id)
            if res.purchases[-1].outcome == "bought":
                points -= cost
    if options.buy_vip:
        days_left = _vip_days_left(stats, now)
        if days_left is not None and days_left > options.vip_warn_days:
            return  # VIP is not running out: nothing to buy
        if days_left is None and stats.is_vip:
            return  # a VIP class without an end date: nothing runs out
        if stats.user_class.strip().lower() in NO_VIP_CLASSES:
            _decide(state, res, Purchase("VIP", 0, "refused",
                    f"VIP can be bought from Power User up (the account is {stats.user_class})"), task_id, dry_run)
            return
        weeks, why = vip_weeks_to_buy(days_left, options.vip_warn_days, points)
        if weeks < 1:
            _decide(state, res, Purchase("VIP", 0, "refused", why), task_id, dry_run)
            return
        _spend(state, res, "VIP", weeks, lambda: mam.buy_vip(weeks), now=now, dry_run=dry_run, task_id=task_id)


def _spend(
    state: State, res: RatioCheckResult, kind: str, amount: float, buy: Callable[[], Any], *,
    now: datetime, dry_run: bool, task_id: int | None,
) -> None:
    from ..times import iso

    unit = "week(s) of VIP" if kind == "VIP" else "GB of upload credit"
    if dry_run:
        res.purchases.append(Purchase(kind, amount, "would_buy", f"would buy {amount:g} {unit}"))
        return
    since = _recently_refused(state, kind, now)
    if since:
        res.purchases.append(Purchase(kind, amount, "skipped",
                                      f"MAM refused {kind} at {since}; not asking again for {REFUSAL_BACKOFF_HOURS} h"))
        return
    answer = buy()
    if answer.success:
        got = answer.amount if answer.amount is not None else amount
        left = f", {answer.seedbonus:,.0f} points left" if answer.seedbonus is not None else ""
        res.purchases.append(Purchase(kind, got, "bought", f"bought {got:g} {unit}{left}"))
        state.set_kv(f"bonus_refused:{kind}", None)
        return
    state.set_kv(f"bonus_refused:{kind}", iso(now))
    _decide(state, res, Purchase(kind, amount, "refused", f"MAM refused: {answer.error or 'no reason given'}"),
            task_id, dry_run)


def _decide(state: State, res: RatioCheckResult, purchase: Purchase, task_id: int | None, dry_run: bool) -> None:
    """Record a refusal (a permanent ``failed_attempts`` row) and report it."""
    res.purchases.append(purchase)
    if purchase.outcome == "refused" and not dry_run:
        state.record_failure("ratio-check", "bonus", f"{purchase.kind.lower()}_refused", purchase.message,
                             ref=purchase.kind, title=f"buy {purchase.kind}", task_id=task_id)


def _torrents(
    state: State, qbt: Any, options: CheckOptions, res: RatioCheckResult, *, dry_run: bool, progress: Any
) -> None:
    """Pause / resume abook's downloading torrents and list seeding obligations."""
    torrents = qbt.torrents()
    mine_hashes = state.abook_hashes()
    mine = [t for t in torrents if is_abook_torrent(t, mine_hashes, options.category, options.tag)]
    by_hash = {t.hash: t for t in torrents}
    remembered = state.paused_by_abook()
    if res.hold is not None:
        targets = [t for t in mine if pausable(t)]
        res.paused = [(t.hash, t.name) for t in targets]
        if targets and not dry_run:
            # Remember before pausing: a crash in between leaves a harmless extra resume, never a
            # torrent that stays paused forever.
            state.set_paused_by_abook([*remembered, *(t.hash for t in targets)])
            qbt.pause([t.hash for t in targets])
        for t in targets:
            progress.event(f"{'would pause' if dry_run else 'paused'} {t.name} ({t.progress:.0%})")
    elif remembered:
        present = [h for h in remembered if h in by_hash]
        res.resumed = [(h, by_hash[h].name) for h in present]
        if not dry_run:
            if present:
                qbt.resume(present)
            state.set_paused_by_abook([])
        for _h, name in res.resumed:
            progress.event(f"{'would resume' if dry_run else 'resumed'} {name}")
    needed = options.seed_min_hours
    for t in mine:
        if t.is_complete and t.seeding_time < needed * 3600:
            res.seeding.append(SeedObligation(t.hash, t.name, t.state, t.seeding_time / 3600.0, needed,
                                              stopped=t.is_paused))
    for s in res.seeding:
        if s.stopped:
            res.warnings.append(
                f"{s.name} is stopped after {s.seeded_hours:.1f} h of seeding; the tracker wants "
                f"{needed:g} h: start it again in qBittorrent"
            )
