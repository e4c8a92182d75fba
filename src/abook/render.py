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
    from .workflows.doctor import DoctorResult
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


def doctor(result: DoctorResult, as_json: bool) -> None:
    checks, warnings = result.checks, result.warnings
    if as_json:
        print_json({"schema": 1, "services": [c.as_dict() for c in checks], "warnings": list(warnings)})
        return
    for warning in warnings:
        echo(f"warning: {warning}")

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
    if data.get("summary"):
        if is_terminal():
            console().print(summary_panel(data))
        else:
            echo(summary_text(data))
        echo()
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
            notes = "".join(f"; {n}" for n in getattr(g, "notes", []))
            line += f" (the ranking ran out: only {g.covered} of {g.wanted}{notes})"
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
            [[c.title, c.field, f"{_short(c.old, 40 if c.field == 'title' else 20)} -> {_short(c.new)}", c.source]
             for c in result.changes],
        )
    for name, why in result.skipped_sources.items():
        echo(f"source {name} skipped: {why}")
    counts = result.counts()
    tidied = f"; {len(result.tidied)} titles {'would be ' if result.dry_run else ''}tidied" if result.tidied else ""
    echo(
        f"{prefix}fix-metadata: {counts['books']} books looked at, {counts['fields']} fields "
        f"{'would be ' if result.dry_run else ''}filled{tidied}; completeness {result.completeness_before}% -> "
        f"{result.completeness_after}%"
    )


# ---------------------------------------------------------------- ratio-check
def _ratio_text(value: Any) -> str:
    return "inf" if value is None else f"{float(value):.2f}"


def _buffer_text(buffer: dict[str, Any] | None) -> str:
    if not buffer:
        return "-"
    if buffer.get("gb") is None:
        return "unlimited"
    return f"{buffer['gb']:.1f} GB (min {buffer['min_gb']:g})"


def _seeding_rows(torrents: Iterable[dict[str, Any]]) -> list[list[Any]]:
    return [[("AT RISK: " + s["risk"]) if s.get("risk") else "", s["name"], s["seeded_hours"], s["remaining_hours"],
             s.get("source") or "qbittorrent", s["state"] + (" (STOPPED)" if s["stopped"] else "")]
            for s in torrents]


def ratio_check(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    prefix = "dry run: " if result.dry_run else ""
    d = result.as_dict()
    free = d["unsat_free"]
    own = d.get("own") or {}
    wedges = d.get("wedges") or {}
    unsat = "-" if d["unsat_limit"] is None else f"{d['unsat_count']}/{d['unsat_limit']} ({free} free)"
    if d["unsat_limit"] is not None and own.get("slots"):
        unsat += f", {d['unsat_free_after_own']} after abook's grabs"
    table(
        "Tracker account",
        ["user", "class", "ratio", "buffer", "up", "down", "bonus", "VIP until", "unsatisfied", "wedges"],
        [[d["username"], d["class"], _ratio_text(d["ratio"]), _buffer_text(d.get("buffer")), _size(d["uploaded"]),
          _size(d["downloaded"]), f"{d['bonus']:,.0f}", d["vip_until"] or "-", unsat,
          "-" if wedges.get("held") is None else f"{wedges['held']} (keep {wedges['reserve']})"]],
    )
    if own.get("own") or own.get("waiting"):
        echo(f"{prefix}own counts: {own.get('own', 0)} of abook's grabs MAM's numbers do not show yet "
             f"({own.get('own_gb', 0):.1f} GB), {own.get('waiting', 0)} picks waiting: "
             f"{own.get('slots', 0)} slots and {own.get('gb', 0):.1f} GB counted on top of MAM's numbers")
    if d.get("hit_and_runs") or d.get("not_seeding_unsat"):
        echo(f"MAM: {d.get('hit_and_runs') or 0} hit-and-runs, {d.get('not_seeding_unsat') or 0} unsatisfied "
             "torrents not seeding")
    for p in result.purchases:
        verb = "" if p.outcome in ("bought", "would_buy") else f" {p.outcome}"
        echo(f"{prefix}bonus store {p.kind}{verb}: {p.message}")
    verb_p, verb_r = ("would pause", "would resume") if result.dry_run else ("paused", "resumed")
    for h, name in result.paused:
        echo(f"{prefix}{verb_p} {name} ({h[:8]})")
    for h, name in result.resumed:
        echo(f"{prefix}{verb_r} {name} ({h[:8]})")
    if result.grabs:
        looked = any(g.looked for g in result.grabs)
        how = "flags read again from the tracker" if looked else "flags as recorded; --dry-run reads them again"
        verdicts = {"submit": "would be submitted", "wait": "waits", "drop": "not taken"}
        table(
            f"{prefix}pending picks: what `abook downloads` would do ({how})",
            ["#", "title", "GB", "cost", "verdict", "wedge", "why"],
            [[g.download_id, g.title, f"{g.size / 1024**3:.2f}", g.cost, verdicts.get(g.verdict, g.verdict),
              "would ask for one" if g.wedge else "no",
              "; ".join(x for x in (g.changed if g.changed not in g.reason else "", g.reason, g.wedge_why) if x)]
             for g in result.grabs],
        )
    if result.seeding:
        table(
            "Seeding owed (MAM's snatch data where it has the torrent, else qBittorrent's clock against "
            "SEED_MIN_HOURS + 12 h); hit-and-run risks first",
            ["risk", "torrent", "seeded h", "remaining h", "by", "state"],
            _seeding_rows(s.as_dict() for s in result.seeding),
        )
    for line in result.warnings:
        echo(f"warning: {line}")
    floor_resume = f"floor {result.floor:g}, resume {result.resume:g}, margin {result.margin}"
    if d.get("buffer"):
        floor_resume += f"; buffer {_buffer_text(d['buffer'])}"
    if result.transition == "hold_on":
        line = f"hold ON: {result.hold}; {len(result.paused)} downloading torrents {verb_p}"
    elif result.transition == "hold_kept":
        line = f"hold stays on: {result.hold}" + (f"; {len(result.paused)} more {verb_p}" if result.paused else "")
    elif result.transition == "released":
        line = f"hold released: ratio {_ratio_text(d['ratio'])}; {len(result.resumed)} torrents {verb_r}"
    else:
        line = f"ok: ratio {_ratio_text(d['ratio'])}, no hold"
    echo(f"{prefix}ratio-check: {line} ({floor_resume})")


# ---------------------------------------------------------- report sections
def _report_pipeline(p: dict[str, Any]) -> None:
    rows = [[status, c["count"], f"{c['gb']:.2f}"] for status, c in p["statuses"].items()]
    rows.append(["total", p["total"], f"{p['gb']:.2f}"])
    table("Pipeline", ["status", "downloads", "GB"], rows)
    if p.get("estimated_value") is not None:
        echo(f"estimated value: {p['acquired']} books x {p['book_value']:g} = {p['estimated_value']:,.2f} "
             f"({p['acquired_since']} books, {p['estimated_value_since']:,.2f} in the report window)")


def _report_top10(t: dict[str, Any]) -> None:
    for g in t["genres"]:
        table(
            f"Top 10 {g['genre']} ({t['run_at']})",
            ["rank", "title", "author", "decision", "reason"],
            [[d["rank"], d["title"], d["author"], d["decision"], d["reason"]] for d in g["decisions"]],
        )


def _report_gaps(g: dict[str, Any]) -> None:
    """Series completion and authors with gaps; lists of records become tables, numbers one line."""
    if "series_tracked" in g:
        more = f" (+{g['series_more']} more not listed)" if g.get("series_more") else ""
        echo(f"Series: {g.get('series_tracked', 0)} with a known bibliography, "
             f"{g.get('series_complete', 0)} complete{more}")
    for key, value in g.items():
        if key in ("series_tracked", "series_complete", "series_more"):
            continue
        title = key.replace("_", " ").capitalize()
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = list(value[0])
            table(title, cols, [[_short(r.get(c), 40) for c in cols] for r in value[:30]])
            if len(value) > 30:
                echo(f"  ... and {len(value) - 30} more")
        elif isinstance(value, dict) and value and not any(isinstance(v, dict | list) for v in value.values()):
            echo(f"{title}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
        elif isinstance(value, int | float | str) and value != "":
            echo(f"{title}: {value}")


def _report_metadata(m: dict[str, Any]) -> None:
    echo(f"metadata: {m['corrections_total']} fields filled in the report window"
         + (" (" + ", ".join(f"{k} {v}" for k, v in m["by_source"].items()) + ")" if m["by_source"] else ""))
    last = m.get("last_run") or {}
    if last:
        echo(f"last fix-metadata run: completeness {last.get('completeness_before')}% -> "
             f"{last.get('completeness_after')}% ({last.get('fields_filled')} fields)")
    if m.get("by_field"):
        table("Fields filled, by source", ["field", "sources"],
              [[f, ", ".join(f"{s} {n}" for s, n in per.items())] for f, per in sorted(m["by_field"].items())])
    if m["corrections"]:
        table(
            "Metadata corrections",
            ["when", "book", "field", "old -> new", "source"],
            [[c["at"], c["title"] or c["book_id"], c["field"], f"{_short(c['old'], 20)} -> {_short(c['new'], 40)}",
              c["source"]] for c in m["corrections"][:30]],
        )


def _report_tracker(t: dict[str, Any]) -> None:
    seeding = t.get("seeding") or {}
    risky = [s for s in seeding.get("torrents") or [] if s.get("at_risk")]
    if risky:  # first: a hit-and-run costs more than anything else in this report
        table(
            f"HIT-AND-RUN RISK: {len(risky)} torrents (as of {seeding.get('at')})",
            ["torrent", "why", "remaining h", "by"],
            [[s["name"], s.get("risk"), s["remaining_hours"], s.get("source") or "qbittorrent"] for s in risky],
        )
    now = t.get("now") or {}
    if now:
        limit = now.get("unsat_limit")
        table(
            "Tracker account",
            ["taken", "class", "ratio", "buffer", "trend", "bonus", "VIP until", "unsatisfied", "hold"],
            [[now.get("taken_at"), now.get("class"), _ratio_text(now.get("ratio")), _buffer_text(t.get("buffer")),
              t.get("trend") or "", f"{(now.get('bonus') or 0):,.0f}", now.get("vip_until") or "-",
              "-" if limit is None else f"{now.get('unsat_count')}/{limit}", t.get("hold") or "off"]],
        )
    elif t.get("hold"):
        echo(f"hold: {t['hold']}")
    if t.get("ratio_series"):
        echo("ratio trend: " + " ".join(_ratio_text(r["ratio"]) for r in t["ratio_series"][-12:]))
    for a in t.get("actions") or []:
        echo(f"tracker: {a['at']}: {a['action']}")
    if seeding.get("torrents"):
        table(
            f"Seeding owed (as of {seeding.get('at')}, SEED_MIN_HOURS {seeding.get('min_hours')}; "
            "at risk first)",
            ["torrent", "seeded h", "remaining h", "by", "stopped"],
            [[s["name"], s["seeded_hours"], s["remaining_hours"], s.get("source") or "qbittorrent",
              "YES" if s["stopped"] else ""] for s in seeding["torrents"]],
        )


_SECTIONS += [
    ("pipeline", _report_pipeline),
    ("top10", _report_top10),
    ("gaps", _report_gaps),
    ("metadata", _report_metadata),
    ("tracker", _report_tracker),
]


def _report_titles(t: dict[str, Any]) -> None:
    """"Titles to tidy": one line, and a few of them when there are any."""
    n = int(t.get("to_tidy") or 0)
    kinds = ", ".join(f"{k} {v}" for k, v in (t.get("by_kind") or {}).items() if v)
    echo(f"titles to tidy: {n}" + (f" ({kinds}); see `abook fix-metadata --tidy-titles --dry-run`" if n else ""))
    if t.get("examples"):
        table("Titles to tidy", ["title", "subtitle", "tidy"],
              [[_short(e["title"], 50), _short(e.get("subtitle"), 30),
                "; ".join(f"{k}: {_short(v, 40)}" for k, v in e["tidy"].items())] for e in t["examples"][:10]])


_SECTIONS.append(("titles", _report_titles))


# ------------------------------------------------- fill-series / fill-authors / missing
def _queries(queries: Sequence[str]) -> str:
    return " / ".join(f'"{q}"' for q in queries)


def _by_reason(reasons: dict[str, int], status: str) -> str:
    from .bibliography import REASONS

    parts = [f"{REASONS.get(k.split(':', 1)[1], k)} {v}" for k, v in reasons.items() if k.startswith(status + ":")]
    return f" ({', '.join(parts)})" if parts else ""


def gaps(result: Any) -> None:
    from .models import Decision, MissingStatus

    prefix = "dry run: " if result.dry_run else ""
    groups = [g for g in result.groups if g.missing or g.uncertain or g.known is None]
    if groups:
        table(
            f"{prefix}{result.command}: gaps",
            ["name", "source", "owned/known", "missing", "status", "notes"],
            [[g.name, (f"{g.source} ({g.source_name!r})" if g.source_name else g.source) or "-",
              f"{g.owned}/{g.known}" if g.known is not None else "?",
              ", ".join(f"{m.entry.position or ''}{' ' if m.entry.position else ''}{m.title} [{m.status}]"
                        for m in g.missing if m.status != MissingStatus.IN_LIBRARY) or "-",
              g.status, "; ".join([*([g.reason] if g.reason else []), *(f"{t}: {why}" for t, why in g.uncertain)])]
             for g in groups],
        )
    if result.decisions:
        def why(d: Any) -> str:
            if d.decision in (Decision.NOT_FOUND, Decision.UNWANTED) or d.code == "search_failed":
                return f"{d.reason}; tried {_queries(d.queries)}" if d.queries else d.reason
            return d.reason

        table(
            f"{prefix}{result.command}: fetch",
            ["book", "#", "decision", "torrent", "type", "seeders", "FL", "reason"],
            [[d.title, d.position or "", d.decision, d.torrent, d.filetype, d.seeders if d.torrent else "",
              "yes" if d.freeleech else "", why(d)] for d in result.decisions],
        )
    for name, reason in result.skipped_sources.items():
        echo(f"source {name} skipped: {reason}")
    c = result.counts()
    reasons = result.reasons()
    verb = "would queue" if result.dry_run else "queued"
    what = "series" if result.kind == "series_gap" else "authors"
    unknown = f" ({c['unknown']} without a bibliography)" if c["unknown"] else ""
    line = (f"{prefix}{result.command}: {c['groups']} {what} checked{unknown}, {c['missing']} books missing; "
            f"{verb} {c['queued']} (max {result.limit}), already on the way {c['already']}, "
            f"in library {c['in_library']}, not found {c['not_found']}{_by_reason(reasons, 'not_found')}, "
            f"unwanted {c['unwanted']}{_by_reason(reasons, 'unwanted')}, "
            f"{c['left']} left for the next run ({c['searches']} tracker searches)")
    if result.deferred:
        line += f", {result.deferred} not found earlier (searched again after GAP_RETRY_DAYS)"
    echo(line)
    for g in result.groups:
        if g.known is None and g.failed:
            echo(f"{what} {g.name!r} could not be checked: {g.reason}")
    if result.held:
        echo(f"held: {result.held}")


def missing(result: Any, as_json: bool, verbose: bool = False) -> None:
    """What each series / author lacks; ``verbose`` adds why each book stands where it does and
    the tracker queries its last search made."""
    if as_json:
        print_json(result.as_dict())
        return
    for label, groups in (("series", result.series), ("author", result.authors)):
        for g in groups:
            have = f" ({g.owned}/{g.known} owned)" if g.known is not None and g.owned is not None else ""
            seen_as = f", {g.source_name!r} on {g.source}" if verbose and g.source_name else ""
            columns = ["#", "title", "author", "status", "last search"]
            if verbose:
                columns += ["why", "queries tried"]
            rows = []
            for b in g.books:
                row = [b["position"] or "", b["title"], b["author"] or "", b["status"].replace("_", " "),
                       b["last_search"] or ""]
                if verbose:
                    row += [b.get("reason") or "", _queries(b.get("queries") or [])]
                rows.append(row)
            table(f"{label} {g.name}{have}{seen_as}", columns, rows)
    for u in result.unknown:
        kind = "series" if u["kind"] == "series_gap" else "author"
        echo(f"{kind} {u['name']}: no bibliography ({u['reason']})")
    counts = result.counts()
    total = sum(counts.values())
    if not total and not result.unknown:
        echo("missing: nothing recorded (run `abook fill-series` / `abook fill-authors` first)")
        return
    echo("missing: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v))


def lookup(result: Any, as_json: bool, verbose: int = 0) -> None:
    if as_json:
        data: dict[str, Any] = {"schema": 1, "query": result.query, "queries": result.queries,
                                "results": [h.as_dict() for h in result.hits]}
        if result.queued is not None:
            data["queued"] = {"decision": result.queued.decision, "reason": result.queued.reason,
                              "download_id": result.queued.download_id}
        print_json(data)
        return
    if result.queries:
        echo(f"search: tried {_queries(result.queries)}")
    table(
        f"search: {result.query}",
        ["id", "title", "author", "size", "seeders", "fl", "verdict", "reason"],
        [[h.release.torrent_id, h.release.title, ", ".join(h.release.authors), _size(h.release.size),
          h.release.seeders, "yes" if (h.release.freeleech or h.release.vip) else "", h.verdict, h.reason]
         for h in result.hits],
    )
    if verbose:  # abook -v search: how each verdict was reached
        for h in result.hits:
            echo(f"  {h.release.torrent_id}: {h.explain()}")
    if result.queued is not None:
        prefix = "dry run: " if result.dry_run else ""
        echo(f"{prefix}{result.queued.decision}: {result.queued.reason}")
    else:
        echo(f"{len(result.hits)} results; {sum(h.verdict == 'new' for h in result.hits)} not owned")


# ------------------------------------------------------------ the summary panel
# The report's first screen (and the weekly notification): what happened, what is next, the account.
SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """``▁▃▅█``: each value's place between the lowest and the highest (None is skipped)."""
    nums = [float(v) for v in values if v is not None]
    if not nums:
        return ""
    low, high = min(nums), max(nums)
    if high - low < 1e-9:
        return SPARKS[3] * len(nums)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in nums)


def _si(n: float | None) -> str:
    """Bytes as a person reads a disk: decimal GB (the pipeline's unit), MB below one GB, TB above 1,000."""
    if n is None:
        return "-"
    size = abs(n)
    sign = "-" if n < 0 else ""
    if size >= 1e12:
        return f"{sign}{size / 1e12:.2f} TB"
    if size >= 1e9:
        return f"{sign}{size / 1e9:.1f} GB"
    if size >= 1e6:
        return f"{sign}{size / 1e6:.0f} MB"
    return f"{sign}{size / 1e3:.0f} kB"


def gb_text(n: float) -> str:
    """A byte figure of the tracker in the unit ratio-check shows it (GiB, written GB)."""
    from .guard import gib

    return f"{gib(n):.1f} GB"


def _plural(n: int, word: str, many: str = "") -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def summary_rows(data: dict[str, Any], *, now: Any = None, tz: Any = None) -> list[tuple[str, str]]:
    """The summary as (label, text) rows: one source for the panel, the plain text and the weekly
    notification. Times are local (``tz``, else the machine's zone) and relative where near."""
    from .times import local_text, parse_iso, relative, utcnow

    s = data["summary"]
    now = now or parse_iso(data.get("generated_at")) or utcnow()
    days = s["days"]
    rows: list[tuple[str, str]] = []
    rows.append(("Library", f"{_plural(s['books'], 'book')} (+{s['added']:,} in {days} days) · "
                            f"{_plural(s['authors'], 'author')}"))
    got = [_plural(s["downloaded"], "book"), _si(s["downloaded_bytes"])] if s["downloaded"] else [f"none in {days} days"]
    if s["added_by_abook"]:
        value = f", worth about {s['estimated_value']:,.2f}" if s.get("estimated_value") is not None else ""
        got.append(f"{s['added_by_abook']:,} added to the library{value}")
    rows.append(("Downloaded", " · ".join(got)))
    rows.append(("In flight", f"{s['in_flight']:,} downloading · {s['pending']:,} waiting to start"))
    if s["missing_queued"] or s["missing_wanted"] or s["missing_not_found"]:
        rows.append(("Missing", f"{s['missing_queued']:,} queued · {s['missing_wanted']:,} still wanted · "
                                f"{s['missing_not_found']:,} not found"))
    else:
        rows.append(("Missing", "none recorded (fill-series / fill-authors find them)"))
    rows.append(("Next batch", f"{_plural(s['next_batch'], 'book')} on the next fill-series / fill-authors run"
                 if s["next_batch"] else "nothing wanted yet"))
    rows.append(("Authors", f"{s['authors_catalogued']:,} of {s['authors']:,} catalogued"))
    fail = s.get("newest_failure")
    if s["failures"] and fail:
        what = fail.get("title") or fail.get("ref") or fail.get("kind") or ""
        rows.append(("Failures", f"{s['failures']:,} in {days} days · newest {relative(fail['at'], now)}: "
                                 f"{what}: {fail.get('reason') or ''}".rstrip(": ")))
    else:
        rows.append(("Failures", f"none in {days} days"))
    a = s.get("account")
    if a:
        trend = sparkline(s.get("ratio_trend") or [])
        hold = f"hold ON: {a['hold']}" if a.get("hold") else "hold off"
        buffer = ("unlimited" if a.get("buffer_unlimited") else
                  gb_text(a["buffer_bytes"]) if a.get("buffer_bytes") is not None else "-")
        rows.append(("Account", f"ratio {_ratio_text(a.get('ratio'))}{' ' + trend if trend else ''} · "
                                f"buffer {buffer} (to ratio {a['floor']:g}) · {hold}"))
        bits = [a.get("class") or "?"]
        if a.get("bonus") is not None:
            bits.append(f"{a['bonus']:,.0f} bonus points")
        if a.get("unsat_limit") is not None:
            bits.append(f"unsatisfied {a.get('unsat_count')}/{a['unsat_limit']}")
        rows.append(("", " · ".join(bits)))
        bits = []
        if a.get("vip_until"):
            day = local_text(a["vip_until"], tz, "%d %b %Y")
            if (a.get("vip_days_left") or 0) < 0:
                bits.append(f"VIP ended {day} ({relative(a['vip_until'], now)})")
            else:
                warn = " - renew it soon" if a.get("vip_warn") else ""
                bits.append(f"VIP until {day} ({relative(a['vip_until'], now)}){warn}")
        bits.append(f"checked {relative(a['taken_at'], now)}")
        rows.append(("", " · ".join(bits)))
    else:
        rows.append(("Account", "no snapshot yet (abook ratio-check reads it)"))
    failed = s.get("failed_commands") or []
    if failed:
        rows.append(("Runs", "; ".join(
            f"{f['command']} FAILED {relative(f['at'], now)}"
            + (f" (exit {f['exit_code']}: {_short(f['error'], 60)})" if f.get("exit_code") is not None
               else f" ({_short(f['error'], 60)})" if f.get("error") else "")
            for f in failed)))
    elif s.get("last_run"):
        last = s["last_run"]
        rows.append(("Runs", f"{_plural(s['commands'], 'command')}, none failing · last: {last['command']} "
                             f"{relative(last['finished_at'], now)}"))
    else:
        rows.append(("Runs", "no run recorded yet"))
    if s.get("notifications_pending"):
        rows.append(("Notifications", f"{s['notifications_pending']:,} waiting to be sent (a target is down?)"))
    return rows


def summary_title(data: dict[str, Any], *, now: Any = None, tz: Any = None) -> str:
    from .times import local_text, parse_iso

    moment = now or parse_iso(data.get("generated_at"))
    return f"abook · the last {data['summary']['days']} days · {local_text(moment, tz)}"


def summary_text(data: dict[str, Any], *, now: Any = None, tz: Any = None) -> str:
    """The summary as plain lines (cron's log, the weekly notification)."""
    rows = summary_rows(data, now=now, tz=tz)
    width = max(len(label) for label, _ in rows)
    lines = [summary_title(data, now=now, tz=tz)]
    lines += [f"{label + ':' if label else '':<{width + 1}} {text}" for label, text in rows]
    return "\n".join(lines)


def summary_panel(data: dict[str, Any], *, now: Any = None, tz: Any = None) -> Any:
    """The summary as a rich panel (a terminal's first screen of ``abook report``)."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, text in summary_rows(data, now=now, tz=tz):
        style = "red" if ("FAILED" in text or "hold ON" in text) else None
        grid.add_row(label, Text(text, style=style or ""))
    return Panel(grid, title=summary_title(data, now=now, tz=tz), title_align="left", expand=False)


# ------------------------------------------------------------------ report --watch
LIVE_ROWS = 25  # downloads shown per frame; the rest are counted
def _eta(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} days"


def _speed(bps: int | None) -> str:
    return "" if bps is None else f"{bps / 1e6:.1f} MB/s" if bps >= 1e5 else f"{bps / 1e3:.0f} kB/s"


def live_lines(view: Any, *, now: Any = None, tz: Any = None) -> list[str]:
    """One frame of ``--watch`` as plain lines (stdout is not a terminal)."""
    from .times import local_text, utcnow

    s = view.data["summary"]
    a = s.get("account") or {}
    account = (f"ratio {_ratio_text(a.get('ratio'))} · {'hold ON' if a.get('hold') else 'hold off'} · "
               if a else "")
    head = (f"{local_text(now or utcnow(), tz, '%Y-%m-%d %H:%M:%S')} {account}{s['in_flight']} downloading · "
            f"{s['pending']} waiting · {s['failures']} failures in {s['days']} days")
    lines = [head]
    for f in view.downloads[:LIVE_ROWS]:
        bits = [f"{f.progress:.0%} of {_si(f.size)}" if f.size else f"{f.progress:.0%}"]
        if f.speed:
            bits.append(_speed(f.speed))
        if f.eta is not None:
            bits.append(f"{_eta(f.eta)} left")
        state = f.state or f.status
        lines.append(f"  #{f.download_id} {f.title}: {', '.join(bits)} ({state})"
                     + (f" - {f.detail}" if f.detail and f.status == "pending" else ""))
    if len(view.downloads) > LIVE_ROWS:
        lines.append(f"  ... and {len(view.downloads) - LIVE_ROWS} more")
    if view.qbt_error:
        lines.append(f"  qBittorrent: {view.qbt_error} (progress as the last downloads run saw it)")
    return lines


def live_view(view: Any, *, interval: float, now: Any = None, tz: Any = None) -> Any:
    """One frame of ``--watch`` on a terminal: the summary panel and the downloads in flight."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    from .times import local_text, utcnow

    parts: list[Any] = [summary_panel(view.data, now=now, tz=tz)]
    if view.downloads:
        t = Table(title="Downloads in flight", title_justify="left")
        for col in ("id", "title", "status", "progress", "", "speed", "left"):
            t.add_column(col, no_wrap=col != "title")
        for f in view.downloads[:LIVE_ROWS]:
            status = f.state or f.status
            if f.status == "pending" and f.detail:
                status += f": {f.detail}"
            t.add_row(str(f.download_id), f.title, status,
                      ProgressBar(total=1.0, completed=max(0.0, min(1.0, f.progress)), width=20),
                      f"{f.progress:.0%} of {_si(f.size)}" if f.size else f"{f.progress:.0%}",
                      _speed(f.speed) if f.speed else "", _eta(f.eta))
        parts.append(t)
        if len(view.downloads) > LIVE_ROWS:
            parts.append(Text(f"... and {len(view.downloads) - LIVE_ROWS} more"))
    else:
        parts.append(Text("No download in flight."))
    if view.qbt_error:
        parts.append(Text(f"qBittorrent: {view.qbt_error} (progress as the last downloads run saw it)",
                          style="yellow"))
    parts.append(Text(f"updated {local_text(now or utcnow(), tz, '%H:%M:%S')} · every {interval:g} s · "
                      "Ctrl-C to stop", style="dim"))
    return Group(*parts)


def watch(frame: Any, *, interval: float, sleep: Any = None) -> None:
    """Show ``frame()`` again every ``interval`` seconds until Ctrl-C (which ends it, exit 0)."""
    import time

    sleep = sleep or time.sleep
    try:
        if is_terminal():
            from rich.live import Live

            with Live(live_view(frame(), interval=interval), console=console(), auto_refresh=False,
                      screen=False) as screen:
                while True:
                    sleep(interval)
                    screen.update(live_view(frame(), interval=interval), refresh=True)
        else:
            while True:
                for line in live_lines(frame()):
                    echo(line)
                sleep(interval)
    except KeyboardInterrupt:
        return


def prometheus(data: dict[str, Any], path: Any) -> None:
    """``--prometheus FILE``: the metrics file (a line on stderr says where it went)."""
    from .metrics import metrics_text, write_metrics

    target = write_metrics(path, metrics_text(data))
    log.info("metrics written to %s", target)


# ------------------------------------------------------------------ notify
def notify(result: Any) -> None:
    if result.tested:
        for d in result.deliveries:
            echo(f"{d.name}: sent" if d.ok else f"{d.name}: FAILED: {d.error}")
        ok = sum(d.ok for d in result.deliveries)
        echo(f"notify --test: {ok} of {len(result.deliveries)} targets reached")
        return
    if not result.targets:
        echo("notifications: off (set NOTIFY_URLS to Apprise URLs; see the README)")
        return
    echo(f"notifications: {len(result.targets)} targets ({', '.join(result.targets)}); "
         f"events: {', '.join(result.notify_on) or 'none (NOTIFY_ON is empty)'}")
    box = result.outbox or {}
    if box:
        line = f"outbox: {box.get('pending', 0)} waiting, {box.get('gave_up', 0)} given up"
        if box.get("last_sent_at"):
            from .times import local_text, relative

            line += f"; last sent {local_text(box['last_sent_at'])} ({relative(box['last_sent_at'])})"
        echo(line)
        if box.get("last_error"):
            echo(f"last error: {box['last_error']}")
    echo("send a test message to every target: abook notify --test")
