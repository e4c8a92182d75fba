"""Benchmark: the title cleaner over a 50,000-book library, as ``abook report`` runs it.

Run: ``python benchmarks/tidy.py [--books 50000] [--seed 7]``

The library is synthetic but shaped like a real one: most titles clean, some written the way
trackers and sources write them ("Series: Title", "Title: Series, Book 3", "Title (Series #3)
[Unabridged]", "Title: A Novel", a subtitle "Series, Book 2"), about 40 % of the books in a series.
It times :func:`abook.tidy.tidy` cold (every title new) and warm (the cache), and
``workflows.metadata.titles_to_tidy`` (the report's "titles to tidy") over every row, and checks the
count against what the generator made untidy, so a speed-up that breaks the cleaner shows at once.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from abook.models import SeriesRef
from abook.tidy import _tidy, tidy
from abook.workflows.metadata import titles_to_tidy


def _words(text: str) -> list[str]:
    return text.split()


ADJ = _words("ancient bitter black broken burning crimson dark distant empty fallen final forgotten golden hidden")
NOUN = _words("abbey blade crown dagger dawn dragon ember empire gate harbor kingdom lantern oath queen raven tide")
FIRST = _words("Mara Idris Clare Tom Ruth Samuel Ada Jonah Priya Leo Nina")
LAST = _words("Ellison Vane Hughes Avery Okafor Orr Pemberton Castell Rhee Moss")


def make_rows(n: int, rng: random.Random) -> tuple[list[dict], int]:
    rows, untidy = [], 0
    for i in range(n):
        title = f"The {rng.choice(ADJ).title()} {rng.choice(NOUN).title()}"
        if rng.random() < 0.1:
            title += f": {rng.choice(['A Memoir', 'Stories', 'The Untold Story of ' + rng.choice(NOUN).title()])}"
        series = f"{rng.choice(NOUN).title()} {rng.choice(['Saga', 'Chronicles', 'Cycle'])} {i % 997}"
        pos = str(rng.randint(1, 9))
        in_series = rng.random() < 0.4
        subtitle = None
        shape = rng.random()
        if in_series and shape < 0.05:
            title, untidy = f"{series}: {title}", untidy + 1
        elif in_series and shape < 0.10:
            title, untidy = f"{title}: {series}, Book {pos}", untidy + 1
        elif in_series and shape < 0.14:
            title, untidy = f"{title} ({series} #{pos}) [Unabridged]", untidy + 1
        elif in_series and shape < 0.20:
            subtitle, untidy = f"{series}, Book {pos}", untidy + 1
        elif shape < 0.03:
            title, untidy = f"{title}: A Novel", untidy + 1
        author = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        rows.append({"id": f"b{i}", "title": title, "subtitle": subtitle, "authors": [{"name": author}],
                     "series": [{"name": series, "sequence": pos}] if in_series else []})
    return rows, untidy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--books", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rows, untidy = make_rows(args.books, random.Random(args.seed))

    _tidy.cache_clear()
    t0 = time.perf_counter()
    for r in rows:
        tidy(r["title"], subtitle=r["subtitle"] or "",
             series=[SeriesRef(s["name"], s["sequence"]) for s in r["series"]],
             authors=[a["name"] for a in r["authors"]])
    cold = time.perf_counter() - t0
    _tidy.cache_clear()
    t0 = time.perf_counter()
    out = titles_to_tidy(rows)
    report = time.perf_counter() - t0
    print(f"books {len(rows):,}: tidy cold {cold:.2f} s ({cold / len(rows) * 1e6:.0f} us/book); "
          f"titles_to_tidy {report:.2f} s")
    print(f"titles to tidy: {out['to_tidy']:,} (made untidy: {untidy:,}) by kind {out['by_kind']}")
    if out["to_tidy"] != untidy:
        print("MISMATCH: the cleaner disagrees with the generator")
        sys.exit(1)


if __name__ == "__main__":
    main()
