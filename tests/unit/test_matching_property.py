"""Property-style test of matching (issue #14): over a generated library of a few thousand books,
every owned book written the way trackers rewrite it is the same work, and the books that merely
look like it (the sequel, the next volume, the companion, one part of a split upload, a summary,
the same title by another author) never are.

The library is random but seeded (each run checks the same books; change SEED to look at others)
and built from word lists independent of the matching code: short and long titles, titles with
subtitles, leading articles, apostrophes and accents; authors with initials, middle names,
particles, accents, shared surnames and shared given names; series whose first book carries the
series name (LitRPG style) and series with their own titles. Checked both through ``compare``
and through ``LibraryIndex`` over the whole library (the owned check top10 and the gap commands
use), where a rewrite must find its own book and a look-alike must never be called its book.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from collections.abc import Iterator

import pytest

from abook.matching import LibraryIndex, compare
from abook.models import BookRef, SeriesRef


def _words(text: str) -> list[str]:
    return text.split()


SEED = 14
LIBRARY_SIZE = 3000

ADJ = _words("""ancient bitter black broken burning crimson dark distant dying empty endless fallen false
final forgotten frozen golden grey hidden hollow iron last lonely lost midnight northern
obsidian pale quiet red restless savage scarlet secret shattered silent silver sleeping stolen
sunken twisted violet wandering white wicked wild wounded""")
NOUN = _words("""abbey ash blade blood bone bridge crown dagger dawn desert dragon dream echo ember exile
fire flame forest fortress garden gate ghost glass harbor heart hunter island kingdom knight
lantern legacy lion machine mirror moon mountain oath ocean orchard phoenix prophet queen
raven river road rose ruin serpent shadow shore sky song spark spire star stone sword thief
throne tide tower traitor valley veil voice watcher wind witch wolf""")
VERB = _words("burned broke bound carried found hid kept lost named sang saved stole woke")
PLACES = _words("""Ashford Blackmoor Brightwater Caldera Dunmore Eldergrove Fairhaven Greystone Highmarsh
Ironwood Kestrel Lowmere Meridian Northwatch Oakhollow Pinecrest Ravenholm Saltmarsh Thornbury
Valeport Westmarch Yarrow Élancourt Måløy Zürichsee""")
# given names with distinct beginnings: "another person" must be plainly another person
GIVEN = _words("""Adrian Beatrice Caleb Delphine Edmund Felicity Gideon Harriet Ignatius Josephine Leopold
Marguerite Nathaniel Octavia Percival Rosalind Sebastian Theodora Ulysses Vivienne Winifred
Zachariah Ambrose Bernadette Cornelius Dorothea Evander Florentine Gwendolyn Horatio Isadora
Lysander Montgomery Philippa Quentin Reginald Seraphina Tobias Wilhelmina""")
FAMILY = _words("""Abernathy Blackwood Calloway Davenport Ellsworth Fairchild Gallagher Hargreave Ingleby
Kensington Lockhart Montague Northcott Pemberton Quatermain Ravensworth Sinclair Thistlewood
Underhill Vandermeer Whitlock Yardley Zellweger Ashcombe Brightmore Castellane Dunleavy
Everhart Fenwick Greenhalgh Holloway Ironside Kettering Lindqvist Marchbanks Nightingale
Oakenshield Prescott Rutherford Stanhope Tremaine Waverley Ødegård Núñez Brontë""")
PARTICLE = ["de", "van", "von", "le"]
ROMAN = {2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII", 9: "IX", 10: "X"}
SUBTITLES = [
    "A Tale of {Noun}s and {Noun}s",
    "The {Adj} History of the {Noun}",
    "How the {Noun} Learned to {Verb2}",
    "{Noun}s, {Noun}s and the {Adj} {Noun}",
    "A Story of {Noun} and {Noun}",
]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def w(self, words: list[str]) -> str:
        return self.r.choice(words)

    def title(self) -> str:
        r, A, N = self.r, lambda: self.w(ADJ).title(), lambda: self.w(NOUN).title()
        k = r.randrange(9)
        if k == 0:
            return f"The {A()} {N()}"
        if k == 1:
            return f"{N()} of {N()}"
        if k == 2:
            return f"A {N()} of {A()} {N()}s"
        if k == 3:
            return f"The {N()} of {self.w(PLACES)}"
        if k == 4:
            return f"The {N()} Who {self.w(VERB).title()} the {A()} {N()}"  # long
        if k == 5:
            return f"{self.w(GIVEN)}'s {N()}"
        if k == 6:
            return f"{A()} {N()}"
        if k == 7:
            return f"The {A()} {N()} and the {N()} of {self.w(PLACES)}"  # long
        return f"{N()}s of the {A()} {N()}"

    def subtitle(self) -> str:
        t = self.r.choice(SUBTITLES)
        return t.format(
            Noun=self.w(NOUN).title(), Adj=self.w(ADJ).title(), Verb2=self.w(["sing", "fly", "hunt"])
        ).format()

    def person(self) -> str:
        r = self.r
        given, family = self.w(GIVEN), self.w(FAMILY)
        k = r.randrange(10)
        if k == 0:
            return f"{given[0]}. {r.choice('ABCDEFGHJKLMNPRSTW')}. {family}"
        if k == 1:
            return f"{given} {r.choice('ABCDEFGHJKLMNPRSTW')}. {family}"
        if k == 2:
            return f"{given} {self.w(PARTICLE)} {family}"
        return f"{given} {family}"


def build_library(seed: int, size: int) -> list[BookRef]:
    g = Gen(seed)
    r = g.r
    people = list(dict.fromkeys(g.person() for _ in range(size // 4)))
    # families: a few surnames with two writers (Stephen and Owen King)
    for _ in range(size // 40):
        fam = r.choice(people).split()[-1]
        people.append(f"{g.w(GIVEN)} {fam}")
    books: list[BookRef] = []
    seen: set[tuple[str, str]] = set()

    def add(title: str, authors: tuple[str, ...], **kw: object) -> None:
        key = (title.lower(), authors[0].lower())
        if key not in seen and len(books) < size:
            seen.add(key)
            books.append(BookRef(title=title, authors=authors, ref=f"abs:{len(books)}", **kw))  # type: ignore[arg-type]

    while len(books) < size:
        author = r.choice(people)
        authors = (author,) if r.random() > 0.05 else (author, r.choice(people))
        k = r.random()
        if k < 0.25:  # a series, every book with its own title
            name = f"The {g.w(PLACES)} {g.w(['Saga', 'Cycle', 'Chronicles', 'Trilogy'])}"
            for pos in range(1, r.randint(2, 6) + 1):
                add(g.title(), authors, series=(SeriesRef(name, str(pos)),))
        elif k < 0.33:  # LitRPG style: the series name is the title, "X 2" ...
            name = f"{g.w(ADJ).title()} {g.w(NOUN).title()} {g.w(['Online', 'Ascendant', 'Reborn'])}"
            for pos in range(1, r.randint(2, 5) + 1):
                add(name if pos == 1 else f"{name} {pos}", authors, series=(SeriesRef(name, str(pos)),))
        elif k < 0.45:  # non-fiction style: a title and a subtitle field
            add(g.w(NOUN).title() + g.w(["", "s"]), authors, subtitle=g.subtitle())
        else:
            add(g.title(), authors, year=str(r.randint(1950, 2025)))
    return books


# ---------------------------------------------------------------- rewrites (must be "same")
def _unaccent(s: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)
    ).replace("ø", "o").replace("Ø", "O")


def _last_first(name: str) -> str:
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}"


def _respace_initials(name: str) -> str | None:
    if ". " in name and name.split()[0].endswith(".") and len(name.split()[0]) == 2:
        toks = name.split()
        initials = [t for t in toks if len(t) == 2 and t.endswith(".")]
        rest = [t for t in toks if t not in initials]
        return "".join(initials) + " " + " ".join(rest)  # "J. K. Rowling" -> "J.K. Rowling"
    return None


def _full_title(b: BookRef) -> str:
    return f"{b.title}: {b.subtitle}" if b.subtitle else b.title


def rewrites(b: BookRef, r: random.Random) -> Iterator[tuple[str, BookRef]]:
    """The same book as trackers write it; only the rewrites that apply to this book."""
    author = b.authors[0]
    base = BookRef(title=_full_title(b), authors=b.authors)
    if b.subtitle:
        yield "subtitle removed", BookRef(title=b.title, authors=b.authors)
    else:
        g = Gen(r.randrange(1 << 30))
        if b.series and b.series[0].name == b.title:
            # what trackers add to a title that is its series' name: what kind of book it is
            sub = g.w(["A LitRPG Adventure", "A Progression Fantasy", "A Dungeon Core Novel",
                       "A Post-Apocalyptic LitRPG", "An Isekai Adventure"])
        else:
            sub = g.subtitle()
        yield "subtitle added", BookRef(title=f"{b.title}: {sub}", authors=b.authors)
    if b.series:
        s = b.series[0]
        yield "series hint", BookRef(title=f"{base.title} ({s.name}, Book {s.position})", authors=b.authors)
        yield "series hint, no series field", BookRef(title=f"{base.title} ({s.name} #{s.position})",
                                                     authors=b.authors)
    yield "[Unabridged]", BookRef(title=f"{base.title} [Unabridged]", authors=b.authors,
                                  series=b.series)
    yield "Last, First", BookRef(title=base.title, authors=(_last_first(author), *b.authors[1:]))
    spaced = _respace_initials(author)
    if spaced:
        yield "initials spaced or not", BookRef(title=base.title, authors=(spaced, *b.authors[1:]))
    for art in ("The ", "A ", "An "):
        if b.title.startswith(art):
            moved = f"{b.title[len(art):]}, {art.strip()}"
            yield "article moved", BookRef(title=f"{moved}: {b.subtitle}" if b.subtitle else moved,
                                           authors=b.authors)
            break
    plain_title, plain_author = _unaccent(base.title), _unaccent(author)
    if (plain_title, plain_author) != (base.title, author):
        yield "accents dropped", BookRef(title=plain_title, authors=(plain_author, *b.authors[1:]))
    yield "html entities, upper case", BookRef(
        title=base.title.replace("'", "&#039;").upper(), authors=b.authors
    )


# ------------------------------------------------------------- look-alikes (never "same")
def lookalikes(b: BookRef, r: random.Random, g: Gen) -> Iterator[tuple[str, BookRef, str | None]]:
    """(kind, book, the verdict it must get when it matters, else None)."""
    author, title = b.authors[0], _full_title(b)
    pos = int(b.series[0].position) if b.series and b.series[0].position else 1
    if b.series:
        s = b.series[0]
        yield "sequel", BookRef(title=g.title() + " Rising", authors=b.authors,
                                series=(SeriesRef(s.name, str(pos + 10)),)), "different"
    nxt = pos + 1 if b.series else 2
    stem = b.title
    if stem.rsplit(" ", 1)[-1].isdigit():  # "Dark Rose Online 2" -> "Dark Rose Online 3"
        stem = stem.rsplit(" ", 1)[0]
    style = r.randrange(3)
    vol = (f"{stem} {nxt}", f"{stem}: Volume {nxt}", f"{stem} {ROMAN[nxt]}")[style]
    # a one-letter numeral ("V", "X") is also a word or an initial ("Malcolm X"): never the
    # same work, but only a near miss
    single = style == 2 and len(ROMAN[nxt]) == 1
    yield "next volume", BookRef(title=vol, authors=b.authors), None if single else "different"
    comp = (f"{b.title} Companion", f"{b.title}: The Official Guide",
            f"The Unofficial {b.title} Cookbook")[r.randrange(3)]
    yield "companion", BookRef(title=comp, authors=b.authors), "different"
    part = (f"{title} (Part 1 of 2)", f"{title}, Part 2", f"{title} (1 of 3)")[r.randrange(3)]
    yield "part", BookRef(title=part, authors=b.authors), "different"
    yield "summary", BookRef(title=f"Summary of {title} by {author}", authors=("Quickread Press",)), None
    yield "summary, same author", BookRef(title=f"{title}: Summary & Analysis", authors=b.authors), None
    names = _unaccent(" ".join(b.authors))
    other_family = next(f for f in FAMILY if _unaccent(f) not in names)
    yield "same title, another author", BookRef(title=title, authors=(f"{author.split()[0]} {other_family}",)), "different"
    given = author.split()[0]
    # not the first letter of any name or initial of the book's authors (A. is maybe Adrian)
    letters = {t[0].upper() for a in b.authors for t in a.replace(".", " ").split()}
    other_given = next(x for x in GIVEN if x[0] not in letters)
    # against a spelled-out given name another one is plainly another person ("different",
    # grabbable); against initials only ("E. C. Odegard") one letter is too little to tell
    spelled = len(given) > 2 and not given.endswith(".")
    yield "same title, same surname, another person", BookRef(
        title=title, authors=(f"{other_given} {author.split()[-1]}",)
    ), "different" if spelled else None


def cases(library: list[BookRef]) -> tuple[list, list]:
    r = random.Random(SEED + 1)
    g = Gen(SEED + 2)
    same = [(b, kind, rw) for b in library for kind, rw in rewrites(b, r)]
    never = [(b, kind, x, want) for b in library for kind, x, want in lookalikes(b, r, g)]
    return same, never


@pytest.fixture(scope="module")
def world() -> tuple[list[BookRef], LibraryIndex, list, list]:
    library = build_library(SEED, LIBRARY_SIZE)
    same, never = cases(library)
    return library, LibraryIndex(library), same, never


def _report(failures: list[str], total: int, what: str) -> str:
    return f"{len(failures)} of {total} {what}:\n" + "\n".join(failures[:25])


def test_the_generated_library_is_what_it_claims(world) -> None:
    library, _, same, never = world
    assert len(library) == LIBRARY_SIZE
    kinds = Counter(kind for _, kind, _ in same)
    # every rewrite the issue names is exercised on hundreds of books
    for kind in ("subtitle removed", "subtitle added", "series hint", "[Unabridged]", "Last, First",
                 "initials spaced or not", "article moved", "accents dropped"):
        assert kinds[kind] >= 100, (kind, kinds)
    looks = Counter(kind for _, kind, _, _ in never)
    for kind in ("sequel", "next volume", "companion", "part", "summary",
                 "same title, another author", "same title, same surname, another person"):
        assert looks[kind] >= 500, (kind, looks)


def test_every_tracker_rewrite_of_an_owned_book_is_the_same_work(world) -> None:
    _, _, same, _ = world
    failures = []
    for b, kind, rw in same:
        for m in (compare(b, rw), compare(rw, b)):
            if m.verdict != "same":
                failures.append(f"{kind}: {b.title!r} / {rw.title!r} {rw.authors} -> {m.verdict}: {m.reason}")
    assert not failures, _report(failures, 2 * len(same), "rewrites not 'same'")


def test_no_lookalike_of_an_owned_book_is_the_same_work(world) -> None:
    _, _, _, never = world
    failures = []
    for b, kind, x, want in never:
        for m in (compare(b, x), compare(x, b)):
            if m.verdict == "same" or (want and m.verdict != want):
                failures.append(f"{kind}: {b.title!r} / {x.title!r} {x.authors} -> {m.verdict}: {m.reason}")
    assert not failures, _report(failures, 2 * len(never), "look-alikes wrongly judged")


def _sample(rows: list, every: int) -> list:
    return rows[::every]


def test_the_index_finds_each_rewrite_as_its_own_book(world) -> None:
    _, index, same, _ = world
    failures = []
    rows = _sample(same, 3)
    for b, kind, rw in rows:
        m = index.find(rw)
        if m is None or m.verdict != "same" or m.owned.ref != b.ref:
            got = None if m is None else (m.owned.title, m.owned.authors, m.verdict, m.reason)
            failures.append(f"{kind}: {rw.title!r} {rw.authors} -> {got}")
    assert not failures, _report(failures, len(rows), "rewrites not found as their own book")


def test_the_index_never_calls_a_lookalike_its_book(world) -> None:
    _, index, _, never = world
    failures = []
    rows = _sample(never, 3)
    for b, kind, x, _want in rows:
        m = index.find(x)
        if m is not None and m.verdict == "same" and m.owned.ref == b.ref:
            failures.append(f"{kind}: {x.title!r} {x.authors} -> owned {b.title!r}: {m.reason}")
    assert not failures, _report(failures, len(rows), "look-alikes taken for their book")

