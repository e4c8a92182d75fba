"""Benchmark `abook scan` against the fake Audiobookshelf holding N generated books.

Prints, for a library of --items books (default 50,000):
- the wall time of a first `abook scan` next to the wall time of a bare httpx program making the
  same requests (minified pages + expanded batch/get of every item + the authors list, decoded
  with the standard json module): that is the limit;
- the wall time of an unchanged re-scan next to the bare program fetching the pages alone;
Both sides are whole processes (interpreter start and imports included), best of --repeat runs.
- the peak RSS of each abook process;
- the wall time of `abook --help` (best of 5).

Run from the repository root:  python3 benchmarks/scan.py [--items 50000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-not-secret"


def start_fake(items: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.abs", "--items", str(items), "--port", "0", "--token", TOKEN],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("fake ABS did not start")
        if line.startswith("READY "):
            return proc, line.split()[1].strip()


def abook_cmd() -> list[str]:
    exe = shutil.which("abook")
    return [exe] if exe else [sys.executable, "-m", "abook.cli"]


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one abook process."""
    start = time.perf_counter()
    proc = subprocess.Popen([*abook_cmd(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"abook {' '.join(args)} failed ({proc.returncode}): {err[-500:]}")
    return wall, usage.ru_maxrss / 1024.0, out


def raw_fetch(url: str, *, expanded: bool, page_size: int = 2500, batch: int = 1000) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    start = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        libs = client.get("/api/libraries").json()["libraries"]
        for lib in libs:
            page = 0
            while True:
                data = client.get(
                    f"/api/libraries/{lib['id']}/items", params={"limit": page_size, "page": page, "sort": "addedAt"}
                ).json()
                ids = [i["id"] for i in data["results"]]
                if expanded:
                    for s in range(0, len(ids), batch):
                        client.post("/api/items/batch/get", json={"libraryItemIds": ids[s : s + batch]}).json()
                if len(ids) < page_size:
                    break
                page += 1
            client.get(f"/api/libraries/{lib['id']}/authors").json()
    return time.perf_counter() - start


def raw_process(url: str, expanded: bool) -> float:
    """Wall time of a separate, minimal httpx program doing the fetch (the limit)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--raw", url, "expanded" if expanded else "pages"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw", nargs=2, metavar=("URL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw:
        raw_fetch(args.raw[0], expanded=args.raw[1] == "expanded")
        return
    fake, url = start_fake(args.items)
    tmp = Path(tempfile.mkdtemp(prefix="abook-bench-"))
    env = {**os.environ, "ABS_URL": url, "ABS_TOKEN": TOKEN, "ABOOK_DB": str(tmp / "abook.db"),
           "HTTP_TIMEOUT": "300"}
    try:
        firsts, raws_exp = [], []
        for _ in range(args.repeat):
            Path(env["ABOOK_DB"]).unlink(missing_ok=True)
            raws_exp.append(raw_process(url, expanded=True))
            wall, first_rss, out1 = run_measured(["scan"], env)
            firsts.append(wall)
        first, raw_pages_expanded = min(firsts), min(raws_exp)
        agains, raws = [], []
        for _ in range(args.repeat):
            raws.append(raw_process(url, expanded=False))
            wall, again_rss, out2 = run_measured(["scan"], env)
            agains.append(wall)
        again, raw_pages = min(agains), min(raws)
        helps = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([*abook_cmd(), "--help"], env=env, stdout=subprocess.DEVNULL, check=True)
            helps.append(time.perf_counter() - start)
        bare = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], stdout=subprocess.DEVNULL, check=True)
            bare.append(time.perf_counter() - start)
    finally:
        fake.terminate()
        fake.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"library: {args.items} books (fake ABS 2.36 on 127.0.0.1)")
    print(f"first scan:    {first:6.2f} s   bare httpx (pages + batch/get + authors): {raw_pages_expanded:6.2f} s"
          f"   ratio {first / raw_pages_expanded:.2f}   peak RSS {first_rss:.0f} MB")
    print(f"re-scan:       {again:6.2f} s   bare httpx (pages + authors):             {raw_pages:6.2f} s"
          f"   ratio {again / raw_pages:.2f}   peak RSS {again_rss:.0f} MB")
    print(f"abook --help:  {min(helps):6.3f} s (best of 5; bare python startup {min(bare):.3f} s)")
    print("scan output:", out1.strip().splitlines()[-1], "|", out2.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
