"""Notifications: events -> messages -> Apprise (``NOTIFY_URLS``), through an outbox in the state file.

An :class:`Event` is what a finished run has to tell (``events.py`` reads them off its result). It
is queued once per target in the ``notifications`` table — its ``key`` is unique per target, so a
run that is killed and run again, or two runs that see the same hold, never queue it twice — and
then sent. A target that is down keeps its messages for the next run (``MAX_AGE``), so a hold set
while ntfy was restarting still arrives; one failure skips that target for the rest of the run, so
a dead target costs one timeout per run, not one per message. A failed delivery is logged and
never changes a run's exit code.

Apprise is imported only when something is sent: ``abook --help`` stays fast. The URLs are
secrets: they are never stored (a target is a digest of its URL), logged or shown; a target is
named by its position and service ("#2 Discord").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .config import split_urls
from .http import redact

if TYPE_CHECKING:
    from .state import State

log = logging.getLogger("abook")

#: Apprise's notify types, which services show as colours or icons.
LEVELS = ("info", "success", "warning", "failure")
MAX_AGE = timedelta(hours=24)  # an event older than this is stale news: given up, not sent
MAX_ATTEMPTS = 50  # ...and so is one that failed this often (a wrong URL, not a brief outage)
STALE_CLAIM = timedelta(minutes=15)  # a claim this old belongs to a run that died while sending
BODY_LIMIT = 3500  # characters; Discord takes 2,000 per message and Apprise splits longer bodies


@dataclass(frozen=True)
class Event:
    """One thing a person should hear about."""

    kind: str  # failure | hold | vip | import | weekly (the names NOTIFY_ON takes)
    key: str  # what makes it this event: queued once per target, whatever the number of runs
    title: str
    body: str
    level: str = "info"


@dataclass(frozen=True)
class Target:
    """One Apprise URL, known by its position and a digest: the URL itself is a secret."""

    index: int  # 1-based, in NOTIFY_URLS order
    url: str = field(repr=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0].lower() or "?"


def targets(notify_urls: str) -> list[Target]:
    return [Target(i, url) for i, url in enumerate(split_urls(notify_urls), start=1)]


@dataclass
class Delivery:
    """What one send to one target came to."""

    target: Target
    ok: bool
    service: str = ""  # Apprise's name for it ("ntfy", "Discord", "E-Mail")
    error: str = ""

    @property
    def name(self) -> str:
        return f"#{self.target.index} {self.service or self.target.scheme}"


Sender = Callable[[Target, str, str, str], Delivery]


def apprise_send(target: Target, title: str, body: str, level: str = "info") -> Delivery:
    """Send one message to one target with Apprise; never raises for a delivery problem."""
    import apprise

    # Apprise's own log lines may hold the URL: they are captured (and redacted), never printed.
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        asset = apprise.AppriseAsset(app_id="abook", app_desc="abook", storage_mode="memory")
        client = apprise.Apprise(asset=asset)
        if not client.add(target.url):
            return Delivery(target, False,
                            error="not an Apprise URL (check its scheme and parts against the Apprise wiki)")
        service = str(getattr(client[0], "service_name", "") or "")
        try:
            ok = bool(client.notify(body=body, title=title, notify_type=level if level in LEVELS else "info"))
        except Exception as exc:  # a plugin bug must not end the run
            ok, captured_error = False, f"{type(exc).__name__}: {exc}"
        else:
            captured_error = ""
        lines = [ln.strip() for ln in captured.getvalue().splitlines() if ln.strip()]
    error = "" if ok else redact(captured_error or (lines[-1] if lines else "the service did not accept it"))
    return Delivery(target, ok, service=service, error=_one_line(error))


# ------------------------------------------------------------------ outbox
def queue(
    state: State, events: Iterable[Event], notify_urls: str, *, notify_on: Sequence[str],
    command: str = "", task_id: int | None = None,
) -> int:
    """Put the events NOTIFY_ON asks for into the outbox, one row per target. Returns rows added."""
    wanted = [e for e in events if e.kind in notify_on]
    rows = [
        {"key": e.key, "target": t.digest, "event": e.kind, "level": e.level, "title": redact(e.title),
         "body": redact(_clip(e.body)), "command": command, "task_id": task_id}
        for e in wanted for t in targets(notify_urls)
    ]
    return state.queue_notifications(rows) if rows else 0


@dataclass
class FlushResult:
    sent: int = 0
    failed: list[Delivery] = field(default_factory=list)
    waiting: int = 0  # not tried this run: their target had just failed


def flush(state: State, notify_urls: str, *, now: datetime, send: Sender = apprise_send) -> FlushResult:
    """Send what the outbox holds for the configured targets, oldest first."""
    by_digest = {t.digest: t for t in targets(notify_urls)}
    result = FlushResult()
    if not by_digest:
        return result
    rows = state.claim_notifications(list(by_digest), now=now, stale_after=STALE_CLAIM, max_age=MAX_AGE,
                                     max_attempts=MAX_ATTEMPTS)
    down: set[str] = set()
    for row in rows:
        target = by_digest[row["target"]]
        if target.digest in down:
            state.finish_notification(row["id"], sent=False, tried=False)
            result.waiting += 1
            continue
        try:
            delivery = send(target, row["title"] or "abook", row["body"] or "", row["level"] or "info")
        except Exception as exc:  # the sender must never end the run; keep the row for later
            delivery = Delivery(target, False, error=redact(f"{type(exc).__name__}: {exc}"))
        state.finish_notification(row["id"], sent=delivery.ok, error=delivery.error, now=now)
        if delivery.ok:
            result.sent += 1
        else:
            down.add(target.digest)
            result.failed.append(delivery)
            log.warning("notification %r to %s failed (kept for the next run): %s",
                        row["title"], delivery.name, delivery.error)
    return result


def send_test(notify_urls: str, *, send: Sender = apprise_send, host: str = "") -> list[Delivery]:
    """``abook notify --test``: one message to every target, straight (no outbox), each result."""
    where = f" on {host}" if host else ""
    return [
        send(t, "abook: test notification",
             f"This is a test from abook{where}. If you can read it, notifications reach you here "
             f"(target #{t.index} of NOTIFY_URLS).", "info")
        for t in targets(notify_urls)
    ]


def _clip(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[: BODY_LIMIT - 20].rstrip() + "\n… (see abook report)"


def _one_line(text: str) -> str:
    return " ".join(text.split())
