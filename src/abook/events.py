"""What a finished run has to tell a person: the :class:`notify.Event` list, read off its result.

The one place that knows which result means which event (the workflows stay unaware of
notifications):

- ``failure``: downloads that failed permanently (one message per run); a command that failed
  (exit 2, 3 or a crash) twice in a row — told once, on the second failure, not every 5 minutes —
  and told again when it works again;
- ``hold``: the ratio hold set or lifted, with the ratio and the buffer;
- ``vip``: VIP ends within ``VIP_WARN_DAYS`` (once per end date, not every ratio-check);
- ``import``: the books a run added to the library (one message per run, not per book);
- ``weekly``: the report's summary panel, as text (``abook report --notify``).

Each event's key names what it is about (a task, a VIP end date), so it is queued once per target
however often the state that caused it is seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .notify import Event

if TYPE_CHECKING:
    from .config import Settings
    from .state import State

LIST_LIMIT = 15  # titles named in one message; the rest are counted


def of_run(
    command: str, result: Any, state: State, settings: Settings, *, task_id: int, exit_code: int,
    now: datetime,
) -> list[Event]:
    """Every event of one finished (not dry) run."""
    from .workflows.downloads import DownloadsResult
    from .workflows.ratio import RatioCheckResult
    from .workflows.report import ReportResult

    out: list[Event] = []
    if isinstance(result, RatioCheckResult) and not result.dry_run:
        out += ratio_events(result, settings, task_id=task_id, now=now)
    elif isinstance(result, DownloadsResult) and not result.dry_run:
        out += download_events(result, state, task_id=task_id)
    elif isinstance(result, ReportResult) and result.notify:
        out.append(weekly_event(result.data, task_id=task_id))
    out += streak_events(state, command, task_id=task_id, exit_code=exit_code)
    return out


# ------------------------------------------------------------------- the account
def ratio_events(result: Any, settings: Settings, *, task_id: int, now: datetime) -> list[Event]:
    from .render import gb_text
    from .times import local_text, parse_iso, relative
    from .workflows.report import buffer_bytes

    out = []
    ratio = "inf" if result.ratio is None or result.ratio == float("inf") else f"{result.ratio:.2f}"
    # The guard's buffer (after abook's own grabs); without one, what the account alone implies.
    buffer = result.buffer
    if buffer is None:
        buffer = buffer_bytes(result.uploaded, result.downloaded, result.floor or settings.ratio_floor)
    shown = "unlimited" if buffer == float("inf") else gb_text(buffer) if buffer is not None else "unknown"
    account = f"Ratio {ratio}, buffer {shown} before the ratio falls to {result.floor:g}."
    if result.transition == "hold_on":
        paused = f" {len(result.paused)} downloading torrents paused." if result.paused else ""
        reason = _sentence(result.hold)
        said = f"ratio {ratio}" in reason.lower()  # the reason may already name the ratio
        account_now = f"Buffer {shown} before the ratio falls to {result.floor:g}." if said else account
        out.append(Event(
            "hold", f"hold_on:{task_id}", "abook: ratio hold ON",
            f"{reason} {account_now}{paused} New downloads wait until the ratio is back at "
            f"RATIO_RESUME {result.resume:g}; seeding goes on.", "warning"))
    elif result.transition == "released":
        resumed = f" {len(result.resumed)} torrents resumed." if result.resumed else ""
        out.append(Event(
            "hold", f"hold_off:{task_id}", "abook: ratio hold lifted",
            f"The ratio is back at RATIO_RESUME {result.resume:g} or above. {account}{resumed} "
            "New downloads go ahead.", "success"))
    until = parse_iso(result.vip_until)
    if until is not None:
        days = (until - now).total_seconds() / 86400
        if 0 <= days <= settings.vip_warn_days:
            out.append(Event(
                "vip", f"vip:{result.vip_until}", f"abook: VIP ends {relative(until, now)}",
                f"VIP ends {local_text(until)} ({relative(until, now)}). {result.bonus:,.0f} bonus points "
                f"(a week costs 1,250): run `abook ratio-check --buy-vip` or set AUTO_BUY_VIP=true.",
                "warning"))
    return out


# ------------------------------------------------------------------- downloads
def download_events(result: Any, state: State, *, task_id: int) -> list[Event]:
    from .models import ARRIVED

    out = []
    if result.failed:
        lines = [f"• {m.title or '#' + str(m.download_id)}: {m.detail}" for m in result.failed[:LIST_LIMIT]]
        more = len(result.failed) - LIST_LIMIT
        if more > 0:
            lines.append(f"… and {more} more")
        first = result.failed[0].download_id
        out.append(Event(
            "failure", f"downloads_failed:{task_id}",
            f"abook: {_count(len(result.failed), 'download')} failed",
            "\n".join(lines) + f"\nGive one another try with `abook downloads --retry {first}`; "
            "`abook report` lists every failure.", "failure"))
    # Reached the library in this run (imported, or straight to done); imported -> done is the same book.
    imported = [m for m in result.moves if m.new in ARRIVED and m.old not in ARRIVED]
    if imported:
        lines = []
        for m in imported[:LIST_LIMIT]:
            row = state.get_download(m.download_id) or {}
            author = f" — {row['author']}" if row.get("author") else ""
            lines.append(f"• {m.title or row.get('title') or '#' + str(m.download_id)}{author}")
        more = len(imported) - LIST_LIMIT
        if more > 0:
            lines.append(f"… and {more} more")
        out.append(Event(
            "import", f"import:{task_id}", f"abook: {_count(len(imported), 'book')} added to your library",
            "\n".join(lines), "success"))
    return out


# ------------------------------------------------------------------- the week
def weekly_event(data: dict[str, Any], *, task_id: int) -> Event:
    from .render import summary_text

    s = data["summary"]
    return Event(
        "weekly", f"weekly:{task_id}",
        f"abook: {_count(s['added'], 'book')} added in {s['days']} days",
        summary_text(data), "info")


# ------------------------------------------------------------------- runs
def streak_events(state: State, command: str, *, task_id: int, exit_code: int) -> list[Event]:
    """A command that failed twice in a row (told once, on the second), and its recovery."""
    from .models import TaskStatus

    streak = state.failure_streak(command)
    if streak and streak[0]["id"] == task_id:
        if len(streak) != 2:
            return []  # the first failure may be a blip; the third and later were told already
        newest, older = streak
        return [Event(
            "failure", f"failing:{command}:{older['id']}",
            f"abook {command} failed twice in a row",
            f"abook {command} failed twice in a row (exit {newest['exit_code'] if newest['exit_code'] is not None else exit_code}): "
            f"{newest['error'] or 'no message'}\nThe first failure was at {_when(older['finished_at'])}. "
            f"You will hear again when it works.", "failure")]
    if state.task_status(task_id) not in (TaskStatus.OK, TaskStatus.PARTIAL, TaskStatus.HELD):
        return []
    before = state.failure_streak(command, before=task_id)
    if len(before) < 2:
        return []
    return [Event(
        "failure", f"recovered:{command}:{task_id}", f"abook {command} works again",
        f"abook {command} ran fine again after {len(before)} failed runs "
        f"(the last error: {before[0]['error'] or 'no message'}).", "success")]


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _sentence(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _when(stored: str | None) -> str:
    from .times import local_text

    return local_text(stored)
