"""``abook report``: everything abook knows, as one JSON-ready dict.

The dict *is* the ``--json`` schema (documented in the README, ``schema`` = 1). Sections are only
ever added; a key, once published, keeps its meaning.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..models import ARRIVED, UNFINISHED, DownloadStatus, TaskStatus
from ..times import iso, utcnow

if TYPE_CHECKING:
    from ..state import State

SCHEMA = 1


@dataclass
class ReportResult:
    """The report: ``data`` is the ``--json`` document."""

    data: dict[str, Any]

    def counts(self) -> dict[str, Any]:
        return {}

    def error(self) -> None:
        return None


def run(state: State, *, since: str | None = None, book_value: float = 0.0) -> ReportResult:
    """The report over the last ``since`` ("7d", "2w", "36h"; default 7 days)."""
    from ..times import parse_since

    return ReportResult(build(state, since_days=parse_since(since), book_value=book_value))


def build(state: State, *, since_days: int = 7, book_value: float = 0.0) -> dict[str, Any]:
    """Gather the report; ``since_days`` bounds the "recent" parts (added books, failures,
    corrections, tracker trend); ``book_value`` > 0 adds an estimated value to the pipeline."""
    since = utcnow() - timedelta(days=since_days)
    runs = []
    for row in state.last_runs():
        if row["status"] == TaskStatus.RUNNING and row.get("pid") == os.getpid():
            continue  # this very report
        runs.append(
            {
                "command": row["command"],
                "started_at": row["started_at"],
                "finished_at": row["finished_at"],
                "status": row["status"],
                "counts": json.loads(row["counts"]) if row.get("counts") else {},
                "error": row.get("error") or None,
            }
        )
    data = {
        "schema": SCHEMA,
        "generated_at": iso(),
        "abook_version": __version__,
        "since": iso(since),
        "library": state.library_summary(recent_days=since_days),
        "runs": runs,
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
    data["since_days"] = since_days
    data["pipeline"] = pipeline(state, since, book_value)
    data["top10"] = top10_section(state)
    data["gaps"] = gaps_section(state)
    data["metadata"] = metadata_section(state, since, data["library"])
    data["tracker"] = tracker_section(state, since)
    data["titles"] = titles_section(state)
    return data


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



