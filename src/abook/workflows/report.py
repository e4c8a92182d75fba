"""``abook report``: everything abook knows, as one JSON-ready dict.

The dict *is* the ``--json`` schema (documented in the README, ``schema`` = 1). Sections are only
ever added; a key, once published, keeps its meaning.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..models import ARRIVED, UNFINISHED, DownloadStatus, MissingStatus, TaskStatus
from ..times import iso, parse_iso, utcnow

if TYPE_CHECKING:
    from ..config import Settings
    from ..state import State

SCHEMA = 1


@dataclass(frozen=True)
class ReportOptions:
    """What the report needs from the settings besides the state file."""

    since_days: int = 7
    book_value: float = 0.0
    ratio_floor: float = 1.5  # the buffer is what can be downloaded before the ratio falls to it
    gap_batch: int = 10  # GAP_MAX_DOWNLOADS_PER_RUN: the next gap run's batch
    vip_warn_days: int = 7
    notify_urls: bool = False  # NOTIFY_URLS is set
    notify_on: tuple[str, ...] = ()  # NOTIFY_ON

    @classmethod
    def from_settings(cls, settings: Settings, *, since_days: int = 7) -> ReportOptions:
        return cls(since_days=since_days, book_value=settings.book_value, ratio_floor=settings.ratio_floor,
                   gap_batch=settings.gap_max_downloads_per_run, vip_warn_days=settings.vip_warn_days,
                   notify_urls=bool(settings.notify_urls), notify_on=tuple(settings.notify_on))


@dataclass
class ReportResult:
    """The report: ``data`` is the ``--json`` document; ``notify``: send its summary as the weekly
    notification (``abook report --notify``)."""

    data: dict[str, Any]
    notify: bool = False
    metrics: dict[str, Any] | None = None  # with ``--prometheus``: ``data`` plus the counters of the metrics file
    warnings: list[str] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {}

    def error(self) -> None:
        return None


def run(state: State, *, since: str | None = None, book_value: float = 0.0,
        options: ReportOptions | None = None, notify: bool = False, metrics: bool = False) -> ReportResult:
    """The report over the last ``since`` ("7d", "2w", "36h"; default 7 days); ``notify``: its
    summary is the weekly notification; ``metrics``: gather the metrics file's counters too."""
    from ..times import parse_since

    days = parse_since(since)
    opts = dataclasses.replace(options, since_days=days) if options else ReportOptions(days, book_value)
    data = build(state, options=opts)
    extra = {**data, **metric_counters(state)} if metrics else None
    # The weekly schedule of contrib/ asks for --notify: without NOTIFY_URLS it is a warning, so
    # the same timer serves those who set no notifications.
    send = notify and opts.notify_urls and "weekly" in opts.notify_on
    warnings = []
    if notify and not send:
        why = "NOTIFY_URLS is not set" if not opts.notify_urls else "NOTIFY_ON has no 'weekly'"
        warnings.append(f"the summary is not sent: {why}")
    return ReportResult(data, notify=send, metrics=extra, warnings=warnings)


def build(state: State, *, since_days: int = 7, book_value: float = 0.0,
          options: ReportOptions | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Gather the report; ``since_days`` bounds the "recent" parts (added books, failures,
    corrections, tracker trend); ``book_value`` > 0 adds an estimated value to the pipeline
    (``options``, when given, carries both and the rest)."""
    opts = options or ReportOptions(since_days=since_days, book_value=book_value)
    data = core(state, opts, now=now)
    since = parse_iso(data["since"]) or utcnow()
    data["top10"] = top10_section(state)
    data["gaps"] = gaps_section(state)
    data["metadata"] = metadata_section(state, since, data["library"])
    data["titles"] = titles_section(state)
    return data


def core(state: State, options: ReportOptions, *, now: datetime | None = None) -> dict[str, Any]:
    """The cheap part of the report, enough for the summary panel, ``--watch`` and the metrics
    file: library, pipeline, tracker account, runs, failures and the summary."""
    now = now or utcnow()
    since = now - timedelta(days=options.since_days)
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": iso(now),
        "abook_version": __version__,
        "since": iso(since),
        "library": state.library_summary(recent_days=options.since_days, now=now),
        "runs": runs_section(state),
        "failures": [
            {
                "at": f["created_at"],
                "command": f["command"],
                "kind": f["kind"],
                "ref": f["ref"] or None,
                "title": f["title"] or None,
                "reason_code": f["reason_code"],
                "reason": f["reason"],
            }
            for f in state.failures(since=since)
        ],
    }
    data["since_days"] = options.since_days
    data["pipeline"] = pipeline(state, since, options.book_value)
    data["tracker"] = tracker_section(state, since)
    data["notifications"] = state.notification_summary(since=since)
    data["summary"] = summary_section(state, data, options, since=since, now=now)
    return data


def metrics_data(state: State, options: ReportOptions, *, now: datetime | None = None) -> dict[str, Any]:
    """What the metrics file shows: the cheap core plus the counters only Prometheus wants."""
    return {**core(state, options, now=now), **metric_counters(state)}


def metric_counters(state: State) -> dict[str, Any]:
    return {"failure_totals": state.failure_counts(), "missing": state.missing_book_counts()}


# ------------------------------------------------------------------ --watch
@dataclass
class Flight:
    """A download on its way, as the live view shows it (qBittorrent's live figures when it answers)."""

    download_id: int
    title: str
    status: str
    progress: float
    size: int
    speed: int | None = None  # bytes/s
    eta: int | None = None  # seconds
    state: str = ""  # qBittorrent's state
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class LiveView:
    data: dict[str, Any]
    downloads: list[Flight]
    qbt_error: str = ""


ETA_UNKNOWN = 8640000  # qBittorrent's "infinity"


def live(state: State, qbt: Any, options: ReportOptions, *, now: datetime | None = None) -> LiveView:
    """One frame of ``abook report --watch``: the summary and every download not in the library yet."""
    from ..errors import AbookError

    data = core(state, options, now=now)
    rows = state.downloads((DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING, DownloadStatus.PENDING,
                            DownloadStatus.COMPLETED))
    torrents: dict[str, Any] = {}
    error = ""
    hashes = [h for r in rows if (h := (r.get("qb_hash") or r.get("info_hash") or "").lower())]
    if qbt is not None and hashes:
        try:
            for t in qbt.torrents(hashes=hashes):
                torrents[t.hash] = t
                if t.infohash_v1:
                    torrents[t.infohash_v1] = t
        except AbookError as exc:
            error = str(exc)
    order = {DownloadStatus.DOWNLOADING: 0, DownloadStatus.QUEUED: 1, DownloadStatus.COMPLETED: 2,
             DownloadStatus.PENDING: 3}
    flights = []
    for r in sorted(rows, key=lambda r: (order.get(r["status"], 9), r["id"])):
        t = torrents.get((r.get("qb_hash") or r.get("info_hash") or "").lower())
        flights.append(Flight(
            r["id"], r["title"] or "", r["status"],
            progress=t.progress if t is not None else float(r["progress"] or (1.0 if r["status"] == "completed" else 0)),
            size=(t.size if t is not None and t.size > 0 else int(r["size"] or 0)),
            speed=t.dlspeed if t is not None else None,
            eta=t.eta if t is not None and 0 <= t.eta < ETA_UNKNOWN else None,
            state=t.state if t is not None else "",
            detail=r["status_reason"] or "",
        ))
    return LiveView(data, flights, error)


def runs_section(state: State) -> list[dict[str, Any]]:
    """The newest run of every command (not this very report while it runs)."""
    runs = []
    for row in state.last_runs():
        if row["status"] == TaskStatus.RUNNING and row.get("pid") == os.getpid():
            continue
        runs.append(
            {
                "command": row["command"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "status": row["status"],
                "exit_code": row.get("exit_code"),
                "counts": json.loads(row["counts"]) if row.get("counts") else {},
                "error": row.get("error") or None,
            }
        )
    return runs


def buffer_bytes(uploaded: float | None, downloaded: float | None, floor: float) -> int | None:
    """What can still be downloaded (non-freeleech) before the ratio falls to ``floor``:
    uploaded / floor - downloaded (negative: that much must be uploaded first)."""
    if uploaded is None or downloaded is None or floor <= 0:
        return None
    return int(uploaded / floor - downloaded)


def summary_section(
    state: State, data: dict[str, Any], options: ReportOptions, *, since: datetime, now: datetime
) -> dict[str, Any]:
    """The first screen: what happened in the window, what is next, and the account."""
    lib, pipe, tracker = data["library"], data["pipeline"], data["tracker"]
    done = state.downloads_completed_since(since)
    missing = state.missing_book_counts()
    statuses = pipe["statuses"]
    wanted = missing.get(MissingStatus.WANTED, 0)
    account = None
    snap = tracker.get("now")
    guard_buffer = tracker.get("buffer") or None
    if snap:
        vip_until = parse_iso(snap.get("vip_until"))
        account = {
            "taken_at": snap["taken_at"], "username": snap.get("username"), "class": snap.get("class"),
            "ratio": snap.get("ratio"), "floor": options.ratio_floor,
            # The guard's figure (after abook's own grabs MAM does not show yet) when ratio-check left
            # one; else what the snapshot alone implies. None with "buffer_unlimited": no floor.
            "buffer_bytes": guard_buffer["bytes"] if guard_buffer else buffer_bytes(
                snap.get("uploaded"), snap.get("downloaded"), options.ratio_floor),
            "buffer_unlimited": bool(guard_buffer) and guard_buffer.get("bytes") is None,
            "hold": tracker.get("hold"), "bonus": snap.get("bonus"), "vip_until": snap.get("vip_until"),
            "vip_days_left": round((vip_until - now).total_seconds() / 86400, 1) if vip_until else None,
            "vip_warn": bool(vip_until and 0 <= (vip_until - now).total_seconds() <= options.vip_warn_days * 86400),
            "unsat_count": snap.get("unsat_count"), "unsat_limit": snap.get("unsat_limit"),
        }
    failures = data["failures"]
    finished = [r for r in data["runs"] if r["finished_at"]]
    return {
        "days": options.since_days,
        "since": iso(since),
        "downloaded": done["count"],
        "downloaded_bytes": done["bytes"],
        "downloaded_gb": round(done["bytes"] / 1e9, 2),
        "added": lib.get("added_recent", 0),  # new in the library, from abook or not
        "added_by_abook": pipe["acquired_since"],
        "estimated_value": pipe.get("estimated_value_since"),
        "books": lib.get("books", 0),
        "authors": lib.get("authors", 0),
        "authors_catalogued": state.authors_catalogued(),
        "missing_wanted": wanted,
        "missing_queued": missing.get(MissingStatus.QUEUED, 0) + missing.get(MissingStatus.DOWNLOADING, 0),
        "missing_not_found": missing.get(MissingStatus.NOT_FOUND, 0),
        "next_batch": min(wanted, options.gap_batch),
        "pending": statuses.get(DownloadStatus.PENDING, {}).get("count", 0),
        "in_flight": sum(statuses.get(s, {}).get("count", 0) for s in (DownloadStatus.QUEUED, DownloadStatus.DOWNLOADING)),
        "failures": state.count_failures(since),
        "newest_failure": failures[0] if failures else None,
        "failed_commands": [
            {"command": r["command"], "at": r["finished_at"], "exit_code": r.get("exit_code"), "error": r["error"]}
            for r in finished if r["status"] == TaskStatus.FAILED
        ],
        "last_run": max(finished, key=lambda r: r["finished_at"], default=None),
        "commands": len(data["runs"]),
        "account": account,
        "ratio_trend": [r["ratio"] for r in tracker.get("ratio_series", [])][-24:],
        "notifications_pending": data.get("notifications", {}).get("pending", 0),
    }


PIPELINE_STATUSES = tuple(DownloadStatus)  # every one present in the report, in the pipeline's order


def pipeline(state: State, since: datetime, book_value: float) -> dict[str, Any]:
    """Downloads per status with their size; the estimated value of what reached the library."""
    summary = state.download_summary()
    statuses = {}
    for status in (*PIPELINE_STATUSES, *sorted(set(summary) - set(PIPELINE_STATUSES))):
        row = summary.get(status, {"count": 0, "bytes": 0})
        statuses[status] = {"count": int(row["count"]), "bytes": int(row["bytes"] or 0),
                            "gb": round((row["bytes"] or 0) / 1e9, 2)}
    total_bytes = sum(s["bytes"] for s in statuses.values())
    acquired = sum(statuses[s]["count"] for s in ARRIVED)
    acquired_since = state.downloads_finished_since(since)
    return {
        "statuses": statuses,
        "total": sum(s["count"] for s in statuses.values()),
        "bytes": total_bytes,
        "gb": round(total_bytes / 1e9, 2),
        "unfinished": sum(statuses[s]["count"] for s in UNFINISHED),
        "acquired": acquired,
        "acquired_since": acquired_since,
        "book_value": book_value if book_value > 0 else None,
        "estimated_value": round(acquired * book_value, 2) if book_value > 0 else None,
        "estimated_value_since": round(acquired_since * book_value, 2) if book_value > 0 else None,
    }


def top10_section(state: State) -> dict[str, Any]:
    """The newest top10 run (weekly), every candidate's decision grouped by genre."""
    rows = state.top10_recent()
    genres: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        genres.setdefault(r["genre"] or "", []).append({
            "rank": r["rank"], "title": r["title"], "author": r["author"], "decision": r["decision"],
            "reason": r["reason"], "source": r["source"], "torrent_id": r["torrent_id"],
            "download_id": r["download_id"],
        })
    decisions: dict[str, int] = {}
    for r in rows:
        decisions[r["decision"]] = decisions.get(r["decision"], 0) + 1
    return {
        "run_at": min((r["run_at"] for r in rows), default=None),
        "task_id": rows[0]["task_id"] if rows else None,
        "decisions": decisions,
        "genres": [{"genre": g, "decisions": d} for g, d in genres.items()],
    }


def gaps_section(state: State) -> dict[str, Any]:
    """Series completion and authors with gaps, as the gaps workflow sums them up."""
    from .missing import gaps_report

    try:
        return gaps_report(state)
    except Exception as exc:  # the report must not die for one section
        return {"error": f"gaps report failed: {type(exc).__name__}: {exc}"}


def metadata_section(state: State, since: datetime, library: dict[str, Any]) -> dict[str, Any]:
    """Completeness per field is in ``library``; here: the fields abook filled, and from where."""
    rows = state.corrections(since=since, limit=100000)
    by_source: dict[str, int] = {}
    by_field: dict[str, dict[str, int]] = {}
    for c in rows:
        src = c["source"] or "?"
        by_source[src] = by_source.get(src, 0) + 1
        per = by_field.setdefault(c["field"], {})
        per[src] = per.get(src, 0) + 1
    counts = state.last_counts("fix-metadata")
    return {
        "completeness": library.get("completeness"),
        "last_run": {"completeness_before": counts.get("completeness_before"),
                     "completeness_after": counts.get("completeness_after"),
                     "fields_filled": counts.get("fields")} if counts else None,
        "fields": library.get("fields", {}),
        "corrections_total": len(rows),
        "by_source": by_source,
        "by_field": by_field,  # field -> {source: fields filled}
        "corrections": [
            {"at": c["created_at"], "book_id": c["book_id"], "title": c["title"], "field": c["field"],
             "old": c["old"], "new": c["new"], "source": c["source"]}
            for c in rows[:100]
        ],
    }


def titles_section(state: State) -> dict[str, Any]:
    """"Titles to tidy": the books whose title still carries a series label, an edition tag or a
    marketing subtitle, or whose subtitle is only a series label (what ``fix-metadata
    --tidy-titles`` would change), counted by kind, with a few examples."""
    from .metadata import titles_to_tidy

    return titles_to_tidy(state.books())


def tracker_section(state: State, since: datetime) -> dict[str, Any]:
    """The account as the last ratio-check saw it, its ratio trend, the hold, purchases, seeding."""
    snaps = state.snapshots(since=since)
    latest = state.latest_snapshot()
    now = None
    if latest is not None:
        now = {
            "taken_at": latest["taken_at"], "username": latest["username"], "class": latest["class_name"],
            "ratio": latest["ratio"], "uploaded": latest["uploaded"], "downloaded": latest["downloaded"],
            "bonus": latest["bonus"], "vip_until": latest["vip_until"], "unsat_count": latest["unsat_count"],
            "unsat_limit": latest["unsat_limit"],
        }
    ratios = [s for s in snaps if s["ratio"] is not None]
    trend = None
    if len(ratios) >= 2:
        delta = ratios[-1]["ratio"] - ratios[0]["ratio"]
        trend = f"{'+' if delta >= 0 else ''}{delta:.2f} since {ratios[0]['taken_at']}"
    # Keep the trend short: at most ~50 points evenly spread over the window, the newest last.
    step = max(1, len(ratios) // 50)
    series = [{"at": s["taken_at"], "ratio": s["ratio"]} for s in ratios[::-1][::step][::-1]]
    actions = [
        {"at": s["taken_at"], "action": s["action"]}
        for s in snaps
        if s["action"] and s["action"] not in ("ok", "hold_kept")
    ]
    raw_seed = state.get_kv("seed_obligations")
    raw_view = state.get_kv("guard_view")
    view = json.loads(raw_view) if raw_view else {}
    return {
        "buffer": view.get("buffer"),  # the upload buffer as the last ratio-check saw it
        "guard": view or None,  # buffer, wedges, own counts, MAM's hit-and-run counts
        "now": now,
        "hold": state.hold(),
        "paused_by_abook": state.paused_by_abook(),
        "trend": trend,
        "ratio_series": series,
        "snapshots": len(snaps),
        "actions": actions[-50:],
        "seeding": json.loads(raw_seed) if raw_seed else None,  # torrents at risk of a hit-and-run first
    }



