"""Benchmark: what one genre's ranking costs on each route, over one synthetic MAM catalogue.

Run: ``python benchmarks/prowlarr.py [--uploads 600] [--days 30] [--window 10] [--walk 30]
[--prowlarr-delay 0] [--mam-pace 0]``

The catalogue has ``--uploads`` Science Fiction audiobooks spread over ``--days`` days (MAM's
real rate is a few dozen a day in a big genre). It is served by the fake MAM and by the fake
Prowlarr's MyAnonamouse indexer (same rows). For the direct MAM route, the Prowlarr route and
the Prowlarr route with MAM_ID enrichment, it walks the first ``--walk`` candidates of the
``--window``-day ranking and prints the requests each service answered and the wall time.
``--prowlarr-delay`` is what one indexer query costs in Prowlarr (it paces an indexer's
requests 2 s apart and waits for the tracker: 2 is honest); ``--mam-pace`` is
MAM_RATE_LIMIT_MIN = MAX (3 is the default abook uses). Both rankings must be the same list.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fakes.mam import FakeMAM, make_catalog  # noqa: E402
from tests.fakes.prowlarr import FakeProwlarr, MamIndexer  # noqa: E402

from abook.clients.mam import MAM  # noqa: E402
from abook.clients.prowlarr import Prowlarr  # noqa: E402
from abook.search import MamSearch, ProwlarrSearch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=600)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--walk", type=int, default=30)
    ap.add_argument("--prowlarr-delay", type=float, default=0.0)
    ap.add_argument("--mam-pace", type=float, default=0.0)
    args = ap.parse_args()

    now = datetime.now(UTC)
    rows = make_catalog(args.uploads, categories=(47,), now=now, days=args.days, seed=3)
    mam_fake = FakeMAM(rows)
    fake = FakeProwlarr(indexers=[MamIndexer(mam_fake)], search_delay=args.prowlarr_delay)
    with mam_fake, fake:
        in_window = sum(1 for r in rows if datetime.fromisoformat(r["added"]).replace(tzinfo=UTC)
                        >= now - timedelta(days=args.window))
        print(f"{args.uploads} uploads over {args.days} days, about {in_window} in the {args.window}-day window; "
              f"walking {args.walk}")

        def mam_client() -> MAM:
            mam_fake.new_session("bench-cookie")
            return MAM(mam_fake.url, "bench-cookie", rate_min=args.mam_pace, rate_max=args.mam_pace)

        results = {}
        for label in ("mam", "prowlarr", "prowlarr+MAM_ID"):
            mam_before, prow_before = len(mam_fake.requests), len(fake.requests)
            start = time.perf_counter()
            with mam_client() as mam, Prowlarr(fake.url, fake.api_key) as prowlarr:
                if label == "mam":
                    search = MamSearch(mam, (1,))
                else:
                    search = ProwlarrSearch(prowlarr, mam=(lambda m=mam: m) if label.endswith("MAM_ID") else None)
                ranking = search.ranked("Science Fiction", args.window, now)
                walked = [next(ranking) for _ in range(args.walk)]
            took = time.perf_counter() - start
            results[label] = [r.torrent_id for r in walked]
            print(f"  {label:16} {took:7.2f} s   MAM requests {len(mam_fake.requests) - mam_before:4}   "
                  f"Prowlarr requests {len(fake.requests) - prow_before:4}")
        same = results["mam"] == results["prowlarr"] == results["prowlarr+MAM_ID"]
        print(f"  the three rankings are {'the same' if same else 'DIFFERENT'}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
