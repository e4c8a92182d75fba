"""Benchmark: LibraryIndex over a synthetic 50,000-book library, 1,000 lookups.

Run: ``python benchmarks/matching.py [--books 50000] [--lookups 1000] [--seed 7]
[--max-candidates 6] [--library words|abs-fake]``

The library is random but plausible (titles from word lists, authors from name lists, about
40 % of books in numbered series, some titles shared between authors). The candidates are a
mix of owned books written the way trackers write them, near misses (sequels, same title by
another author, one word changed, a companion, one part of a split upload, the next volume) and
books that are simply new. Besides timings it prints how the verdicts line up with what each
candidate was built to be, so a speed-up that breaks matching shows at once. Target (issue #14):
the index build and 1,000 lookups together under one second of CPU on this 2-core machine. On a
busy machine compare CPU times (wall time counts other processes' turns too).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from abook.matching import LibraryIndex
from abook.models import BookRef, SeriesRef


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words("""
ancient bitter black broken burning crimson dark dead deep distant dying empty endless fallen
false final forgotten frozen golden grey hidden hollow iron last lonely lost midnight
northern obsidian pale quiet red restless rising savage scarlet secret shattered silent silver
sleeping stolen storm sunken twisted violet wandering white wicked wild winter wounded
""")
NOUNS = _words("""
abbey ash blade blood bone bridge crown dagger dawn desert dragon dream dust echo empire
ember exile fire flame forest fortress garden gate ghost glass harbor heart hunter island
kingdom knight lantern legacy light lion machine mirror moon mountain oath ocean orchard
phoenix prophet queen raven river road rose ruin sea serpent shadow shore sky song spark
spire star stone storm sun sword thief throne tide tower traitor valley veil voice war
watcher wind witch wolf world
""")
PLACES = _words("""
ashford blackmoor brightwater caldera dunmore eldergrove fairhaven greystone highmarsh
ironwood kestrel lowmere meridian northwatch oakhollow pinecrest quarry ravenholm saltmarsh
thornbury umber valeport westmarch yarrow
""")
FIRST = _words("""
adrian alice amara andrew anna arthur beatrice benjamin bianca caleb camille carlos charlotte
clara daniel diana edward elena eliza emma ethan felix fiona gabriel grace hannah harriet
henry iris isaac ivy jack james jane jasper julia kate leo lily lucas lucy marcus margaret
maria martin maya miles nadia nathan nina oliver olivia oscar paul penelope peter quinn rachel
robert rosa ruth samuel sara simon sophia stella thomas tobias ursula victor vivian william zoe
""")
LAST = _words("""
abbott acheson adler alder ashby baker barnes becker bishop blackwood bowen brennan brooks
calloway carter castillo chen clarke cole cooper dalton davies delacroix dixon doyle drake
ellison emerson evans fairchild fischer fletcher foster garcia gibson graves hale harper
hayes hughes hunt ingram jensen kane keller kemp lambert lang larsen lowe mackenzie marsh
mercer monroe moreau nakamura nash novak okafor osborne parker pierce quinlan reed reyes
rhodes rivera rossi sato schmidt sinclair sloane stone sullivan tanaka thorne vance vega
wade walsh ward webb whitaker winter york young zimmerman
""")


def _title(rng: random.Random) -> str:
    pattern = rng.randrange(6)
    adj, noun, noun2 = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS)
    place = rng.choice(PLACES)
    if pattern == 0:
        return f"The {adj.title()} {noun.title()}"
    if pattern == 1:
        return f"{noun.title()} of {noun2.title()}"
    if pattern == 2:
        return f"The {noun.title()} of {place.title()}"
    if pattern == 3:
        return f"{adj.title()} {noun.title()}"
    if pattern == 4:
        return f"A {noun.title()} of {adj.title()} {noun2.title()}s"
    return f"The {noun.title()} and the {noun2.title()}"


def _author(rng: random.Random) -> str:
    first, last = rng.choice(FIRST).title(), rng.choice(LAST).title()
    r = rng.random()
    if r < 0.15:
        return f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    if r < 0.22:
        return f"{rng.choice('ABCDEFGHJKLMNPRSTW')}. {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    return f"{first} {last}"


def build_library(n: int, rng: random.Random) -> list[BookRef]:
    authors = list({_author(rng) for _ in range(max(50, n // 6))})
    authors.sort()
    books: list[BookRef] = []
    while len(books) < n:
        author = rng.choice(authors)
        if rng.random() < 0.4:  # a series of 2..8 books
            series = f"{rng.choice(['The ', ''])}{rng.choice(PLACES).title()} {rng.choice(NOUNS).title()}"
            for pos in range(1, rng.randint(2, 8) + 1):
                if len(books) >= n:
                    break
                books.append(
                    BookRef(
                        title=_title(rng),
                        authors=(author,),
                        series=(SeriesRef(series, str(pos)),),
                        narrators=(_author(rng),),
                        ref=f"abs:{len(books)}",
                    )
                )
        else:
            books.append(
                BookRef(
                    title=_title(rng),
                    authors=(author,),
                    narrators=(_author(rng),),
                    year=str(rng.randint(1950, 2025)),
                    ref=f"abs:{len(books)}",
                )
            )
    return books


def abs_fake_library(n: int, seed: int) -> list[BookRef]:
    """The owned library as the fake Audiobookshelf generates it for the scan benchmarks (other
    word pools and shapes than :func:`build_library`: co-authors, half positions, subtitles,
    ASINs and ISBNs), so the figures do not rest on one generator."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fakes.abs import FakeABS

    fake = FakeABS(token="benchmark")
    fake.generate(n, seed=seed)
    books = []
    for item in fake._items.values():
        series = tuple(SeriesRef(fake._series[sid].name, seq) for sid, seq in item.series)
        books.append(BookRef(
            title=item.title, subtitle=item.subtitle or "",
            authors=tuple(fake._authors[a].name for a in item.author_ids),
            narrators=tuple(item.narrators), series=series, asin=item.asin or "",
            isbn=item.isbn or "", year=item.published_year or "", ref=f"abs:{item.id}",
        ))
    return books


def _lf(name: str) -> str:
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def _typo(title: str, rng: random.Random) -> str:
    words = title.split()
    idx = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[idx]
    if len(w) > 5:
        i = rng.randrange(1, len(w) - 1)
        w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]  # swap two letters
    words[idx] = w
    return " ".join(words)


def rewrite_owned(book: BookRef, rng: random.Random) -> BookRef:
    """The same book as a tracker might list it."""
    title = book.title
    author = book.authors[0]
    series = book.series
    style = rng.randrange(6)
    if style == 0 and series:
        s = series[0]
        title = f"{title} ({s.name}, Book {s.position}) [Unabridged]"
        series = ()
    elif style == 1 and series:
        s = series[0]
        title = f"{s.name}: {title}"
    elif style == 2:
        title = f"{title}: A Novel"
    elif style == 3:
        title = _typo(title, rng)
    elif style == 4 and title.startswith("The "):
        title = f"{title[4:]}, The"
    else:
        title = (
            title.replace(" and ", " &amp; ").upper() if rng.random() < 0.5 else f"{title} [MP3]"
        )
    author = _lf(author) if rng.random() < 0.5 else author
    return BookRef(title=title, authors=(author,), series=series, ref=f"mam:{book.ref}")


def near_miss(book: BookRef, rng: random.Random, owned_titles: set[str]) -> BookRef:
    """Something that looks like an owned book but is not it."""
    kind = rng.randrange(6)
    if kind == 3:  # a companion that contains the title
        return BookRef(title=f"{book.title} Companion", authors=book.authors, ref="mam:companion")
    if kind == 4:  # one part of a split upload
        return BookRef(title=f"{book.title} (Part 1 of 2)", authors=book.authors, ref="mam:part")
    if kind == 5:  # the next volume, numbered in the title (not the book's own position)
        pos = int(float(book.series[0].position or 1)) if book.series else 1
        return BookRef(title=f"{book.title} {pos + 1}", authors=book.authors, ref="mam:volume")
    if kind == 0 and book.series:  # a sequel not in the library
        s = book.series[0]
        return BookRef(
            title=_title(rng),
            authors=book.authors,
            series=(SeriesRef(s.name, str(int(float(s.position or 1)) + 20)),),
            ref="mam:sequel",
        )
    if kind == 1:  # same title, another author
        return BookRef(
            title=book.title, authors=(f"Xavier {rng.choice(LAST).title()}ski",), ref="mam:other"
        )
    words = book.title.split()  # one significant word changed
    idx = max(range(len(words)), key=lambda i: len(words[i]))
    words[idx] = rng.choice([n.title() for n in NOUNS if n.title() != words[idx]])
    title = " ".join(words)
    if title in owned_titles:
        title = f"{title} Returns"
    return BookRef(title=title, authors=book.authors, ref="mam:changed")


def new_book(rng: random.Random) -> BookRef:
    return BookRef(
        title=f"{_title(rng)} {rng.choice(['Rising', 'Reborn', 'Unbound', 'Eternal'])}",
        authors=(f"{rng.choice(FIRST).title()} {rng.choice(PLACES).title()}",),
        ref="mam:new",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--books", type=int, default=50_000)
    ap.add_argument("--lookups", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-candidates", type=int, default=6, help="full compares per lookup")
    ap.add_argument("--library", choices=("words", "abs-fake"), default="words",
                    help="owned books from this file's generator, or from tests/fakes/abs.py's")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)

    if args.library == "abs-fake":
        library = abs_fake_library(args.books, args.seed)
    else:
        library = build_library(args.books, rng)
    owned_titles = {b.title for b in library}
    n_owned = args.lookups * 4 // 10
    n_near = args.lookups * 3 // 10
    n_new = args.lookups - n_owned - n_near
    candidates: list[tuple[str, BookRef, BookRef | None]] = []
    for b in rng.sample(library, n_owned):
        candidates.append(("owned", rewrite_owned(b, rng), b))
    for b in rng.sample(library, n_near):
        candidates.append(("near", near_miss(b, rng, owned_titles), b))
    for _ in range(n_new):
        candidates.append(("new", new_book(rng), None))
    rng.shuffle(candidates)

    t0, c0 = time.perf_counter(), time.process_time()
    index = LibraryIndex(library, max_candidates=args.max_candidates)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    results = [index.find(offered) for _, offered, _ in candidates]
    lookup, lookup_cpu = time.perf_counter() - t0, time.process_time() - c0

    verdicts: Counter[str] = Counter()
    table: Counter[tuple[str, str]] = Counter()
    wrong_book = 0
    for (kind, _offered, source), m in zip(candidates, results, strict=True):
        v = m.verdict if m else "different"
        verdicts[v] += 1
        table[(kind, v)] += 1
        # a duplicate title+author in the random library is still a correct "owned"
        if (
            kind == "owned"
            and m
            and m.verdict == "same"
            and source
            and (m.owned.title, m.owned.authors) != (source.title, source.authors)
        ):
            wrong_book += 1

    print(f"library: {len(library):,} books   candidates: {len(candidates):,}")
    # CPU time too: on a shared machine the wall clock also counts other processes' turns
    print(f"build:   {build:.2f} s wall, {build_cpu:.2f} s CPU")
    each = lookup / max(1, len(candidates)) * 1e6
    print(f"lookups: {lookup:.3f} s wall, {lookup_cpu:.3f} s CPU ({each:.0f} us each)")
    # every top10 / gap run builds the index first: what a run pays is the sum
    print(f"build + lookups: {build + lookup:.2f} s wall, {build_cpu + lookup_cpu:.2f} s CPU")
    print(
        f"verdicts: same={verdicts['same']} near_miss={verdicts['near_miss']} "
        f"different={verdicts['different']}"
    )
    for kind in ("owned", "near", "new"):
        row = "  ".join(f"{v}={table[(kind, v)]}" for v in ("same", "near_miss", "different"))
        print(f"  built as {kind:5}: {row}")
    print(f"  owned matched to the wrong book: {wrong_book}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
