"""How workflows tell the outside world what they are doing, without knowing how it is shown.

``render.py`` provides a rich progress bar on a terminal and plain log lines under cron; tests
and library callers use :class:`NullProgress`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, label: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def event(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def done(self) -> None: ...


class NullProgress:
    """Collects events and warnings; shows nothing."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.warnings: list[str] = []

    def start(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def event(self, message: str) -> None:
        self.events.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def done(self) -> None:
        pass
