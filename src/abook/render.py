"""Everything abook prints: rich tables on a terminal, plain lines under cron, JSON on request.

Results go to stdout; progress and warnings go to stderr so ``--json`` output stays clean.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .progress import Progress
    from .workflows.doctor import ServiceCheck
    from .workflows.scan import ScanResult

log = logging.getLogger("abook")


def is_terminal() -> bool:
    return sys.stdout.isatty()


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=not is_terminal())


def echo(line: str = "") -> None:
    print(line, flush=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table on a terminal; tab-free plain lines otherwise."""
    rows = [["" if c is None else str(c) for c in row] for row in rows]
    if is_terminal():
        from rich.table import Table

        t = Table(title=title, title_justify="left")
        for col in columns:
            t.add_column(col)
        for row in rows:
            t.add_row(*row)
        console().print(t)
        return
    echo(f"{title}:")
    for row in rows:
        echo("  " + " | ".join(f"{c}={v}" for c, v in zip(columns, row, strict=False) if v != ""))


# ----------------------------------------------------------------- progress
class PlainProgress:
    """Under cron: one log line per event and per ~10% of long work."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.label = ""
        self.total: int | None = None
        self.count = 0
        self._next = 0

    def start(self, label: str, total: int | None = None) -> None:
        self.label, self.total, self.count = label, total, 0
        self._next = max(1, (total or 0) // 10)
        log.info("%s%s", label, f" ({total} items)" if total else "")

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.total and self.count >= self._next and self.count < self.total:
            log.info("%s: %d/%d", self.label, self.count, self.total)
            self._next += max(1, self.total // 10)

    def event(self, message: str) -> None:
        log.info("%s", message)

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def done(self) -> None:
        pass


class RichProgress(PlainProgress):
    """On a terminal: a progress bar on stderr."""

    def __init__(self, command: str) -> None:
        super().__init__(command)
        self._bar: Any = None
        self._task: Any = None

    def start(self, label: str, total: int | None = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.done()
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console(stderr=True), transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def event(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message)
        else:
            console(stderr=True).print(message)

    def warn(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"[yellow]warning:[/] {message}")
        else:
            log.warning("%s", message)

    def done(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def make_progress(command: str) -> Progress:
    return RichProgress(command) if sys.stderr.isatty() and is_terminal() else PlainProgress(command)


# ------------------------------------------------------------------- views
def scan(result: ScanResult, show: int = 20) -> None:
    prefix = "dry run: would be " if result.dry_run else ""
    for lib in result.libraries:
        if result.dry_run or is_terminal():
            for label, titles in (("new", lib.new), ("changed", lib.changed), ("removed", lib.removed)):
                for title in titles[:show]:
                    echo(f"  {label}: {title}")
                if len(titles) > show:
                    echo(f"  ... and {len(titles) - show} more {label}")
        echo(
            f"{prefix}{lib.name}: +{len(lib.new)} new, ~{len(lib.changed)} changed, "
            f"-{len(lib.removed)} removed ({lib.total} books)"
        )
    if len(result.libraries) > 1:
        echo(f"{prefix}total: +{result.new} new, ~{result.changed} changed, -{result.removed} removed")


def doctor(checks: Sequence[ServiceCheck], as_json: bool) -> None:
    if as_json:
        print_json({"schema": 1, "services": [c.as_dict() for c in checks]})
        return

    def mark(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "NO")

    table(
        "abook doctor",
        ["service", "configured", "reachable", "login", "version", "detail"],
        [
            [c.service, "yes" if c.configured else "no", mark(c.reachable), mark(c.authenticated),
             c.version or "", c.detail]
            for c in checks
        ],
    )


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def report(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    lib = data["library"]
    table(
        "Library",
        ["books", "authors", "series", "hours", "size", "complete", f"added (last {data.get('since_days', 7)}d)"],
        [[lib["books"], lib["authors"], lib["series"], lib["hours"], _size(lib["bytes"]),
          f"{lib['completeness']}%", lib["added_recent"]]],
    )
    table(
        "Metadata completeness",
        ["field", "filled", "percent"],
        [[name, f["filled"], f"{f['percent']}%"] for name, f in lib["fields"].items()],
    )
    if lib["recent"]:
        table("Recently added", ["title", "author"], [[b["title"], b["author_name"]] for b in lib["recent"][:15]])
    for section, renderer in _SECTIONS:
        if data.get(section):
            renderer(data[section])
    table(
        "Last runs",
        ["command", "started", "status", "counts", "error"],
        [
            [r["command"], r["started_at"], r["status"],
             ", ".join(f"{k}={v}" for k, v in (r["counts"] or {}).items()), r["error"] or ""]
            for r in data["runs"]
        ],
    )
    if data["failures"]:
        table(
            "Failures",
            ["when", "command", "what", "reason"],
            [[f["at"], f["command"], f["title"] or f["ref"] or f["kind"], f["reason"]] for f in data["failures"]],
        )


# Report sections added by later workflows register a renderer here: (key, function).
_SECTIONS: list[tuple[str, Any]] = []


def top10(result: Any) -> None:
    prefix = "dry run: " if result.dry_run else ""
    for g in result.genres:
        table(
            f"{prefix}top10 {g.genre} ({result.source})",
            ["rank", "title", "author", "decision", "reason"],
            [[d.rank, d.title, d.author, d.decision, d.reason] for d in g.decisions],
        )
        verb = "would queue" if result.dry_run else "queued"
        line = f"{prefix}{g.genre}: {verb} {g.new} new, {g.covered}/{g.wanted} covered"
        if g.short:
            line += f" (the ranking ran out: only {g.covered} of {g.wanted})"
        echo(line)


def downloads(result: Any) -> None:
    prefix = "dry run: " if result.dry_run else ""
    rows = [[m.download_id, m.title, f"{m.old} -> {m.new}", m.detail] for m in [*result.moves, *result.failed]]
    if rows:
        table(f"{prefix}downloads", ["id", "title", "move", "detail"], rows)
    counts = result.counts()
    summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do"
    echo(f"{prefix}downloads: {summary}")


def _short(value: Any, width: int = 60) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, list):
        value = ", ".join(v.get("name", "") + (f" #{v['sequence']}" if v.get("sequence") else "")
                          if isinstance(v, dict) else str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def metadata(result: Any) -> None:
    prefix = "dry run: " if result.dry_run else ""
    if result.changes:
        table(
            f"{prefix}metadata {'to fill' if result.dry_run else 'filled'}",
            ["book", "field", "current -> proposed" if result.dry_run else "old -> new", "source"],
            [[c.title, c.field, f"{_short(c.old, 20)} -> {_short(c.new)}", c.source] for c in result.changes],
        )
    for name, why in result.skipped_sources.items():
        echo(f"source {name} skipped: {why}")
    counts = result.counts()
    echo(
        f"{prefix}fix-metadata: {counts['books']} books looked at, {counts['fields']} fields "
        f"{'would be ' if result.dry_run else ''}filled; completeness {result.completeness_before}% -> "
        f"{result.completeness_after}%"
    )
