"""Moments as abook stores them: timezone-aware UTC, ISO 8601 to the second."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None = None) -> str:
    return (dt or utcnow()).astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> datetime | None:
    """An ISO 8601 text as an aware datetime (naive ones are UTC); None when empty or malformed."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_since(text: str | None) -> int:
    """``7d``, ``2w``, ``36h`` or a bare number of days -> whole days (at least 1)."""
    from .errors import ConfigError

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


# ------------------------------------------------------------- for people
# abook stores UTC; a person reads the machine's time zone (TZ) and, for what is near, a relative
# time. Both take ``tz`` so tests (and a report for someone elsewhere) can fix the zone.
def local(dt: datetime, tz: tzinfo | None = None) -> datetime:
    """``dt`` in ``tz``, else the machine's local time zone."""
    return dt.astimezone(tz) if tz is not None else dt.astimezone()


def local_text(dt: datetime | str | None, tz: tzinfo | None = None, fmt: str = "%a %d %b %Y %H:%M %Z") -> str:
    """A stored moment as a person reads it, e.g. ``Mon 02 Mar 2026 08:00 CET`` ("-" when unknown)."""
    moment = parse_iso(dt) if isinstance(dt, str) or dt is None else dt
    if moment is None:
        return "-"
    return local(moment, tz).strftime(fmt).strip()


def relative(dt: datetime | str | None, now: datetime | None = None) -> str:
    """``in 89 days``, ``2 h ago``, ``just now`` ("-" when unknown)."""
    moment = parse_iso(dt) if isinstance(dt, str) or dt is None else dt
    if moment is None:
        return "-"
    seconds = (moment - (now or utcnow())).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "just now"
    if size < 3600:
        amount = f"{int(size // 60)} min"
    elif size < 48 * 3600:
        amount = f"{int(size // 3600)} h"
    else:
        days = int(size // 86400)
        amount = f"{days} day{'s' if days != 1 else ''}"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
