"""The tracker guard: every grab from the tracker passes through it.

Before a grab the guard projects the ratio as if every unfinished non-freeleech grab of abook,
this one included, had been downloaded in full, and counts the unsatisfied-torrent slots that
would remain. It refuses a grab that would take the ratio below ``RATIO_FLOOR`` or leave fewer
than ``UNSAT_MARGIN`` slots. Freeleech, personal freeleech and (for VIP accounts) VIP torrents
cost no ratio. User stats are read fresh once per run (and cached a few minutes in the state
file, so commands started together do not ask the tracker twice).

The arithmetic is pure (:func:`check_grab`); :class:`TrackerGuard` adds the two reads it needs:
the account (through the tracker client) and abook's unfinished grabs (the state file).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import UNFINISHED, DownloadStatus

if TYPE_CHECKING:
    from .models import Release
    from .state import State

STATS_CACHE_SECONDS = 300


@dataclass(frozen=True)
class Account:
    """The part of the tracker account the guard needs."""

    uploaded: int
    downloaded: int
    ratio: float
    vip: bool
    unsat_count: int | None
    unsat_limit: int | None


def costs_ratio(release: Release, vip_account: bool) -> bool:
    if release.freeleech or release.personal_freeleech:
        return False
    return not (release.vip and vip_account)


def projected_ratio(account: Account, pending_bytes: int, extra_bytes: int) -> float:
    down = account.downloaded + pending_bytes + extra_bytes
    if down <= 0:
        return math.inf
    return account.uploaded / down


def check_grab(
    account: Account,
    release: Release,
    *,
    pending_bytes: int,
    pending_slots: int,
    floor: float,
    margin: int,
) -> str | None:
    """Why this grab must wait, or None. Pure: the numbers come from the caller."""
    extra = release.size if costs_ratio(release, account.vip) else 0
    ratio = projected_ratio(account, pending_bytes, extra)
    if ratio < floor:
        return f"projected ratio {ratio:.2f} would fall below RATIO_FLOOR {floor:g}"
    if account.unsat_limit is not None and account.unsat_count is not None:
        left = account.unsat_limit - account.unsat_count - pending_slots - 1
        if left < margin:
            return (
                f"only {max(left, 0)} unsatisfied-torrent slots would remain "
                f"(limit {account.unsat_limit}, UNSAT_MARGIN {margin})"
            )
    return None


@dataclass
class TrackerGuard:
    """``guard(release) -> refusal or None`` for grabs from the tracker account abook watches.

    ``client`` is the run's tracker session (anything with ``user_stats()``); the account is read
    at the first grab and kept for the run."""

    state: State
    client: Any
    floor: float
    margin: int
    _account: Account | None = field(default=None, init=False)

    def __call__(self, release: Release) -> str | None:
        if self._account is None:
            self._account = load_account(self.state, self.client)
        account = self._account
        unfinished = self.state.downloads(UNFINISHED)
        pending_bytes = sum(
            int((1.0 - float(d["progress"] or 0.0)) * (d["size"] or 0))
            for d in unfinished
            if not d["freeleech"] and not (d["vip"] and account.vip)
        )
        pending_slots = sum(1 for d in unfinished if d["status"] == DownloadStatus.PENDING)
        return check_grab(account, release, pending_bytes=pending_bytes, pending_slots=pending_slots,
                          floor=self.floor, margin=self.margin)


def account_of(stats: Any) -> Account:
    """The guard's view of the tracker's user stats."""
    uploaded = stats.uploaded
    if math.isfinite(stats.ratio) and stats.downloaded > 0:
        # MAM shows up/down as rounded strings ("1.2 TiB"); its ratio is the exact figure.
        uploaded = int(stats.ratio * stats.downloaded)
    return Account(
        uploaded=uploaded, downloaded=stats.downloaded,
        ratio=stats.ratio if math.isfinite(stats.ratio) else 1e9,
        vip=stats.is_vip, unsat_count=stats.unsat_count, unsat_limit=stats.unsat_limit,
    )


def load_account(state: State, client: Any) -> Account:
    """User stats, from the state file's cache when fresher than a few minutes."""
    from .times import parse_iso, utcnow

    cached = state.get_kv("mam_stats")
    if cached:
        data = json.loads(cached)
        at = parse_iso(data.get("at"))
        if at is not None and (utcnow() - at).total_seconds() < STATS_CACHE_SECONDS:
            return Account(**data["account"])
    acc = account_of(client.user_stats())
    cache_account(state, acc)
    return acc


def cache_account(state: State, account: Account) -> None:
    """Hand fresh numbers to the next guard (``ratio-check`` reads the account every 5 minutes)."""
    from .times import iso

    state.set_kv("mam_stats", json.dumps({"at": iso(), "account": account.__dict__}))
