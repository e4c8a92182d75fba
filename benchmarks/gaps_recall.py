"""Benchmark: recall and precision of `abook fill-series` on generated worlds nobody tuned for.

Run: ``python benchmarks/gaps_recall.py [--series 40] [--seed 3] [--same-names] [--abook "abook"]``

Each seed makes a new world: series with an owned first book, named one way in the library and
another in the (fake) Audible bibliography; missing books whose titles carry apostrophes,
number words, roman numerals, "&", subtitles or UK spellings; a fake MAM that tokenises like a
full-text index, holding for each missing book an upload written in a random variant of its
title (as written, apostrophe dropped, number as digits, "and" for "&", subtitle dropped, US
spelling, a "(Unabridged)" tag...), or only an abridged / split upload, or nothing; and decoys
(another author's book of the same title, an omnibus, an abridged edition with more seeders).

`abook scan` and `abook fill-series` (again until a run searches nothing: each run makes at most
MAX_SEARCHES_PER_RUN queries) run as a user would, against a real qbittorrent-nox (``--abook``
names the command, so another checkout can be measured the same way). Printed: recall (missing books
that have an acceptable upload, chosen right), wrong picks, tracker searches made and the
recall per title variant, so a change that wins one class and loses another shows.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.fakes.abs import FakeABS  # noqa: E402
from tests.fakes.mam import FakeMAM, mam_row  # noqa: E402
from tests.fakes.metadata import Catalogue, FakeAudible, FakeBook  # noqa: E402

NOUNS = ("Crown", "Tide", "Harbor", "Orchard", "Lantern", "Forge", "Citadel", "Ember", "Garden", "Throne",
         "Wolf", "River", "Mirror", "Tower", "Serpent", "Compass")
ADJECTIVES = ("Silent", "Drowned", "Hollow", "Crimson", "Burning", "Quiet", "Salt", "Iron", "Glass", "Amber")
NAMES = ("King", "Queen", "Maker", "Widow", "Hunter", "Thief", "Captain", "Warden")
PLACES = ("Ashford", "Blackmoor", "Dunmore", "Fairhaven", "Greystone", "Kestrel", "Meridian", "Ravenholm")
FIRST = ("Mara", "Idris", "Clare", "Tom", "Ruth", "Samuel", "Ada", "Jonah", "Priya", "Nina", "Leo", "Oskar")
LAST = ("Ellison", "Vane", "Hughes", "Avery", "Okafor", "Orr", "Pemberton", "Castell", "Rhee", "Moss", "Lund")
NUMBERS = ("Two", "Three", "Four", "Five", "Seven", "Nine", "Twelve")
DIGITS = {"Two": "2", "Three": "3", "Four": "4", "Five": "5", "Seven": "7", "Nine": "9", "Twelve": "12"}
UK_US = {"Colour": "Color", "Harbour": "Harbor", "Grey": "Gray", "Honour": "Honor", "Armour": "Armor"}
SERIES_WORDS = ("Saga", "Trilogy", "Chronicles", "Series", "Cycle")


def title_kind(rng: random.Random) -> tuple[str, str]:
    """(a bibliography title, the class it belongs to)."""
    noun, adj = rng.choice(NOUNS), rng.choice(ADJECTIVES)
    kind = rng.choice(("plain", "apostrophe", "number", "roman", "ampersand", "subtitle", "spelling"))
    if kind == "apostrophe":
        return f"The {rng.choice(NAMES)}'s {noun}", kind
    if kind == "number":
        return f"{rng.choice(NUMBERS)} {noun}s of {rng.choice(PLACES)}", kind
    if kind == "roman":
        return f"{adj} {noun} {rng.choice(('II', 'III', 'IV'))}", kind
    if kind == "ampersand":
        return f"{noun} {rng.choice(('&', 'and'))} {rng.choice(NOUNS)}", kind
    if kind == "subtitle":
        return f"The {adj} {noun}: A {rng.choice(PLACES)} {rng.choice(('Story', 'Tale', 'Mystery'))}", kind
    if kind == "spelling":
        word = rng.choice(sorted(UK_US))
        return f"The {word} of {rng.choice(PLACES)}", kind
    return f"The {adj} {noun}", kind


def upload_variant(title: str, kind: str, rng: random.Random) -> tuple[str, str]:
    """How an uploader wrote the title: (torrent title, variant name)."""
    options = ["as written", "tagged"]
    if "'" in title:
        options.append("apostrophe dropped")
    if any(n in title.split() for n in NUMBERS):
        options.append("number as digits")
    if re.search(r"\b(II|III|IV)$", title):
        options.append("roman as digits")
    if "&" in title or " and " in title:
        options.append("and / &")
    if ":" in title:
        options.append("subtitle dropped")
    if any(w in title for w in UK_US):
        options.append("US spelling")
    variant = rng.choice(options)
    if variant == "tagged":
        return f"{title} (Unabridged)", variant
    if variant == "apostrophe dropped":
        return title.replace("'", ""), variant
    if variant == "number as digits":
        return " ".join(DIGITS.get(w, w) for w in title.split()), variant
    if variant == "roman as digits":
        return re.sub(r"\b(II|III|IV)$", lambda m: {"II": "2", "III": "3", "IV": "4"}[m.group(1)], title), variant
    if variant == "and / &":
        return (title.replace(" & ", " and ") if "&" in title else title.replace(" and ", " & ")), variant
    if variant == "subtitle dropped":
        return title.split(":")[0], variant
    if variant == "US spelling":
        for uk, us in UK_US.items():
            title = title.replace(uk, us)
        return title, variant
    return title, variant


def world(n_series: int, seed: int, *, same_names: bool = False):
    rng = random.Random(seed)
    books: list[FakeBook] = []
    library: list[tuple[str, str, str, str]] = []  # (title, author, library series name, position)
    rows: list[dict] = []
    expected: dict[int, tuple[str, str]] = {}  # torrent id -> (book, variant) that must be taken
    missing: dict[str, str] = {}  # book -> what the tracker holds for it
    tid = 10_000
    seeders = iter(range(3, 100_000))
    used_titles: set[str] = set()
    people = rng.sample([f"{f} {last}" for f in FIRST for last in LAST], min(n_series, len(FIRST) * len(LAST)))
    for s in range(len(people)):  # one author per series (at most len(FIRST) * len(LAST) series)
        author = people[s]
        core = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}s {s}"
        source_name = f"The {core} {rng.choice(SERIES_WORDS)}" if rng.random() < 0.5 else core
        library_name = core if source_name != core else f"The {core} {rng.choice(SERIES_WORDS)}"
        if same_names:
            library_name = source_name
        for pos in range(1, rng.randint(4, 8) + 1):
            title, kind = title_kind(rng)
            while title in used_titles:
                title, kind = title_kind(rng)
            used_titles.add(title)
            books.append(FakeBook(title, (author,), ((source_name, str(pos)),), ("Some Narrator",),
                                  asin=f"B0BENCH{s:03d}{pos:02d}", duration_minutes=500))
            if pos == 1:
                library.append((title, author, library_name, str(pos)))
                continue
            holds = rng.choices(("upload", "abridged only", "split only", "nothing"), (80, 7, 5, 8))[0]
            series = [(source_name if rng.random() < 0.5 else core, str(pos))]
            if holds == "upload":
                tid += 1
                written, variant = upload_variant(title, kind, rng)
                rows.append(mam_row(tid, written, authors=[author], series=series, seeders=next(seeders)))
                expected[tid] = (title, f"{kind} / {variant}")
                if rng.random() < 0.4:  # an abridged edition with more seeders, freeleech
                    tid += 1
                    rows.append(mam_row(tid, f"{written} (Abridged)", authors=[author], series=series,
                                        tags="Abridged", seeders=next(seeders) + 500, free=True))
            elif holds == "abridged only":
                tid += 1
                rows.append(mam_row(tid, f"{title} (Abridged)", authors=[author], series=series, tags="Abridged",
                                    seeders=next(seeders)))
            elif holds == "split only":
                for part in (1, 2):
                    tid += 1
                    rows.append(mam_row(tid, f"{title} (Part {part} of 2)", authors=[author], series=series,
                                        seeders=next(seeders)))
            missing[title] = holds
            if rng.random() < 0.3:  # the same title by somebody else, well seeded
                tid += 1
                rows.append(mam_row(tid, title, authors=[f"{rng.choice(FIRST)} Other{s}"], seeders=next(seeders) + 900))
        tid += 1
        rows.append(mam_row(tid, f"{source_name}: Books 1-3", authors=[author], seeders=next(seeders) + 700, free=True))
    return Catalogue(books), library, rows, expected, missing


def run(cmd: list[str], args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=3600,
                          stdin=subprocess.DEVNULL)


def main() -> None:
    import sqlite3

    from tests.qbt import running_qbt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--abook", default="abook", help="the command to measure (default: abook on PATH)")
    parser.add_argument("--same-names", action="store_true",
                        help="name every series alike in the library and the bibliography (the search alone)")
    opts = parser.parse_args()
    cmd = shlex.split(opts.abook)
    catalogue, library, rows, expected, missing = world(opts.series, opts.seed, same_names=opts.same_names)
    abs_fake = FakeABS(token="bench-token")
    for title, author, series, pos in library:
        abs_fake.add_book(title, authors=[author], series=[(series, pos)])
    with tempfile.TemporaryDirectory() as tmp, abs_fake.serve(), FakeMAM(rows, mam_id="bench-mam") as mam, \
            FakeAudible(catalogue) as audible, running_qbt(Path(tmp) / "qbt") as qbt:
        mam.set_ratio(5.0)
        db = Path(tmp) / "bench.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ABS_", "QB_", "MAM_", "PROWLARR_"))}
        env.update({
            "ABS_URL": abs_fake.url, "ABS_TOKEN": "bench-token", "MAM_URL": mam.url, "MAM_ID": "bench-mam",
            "MAM_RATE_LIMIT_MIN": "0", "MAM_RATE_LIMIT_MAX": "0",
            "QB_URL": qbt.url, "QB_USERNAME": qbt.username, "QB_PASSWORD": qbt.password,
            "AUDIBLE_URL": audible.url, "BIBLIOGRAPHY_SOURCES": "audible", "GOOGLE_BOOKS_URL": "http://127.0.0.1:9",
            "GAP_MAX_DOWNLOADS_PER_RUN": "100000", "MAX_ACTIVE_DOWNLOADS": "100000", "HTTP_RETRIES": "1",
            "ABOOK_DB": str(db),
        })
        scan = run(cmd, ["scan"], env)
        assert scan.returncode == 0, scan.stderr
        runs, codes = 0, []
        while runs < 50:  # each run makes at most its MAX_SEARCHES_PER_RUN; go on until one asks nothing
            before = len(mam.served("/tor/js/loadSearchJSONbasic.php"))
            done = run(cmd, ["fill-series"], env)
            runs += 1
            codes.append(done.returncode)
            if len(mam.served("/tor/js/loadSearchJSONbasic.php")) == before:
                break
        searches = len(mam.served("/tor/js/loadSearchJSONbasic.php"))
        conn = sqlite3.connect(db)
        picks = {title: int(tid) for title, tid in conn.execute(
            "SELECT m.title, d.torrent_id FROM missing_books m JOIN downloads d ON d.id = m.download_id")}
        try:
            why = {t: f"{st}: {r}" for t, st, r in conn.execute("SELECT title, status, reason FROM missing_books")}
        except sqlite3.OperationalError:  # a version without the reason column
            why = {t: st for t, st in conn.execute("SELECT title, status FROM missing_books")}
        conn.close()
    right = {tid for tid in expected if picks.get(expected[tid][0]) == tid}
    wrong = {book: tid for book, tid in picks.items() if tid not in expected or expected[tid][0] != book}
    variants = Counter(expected[t][1] for t in expected)
    found = Counter(expected[t][1] for t in right)
    print(f"{runs} runs (exit codes {sorted(set(codes))}); {len(missing)} missing books, "
          f"{len(expected)} with an acceptable upload")
    print(f"recall {len(right)}/{len(expected)} ({100 * len(right) / max(1, len(expected)):.1f} %), "
          f"wrong picks {len(wrong)}, tracker searches {searches} "
          f"({searches / max(1, len(missing)):.2f} per missing book)")
    for variant in sorted(variants):
        print(f"  {variant:36} {found[variant]:3}/{variants[variant]:3}")
    for book, tid in sorted(wrong.items()):
        print(f"  WRONG: {book!r} <- torrent {tid}")
    for tid in sorted(set(expected) - right):
        book = expected[tid][0]
        print(f"  missed: {book!r} ({expected[tid][1]}), picked {picks.get(book)}, {why.get(book, 'no row')}")


if __name__ == "__main__":
    main()
