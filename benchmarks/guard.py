"""Benchmark: what the tracker guard costs -- time per verdict on a big state file, tracker
requests per grab.

Run: ``python benchmarks/guard.py [--history 50000] [--unfinished 200] [--recent 50] [--picks 200]``

Part 1 fills an on-disk state file with ``history`` finished downloads (older than the 30-minute
own-count window), ``unfinished`` queued/downloading/pending ones and ``recent`` grabs fetched in the
last minutes, then times :meth:`TrackerGuard.judge` (the verdict every grab and every pending pick
gets) for ``picks`` picks. Part 2 runs the fresh look and the fetch of one plain grab and one grab
with a wedge against the fake MAM on 127.0.0.1 and counts the tracker requests each one costs
(each is paced ``MAM_RATE_LIMIT_MIN``..``MAX`` seconds apart on the real tracker).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abook.clients.mam import MAM, UserStats
from abook.guard import GIB, Rules, TrackerGuard
from abook.models import Release
from abook.state import State, iso

RULES = Rules(floor=1.5, margin=5, buffer_min=10 * GIB, wedge_min=1 * GIB, wedge_reserve=1)


class Account:
    """The tracker as the guard sees it in part 1 (no network: only the state file is timed)."""

    def user_stats(self) -> UserStats:
        return UserStats(username="bench", uid=1, user_class="Power User", ratio=3.0, uploaded=3000 * GIB,
                         downloaded=1000 * GIB, seedbonus=0, wedges=10, unsat_count=40, unsat_limit=400,
                         exact_bytes=True)

    def snatch_list(self, kind: str = "unsat"):
        from abook.clients.mam import SnatchList

        return SnatchList(kind, [], complete=True)


def part1(history: int, unfinished: int, recent: int, picks: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        state = State.open(Path(tmp) / "abook.db")
        rows = []
        for i in range(history):
            rows.append(("mam", str(1_000_000 + i), "done", GIB, 0, iso(now - timedelta(days=1 + i % 300))))
        for i in range(unfinished):
            status = ("pending", "queued", "downloading")[i % 3]
            rows.append(("mam", str(2_000_000 + i), status, GIB, i % 2,
                         None if status == "pending" else iso(now - timedelta(hours=2))))
        for i in range(recent):
            rows.append(("mam", str(3_000_000 + i), "queued", GIB, 0, iso(now - timedelta(minutes=i % 25))))
        with state.tx():
            state.conn.executemany(
                "INSERT INTO downloads (source, torrent_id, status, size, freeleech, fetched_at) VALUES (?,?,?,?,?,?)",
                rows,
            )
        guard = TrackerGuard(state, Account(), rules=RULES)
        guard.current()
        started = time.perf_counter()
        verdicts = Counter()
        for i in range(picks):
            why = guard(Release(source="mam", torrent_id=str(4_000_000 + i), title="x", size=GIB))
            verdicts["refused" if why else "ok"] += 1
        took = time.perf_counter() - started
        print(f"part 1: {len(rows):,} downloads rows ({history:,} history, {unfinished} unfinished, {recent} recent); "
              f"{picks} verdicts in {took * 1000:.0f} ms ({took / picks * 1000:.2f} ms each); {dict(verdicts)}")
        state.close()


def part2() -> None:
    from tests.fakes.mam import FakeMAM, default_user, mam_row

    from abook.workflows.grab import fetch_torrent

    user = default_user()
    user["classname"] = "Power User"
    catalog = [mam_row(1, "Plain Pick", size=GIB // 2), mam_row(2, "Wedge Pick", size=3 * GIB)]
    with FakeMAM(catalog, user=user) as fake, tempfile.TemporaryDirectory() as tmp:
        state = State.open(Path(tmp) / "abook.db")
        client = MAM(fake.url, fake.cookie, rate_min=0, rate_max=0, retries=1, timeout=10)
        guard = TrackerGuard(state, client, rules=RULES)
        guard.current()
        for tid in ("1", "2"):
            before = len(fake.requests)
            pick = client.torrent(tid)
            fake.requests[before:] = []  # the search that found it is not the grab's cost
            before = len(fake.requests)
            clearance = guard.look(pick)
            dl = state.add_download({"source": "mam", "torrent_id": tid, "status": "pending", "size": pick.size,
                                     "title": pick.title})
            fetch_torrent(state, guard, lambda wedge, pick=pick: (client.download(pick, wedge=wedge), None), dl,
                          clearance.release, clearance, command="bench", task_id=None)
            spent = Counter(r.path for r in fake.requests[before:])
            kind = "grab with a wedge" if clearance.wedge else "plain grab"
            print(f"part 2: a {kind} costs {sum(spent.values())} tracker requests: {dict(spent)}")
        client.close()
        state.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, default=50_000)
    ap.add_argument("--unfinished", type=int, default=200)
    ap.add_argument("--recent", type=int, default=50)
    ap.add_argument("--picks", type=int, default=200)
    args = ap.parse_args()
    part1(args.history, args.unfinished, args.recent, args.picks)
    part2()


if __name__ == "__main__":
    main()
