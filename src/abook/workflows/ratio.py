"""``abook ratio-check``: watch the tracker account, hold and release, pause and resume, buy.

The guard every grab passes is in :mod:`abook.guard`; this workflow owns the hold it obeys and
shows what the guard sees: the upload buffer, abook's own grabs MAM's numbers do not show yet, the
wedges, what ``abook downloads`` would do with each pending pick, and the seeding each of abook's
torrents still owes -- by MAM's own snatch data where MAM gives it, the torrents at risk of a
hit-and-run first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..guard import (
    GIB,
    OWN_WINDOW,
    Rules,
    account_of,
    booked_of,
    buffer_after,
    cache_account,
    cost_kind,
)

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
MAM_SEED_HOURS = 72  # MAM's rule: seed every snatch 72 h ...
MAM_SEED_WINDOW_DAYS = 30  # ... within 30 days, or it is a hit-and-run
QBT_SEED_MARGIN_HOURS = 12  # qBittorrent's seeding clock runs ahead of MAM's credit
RISK_SLACK_HOURS = 24  # owing more than the window's time left minus this is a risk


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
    rules: Rules | None = None  # the grab guard's settings (BUFFER_MIN_GB, WEDGE_*); None: defaults
    max_active: int = 10  # pending picks previewed (what one `abook downloads` could submit)

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckOptions:
        return cls(
            floor=settings.ratio_floor, resume=settings.ratio_resume, margin=settings.unsat_margin,
            vip_warn_days=settings.vip_warn_days, buy_vip=settings.auto_buy_vip,
            buy_upload_gb=settings.auto_buy_upload_gb, seed_min_hours=settings.seed_min_hours,
            category=settings.qb_category, tag=settings.qb_tags[0] if settings.qb_tags else "",
            rules=Rules.from_settings(settings), max_active=settings.max_active_downloads,
        )

    @property
    def guard_rules(self) -> Rules:
        return self.rules or Rules(floor=self.floor, margin=self.margin)


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
    """An abook torrent that still owes seeding: by MAM's snatch data (``source`` "mam": the
    seeding MAM credited and the time it says is still to go) or, where MAM gives none, by
    qBittorrent's seeding time against SEED_MIN_HOURS + 12 h (``source`` "qbittorrent")."""

    hash: str
    name: str
    state: str
    seeded_hours: float
    needed_hours: float
    stopped: bool  # complete but paused/stopped (by someone else): it is not seeding
    source: str = "qbittorrent"  # where the seeding numbers come from: mam | qbittorrent
    torrent_id: str = ""
    risk: str = ""  # why a hit-and-run threatens ("" = none seen)
    window_hours_left: float | None = None  # of MAM's 30-day window, when its start is known

    @property
    def remaining_hours(self) -> float:
        return max(0.0, self.needed_hours - self.seeded_hours)

    @property
    def at_risk(self) -> bool:
        return bool(self.risk)

    def as_dict(self) -> dict[str, Any]:
        return {"hash": self.hash, "name": self.name, "state": self.state,
                "seeded_hours": round(self.seeded_hours, 1), "needed_hours": round(self.needed_hours, 1),
                "remaining_hours": round(self.remaining_hours, 1),
                "stopped": self.stopped, "source": self.source, "torrent_id": self.torrent_id or None,
                "at_risk": self.at_risk, "risk": self.risk or None,
                "window_hours_left": None if self.window_hours_left is None else round(self.window_hours_left, 1)}


@dataclass
class GrabPreview:
    """What ``abook downloads`` would do with one pending pick, as the guard sees it now."""

    download_id: int
    title: str
    size: int
    cost: str  # free | personal freeleech | VIP | ratio
    verdict: str  # submit | wait | drop
    reason: str = ""
    wedge: bool = False
    wedge_why: str = ""
    changed: str = ""  # what the fresh look found changed since the search
    looked: bool = False  # flags read again from the tracker (--dry-run); else as recorded

    def as_dict(self) -> dict[str, Any]:
        return {"download_id": self.download_id, "title": self.title, "size": self.size,
                "gb": round(self.size / GIB, 2), "cost": self.cost, "verdict": self.verdict,
                "reason": self.reason or None, "wedge": self.wedge, "wedge_why": self.wedge_why or None,
                "changed": self.changed or None, "looked": self.looked}


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
    buffer: float | None = None  # bytes that may still be downloaded before RATIO_FLOOR (after abook's grabs)
    buffer_min: int = 0
    wedges: int | None = None
    wedge_min: int = 0
    wedge_reserve: int = 0
    own: dict[str, Any] = field(default_factory=dict)  # abook's grabs beyond MAM's numbers (OwnLoad)
    hit_and_runs: int | None = None  # MAM's count of hit-and-runs (seeding or not)
    not_seeding_unsat: int | None = None  # MAM: snatches not seeding and not yet satisfied
    snatch_list: str = "not needed"  # read | not needed | failed: <why>
    grabs: list[GrabPreview] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def unsat_free(self) -> int | None:
        if self.unsat_limit is None or self.unsat_count is None:
            return None
        return self.unsat_limit - self.unsat_count

    @property
    def unsat_free_after_own(self) -> int | None:
        """Free slots once abook's grabs MAM does not count yet (and its waiting picks) are taken."""
        free = self.unsat_free
        return None if free is None else free - int(self.own.get("slots") or 0)

    @property
    def at_risk(self) -> list[SeedObligation]:
        return [s for s in self.seeding if s.at_risk]

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
            "seeding_owed": len(self.seeding), "hnr_risk": len(self.at_risk),
            "buffer_gb": None if self.buffer is None or math.isinf(self.buffer) else round(self.buffer / GIB, 2),
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
            "buffer": None if self.buffer is None else {
                "bytes": None if math.isinf(self.buffer) else int(self.buffer),
                "gb": None if math.isinf(self.buffer) else round(self.buffer / GIB, 2),
                "min_gb": round(self.buffer_min / GIB, 2)},
            "wedges": {"held": self.wedges, "reserve": self.wedge_reserve,
                       "min_gb": round(self.wedge_min / GIB, 2)},
            "own": dict(self.own), "unsat_free_after_own": self.unsat_free_after_own,
            "hit_and_runs": self.hit_and_runs, "not_seeding_unsat": self.not_seeding_unsat,
            "snatch_list": self.snatch_list,
            "grabs": [g.as_dict() for g in self.grabs],
            "at_risk": len(self.at_risk),
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
    if not dry_run and res.hold is not None:
        # The state changes first: if qBittorrent fails below, the hold still stops new grabs.
        state.set_hold(res.hold)

    def qbt_failed(exc: AbookError) -> None:
        res.qbt_error = str(exc)
        if res.transition == "released":
            res.hold, res.transition = res.hold_before, "hold_kept"  # try again next run

    torrents = None
    if qbt is not None:
        try:
            torrents = qbt.torrents()
        except AbookError as exc:
            qbt_failed(exc)
    snatches = _snatch_list(state, mam, options, res, torrents, now=now)
    mine_ids = {str(r["torrent_id"]) for r in state.tracker_torrents()}
    account = account_of(stats, now=now, booked=booked_of(snatches.snatches, mine_ids) if snatches else None)
    if not dry_run:
        cache_account(state, account)
    _guard_view(state, mam, account, options, res, now=now, dry_run=dry_run)

    try:
        if torrents is not None:
            _torrents(state, qbt, torrents, options, res, snatches, now=now, dry_run=dry_run, progress=progress)
        elif qbt is None:
            res.warnings.append("QB_URL is not set: torrents cannot be paused, resumed or checked for seeding")
            if res.transition == "released" and not dry_run and state.paused_by_abook():
                res.hold = res.hold_before  # keep the hold until the paused torrents are resumed
                res.transition = "hold_kept"
    except AbookError as exc:
        qbt_failed(exc)

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
                {"at": iso(now), "min_hours": options.seed_min_hours,
                 "margin_hours": QBT_SEED_MARGIN_HOURS, "snatch_list": res.snatch_list,
                 "at_risk": len(res.at_risk), "torrents": [s.as_dict() for s in res.seeding]}
            ))
        view = res.as_dict()
        state.set_kv("guard_view", json.dumps({
            "at": iso(now), "buffer": view["buffer"], "wedges": view["wedges"], "own": view["own"],
            "unsat_free_after_own": view["unsat_free_after_own"], "hit_and_runs": view["hit_and_runs"],
            "not_seeding_unsat": view["not_seeding_unsat"],
        }))
    return res  # warnings are rendered with the result (stdout), not logged twice


# ----------------------------------------------------------------- what the guard sees
def _needs_snatch_list(state: State, torrents: list[Any] | None, options: CheckOptions, now: datetime) -> bool:
    """MAM's unsatisfied list is read only when it tells something: abook has grabs MAM may not
    count yet or still downloading, or complete torrents that may still owe seeding."""
    from ..models import UNFINISHED
    from ..times import parse_iso

    rows = state.tracker_torrents()
    if not rows:
        return False
    for r in rows:
        fetched = parse_iso(r.get("fetched_at"))
        if r["status"] in UNFINISHED and (fetched is not None or r["status"] != "pending"):
            return True
        if fetched is not None and fetched >= now - OWN_WINDOW:
            return True
    if torrents is None:
        return False
    hashes = {h for r in rows for h in (r.get("qb_hash"), r.get("info_hash")) if h}
    needed = (options.seed_min_hours + QBT_SEED_MARGIN_HOURS) * 3600
    present = set()
    for t in torrents:
        if t.hash in hashes or (t.infohash_v1 and t.infohash_v1 in hashes):
            present.add(t.hash)
            if t.is_complete and (t.seeding_time < needed or t.is_paused or t.is_error):
                return True
    window = now.timestamp() - MAM_SEED_WINDOW_DAYS * 86400
    for r in rows:  # finished lately but gone from qBittorrent: does MAM still want seeding?
        done = parse_iso(r.get("completed_at")) or parse_iso(r.get("fetched_at"))
        if r["status"] in ("completed", "imported", "done") and done is not None and done.timestamp() >= window \
                and not ({r.get("qb_hash"), r.get("info_hash")} & present):
            return True
    return False


def _snatch_list(state: State, mam: Any, options: CheckOptions, res: RatioCheckResult,
                 torrents: list[Any] | None, *, now: datetime) -> Any:
    from ..errors import AuthError, ServiceError

    if not _needs_snatch_list(state, torrents, options, now):
        res.snatch_list = "not needed"
        return None
    try:
        listed = mam.snatch_list("unsat")
    except AuthError:
        raise
    except ServiceError as exc:
        res.snatch_list = f"failed: {exc}"
        res.warnings.append(f"MAM's unsatisfied list could not be read ({exc}): seeding owed is judged by "
                            f"qBittorrent's clock + {QBT_SEED_MARGIN_HOURS} h, abook's recent grabs count as new")
        return None
    res.snatch_list = f"read: {len(listed.snatches)} unsatisfied" + ("" if listed.complete else " (first pages only)")
    return listed


def pick_of(row: dict[str, Any]) -> Any:
    """A recorded download as the Release the guard judges (flags as recorded)."""
    from ..models import Release

    return Release(source=row.get("source") or "mam", tracker=row.get("tracker") or "",
                   torrent_id=str(row.get("torrent_id") or ""),
                   title=row.get("title") or "", size=int(row.get("size") or 0),
                   freeleech=bool(row.get("freeleech")), vip=bool(row.get("vip")))


def _guard_view(state: State, mam: Any, account: Any, options: CheckOptions, res: RatioCheckResult, *,
                now: datetime, dry_run: bool) -> None:
    """The buffer, abook's own grabs, the wedges, and what `downloads` would do with each pending
    pick (the fresh look only in a dry run: one paced tracker request per pick)."""
    from ..guard import TrackerGuard
    from ..models import DownloadStatus

    rules = options.guard_rules
    guard = TrackerGuard(state, mam, rules=rules, account=account, now=lambda: now)
    load = guard.load(account)
    res.own = load.as_dict()
    res.buffer = buffer_after(account, load.bytes, 0, rules.floor)
    res.buffer_min, res.wedges = rules.buffer_min, account.wedges
    res.wedge_min, res.wedge_reserve = rules.wedge_min, rules.wedge_reserve
    pending = [d for d in state.downloads((DownloadStatus.PENDING,))
               if (d.get("tracker") or d.get("source") or "mam") == "mam"]
    blocked = ""  # `downloads` takes pending picks in order and stops at the first that must wait
    for d in pending[: max(0, options.max_active)]:
        pick = pick_of(d)
        if res.hold is not None or blocked:
            why = f"the hold is on ({res.hold})" if res.hold is not None else blocked
            res.grabs.append(GrabPreview(d["id"], pick.title, pick.size, cost_kind(pick, account.vip), "wait", why))
            continue
        c = guard.look(pick, fresh=dry_run)
        verdict = "drop" if c.gone else "wait" if c.refusal else "submit"
        if verdict == "wait":
            blocked = f"behind #{d['id']}, which waits (`abook downloads` takes pending picks in order)"
        res.grabs.append(GrabPreview(d["id"], pick.title, c.release.size or pick.size,
                                     cost_kind(c.release, account.vip), verdict, c.gone or c.refusal or "",
                                     wedge=c.wedge, wedge_why=c.wedge_why, changed=c.changed, looked=c.looked))


def _fill_stats(res: RatioCheckResult, stats: Any) -> None:
    from ..times import iso

    res.username, res.class_name, res.ratio = stats.username, stats.user_class, stats.ratio
    res.uploaded, res.downloaded, res.bonus = stats.uploaded, stats.downloaded, float(stats.seedbonus or 0)
    res.vip_until = iso(stats.vip_until) if stats.vip_until else None
    res.unsat_count, res.unsat_limit = stats.unsat_count, stats.unsat_limit
    res.hit_and_runs = getattr(stats, "hit_and_runs", None)
    res.not_seeding_unsat = getattr(stats, "inactive_unsat", None)


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
    state: State, qbt: Any, torrents: list[Any], options: CheckOptions, res: RatioCheckResult, snatches: Any, *,
    now: datetime, dry_run: bool, progress: Any,
) -> None:
    """Pause / resume abook's downloading torrents and list seeding obligations."""
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
    res.seeding = seed_obligations(mine, state.tracker_torrents(), snatches, options, now=now)
    for s in res.seeding:
        if s.stopped and s.state != "missing":
            res.warnings.append(
                f"{s.name} is stopped after {s.seeded_hours:.1f} h of seeding; the tracker wants "
                f"{s.needed_hours:g} h: start it again in qBittorrent"
            )
        elif s.at_risk:
            res.warnings.append(f"hit-and-run risk: {s.name}: {s.risk}")


def seed_risk(owed_hours: float, *, seeding: bool, state: str, window_hours_left: float | None) -> str:
    """Why a torrent that still owes ``owed_hours`` of seeding may become a hit-and-run ("" = no
    sign of it). Pure."""
    if owed_hours <= 0:
        return ""
    if state == "missing":
        return "not in qBittorrent: it is not seeding; add it again and let it seed"
    if not seeding:
        return f"not seeding ({state})"
    if window_hours_left is not None and owed_hours + RISK_SLACK_HOURS > window_hours_left:
        return (f"{owed_hours:.0f} h still owed, only {max(window_hours_left, 0):.0f} h left of MAM's "
                f"{MAM_SEED_WINDOW_DAYS}-day window")
    return ""


def seed_obligations(
    mine: list[Any], rows: list[dict[str, Any]], snatches: Any, options: CheckOptions, *, now: datetime
) -> list[SeedObligation]:
    """The seeding each of abook's complete torrents still owes, at-risk ones first.

    MAM's snatch data wins when the torrent is on its unsatisfied list (the seeding it credited,
    and the time it says is still to go); a torrent missing from a list MAM sent whole is
    satisfied; otherwise qBittorrent's seeding time is held against SEED_MIN_HOURS + 12 h, because
    qBittorrent's clock runs ahead of MAM's credit."""
    from ..times import parse_iso

    by_tid = {s.torrent_id: s for s in snatches.snatches} if snatches is not None else {}
    complete_list = snatches is not None and snatches.complete
    row_of: dict[str, dict[str, Any]] = {}
    for r in rows:
        for h in (r.get("qb_hash"), r.get("info_hash")):
            if h:
                row_of[str(h).lower()] = r
    fallback = options.seed_min_hours + QBT_SEED_MARGIN_HOURS
    out: list[SeedObligation] = []
    seen_tids: set[str] = set()

    def window_left(start: datetime | None) -> float | None:
        if start is None:
            return None
        return (start.timestamp() + MAM_SEED_WINDOW_DAYS * 86400 - now.timestamp()) / 3600.0

    for t in mine:
        if not t.is_complete:
            continue
        row = row_of.get(t.hash) or (row_of.get(t.infohash_v1) if t.infohash_v1 else None)
        tid = str(row["torrent_id"]) if row else ""
        seen_tids.add(tid)
        snatch = by_tid.get(tid) if tid else None
        started = parse_iso(row.get("fetched_at") or row.get("created_at")) if row else None
        if started is None and t.added_on > 0:
            from datetime import UTC

            started = datetime.fromtimestamp(t.added_on, UTC)
        seeding = not (t.is_paused or t.is_error)
        if snatch is not None:
            owed_s = snatch.seed_to_go if snatch.seed_to_go is not None else max(
                0, MAM_SEED_HOURS * 3600 - snatch.seed_seconds)
            if owed_s <= 0:
                continue
            seeded = snatch.seed_seconds / 3600.0
            needed = seeded + owed_s / 3600.0
            source = "mam"
            started = snatch.started or started
        else:
            known_to_mam = (complete_list and row is not None and tid and started is not None
                            and started < now - OWN_WINDOW)
            if known_to_mam:
                continue  # MAM's whole unsatisfied list does not have it: satisfied
            seeded, needed, source = t.seeding_time / 3600.0, fallback, "qbittorrent"
            if seeded >= needed:
                continue
        left = window_left(started)
        out.append(SeedObligation(
            t.hash, t.name, t.state, seeded, needed, stopped=not seeding, source=source, torrent_id=tid,
            risk=seed_risk(needed - seeded, seeding=seeding, state=t.state, window_hours_left=left),
            window_hours_left=left,
        ))
    present = {t.hash for t in mine} | {t.infohash_v1 for t in mine if t.infohash_v1}
    for r in rows:  # on MAM's unsatisfied list, finished, but no longer in qBittorrent
        tid = str(r["torrent_id"])
        snatch = by_tid.get(tid)
        if snatch is None or tid in seen_tids or r["status"] not in ("completed", "imported", "done"):
            continue
        if {str(r.get("qb_hash") or "").lower(), str(r.get("info_hash") or "").lower()} & present:
            continue
        owed_s = snatch.seed_to_go if snatch.seed_to_go is not None else max(0, MAM_SEED_HOURS * 3600 - snatch.seed_seconds)
        if owed_s <= 0:
            continue
        seeded = snatch.seed_seconds / 3600.0
        left = window_left(snatch.started or parse_iso(r.get("fetched_at") or r.get("created_at")))
        needed = seeded + owed_s / 3600.0
        out.append(SeedObligation(
            str(r.get("qb_hash") or r.get("info_hash") or ""), r.get("title") or snatch.title, "missing", seeded,
            needed, stopped=True, source="mam", torrent_id=tid,
            risk=seed_risk(needed - seeded, seeding=False, state="missing", window_hours_left=left),
            window_hours_left=left,
        ))
    out.sort(key=lambda s: (not s.at_risk, -(s.remaining_hours)))
    return out
