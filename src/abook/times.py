"""Moments as abook stores them: timezone-aware UTC, ISO 8601 to the second."""

from __future__ import annotations

from datetime import UTC, datetime


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
