"""The tracker guard: every grab from the tracker passes through it.

A private-tracker account is years of work, so the guard refuses rather than guesses. Before a
grab it projects the account as if every unfinished non-freeleech grab of abook, this one
included, had been downloaded in full, and refuses a grab that would

- take the projected ratio below ``RATIO_FLOOR``;
- leave less **upload buffer** than ``BUFFER_MIN_GB`` (the bytes that may still be downloaded
  before the ratio reaches the floor: ``uploaded / RATIO_FLOOR - downloaded - unfinished
  non-free grabs - this one``; a grab that costs no ratio never lowers it);
- leave fewer than ``UNSAT_MARGIN`` unsatisfied-torrent slots.

Freeleech, personal freeleech and (for VIP accounts) VIP torrents cost no ratio.

**Own counts.** A snatch shows in MAM's account numbers (unsatisfied count, downloaded bytes) 5-20
minutes after the .torrent was fetched. So a grab abook fetched in the 30 minutes before the
numbers were read counts as one more slot and its full size, until the torrent's id shows on
MAM's own unsatisfied list (``loadUserDetailsTorrents.php?type=unsat``); then MAM's per-torrent
booked bytes replace the guess. Two cron runs a minute apart cannot both spend the same slot.

**Fresh look.** Right before a ``.torrent`` is fetched (:meth:`TrackerGuard.look`) the torrent is
read again by id in one paced request: a pick whose freeleech ended is judged again as one that
costs ratio; one the account has snatched meanwhile, or that the tracker no longer lists, is not
fetched at all.

**Wedges.** With ``WEDGE_MIN_GB`` > 0, a pick that costs ratio and is at least that big gets a
freeleech wedge asked for with its download (MAM's API no longer sells personal freeleech), while
more than ``WEDGE_RESERVE`` wedges are held. Never for a torrent that is free, personal freeleech
or VIP-flagged (MAM refused wedges on VIP torrents through its old API, and through the download
a wedge may be deducted even where it buys nothing). The guard judges such a pick as one that
costs ratio anyway: a wedge saves ratio, it never lets through a grab the account cannot pay for.

The arithmetic is pure (:func:`check_grab`, :func:`own_load`, :func:`wedge_choice`);
:class:`TrackerGuard` adds the reads it needs: the account (through the tracker client, cached a
few minutes in the state file so commands started together do not ask twice) and abook's grabs.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .models import UNFINISHED, DownloadStatus

if TYPE_CHECKING:
    from .models import Release
    from .state import State

log = logging.getLogger("abook")

STATS_CACHE_SECONDS = 300
GIB = 1024**3
#: how long MAM may take to show a snatch in its own numbers (seen: 5-20 minutes), with margin
OWN_WINDOW = timedelta(minutes=30)


def gib(n: float) -> float:
    return n / GIB


@dataclass(frozen=True)
class Rules:
    """The guard's settings."""

    floor: float = 1.5
    margin: int = 5
    buffer_min: int = 10 * GIB  # bytes
    wedge_min: int = 0  # bytes; 0 = never ask for a wedge
    wedge_reserve: int = 1

    @classmethod
    def from_settings(cls, settings: Any) -> Rules:
        return cls(
            floor=settings.ratio_floor, margin=settings.unsat_margin,
            buffer_min=int(settings.buffer_min_gb * GIB), wedge_min=int(settings.wedge_min_gb * GIB),
            wedge_reserve=settings.wedge_reserve,
        )


@dataclass(frozen=True)
class Account:
    """The part of the tracker account the guard needs."""

    uploaded: int
    downloaded: int
    ratio: float
    vip: bool
    unsat_count: int | None
    unsat_limit: int | None
    wedges: int | None = None
    read_at: str = ""  # when MAM's numbers were read (ISO); own grabs are counted against it
    # abook's torrents on MAM's unsatisfied list at read_at: torrent id -> bytes MAM booked as
    # downloaded for it. None: the list was not read (every recent grab then counts as own).
    booked: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Account:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# ------------------------------------------------------------------ pure arithmetic
def cost_kind(release: Release, vip_account: bool) -> str:
    """What a torrent costs the account: ``free``, ``personal freeleech``, ``VIP`` (free for a VIP
    account), or ``ratio``. Reads the tracker's raw flags too, so a VIP-only freeleech
    (``fl_vip``) is free for a VIP account even when the release was parsed without the class."""
    from .clients.mamdata import parse_flag

    if release.personal_freeleech or parse_flag(release.raw.get("personal_freeleech")):
        return "personal freeleech"
    if release.freeleech:
        return "free"
    if vip_account and (release.vip or parse_flag(release.raw.get("fl_vip"))):
        return "VIP"
    return "ratio"


def costs_ratio(release: Release, vip_account: bool) -> bool:
    return cost_kind(release, vip_account) == "ratio"


def projected_ratio(account: Account, pending_bytes: int, extra_bytes: int) -> float:
    down = account.downloaded + pending_bytes + extra_bytes
    if down <= 0:
        return math.inf
    return account.uploaded / down


def buffer_after(account: Account, pending_bytes: int, extra_bytes: int, floor: float) -> float:
    """Bytes that could still be downloaded before the ratio reaches ``floor``."""
    if floor <= 0:
        return math.inf
    return account.uploaded / floor - account.downloaded - pending_bytes - extra_bytes


def _gb(n: float) -> str:
    return "unlimited" if math.isinf(n) else f"{gib(n):.1f} GB"


def check_grab(
    account: Account,
    release: Release,
    *,
    pending_bytes: int,
    pending_slots: int,
    floor: float,
    margin: int,
    buffer_min: int = 0,
    new_slot: bool = True,
    own_slots: int = 0,
) -> str | None:
    """Why this grab must wait, or None. Pure: the numbers come from the caller.

    ``pending_bytes``/``pending_slots`` are what abook's other grabs still take (see
    :func:`own_load`; ``own_slots`` of those slots are grabs MAM's count does not show yet);
    ``new_slot`` False means this torrent was fetched before (a resubmission): it takes no new
    slot and its bytes are already in ``pending_bytes``.
    """
    extra = release.size if new_slot and costs_ratio(release, account.vip) else 0
    ratio = projected_ratio(account, pending_bytes, extra)
    buffer = buffer_after(account, pending_bytes, extra, floor)
    if ratio < floor:
        return (f"projected ratio {ratio:.2f} would fall below RATIO_FLOOR {floor:g} "
                f"(upload buffer after this grab {_gb(buffer)})")
    if extra and buffer < buffer_min:
        return (f"upload buffer after this grab would be {_gb(buffer)}, below BUFFER_MIN_GB "
                f"{gib(buffer_min):g} (projected ratio {ratio:.2f}, RATIO_FLOOR {floor:g})")
    if account.unsat_limit is not None and account.unsat_count is not None:
        left = account.unsat_limit - account.unsat_count - pending_slots - (1 if new_slot else 0)
        if left < margin:
            own = f"; {own_slots} of abook's grabs MAM's count does not show yet" if own_slots else ""
            return (
                f"only {max(left, 0)} unsatisfied-torrent slots would remain "
                f"(limit {account.unsat_limit}, UNSAT_MARGIN {margin}{own})"
            )
    return None


@dataclass(frozen=True)
class OwnLoad:
    """What abook's own grabs still take from the account, beyond MAM's numbers."""

    bytes: int = 0  # download still to come (or not yet booked by MAM) of grabs that cost ratio
    slots: int = 0  # unsatisfied slots taken or about to be taken that MAM's count does not show
    own: int = 0  # of ``slots``: grabs already fetched that MAM's count does not show yet
    waiting: int = 0  # of ``slots``: recorded grabs not fetched yet
    own_bytes: int = 0  # of ``bytes``: the full size of those fetched grabs MAM has not booked

    def as_dict(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "gb": round(gib(self.bytes), 2), "slots": self.slots,
                "own": self.own, "waiting": self.waiting, "own_gb": round(gib(self.own_bytes), 2)}


def _row_costs(row: Mapping[str, Any], vip_account: bool) -> bool:
    if row.get("freeleech"):
        return False
    return not (row.get("vip") and vip_account)


def own_load(
    account: Account, rows: Iterable[Mapping[str, Any]], *, read_at: datetime,
    exclude: tuple[str, str] | None = None,
) -> OwnLoad:
    """The slots and bytes abook's grabs (``rows`` of ``downloads``) add to MAM's numbers. Pure.

    - recorded, not fetched yet: one slot to come, its whole size (if it costs ratio);
    - fetched, and on MAM's unsatisfied list: no slot (MAM counts it); the size less what MAM
      booked for that torrent;
    - fetched in the ``OWN_WINDOW`` before ``read_at`` (or after it) and not on that list: MAM's
      numbers do not show it yet: one slot and its whole size, whatever qBittorrent has done;
    - fetched earlier: MAM counts it; what is left to download of an unfinished one.

    ``exclude`` (a torrent's identity: tracker, torrent id) leaves out the grab being judged."""
    from .times import parse_iso

    slots = own = waiting = 0
    total = own_bytes = 0
    since = read_at - OWN_WINDOW
    booked = account.booked
    for row in rows:
        tid = str(row.get("torrent_id") or "")
        tracker = row.get("tracker") or row.get("source") or "mam"
        if tracker != "mam":
            continue  # a torrent of another tracker (another Prowlarr indexer) is not on MAM's account
        if exclude is not None and (tracker, tid) == exclude:
            continue
        status = row.get("status")
        size = int(row.get("size") or 0)
        costs = _row_costs(row, account.vip)
        fetched = parse_iso(row.get("fetched_at"))
        if fetched is None and status in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING):
            fetched = parse_iso(row.get("created_at"))  # added before abook recorded fetch times
        if fetched is None:
            if status == DownloadStatus.PENDING:
                slots += 1
                waiting += 1
                total += size if costs else 0
            continue
        if booked is not None and tracker == "mam" and tid in booked:
            if status in UNFINISHED and costs:
                total += max(0, size - int(booked[tid] or 0))
            continue
        if fetched >= since:
            slots += 1
            own += 1
            if costs:
                total += size
                own_bytes += size
            continue
        if status in UNFINISHED and costs:
            total += int((1.0 - float(row.get("progress") or 0.0)) * size)
    return OwnLoad(bytes=total, slots=slots, own=own, waiting=waiting, own_bytes=own_bytes)


def wedge_choice(release: Release, account: Account, rules: Rules, *, unsettled: int = 0) -> tuple[bool, str]:
    """(ask for a wedge with this download?, why). Pure.

    ``unsettled`` is the number of wedges abook asked for lately whose spending the account's count
    did not show yet: they are counted as spent, so ``WEDGE_RESERVE`` holds even when MAM lags."""
    if rules.wedge_min <= 0:
        return False, "WEDGE_MIN_GB is 0: wedges are never used"
    kind = cost_kind(release, account.vip)
    if kind != "ratio":
        return False, f"{kind}: a wedge would buy nothing"
    from .clients.mamdata import parse_flag

    if release.vip or parse_flag(release.raw.get("fl_vip")):
        return False, "a VIP torrent: MAM does not take wedges on VIP torrents"
    if release.size < rules.wedge_min:
        return False, f"{_gb(release.size)} is smaller than WEDGE_MIN_GB {gib(rules.wedge_min):g}"
    if account.wedges is None:
        return False, "the account's wedge count is unknown"
    left = account.wedges - unsettled
    if left <= rules.wedge_reserve:
        return False, f"{left} wedges held, WEDGE_RESERVE {rules.wedge_reserve} are kept"
    return True, f"{_gb(release.size)} costs ratio: one of {left} wedges (WEDGE_RESERVE {rules.wedge_reserve} kept)"


# ------------------------------------------------------------------ the guard
@dataclass
class Clearance:
    """The fresh look's answer for one pick, right before its .torrent is fetched."""

    release: Release  # with the flags as the tracker shows them now
    refusal: str | None = None  # why it must wait (the guard's arithmetic on the fresh flags)
    gone: str | None = None  # why it must not be fetched at all
    wedge: bool = False  # ask for a wedge with the download
    wedge_why: str = ""
    changed: str = ""  # what changed since the search ("freeleech ended")
    looked: bool = False  # the tracker was asked (False: judged on the recorded flags)

    @property
    def ok(self) -> bool:
        return self.refusal is None and self.gone is None


def _changes(old: Release, new: Release, vip_account: bool) -> str:
    out = []
    was, now = cost_kind(old, vip_account), cost_kind(new, vip_account)
    if was != now:
        out.append(f"{was} ended, now costs ratio" if now == "ratio" else f"now {now} (was {was})")
    if old.size and new.size and abs(old.size - new.size) > max(old.size, new.size) * 0.01:
        out.append(f"size now {_gb(new.size)}")
    return "; ".join(out)


@dataclass
class TrackerGuard:
    """``guard(release) -> refusal or None`` for grabs from the tracker account abook watches,
    plus the fresh look (:meth:`look`) and the wedge check (:meth:`wedges_now`).

    ``client`` is the run's tracker session (``user_stats()``, ``torrent(id)``, ``snatch_list()``);
    the account is read at the first grab and kept for the run (``account`` may hand one in)."""

    state: State
    client: Any
    floor: float = 1.5
    margin: int = 5
    rules: Rules | None = None
    account: Account | None = None
    now: Any = None  # () -> datetime; the clock (tests)

    def __post_init__(self) -> None:
        if self.rules is None:
            self.rules = Rules(floor=self.floor, margin=self.margin, buffer_min=0)
        self.floor, self.margin = self.rules.floor, self.rules.margin

    # ------------------------------------------------------------ reads
    def _now(self) -> datetime:
        from .times import utcnow

        return self.now() if self.now else utcnow()

    def current(self) -> Account:
        if self.account is None:
            self.account = load_account(self.state, self.client, now=self._now())
        return self.account

    def _read_at(self, account: Account) -> datetime:
        from .times import parse_iso

        return parse_iso(account.read_at) or self._now()

    def load(self, account: Account | None = None, *, exclude: tuple[str, str] | None = None) -> OwnLoad:
        account = account or self.current()
        read_at = self._read_at(account)
        rows = self.state.guard_downloads(UNFINISHED, read_at - OWN_WINDOW)
        return own_load(account, rows, read_at=read_at, exclude=exclude)

    def _mine(self, release: Release) -> dict[str, Any] | None:
        tracker, tid = release.identity
        if not tid:
            return None
        return self.state.find_download(tracker=tracker, torrent_id=str(tid))

    # ------------------------------------------------------------ judging
    def judge(self, release: Release, *, account: Account | None = None) -> str | None:
        """The guard's arithmetic for one grab (no tracker request)."""
        assert self.rules is not None
        account = account or self.current()
        mine = self._mine(release)
        fetched_before = bool(mine and mine.get("fetched_at"))
        load = self.load(account, exclude=None if fetched_before else (release.identity[0], str(release.torrent_id)))
        return check_grab(account, release, pending_bytes=load.bytes, pending_slots=load.slots,
                          floor=self.rules.floor, margin=self.rules.margin, buffer_min=self.rules.buffer_min,
                          new_slot=not fetched_before, own_slots=load.own)

    __call__ = judge

    def look(self, release: Release, *, fresh: bool = True) -> Clearance:
        """Read the torrent again (one paced request; ``fresh`` False judges the recorded flags) and
        judge it on what the tracker shows now; decide whether to ask for a wedge with it."""
        assert self.rules is not None
        account = self.current()
        mine = self._mine(release)
        fetched_before = bool(mine and mine.get("fetched_at"))
        now_release = release
        looked = False
        if fresh and release.identity[0] == "mam" and str(release.torrent_id).isdigit():
            seen = self.client.torrent(release.torrent_id)
            looked = True
            if seen is None:
                return Clearance(release, gone="the tracker no longer lists this torrent (deleted or moved)",
                                 looked=True)
            if seen.my_snatched and not fetched_before:
                return Clearance(seen, gone="snatched before: the account already has this torrent", looked=True)
            from .clients.mamdata import parse_flag

            # fl_vip is free for a VIP account even when the client parsed the row without the class.
            free = seen.freeleech or (account.vip and parse_flag(seen.raw.get("fl_vip")))
            now_release = replace(
                release, freeleech=free, personal_freeleech=seen.personal_freeleech, vip=seen.vip,
                size=seen.size or release.size, raw={**release.raw, **seen.raw},
                # a search page carries no description; the exact lookup does (for the import)
                description=release.description or seen.description,
            )
        changed = _changes(release, now_release, account.vip) if looked else ""
        refusal = self.judge(now_release, account=account)
        if refusal and changed:
            refusal = f"{changed}: {refusal}"
        wedge, why = False, ""
        if refusal is None:
            if mine is not None and mine.get("wedge"):
                why = f"a wedge was asked for already ({mine['wedge']}): never twice for one download"
            elif fetched_before:
                why = "fetched before: a wedge is asked for only with the first download"
            elif release.source != "mam":
                why = f"fetched through {release.source}: a wedge can only be asked for with MAM's own download"
            else:
                wedge, why = wedge_choice(now_release, account, self.rules,
                                          unsettled=self.state.unsettled_wedges(self._now() - OWN_WINDOW))
        return Clearance(now_release, refusal=refusal, wedge=wedge, wedge_why=why, changed=changed, looked=looked)

    def wedges_now(self) -> Any:
        """The account read again (never from the cache): did the wedge count drop?"""
        stats = self.client.user_stats()
        account = account_of(stats, now=self._now(), booked=self.current().booked)
        self.account = account
        cache_account(self.state, account)
        return stats


def account_of(stats: Any, *, now: datetime | None = None, booked: dict[str, int] | None = None) -> Account:
    """The guard's view of the tracker's user stats."""
    from .times import iso

    uploaded = stats.uploaded
    if not getattr(stats, "exact_bytes", False) and math.isfinite(stats.ratio) and stats.downloaded > 0:
        # Without byte counts MAM shows up/down as rounded strings ("1.2 TiB"); its ratio is exact.
        uploaded = int(stats.ratio * stats.downloaded)
    return Account(
        uploaded=uploaded, downloaded=stats.downloaded,
        ratio=stats.ratio if math.isfinite(stats.ratio) else 1e9,
        vip=stats.is_vip, unsat_count=stats.unsat_count, unsat_limit=stats.unsat_limit,
        wedges=getattr(stats, "wedges", None), read_at=iso(now), booked=booked,
    )


def booked_of(snatches: Iterable[Any], mine: Iterable[str]) -> dict[str, int]:
    """abook's torrents on MAM's unsatisfied list -> the bytes MAM booked for each."""
    wanted = set(mine)
    return {s.torrent_id: int(s.downloaded) for s in snatches if s.torrent_id in wanted}


def read_booked(state: State, client: Any, *, since: datetime) -> dict[str, int] | None:
    """MAM's unsatisfied list, read only when abook has grabs it may not count yet (fetched
    since ``since``, or unfinished); None when there is nothing to ask about or the list failed."""
    from .errors import AuthError, ServiceError

    rows = state.guard_downloads(UNFINISHED, since)
    mine = {str(r["torrent_id"]) for r in rows if r.get("fetched_at") and r.get("torrent_id")
            and (r.get("tracker") or r.get("source") or "mam") == "mam"}
    if not mine:
        return None
    try:
        listed = client.snatch_list("unsat")
    except AuthError:
        raise
    except ServiceError as exc:  # the list is a refinement: without it recent grabs count as own
        log.warning("MAM: the unsatisfied list could not be read (%s); abook's recent grabs count as new", exc)
        return None
    return booked_of(listed.snatches, mine)


def load_account(state: State, client: Any, *, now: datetime | None = None) -> Account:
    """User stats, from the state file's cache when fresher than a few minutes."""
    from .times import parse_iso, utcnow

    now = now or utcnow()
    cached = state.get_kv("mam_stats")
    if cached:
        data = json.loads(cached)
        at = parse_iso(data.get("at"))
        if at is not None and 0 <= (now - at).total_seconds() < STATS_CACHE_SECONDS:
            account = Account.from_json(data["account"])
            return account if account.read_at else replace(account, read_at=data.get("at") or "")
    stats = client.user_stats()
    booked = read_booked(state, client, since=now - OWN_WINDOW)
    acc = account_of(stats, now=now, booked=booked)
    cache_account(state, acc)
    return acc


def cache_account(state: State, account: Account) -> None:
    """Hand fresh numbers to the next guard (``ratio-check`` reads the account every 5 minutes)."""
    from .times import iso

    state.set_kv("mam_stats", json.dumps({"at": account.read_at or iso(), "account": account.as_json()}))


__all__ = [
    "GIB", "OWN_WINDOW", "Account", "Clearance", "OwnLoad", "Rules", "TrackerGuard", "account_of", "booked_of",
    "buffer_after", "cache_account", "check_grab", "cost_kind", "costs_ratio", "load_account",
    "own_load", "projected_ratio", "read_booked", "wedge_choice",
]
