"""``abook notify``: what notifications are set up, and ``--test``: one message to every target.

The events themselves are sent where each run ends (``runtime`` -> ``events`` -> ``notify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..notify import Delivery, Sender, apprise_send, send_test, targets

if TYPE_CHECKING:
    from ..errors import AbookError
    from ..state import State


@dataclass
class NotifyResult:
    targets: list[str] = field(default_factory=list)  # "#1 ntfys", never the URL
    notify_on: tuple[str, ...] = ()
    outbox: dict[str, Any] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    tested: bool = False

    def counts(self) -> dict[str, Any]:
        return {"targets": len(self.targets), "sent": sum(d.ok for d in self.deliveries),
                "failed": sum(not d.ok for d in self.deliveries)}

    def error(self) -> AbookError | None:
        """Exit 3 when a test message did not get through to every target."""
        from ..errors import ServiceError

        failed = [d for d in self.deliveries if not d.ok]
        if failed:
            names = ", ".join(d.name for d in failed)
            return ServiceError(f"{len(failed)} of {len(self.deliveries)} notification targets failed ({names})")
        return None


def run(
    state: State | None, notify_urls: str, notify_on: tuple[str, ...], *, test: bool = False,
    send: Sender = apprise_send, host: str = "",
) -> NotifyResult:
    result = NotifyResult(notify_on=notify_on, tested=test)
    result.targets = [f"#{t.index} {t.scheme}" for t in targets(notify_urls)]
    if state is not None:
        result.outbox = state.notification_summary()
    if test:
        result.deliveries = send_test(notify_urls, send=send, host=host)
    return result
