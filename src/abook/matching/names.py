"""People's names: comparable tokens, same-person similarity, ABS people strings.

:func:`name_tokens` puts a name in "given ... family" order with initials as letters;
:func:`name_similarity` says whether two names are the same person; :func:`split_names`
splits ABS's "A, B" / "A & B" author and narrator strings into names."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from .text import _ratio, _unaccent, fold

# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_NAME_SUFFIXES = frozenset(
    {
        "jr",
        "sr",
        "ii",
        "iii",
        "iv",
        "phd",
        "md",
        "dr",
        "esq",
        "prof",
        "sir",
        "dame",
        "mr",
        "mrs",
        "ms",
    }
)
_NAME_PARTICLES = frozenset(
    {
        "le",
        "la",
        "de",
        "du",
        "van",
        "von",
        "der",
        "den",
        "da",
        "di",
        "del",
        "della",
        "des",
        "st",
        "mac",
        "ben",
        "bin",
        "al",
        "el",
        "ten",
        "ter",
        "dos",
        "das",
        "lo",
        "ibn",
    }
)
_NO_AUTHOR = frozenset(
    {"", "unknown", "various", "various authors", "anonymous", "anon", "na", "n a"}
)
_ROLE_RE = re.compile(
    r"\s*(?:\([^()]*\)|\[[^\[\]]*\]|\s-\s*(?:translator|editor|narrator|foreword|introduction).*)"
)


_NAME_SPLIT_RE = re.compile(r"[\s.\-]+")
_NAME_JUNK_RE = re.compile(r"[^\w]|_")


def _is_suffix(part: str) -> bool:
    return fold(part).strip(". ") in _NAME_SUFFIXES


@lru_cache(maxsize=200_000)
def name_tokens(s: str) -> tuple[str, ...]:
    """Tokens of a person's name in "given ... family" order, initials as single letters.

    "Sanderson, Brandon" -> ("brandon", "sanderson"); "J.R.R. Tolkien", "J. R. R. Tolkien" and
    "JRR Tolkien" -> ("j", "r", "r", "tolkien"); "(translator)"-style roles and Jr./Sr. dropped.
    """
    s = _unaccent(s or "")
    if "(" in s or "[" in s or " -" in s:
        s = _ROLE_RE.sub(" ", s)
    if "," in s:
        parts = [p.strip() for p in s.split(",") if p.strip()]
        parts = [p for p in parts if not _is_suffix(p)]
        # "Le Guin, Ursula K." -> "Ursula K. Le Guin"
        s = f"{parts[1]} {parts[0]}" if len(parts) == 2 else " ".join(parts)
    whole_upper = s.upper() == s
    toks: list[str] = []
    for raw in _NAME_SPLIT_RE.split(s):
        if not raw.isalnum():
            raw = _NAME_JUNK_RE.sub("", raw)
        if not raw:
            continue
        if not whole_upper and raw.isalpha() and raw.isupper() and 2 <= len(raw) <= 3:
            toks.extend(raw.lower())  # "JRR" -> j r r
            continue
        t = raw.casefold()
        if t in _NAME_SUFFIXES and toks:
            continue
        toks.append(t)
    return tuple(toks)


def normalize_name(s: str) -> str:
    """Comparable form of a person's name (see :func:`name_tokens`)."""
    return " ".join(name_tokens(s))


def _match_tokens(a: list[str], b: list[str], min_ratio: float) -> tuple[int, list[str], list[str]]:
    """Pair equal tokens, then near-equal ones; return (matched, rest of a, rest of b)."""
    rest_b = list(b)
    rest_a: list[str] = []
    matched = 0
    for t in a:
        if t in rest_b:
            rest_b.remove(t)
            matched += 1
        else:
            rest_a.append(t)
    if rest_a and rest_b:
        still: list[str] = []
        for t in rest_a:
            best, best_r = None, min_ratio
            for u in rest_b:
                if min(len(t), len(u)) < 4 or len(set(t).symmetric_difference(u)) > 4:
                    continue
                r = _ratio(t, u, best_r)
                if r >= best_r:
                    best, best_r = u, r
            if best is None:
                still.append(t)
            else:
                rest_b.remove(best)
                matched += 1
        rest_a = still
    return matched, rest_a, rest_b


def _initials_conflict(ia: list[str], ib: list[str]) -> bool:
    """Initials on both sides that neither contains: "R. F." vs "T. F." are other people."""
    if not ia or not ib:
        return False
    ca, cb = Counter(ia), Counter(ib)
    return bool(ca - cb) and bool(cb - ca)


@lru_cache(maxsize=200_000)
def _name_sim_tokens(ta: tuple[str, ...], tb: tuple[str, ...]) -> float:
    if not ta or not tb:
        return 0.0
    if ta == tb or sorted(ta) == sorted(tb):
        return 1.0
    fa = [t for t in ta if len(t) > 1]
    fb = [t for t in tb if len(t) > 1]
    ia = [t for t in ta if len(t) == 1]
    ib = [t for t in tb if len(t) == 1]
    if fa and fb:
        # spacing differences and typos: "LeGuin" vs "Le Guin", "Sandersen" vs "Sanderson"
        ca, cb = "".join(fa), "".join(fb)
        if ca == cb or "".join(sorted(fa)) == "".join(sorted(fb)):
            if _initials_conflict(ia, ib):
                return 0.4
            return 1.0 if ia == ib else 0.95
    matched, ua, ub = _match_tokens(fa, fb, 0.85)
    if matched == 0:
        if fa and fb and _ratio(" ".join(fa), " ".join(fb), 0.92) >= 0.92:
            return 0.9  # "Sanderson Brandon" typo'd beyond token repair but plainly the same
        return 0.0
    # full names on one side explained by initials on the other ("J. Tolkien" ~ "John Tolkien")
    ib_left = list(ib)
    for t in list(ua):
        if t[0] in ib_left:
            ib_left.remove(t[0])
            ua.remove(t)
    ia_left = list(ia)
    for t in list(ub):
        if t[0] in ia_left:
            ia_left.remove(t[0])
            ub.remove(t)
    explained = len(ia_left) < len(ia) or len(ib_left) < len(ib)
    if not ua and not ub:
        if _initials_conflict(ia_left, ib_left):
            return 0.4  # "R. F. Kuang" vs "T. F. Kuang": different people
        if ia == ib:
            return 1.0
        return 0.9 if explained else 0.95  # a dropped middle initial
    if ua and ub:
        if len(ua) == len(ub) and all(
            any(sorted(x) == sorted(y) or _ratio(x, y, 0.7) >= 0.7 or _nickname(x, y) for y in ub)
            for x in ua
        ):
            # a slip in one name on a tracker ("Andy Wier" for "Andy Weir"), or a nickname
            # ("Bob" for "Robert")
            return 0.8
        return 0.4 * matched / (matched + max(len(ua), len(ub)))
    # an extra full name on one side only: "Stephen Edwin King" vs "Stephen King" is fine,
    # "Christopher Tolkien" vs "Tolkien" is another person as often as not.
    return 0.85 if matched >= 2 else 0.5


# Short forms of given names that share no prefix with the long one; "Andy"/"Andrew",
# "Chris"/"Christopher" and "Dan"/"Daniel" are caught by their common start.
_NICKNAMES: tuple[frozenset[str], ...] = tuple(
    frozenset(g.split())
    for g in (
        "robert bob bobby rob robbie bert",
        "william bill billy will willy liam",
        "richard dick rick ricky rich",
        "james jim jimmy jamie",
        "michael mike mick mickey",
        "thomas tom tommy",
        "katherine catherine kathryn kate katie kathy cathy kat",
        "elizabeth liz lizzie beth betty eliza libby",
        "margaret peggy maggie meg marge",
        "john jack johnny jon",
        "charles chuck charlie chas",
        "henry harry hank",
        "edward ted ned eddie ed",
        "theodore ted teddy theo",
        "anthony tony",
        "joseph joe joey",
        "nicholas nick nicky",
        "david dave",
        "stephen steven steve",
        "lawrence larry",
        "gerald jerry",
        "terence terry",
        "alexander alex sandy xander",
        "susan sue suzy",
        "patricia pat patty trish",
        "deborah debbie deb",
        "rebecca becky",
        "victoria vicky tori",
        "jennifer jen jenny",
        "benjamin ben benny",
        "samuel sam sammy",
        "matthew matt",
        "frederick fred freddie",
        "douglas doug",
        "gregory greg",
        "jeffrey jeff geoffrey",
        "kenneth ken kenny",
        "ronald ron ronnie",
        "donald don donnie",
        "leonard leo len lenny",
        "daniel dan danny",
        "timothy tim timmy",
    )
)


def _nickname(x: str, y: str) -> bool:
    return any(x in g and y in g for g in _NICKNAMES)


def _given_related(x: str, y: str) -> bool:
    """Could these two given names be one person's? Nicknames, short forms, slips."""
    if x == y:
        return True
    short, long_ = sorted((x, y), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return True  # "Chris" / "Christopher"
    stem = re.sub(r"(?:ie|ey|y|i)$", "", short)
    if len(stem) >= 3 and stem != short and long_.startswith(stem):
        return True  # a diminutive: "Andy" / "Andrew", "Katie" / "Katherine"
    if _nickname(x, y):
        return True
    return _ratio(x, y, 0.7) >= 0.7  # a slip: "Stephen" / "Steven", "Jon" / "John"


@lru_cache(maxsize=100_000)
def _other_person(ta: tuple[str, ...], tb: tuple[str, ...]) -> bool:
    """True when two names are clearly two people: no full name in common ("Jane Holloway" vs
    "Stephen King"), or a shared family name with spelled-out given names that no nickname,
    short form or slip relates ("Owen King" vs "Stephen King", "Brian Herbert" vs "Frank
    Herbert"). Initials alone never make it clear ("R. F. Kuang" vs "T. F. Kuang" is a near miss:
    one letter is too little to tell a slip from another person)."""
    fa = [t for t in ta if len(t) > 1]
    fb = [t for t in tb if len(t) > 1]
    if not fa or not fb:
        return False
    matched, ua, ub = _match_tokens(fa, fb, 0.85)
    if matched == 0:
        return _name_sim_tokens(ta, tb) < 0.5
    if not ua or not ub:
        return False
    return not any(_given_related(x, y) for x in ua for y in ub)


def name_similarity(a: str, b: str) -> float:
    """0..1: same person? Order, initials, accents, middle initials and Jr./Sr. tolerated."""
    return _name_sim_tokens(name_tokens(a), name_tokens(b))


def _names_similarity(a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]) -> float:
    """Best pairing between two name lists: one shared author is enough."""
    return _best_pair(a, b)[0]


def _best_pair(
    a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]
) -> tuple[float, int, int]:
    """(similarity, index in a, index in b) of the best-matching pair of names."""
    best, bi, bj = 0.0, 0, 0
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            s = _name_sim_tokens(x, y)
            if s > best:
                best, bi, bj = s, i, j
                if best == 1.0:
                    return best, bi, bj
    return best, bi, bj


def _all_other_people(a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]) -> bool:
    """Every name on one list is clearly another person than every name on the other."""
    return bool(a and b) and all(_other_person(x, y) for x in a for y in b)


# --------------------------------------------------------------------------------------------
# Splitting ABS people strings
# --------------------------------------------------------------------------------------------


def _looks_like_surname_part(part: str) -> bool:
    toks = part.split()
    return len(toks) == 1 or fold(toks[0]) in _NAME_PARTICLES


def _looks_like_given_part(part: str) -> bool:
    toks = part.split()
    if not 1 <= len(toks) <= 4:
        return False
    return len(toks) <= 2 or any(re.fullmatch(r"[A-Za-z]\.?", t) for t in toks)


def split_names(author_name: str, known: Iterable[str] = ()) -> list[str]:
    """Split ABS's "A, B" / "A & B" / "A and B" / "A; B" people strings into names.

    A "Family, Given" pair ("Le Guin, Ursula K.", "Sanderson, Brandon") stays one name when
    it is a ``known`` name or clearly has that shape; "Jr."-style suffixes stay attached.
    """
    s = " ".join(html.unescape(author_name or "").split())
    if not s:
        return []
    known_keys = {tuple(sorted(name_tokens(k))) for k in known if k and k.strip()}
    chunks = [c.strip() for c in re.split(r"\s*;\s*|\s+&\s+|\s+and\s+", s) if c.strip()]
    out: list[str] = []
    for chunk in chunks:
        parts = [p.strip() for p in chunk.split(",") if p.strip()]
        # glue suffixes to the part before them
        glued: list[str] = []
        for p in parts:
            if glued and _is_suffix(p):
                glued[-1] = f"{glued[-1]}, {p}"
            else:
                glued.append(p)
        n = len(glued)
        best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for i in range(1, n + 1):
            options: list[tuple[float, int]] = []
            one = glued[i - 1]
            key = tuple(sorted(name_tokens(one)))
            options.append(
                (10.0 if key in known_keys else (2.0 if len(one.split()) >= 2 else 0.0), 1)
            )
            if i >= 2:
                fam, given = glued[i - 2], glued[i - 1]
                key2 = tuple(sorted(name_tokens(f"{fam}, {given}")))
                if key2 in known_keys:
                    options.append((20.0, 2))
                elif _looks_like_surname_part(fam) and _looks_like_given_part(given):
                    options.append((5.0, 2))
            for score, width in options:
                prev = best[i - width]
                if prev is None:
                    continue
                name = ", ".join(glued[i - width : i])
                total = prev[0] + score
                cur = best[i]
                if cur is None or total > cur[0]:
                    best[i] = (total, [*prev[1], name])
        result = best[n]
        out.extend(result[1] if result else glued)
    return out
