"""The metrics file: abook's figures in Prometheus' text format, for node_exporter's textfile collector.

abook serves nothing: with ``METRICS_FILE`` set every run rewrites the file when it ends (and
``abook report --prometheus FILE`` writes one on demand), node_exporter reads it on each scrape,
and Prometheus / Grafana draw the graphs. The file is written whole or not at all (a temporary
file in the same folder, then a rename), so a scrape never sees half of it. It holds no secret
and no user name: it is made readable by others (mode 0644), since node_exporter runs as another
user.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .times import parse_iso

Sample = tuple[Mapping[str, str], float | int | None]

# The statuses a run may end with that mean "it did its job" (held: the guard did its job).
_GOOD = {"ok", "dry_run", "held"}


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[Sample] = []

    def add(self, value: float | int | None, **labels: str) -> _Family:
        if value is not None:
            self.samples.append((labels, value))
        return self

    def lines(self) -> list[str]:
        if not self.samples:
            return []
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            out.append(f"{self.name}{_labels(labels)} {_number(value)}")
        return out


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    def esc(v: str) -> str:
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items())) + "}"


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _ts(text: str | None) -> float | None:
    moment = parse_iso(text)
    return moment.timestamp() if moment else None


def metrics_text(data: Mapping[str, Any]) -> str:
    """The report's figures (``workflows.report.metrics_data``) as Prometheus text format 0.0.4."""
    fams: list[_Family] = []

    def fam(name: str, kind: str, help_text: str) -> _Family:
        f = _Family(name, kind, help_text)
        fams.append(f)
        return f

    fam("abook_info", "gauge", "abook's version (always 1)").add(1, version=str(data.get("abook_version", "")))
    fam("abook_metrics_generated_timestamp_seconds", "gauge", "When this file was written").add(
        _ts(data.get("generated_at")))

    lib = data.get("library") or {}
    fam("abook_library_books", "gauge", "Books in the library (the scan's mirror)").add(lib.get("books"))
    fam("abook_library_authors", "gauge", "Authors in the library").add(lib.get("authors"))
    fam("abook_library_series", "gauge", "Series in the library").add(lib.get("series"))
    fam("abook_library_bytes", "gauge", "Size of the library").add(lib.get("bytes"))
    hours = lib.get("hours")
    fam("abook_library_duration_seconds", "gauge", "Listening time of the library").add(
        round(hours * 3600) if hours is not None else None)
    fam("abook_library_files_missing", "gauge", "Books whose files Audiobookshelf cannot find").add(
        lib.get("files_missing"))
    completeness = lib.get("completeness")
    fam("abook_library_completeness_ratio", "gauge", "Average metadata completeness (0-1)").add(
        round(completeness / 100, 4) if completeness is not None else None)

    pipe = data.get("pipeline") or {}
    count = fam("abook_downloads", "gauge", "abook's downloads by status")
    size = fam("abook_downloads_bytes", "gauge", "Size of abook's downloads by status")
    for status, row in (pipe.get("statuses") or {}).items():
        count.add(row.get("count"), status=status)
        size.add(row.get("bytes"), status=status)
    fam("abook_books_acquired", "gauge", "Downloads that reached the library (imported or done)").add(
        pipe.get("acquired"))

    missing = fam("abook_missing_books", "gauge", "Books series and authors lack, by status")
    for status, n in sorted((data.get("missing") or {}).items()):
        missing.add(n, status=status)

    failures = fam("abook_failures_total", "counter", "Failures recorded (failed_attempts, never pruned)")
    for command, n in sorted((data.get("failure_totals") or {}).items()):
        failures.add(n, command=command or "?")

    snap = (data.get("tracker") or {}).get("now")
    account = (data.get("summary") or {}).get("account") or {}
    if snap:
        ratio = snap.get("ratio")
        fam("abook_tracker_ratio", "gauge", "Tracker share ratio (+Inf before anything was downloaded)").add(
            math.inf if ratio is None else float(ratio))
        fam("abook_tracker_uploaded_bytes", "gauge", "Tracker: uploaded").add(snap.get("uploaded"))
        fam("abook_tracker_downloaded_bytes", "gauge", "Tracker: downloaded").add(snap.get("downloaded"))
        fam("abook_tracker_buffer_bytes", "gauge",
            "What can be downloaded before the ratio falls to RATIO_FLOOR (+Inf: no floor)").add(
            math.inf if account.get("buffer_unlimited") else account.get("buffer_bytes"))
        fam("abook_tracker_bonus_points", "gauge", "Tracker bonus points").add(snap.get("bonus"))
        fam("abook_tracker_unsatisfied_used", "gauge", "Unsatisfied torrents").add(snap.get("unsat_count"))
        fam("abook_tracker_unsatisfied_limit", "gauge", "Unsatisfied torrents allowed").add(snap.get("unsat_limit"))
        fam("abook_tracker_vip_until_timestamp_seconds", "gauge", "When VIP ends").add(_ts(snap.get("vip_until")))
        fam("abook_tracker_snapshot_timestamp_seconds", "gauge", "When ratio-check last read the account").add(
            _ts(snap.get("taken_at")))
    fam("abook_tracker_hold", "gauge", "1 while the ratio hold stops new downloads").add(
        1 if (data.get("tracker") or {}).get("hold") else 0)

    at = fam("abook_last_run_timestamp_seconds", "gauge", "When the newest run of a command ended")
    took = fam("abook_last_run_duration_seconds", "gauge", "How long the newest run of a command took")
    code = fam("abook_last_run_exit_code", "gauge", "Exit code of the newest run of a command")
    good = fam("abook_last_run_success", "gauge", "1 when the newest run of a command did its job (ok, held)")
    status = fam("abook_last_run_status", "gauge", "The newest run's status (the sample with value 1)")
    for r in data.get("runs") or []:
        if not r.get("finished_at"):
            continue
        cmd = r["command"]
        start, end = _ts(r.get("started_at")), _ts(r.get("finished_at"))
        at.add(end, command=cmd)
        took.add(round(end - start, 3) if start is not None and end is not None else None, command=cmd)
        code.add(r.get("exit_code"), command=cmd)
        good.add(1 if r.get("status") in _GOOD else 0, command=cmd)
        status.add(1, command=cmd, status=str(r.get("status")))

    notes = data.get("notifications") or {}
    fam("abook_notifications_pending", "gauge", "Notifications waiting to be sent").add(notes.get("pending"))
    fam("abook_notifications_given_up", "gauge", "Notifications given up in the report window").add(
        notes.get("gave_up"))
    return "\n".join(line for f in fams for line in f.lines()) + "\n"


def write_metrics(path: Path | str, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically; raises ConfigError (one line) when it cannot."""
    target = Path(path).expanduser()
    # Not *.prom: node_exporter reads only those, so it never sees the half-written file.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
            os.fchmod(fd, 0o644)  # the umask (0077 under systemd) must not hide it from node_exporter
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(
            f"cannot write the metrics file {target} ({exc.strerror or exc}): create its folder, make it "
            "writable for abook, or fix METRICS_FILE / --prometheus"
        ) from None
    return target
