"""``abook report``: everything abook knows, as one JSON-ready dict.

The dict *is* the ``--json`` schema (documented in the README, ``schema`` = 1). Sections are only
ever added; a key, once published, keeps its meaning.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..state import iso, utcnow

if TYPE_CHECKING:
    from ..state import State

SCHEMA = 1


def build(state: State, *, since_days: int = 7) -> dict[str, Any]:
    """Gather the report; ``since_days`` bounds the "recent" parts (added books, failures)."""
    since = utcnow() - timedelta(days=since_days)
    runs = []
    for row in state.last_runs():
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
    return {
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


def parse_since(text: str | None) -> int:
    """``7d``, ``2w``, ``36h`` or a bare number of days -> whole days (at least 1)."""
    from ..errors import ConfigError

    if not text:
        return 7
    raw = text.strip().lower()
    unit = raw[-1] if raw[-1] in "hdw" else "d"
    number = raw[:-1] if raw[-1] in "hdw" else raw
    try:
        value = float(number)
    except ValueError:
        raise ConfigError(f"--since {text!r}: write a duration like 7d, 2w or 36h") from None
    days = value / 24 if unit == "h" else value * 7 if unit == "w" else value
    return max(1, round(days))

