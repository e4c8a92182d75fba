"""What every command does around its workflow: settings, state, lock, task row, errors.

``cli.py`` stays thin by doing ``with command_run(ctx, "scan", args) as run:`` and then one
workflow call. This is the one place that turns an :class:`AbookError` into a line on stderr and
an exit code, and records the failure in the state file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EXIT_OK, AbookError, PartialFailure
from .models import TaskStatus

if TYPE_CHECKING:
    from .config import Settings
    from .progress import Progress
    from .services import Services
    from .state import State

log = logging.getLogger("abook")


@dataclass
class Globals:
    """Options given before the command name (``abook --env-file x scan``)."""

    env_file: Path | None = None
    db: Path | None = None
    verbose: int = 0
    quiet: bool = False


@dataclass
class Run:
    command: str
    settings: Settings
    state: State | None = None
    task_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    status: str = TaskStatus.OK
    dry_run: bool = False
    result: Any = None  # what the workflow returned (set by conclude): its events are notified
    _services: Services | None = None

    @property
    def services(self) -> Services:
        """This run's connections (built on first use, closed when the run ends)."""
        if self._services is None:
            from .services import Services

            self._services = Services(self.settings, self.state)
        return self._services

    def progress(self) -> Progress:
        from .render import make_progress

        return make_progress(self.command)

    def conclude(self, result: Any) -> None:
        """Record a workflow result's counts and raise the error its exit code must say."""
        self.result = result
        self.counts = dict(result.counts())
        error = result.error()
        if error is not None:
            raise error

    def close(self) -> None:
        if self._services is not None:
            self._services.close()


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    from .http import RedactingFilter

    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    if os.environ.get("ABOOK_DEBUG_HTTP") == "1":
        level = min(level, logging.INFO)
    root = logging.getLogger("abook")
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s abook %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.propagate = False


def load_settings(g: Globals, overrides: dict[str, Any] | None = None) -> Settings:
    from .config import Settings
    from .http import register_secret

    over = dict(overrides or {})
    if g.db is not None:
        over["ABOOK_DB"] = g.db
    settings = Settings.load(env_file=g.env_file, overrides=over)
    register_secret(*settings.secrets)
    return settings


@contextlib.contextmanager
def command_run(
    g: Globals,
    command: str,
    arguments: dict[str, Any],
    *,
    overrides: dict[str, Any] | None = None,
    state: bool = True,
    lock: bool = True,
    record: bool = True,
    dry_run: bool = False,
) -> Iterator[Run]:
    """Run one command: yields a :class:`Run`; maps every AbookError to its exit code."""
    import typer

    setup_logging(g.verbose, g.quiet)
    run: Run | None = None
    held_lock = None
    code = EXIT_OK
    try:
        settings = load_settings(g, overrides)
        run = Run(command=command, settings=settings, dry_run=dry_run)
        if state:
            from .state import State

            run.state = State.open(settings.abook_db)
            if lock:
                held_lock = run.state.lock(command)
            if record:
                run.state.close_dead_tasks()
                run.task_id = run.state.start_task(command, {**arguments, "dry_run": dry_run})
        yield run
        if run.status == TaskStatus.OK and dry_run:
            run.status = TaskStatus.DRY_RUN
        _finish(run, run.status, code=EXIT_OK)
    except AbookError as exc:
        code = exc.exit_code
        message = _one_line(str(exc))
        status = {4: TaskStatus.HELD, 75: TaskStatus.LOCKED}.get(
            code, TaskStatus.PARTIAL if isinstance(exc, PartialFailure) else TaskStatus.FAILED)
        if run is not None and code != 75:
            _finish(run, status, message, failure=not isinstance(exc, PartialFailure) and code != 4, code=code)
        if os.environ.get("ABOOK_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        print(f"abook {command}: {message}", file=sys.stderr)
    except KeyboardInterrupt:
        code = 130
        if run is not None:
            _finish(run, TaskStatus.INTERRUPTED, "interrupted", code=code)
        print(f"abook {command}: interrupted", file=sys.stderr)
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("ABOOK_DEBUG") == "1" or os.environ.get("ABOOK_RAISE_ERRORS") == "1":
            raise
        from .http import redact

        code = 1
        message = _one_line(redact(f"internal error: {type(exc).__name__}: {exc}"))
        if run is not None:
            _finish(run, TaskStatus.FAILED, message, failure=True, code=code)
        print(f"abook {command}: {message} (set ABOOK_DEBUG=1 for a traceback)", file=sys.stderr)
    finally:
        if run is not None:
            if code != 130:  # Ctrl-C means "stop now", not "send messages first"
                _after_run(run, code)
            run.close()
            if run.state is not None:
                if held_lock is not None:
                    held_lock.release()
                run.state.close()
    if code != EXIT_OK:
        raise typer.Exit(code)


def _finish(run: Run, status: str, error: str = "", failure: bool = False, code: int | None = None) -> None:
    if run.state is None or run.task_id is None:
        return
    from .http import redact

    with contextlib.suppress(Exception):
        run.state.finish_task(run.task_id, status, run.counts, redact(error), exit_code=code)
        if failure:
            run.state.record_failure(
                run.command, "run", status, redact(error), task_id=run.task_id
            )
    if not run.dry_run:  # retention: history older than RETENTION_DAYS goes (failed_attempts stay)
        with contextlib.suppress(Exception):
            run.state.prune_history(run.settings.retention_days)


def _after_run(run: Run, code: int) -> None:
    """What a finished run owes the world beyond its exit code: its notifications and the metrics
    file. Neither may change the exit code: a failure here is one warning line."""
    if run.state is None or run.task_id is None or run.dry_run:
        return  # a dry run changes nothing and tells nobody; an unrecorded run has nothing to tell
    from .http import redact

    settings = run.settings
    if settings.notify_urls:
        try:
            from . import events, notify
            from .times import utcnow

            now = utcnow()
            if "NOTIFY_ON" in settings.problems:
                log.warning("%s (only the valid ones are used)", settings.problems["NOTIFY_ON"])
            found = events.of_run(run.command, run.result, run.state, settings, task_id=run.task_id,
                                  exit_code=code, now=now)
            notify.queue(run.state, found, settings.notify_urls, notify_on=settings.notify_on,
                         command=run.command, task_id=run.task_id)
            notify.flush(run.state, settings.notify_urls, now=now)
        except Exception as exc:  # never fail a run for its notifications
            if os.environ.get("ABOOK_RAISE_ERRORS") == "1":
                raise
            log.warning("notifications failed: %s", _one_line(redact(f"{type(exc).__name__}: {exc}")))
    if settings.metrics_file is not None:
        try:
            from .metrics import metrics_text, write_metrics
            from .workflows import report

            data = report.metrics_data(run.state, report.ReportOptions.from_settings(settings))
            write_metrics(settings.metrics_file, metrics_text(data))
        except Exception as exc:
            if os.environ.get("ABOOK_RAISE_ERRORS") == "1":
                raise
            log.warning("METRICS_FILE %s not written: %s", settings.metrics_file,
                        _one_line(redact(f"{type(exc).__name__}: {exc}")))


def _one_line(text: str) -> str:
    return " ".join(text.split())
