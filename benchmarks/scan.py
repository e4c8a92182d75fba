"""Benchmark `abook scan` against Audiobookshelf: the honest fake (default) or a real server.

For a library of --items books in the fake ABS (default 50,000; the fake charges what a real ABS
2.36 costs on 2 cores, scaled by --cost-scale), or for the server given by --abs-url/--abs-token,
it prints both sides of every ratio, with the inputs:

- the floor: a bare httpx loop reading every minified page (limit 1000, sorted, decoded with the
  standard json module, timed inside its process) as ``shared/bench/perf/baseline.py`` does;
- a first `abook scan` on an empty state file, as a whole process (interpreter start and imports
  included), and its peak RSS;
- an unchanged re-scan, the same way;
- `abook --help` (best of 5).

Best of --repeat runs each. With --check, the mirror the first scan wrote is compared, field by
field, with the one built from every item's expanded record (`batch/get`, ABS's own
``descriptionPlain``, as scans stored it before they read the pages): the check asked of a real ABS.

Run from the repository root:
    python benchmarks/scan.py [--items 50000] [--cost-scale 1] [--repeat 3]
    python benchmarks/scan.py --abs-url URL --abs-token TOKEN [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-not-secret"
FLOOR_PAGE = 1000


def start_fake(items: int, cost_scale: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.abs", "--items", str(items), "--port", "0", "--token", TOKEN,
         "--cost-scale", str(cost_scale)],
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


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str, str]:
    """(wall seconds, peak RSS in MB, stdout, stderr) of one abook process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*abook_cmd(), *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"abook {' '.join(args)} failed ({proc.returncode}): {stderr[-500:]}")
    return wall, usage.ru_maxrss / 1024.0, stdout, stderr


def floor_fetch(url: str, token: str, library: str) -> tuple[float, int, int]:
    """(seconds, requests, items): every minified page, limit 1000, fetched and json-decoded."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        lib = library or client.get("/api/libraries").json()["libraries"][0]["id"]
        start = time.perf_counter()
        page = requests = items = 0
        while True:
            body = client.get(f"/api/libraries/{lib}/items",
                              params={"limit": FLOOR_PAGE, "page": page, "sort": "addedAt"}).content
            data = json.loads(body)
            requests += 1
            items += len(data["results"])
            if len(data["results"]) < FLOOR_PAGE:
                break
            page += 1
        return time.perf_counter() - start, requests, items


def library_id(url: str, token: str, wanted: str) -> str:
    import httpx

    libs = httpx.get(f"{url}/api/libraries", headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
    books = [lib for lib in libs["libraries"] if lib.get("mediaType") == "book"]
    for lib in books:
        if wanted in (lib["id"], lib["name"]):
            return lib["id"]
    if wanted:
        raise SystemExit(f"no book library {wanted!r}")
    return books[0]["id"]


def check_mirror(db_path: Path, url: str, token: str, lib: str, chunk: int = 1000) -> dict[str, object]:
    """Compare every row of the mirror with the row made from the item's expanded record."""
    import httpx

    sys.path.insert(0, str(ROOT / "src"))
    from abook.clients.audiobookshelf import parse_item
    from abook.library import BOOK_FIELDS, book_row, completeness, fingerprint

    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    ids = [r[0] for r in conn.execute("SELECT id FROM books WHERE library_id=? AND removed_at IS NULL", (lib,))]
    skip = {"fingerprint"}  # made from the page the scan read, the expanded record is read later
    diffs: dict[str, int] = {}
    examples: list[str] = []
    checked = missing = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            expanded = client.post("/api/items/batch/get", json={"libraryItemIds": part}).json()["libraryItems"]
            stored = {r["id"]: r for r in conn.execute(
                f"SELECT * FROM books WHERE id IN ({','.join('?' for _ in part)})", part)}
            for raw in expanded:
                item = parse_item(raw)
                want = book_row(item, fp=fingerprint(item))
                meta = raw["media"]["metadata"]
                plain = meta.get("descriptionPlain") or meta.get("description")
                want["description"] = (plain.strip() or None) if isinstance(plain, str) else plain
                want["completeness"] = completeness(want)
                got = stored[item.id]
                checked += 1
                for col in BOOK_FIELDS:
                    if col in skip or got[col] == want[col]:
                        continue
                    diffs[col] = diffs.get(col, 0) + 1
                    if len(examples) < 8:
                        examples.append(f"{item.id} {col}: mirror {got[col]!r} != expanded {want[col]!r}")
            missing += len(part) - len(expanded)
    return {"rows": len(ids), "checked": checked, "gone_meanwhile": missing, "differing_fields": diffs,
            "examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="books in the fake ABS")
    parser.add_argument("--cost-scale", type=float, default=1.0,
                        help="share of a real ABS 2.36's costs the fake charges (1 = its speed)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--abs-url", help="a real Audiobookshelf instead of the fake")
    parser.add_argument("--abs-token", help="its API key (or ABS_TOKEN)")
    parser.add_argument("--abs-library", default="", help="library name or id (default: the first)")
    parser.add_argument("--check", action="store_true", help="compare the mirror with expanded records")
    parser.add_argument("--floor", nargs=3, metavar=("URL", "TOKEN", "LIB"), help=argparse.SUPPRESS)
    parser.add_argument("--check-db", nargs=4, metavar=("DB", "URL", "TOKEN", "LIB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        print(json.dumps(floor_fetch(*args.floor)))
        return
    if args.check_db:
        db_path, *rest = args.check_db
        print(json.dumps(check_mirror(Path(db_path), *rest)))
        return

    fake = None
    if args.abs_url:
        url, token = args.abs_url.rstrip("/"), args.abs_token or os.environ.get("ABS_TOKEN", "")
        if not token:
            raise SystemExit("--abs-token (or ABS_TOKEN) is needed with --abs-url")
        what = f"real Audiobookshelf at {url}"
    else:
        started = time.perf_counter()
        fake, url = start_fake(args.items, args.cost_scale)
        token = TOKEN
        what = (f"fake ABS 2.36 on 127.0.0.1, {args.items} generated books, charging {args.cost_scale:g} x "
                f"a real ABS 2.36's costs (started in {time.perf_counter() - started:.0f} s)")
    tmp = Path(tempfile.mkdtemp(prefix="abook-bench-"))
    db = tmp / "abook.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ABS_", "ABOOK_"))}
    env.update({"ABS_URL": url, "ABS_TOKEN": token, "ABOOK_DB": str(db), "HTTP_TIMEOUT": "600",
                "NO_COLOR": "1", "TERM": "dumb"})
    if args.abs_library:
        env["ABS_LIBRARY"] = args.abs_library
    try:
        lib = library_id(url, token, args.abs_library)
        load = os.getloadavg()[0]
        floors, firsts, agains = [], [], []
        first_rss = again_rss = 0.0
        first_err = ""
        for _ in range(args.repeat):
            proc = subprocess.run([sys.executable, __file__, "--floor", url, token, lib], check=True,
                                  capture_output=True, text=True)
            seconds, requests, items = json.loads(proc.stdout)
            floors.append(seconds)
            db.unlink(missing_ok=True)
            wall, rss, out1, err = run_measured(["-v", "scan"], env)
            firsts.append(wall)
            first_rss, first_err = max(first_rss, rss), err
        report = None
        if args.check:  # in its own process: a big parent would inflate the next child's peak RSS
            proc = subprocess.run([sys.executable, __file__, "--check-db", str(db), url, token, lib],
                                  check=True, capture_output=True, text=True)
            report = json.loads(proc.stdout)
        for _ in range(args.repeat):
            wall, rss, out2, _err = run_measured(["scan"], env)
            agains.append(wall)
            again_rss = max(again_rss, rss)
        helps = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([*abook_cmd(), "--help"], env=env, stdout=subprocess.DEVNULL, check=True)
            helps.append(time.perf_counter() - start)
    finally:
        if fake is not None:
            fake.terminate()
            fake.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    floor, first, again = min(floors), min(firsts), min(agains)
    print(f"library: {items} books, {what}")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start; best of {args.repeat} runs")
    print(f"floor:     {floor:6.2f} s   bare httpx, {requests} minified pages of {FLOOR_PAGE} + json decode "
          f"(runs: {', '.join(f'{x:.2f}' for x in floors)})")
    print(f"first scan:{first:6.2f} s   = {first / floor:.2f} x floor   peak RSS {first_rss:.0f} MB   "
          f"(runs: {', '.join(f'{x:.2f}' for x in firsts)})")
    print(f"re-scan:   {again:6.2f} s   = {again / floor:.2f} x floor   peak RSS {again_rss:.0f} MB   "
          f"(runs: {', '.join(f'{x:.2f}' for x in agains)})")
    print(f"abook --help: {min(helps):.3f} s (best of 5)")
    detail = [ln.split("INFO: ", 1)[1] for ln in first_err.splitlines() if "read in full" in ln]
    print("first scan said:", out1.strip().splitlines()[-1], "|", "; ".join(detail))
    print("re-scan said:   ", out2.strip().splitlines()[-1])
    if report is not None:
        print("check:", json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
