"""Benchmark what every run now pays when it ends, and the report, on a large state file.

Builds a state file with --books books (default 50,000), 2,000 downloads, 5,000 missing books,
a month of 5-minute tracker snapshots (8,640) and 1,000 failures, then prints the best of
--repeat of:
- ``report.core`` (the summary panel's data, one --watch frame) and ``report.build`` (all of --json);
- ``metrics_data`` + ``metrics_text`` + the atomic write (what METRICS_FILE costs each run);
- ``events.of_run`` + ``notify.queue`` + ``notify.flush`` with nothing to send (what NOTIFY_URLS
  costs a run that has no news) and one ``import`` event delivered with real Apprise to a
  receiver on 127.0.0.1;
- ``abook --help`` (whole process, best of 5).

Run from the repository root:  python3 benchmarks/report.py [--books 50000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fakes.notify_target import FakeNotifyTarget  # noqa: E402

from abook import events, notify  # noqa: E402
from abook.config import Settings  # noqa: E402
from abook.metrics import metrics_text, write_metrics  # noqa: E402
from abook.state import State, iso, utcnow  # noqa: E402
from abook.workflows import report  # noqa: E402
from abook.workflows.downloads import DownloadsResult, Move  # noqa: E402


def fill(state: State, books: int) -> None:
    now = utcnow()
    ms = int(now.timestamp() * 1000)
    rows = [{"id": f"b{i}", "title": f"Book {i}", "author_name": f"Author {i % 5000}", "size": 300_000_000,
             "duration": 36000.0, "added_at": ms - (i % 400) * 86_400_000, "completeness": 0.7 + (i % 3) / 10,
             "subtitle": "x" if i % 2 else "", "isbn": str(i) if i % 3 else "", "genres": '["Fantasy"]'}
            for i in range(books)]
    state.apply_scan("lib", rows, [], authors=[{"id": f"a{i}", "name": f"Author {i}"} for i in range(5000)])
    statuses = ["done"] * 1500 + ["imported"] * 50 + ["downloading"] * 100 + ["pending"] * 300 + ["failed"] * 50
    with state.tx():
        for n, status in enumerate(statuses):
            state.add_download({"source": "mam", "torrent_id": str(n), "title": f"Grab {n}", "status": status,
                                "size": 400_000_000, "completed_at": iso(now - timedelta(hours=n))})
    state.save_missing([{"kind": "author_gap" if n % 2 else "series_gap", "title": f"Missing {n}",
                         "author_name": f"Author {n % 700}", "status": ("wanted", "queued", "not_found")[n % 3]}
                        for n in range(5000)])
    with state.tx():
        for n in range(8640):
            state.add_snapshot({"taken_at": iso(now - timedelta(minutes=5 * n)), "ratio": 2 + (n % 50) / 100,
                                "uploaded": 500 * 10**9, "downloaded": 240 * 10**9, "bonus": 40000.0,
                                "class_name": "Power User", "unsat_count": 20, "unsat_limit": 100, "action": "ok"})
        for n in range(1000):
            state.record_failure("downloads", "download", "stalled", "no progress", ref=str(n), title=f"Grab {n}")
        for command in ("scan", "downloads", "ratio-check", "top10", "fill-series"):
            tid = state.start_task(command, {})
            state.finish_task(tid, "ok", {}, exit_code=0)


def best(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--books", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="abook-bench-report-"))
    try:
        state = State.open(tmp / "abook.db")
        start = time.perf_counter()
        fill(state, args.books)
        print(f"state file: {args.books:,} books, 2,000 downloads, 5,000 missing, 8,640 snapshots "
              f"(built in {time.perf_counter() - start:.1f} s)")
        opts = report.ReportOptions()
        print(f"report.core (summary, one --watch frame): {best(args.repeat, lambda: report.core(state, opts)):.3f} s")
        print(f"report.build (all of --json):            {best(args.repeat, lambda: report.build(state, options=opts)):.3f} s")
        prom = tmp / "abook.prom"
        metrics = best(args.repeat, lambda: write_metrics(prom, metrics_text(report.metrics_data(state, opts))))
        print(f"METRICS_FILE at the end of a run:        {metrics:.3f} s ({prom.stat().st_size:,} bytes)")
        with FakeNotifyTarget() as receiver:
            urls = receiver.json_url("bench")
            settings = Settings.load(environ={"NOTIFY_URLS": urls}, cwd=tmp)
            tid = state.start_task("downloads", {})
            state.finish_task(tid, "ok", {}, exit_code=0)

            def quiet() -> None:
                found = events.of_run("downloads", DownloadsResult(), state, settings, task_id=tid, exit_code=0,
                                      now=utcnow())
                notify.queue(state, found, urls, notify_on=settings.notify_on, command="downloads", task_id=tid)
                notify.flush(state, urls, now=utcnow())

            print(f"NOTIFY_URLS, a run with no news:         {best(args.repeat, quiet):.4f} s")
            counter = iter(range(10**6))

            def one() -> None:
                n = next(counter)
                result = DownloadsResult(moves=[Move(1, "Grab 1", "completed", "imported")])
                found = events.of_run("downloads", result, state, settings, task_id=10**6 + n, exit_code=0,
                                      now=utcnow())
                notify.queue(state, found, urls, notify_on=settings.notify_on, command="downloads", task_id=tid)
                notify.flush(state, urls, now=utcnow())

            print(f"one import message through Apprise:      {best(args.repeat, one):.3f} s "
                  f"({len(receiver.messages)} delivered to 127.0.0.1)")
        state.close()
        helps = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "abook.cli", "--help"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           check=True)
            helps.append(time.perf_counter() - start)
        print(f"abook --help:                            {min(helps):.3f} s (best of 5)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
