"""Curated titles: take series labels, edition tags and marketing subtitles out of a tracker's or
a source's title, and keep everything else exactly as it was written.

:func:`tidy` is the one cleaner: the import (``downloads``: folder, ``metadata.json``, the PATCH
after the scan), ``fix-metadata`` (what a source's title and subtitle may write) and ``report``
("titles to tidy") all use it. It works on display text — case, accents and punctuation of what is
left are kept — where :func:`abook.matching.parse_title` makes a folded comparison form.

What it removes (each a *class* of shapes, see ``tests/unit/test_tidy.py`` for 60+ of them):

- **series labels**, as a prefix ("Mistborn: The Hero of Ages", "Wheel of Time 01 - ...",
  "The Expanse Book 2: ...", "Book 3: ..."), a suffix ("...: Dungeon Crawler Carl, Book 4",
  "... - Series Book 3", "..., Book 1", "... #2", "...: Book Two of The Expanse") or a trailing group
  ("(Series #3)", "[Series, Book 3]");
- **edition and format tags**: "[Unabridged]", "(Audiobook)", "- Unabridged Edition", Prowlarr's
  "[ENG / m4b]" and "[VIP]";
- **marketing subtitles** that only say what kind of book it is: "A Novel", "A Thriller",
  "A Jack Reacher Novel", "A Novel of Suspense", "A LitRPG Adventure";
- the author, when the title repeats a known author ("Author - Title", "Title by Author").

What it never does:

- invent a series: a bare name or number ("Mistborn:", "Mistborn 3:", "(Mistborn)", "03 - ")
  counts only when it is the series the tracker or the source names (``series``); a label that
  names no series ("Book 3", ", Book 1") is removed only when the book has a series to carry its
  position; a label that names one ("The Expanse, Book 2", "Book Two of The Expanse") is always
  a label, and becomes the series when none is known;
- shorten a title to its series name ("Mistborn: Book 3" stays as it is), empty a title, or split
  an ordinary subtitle off ("Sapiens: A Brief History of Humankind" is kept whole);
- touch an omnibus's range ("Books 1-3"): it is how every tool tells a box set from its books;
- drop an edition that is a different recording ("Abridged", "Dramatized"): it is kept.

A title it cannot take apart is returned exactly as given.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .matching import (
    fold,
    normalize_name,
    normalize_series,
    normalize_title,
    parse_position,
    parse_title,
    similarity,
)
from .models import SeriesRef

# ---------------------------------------------------------------------------------- pieces
_NUM_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty"
)
# a position: 3, 03, 2.5, "Three", roman II..XX ("I" alone is a word)
_NUM = rf"(?:\d{{1,4}}(?:\.\d{{1,2}})?|{_NUM_WORDS}|[ivx]{{2,5}})"
_RANGE = rf"{_NUM}(?:\s*(?:-|–|—|to|&|and|through)\s*{_NUM})?"
# the words that say "position in a series"; "Part" is not one (a split recording keeps it)
_MARK = r"(?:books?|bk\.?|vol(?:ume)?s?\.?|nos?\.|number)"
_POS = rf"(?:{_MARK}\s*#?\s*{_RANGE}|#\s*{_RANGE})(?:\s+of\s+\d+)?"

# "The Expanse, Book 2" / "Expanse Book 2" / "Wheel of Time Vol. 3" / "Mistborn #3"
_NAMED_RE = re.compile(rf"^(?P<name>.*?[^\W\d_].*?)\s*,?\s+(?P<pos>{_POS})$", re.I)
_NAMED_HASH_RE = re.compile(rf"^(?P<name>.*?[^\W\d_].*?)\s*,?\s*(?P<pos>#\s*{_RANGE})$", re.I)
# "Book 2" / "Book Two of The Expanse" / "Book 2 in the Xyz series" / "#3"
_POS_FIRST_RE = re.compile(rf"^(?P<pos>{_POS})(?:\s*,?\s+(?:of|in|from)\s+(?P<name>.+))?$", re.I)
# "Mistborn 3" / "Wheel of Time 03": only for the series the tracker or source names
_BARE_RE = re.compile(rf"^(?P<name>.*?[^\W\d_].*?)\s*,?\s+(?P<pos>{_RANGE})$", re.I)
_NUMBER_ONLY_RE = re.compile(r"^(?P<pos>\d{1,3}(?:\.\d{1,2})?)\.?$")

# Marketing subtitles: "A Novel", "A Thriller", "A Jack Reacher Novel", "An Inspector Banks
# Mystery", "A Novel of Suspense", "A LitRPG Adventure". Real ones ("A Memoir", "A Love Story",
# "A Brief History of Humankind") are not in these words.
_KINDS = r"(?:novel|novella|thriller|mystery|romance)"
_MARKETING_RE = re.compile(
    rf"^(?:(?:a|an)\s+(?:[\w'’.&-]+\s+){{0,4}}?{_KINDS}"
    r"|(?:a|an)\s+novel\s+(?:of|in)\s+(?:[\w'’.&-]+\s*){1,4}"
    r"|(?:an?\s+)?(?:(?:epic|fantasy|sci-?fi|dark|apocalyptic|dungeon|system)\s+){0,2}(?:litrpg|gamelit)"
    r"(?:\s+(?:[\w'’-]+)){0,3}"
    r"|(?:a|an)\s+progression\s+fantasy(?:\s+[\w'’-]+){0,2})$",
    re.I,
)

# Edition and format tags: each word of the group must be one of these (with separators between).
_TAG_WORD = (
    r"(?:un-?abridged|audio\s*books?|audiobooks?|audio|audible|retail|edition|version|mp3|m4b|m4a|aac|"
    r"flac|ogg|opus|vbr|cbr|\d{2,3}\s*k(?:bps)?|kbps|vip|freeleech|fl|eng|english|en|fre|fra|french|ger|"
    r"deu|german|spa|spanish|ita|italian|dut|nld|dutch|por|portuguese|swe|nor|dan|fin|pol|rus|jpn|chi|"
    r"full|complete|and|&)"
)
_TAG_RE = re.compile(rf"^(?:{_TAG_WORD})(?:[\s/,;|+-]+(?:{_TAG_WORD}))*$", re.I)
# a tag group must say more than "full" or "english" alone: one of these is in it
_TAG_CORE_RE = re.compile(
    r"un-?abridged|audio|audible|retail|mp3|m4b|m4a|aac|flac|ogg|opus|kbps|\d\s*k\b|vbr|cbr|vip|freeleech|"
    r"^(?:eng|english|fre|fra|ger|deu|spa|ita|dut|nld|por|swe|nor|dan|fin|pol|rus|jpn|chi)\b",
    re.I,
)

# separators between a title and what follows: ": ", " - ", " – ", " — "
_SEP_RE = re.compile(r"(\s*:\s+|\s+[-–—]\s+)")
_TRAILING_GROUP_RE = re.compile(r"\s*(\((?P<p>[^()]*)\)|\[(?P<b>[^\[\]]*)\]|\{(?P<c>[^{}]*)\})\s*$")
_ANY_BRACKET_RE = re.compile(r"\s*\[(?P<b>[^\[\]]*)\]\s*")
_ANY_PAREN_RE = re.compile(r"\s*\((?P<p>[^()]*)\)\s*")
_EDITION_GROUP_RE = re.compile(
    r"\s*\((?:[^()]*\b)?(?:dramati[sz]ed|dramati[sz]ation|adaptation|abridged|full[\s-]*cast|graphic\s*audio)"
    r"\b[^()]*\)$", re.I)
_COMMA_TAIL_RE = re.compile(r"^(?P<head>.+?[^\s,]),\s+(?P<tail>[^,]+)$")
_HASH_TAIL_RE = re.compile(rf"^(?P<head>.+?[^\s#,])\s*,?\s+(?P<tail>#\s*{_RANGE})$")
_BY_RE = re.compile(r"^(?P<head>.+?)\s+by\s+(?P<who>[^()\[\]]+?)$", re.I)
_ENTITY_RE = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+\d*);", re.I)
_SERIES_WORD_RE = re.compile(r"\s+(?:series|novels?|books)$", re.I)
# quick test: a title with none of these cannot hold anything the cleaner removes
_HINT_RE = re.compile(r"[:()\[\]{},#&–—]| - | by ", re.I)


@dataclass(frozen=True)
class Tidy:
    """A title taken apart for display."""

    title: str  # what to show as the title (the input, exactly, when nothing was removed)
    subtitle: str  # the subtitle that survived ("" when it was only a series label or marketing)
    series: tuple[SeriesRef, ...]  # the known series (positions filled from labels), else the labels'
    removed: tuple[str, ...] = ()  # what was taken out, as it was written
    labels: tuple[SeriesRef, ...] = ()  # the series labels found in the title and subtitle
    #: what the title lost: "series" (a label), "tag" (edition/format), "marketing" ("A Novel"),
    #: "author"; "subtitle" when the subtitle was dropped or tidied
    kinds: frozenset[str] = frozenset()

    @property
    def changed(self) -> bool:
        return bool(self.removed)


@dataclass(frozen=True)
class _Label:
    name: str  # display name ("" when the label names no series)
    position: str | None  # "3", "2.5", "1-3"; None when it gives no number
    strong: bool = True  # names the series itself, or is a position; False: only matched a known name


# ---------------------------------------------------------------------------------- helpers
def _fmt_num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def position_text(text: str | None) -> str | None:
    """A position as ABS stores a sequence: "Book Two" -> "2", "#2.5" -> "2.5", "1 - 5" -> "1-5",
    "03" -> "3"; None when it is not a position."""
    if text is None:
        return None
    p = parse_position(" ".join(str(text).replace("–", "-").replace("—", "-").split()))
    if p is None:
        return None
    return _fmt_num(p[0]) if p[0] == p[1] else f"{_fmt_num(p[0])}-{_fmt_num(p[1])}"


def _display_name(name: str) -> str:
    """A series name as a label wrote it, tidied: "the Expanse series" -> "The Expanse"."""
    name = name.strip(" ,.;:-–—()[]")
    prev = None
    while prev != name:
        prev = name
        name = _SERIES_WORD_RE.sub("", name).strip(" ,")
    if name[:4] == "the ":
        name = "The " + name[4:]
    return name


def _same_series(a: str, b: str) -> bool:
    na, nb = normalize_series(a), normalize_series(b)
    return bool(na) and na == nb


def _known(name: str, series: Sequence[SeriesRef]) -> bool:
    return any(_same_series(name, s.name) for s in series if s.name)


def _is_tag(text: str) -> bool:
    t = text.strip()
    return bool(t) and len(t) <= 60 and bool(_TAG_RE.match(t)) and bool(_TAG_CORE_RE.search(t))


def _label(text: str, series: Sequence[SeriesRef]) -> _Label | None:
    """The series label ``text`` is (a whole chunk: a segment, a group's content, a subtitle)."""
    t = " ".join(text.split()).strip(" ,;")
    if not t or len(t) > 120:
        return None
    m = _POS_FIRST_RE.match(t)
    if m:
        return _Label(_display_name(m.group("name") or ""), position_text(m.group("pos")))
    m = _NAMED_RE.match(t) or _NAMED_HASH_RE.match(t)
    if m and position_text(m.group("pos")) and len(m.group("name").split()) <= 10:
        name = _display_name(m.group("name"))
        if name and not _MARKETING_RE.match(name):
            return _Label(name, position_text(m.group("pos")))
    if series:
        m = _BARE_RE.match(t)
        if m and _known(m.group("name"), series) and position_text(m.group("pos")):
            return _Label(_display_name(m.group("name")), position_text(m.group("pos")), strong=False)
        if _known(t, series):
            return _Label(_display_name(t), None, strong=False)
    return None


def _is_marketing(text: str) -> bool:
    return bool(_MARKETING_RE.match(" ".join(text.split()).strip(" ,;")))


def _is_range(label: _Label) -> bool:
    return bool(label.position and "-" in label.position)


def _names_author(text: str, authors: Sequence[str]) -> bool:
    key = normalize_name(text)
    return bool(key) and any(key == normalize_name(a) for a in authors if a)


# ---------------------------------------------------------------------------------- the cleaner
class _Work:
    """One title being taken apart: what was removed (and of which kind), the labels found."""

    def __init__(self, series: Sequence[SeriesRef], authors: Sequence[str], *, labels: bool = True) -> None:
        self.series = tuple(s for s in series if s.name)
        self.authors = tuple(a for a in authors if a)
        self.allow_labels = labels
        self.removed: list[str] = []
        self.kinds: set[str] = set()
        self.labels: list[_Label] = []
        self.nameless = False  # a label without a series name was removed

    def cut(self, shown: str, kind: str) -> None:
        self.removed.append(shown.strip())
        self.kinds.add(kind)

    def has_series(self) -> bool:
        return bool(self.series) or any(lb.name for lb in self.labels)

    def take_label(self, text: str, shown: str | None = None) -> bool:
        """Remove ``text`` if it is a label this title may lose; remember it."""
        label = _label(text, self.series) if self.allow_labels else None
        if label is None or _is_range(label):
            return False
        if not label.name and not self.has_series():
            return False  # "Book 3" of no known series: keep the only trace of it
        self.labels.append(label)
        self.cut(shown if shown is not None else text, "series")
        self.nameless = self.nameless or not label.name
        return True

    def is_author(self, text: str) -> bool:
        return self.allow_labels and bool(self.authors) and _names_author(text, self.authors)

    def groups(self, s: str) -> str:
        """Bracketed tags anywhere; trailing groups that are tags or labels."""
        if "[" in s:
            def bracket(m: re.Match[str]) -> str:
                if _is_tag(m.group("b")):
                    self.cut(m.group(0), "tag")
                    return " "
                return m.group(0)

            s = _ANY_BRACKET_RE.sub(bracket, s).strip()
        if "(" in s:
            def paren(m: re.Match[str]) -> str:
                if _is_tag(m.group("p")):
                    self.cut(m.group(0), "tag")
                    return " "
                return m.group(0)

            s = " ".join(_ANY_PAREN_RE.sub(paren, s).split())
        while True:
            m = _TRAILING_GROUP_RE.search(s)
            if not m or m.start() == 0:
                break
            content = (m.group("p") or m.group("b") or m.group("c") or "").strip()
            if not content or _is_tag(content):
                self.cut(m.group(1), "tag")
            elif not self.take_label(content, m.group(1)):
                break
            s = s[: m.start()].rstrip()
        return s

    def tail(self, s: str) -> str:
        """Trailing segments (after ": " or " - ", or a last ", ...") that are labels or tags."""
        while True:
            parts = _SEP_RE.split(s)
            if len(parts) >= 3:
                last, sep = parts[-1], parts[-2]
                head = "".join(parts[:-2]).rstrip()
                if head:
                    kind = ("tag" if _is_tag(last) else "marketing" if _is_marketing(last)
                            else "author" if self.is_author(last) else "")
                    if kind:
                        self.cut(sep + last, kind)
                        s = head
                        continue
                    if self.take_label(last, sep + last):
                        s = head
                        continue
            m = _COMMA_TAIL_RE.match(s)
            if m and _is_tag(m.group("tail")):
                self.cut(", " + m.group("tail"), "tag")
                s = m.group("head")
                continue
            if m and _POS_FIRST_RE.match(m.group("tail").strip()) and self.take_label(
                    m.group("tail"), ", " + m.group("tail")):
                s = m.group("head")
                continue
            m = _HASH_TAIL_RE.match(s)
            if m and self.take_label(m.group("tail")):
                s = m.group("head")
                continue
            m = _BY_RE.match(s)
            if m and self.is_author(m.group("who")):
                self.cut("by " + m.group("who"), "author")
                s = m.group("head")
                continue
            return s

    def head(self, s: str) -> str:
        """Leading segments that are the author, a series label or a bare position."""
        while True:
            parts = _SEP_RE.split(s, maxsplit=1)
            if len(parts) < 3 or not parts[2].strip():
                return s
            first, sep, rest = parts
            if self.is_author(first):
                self.cut(first + sep, "author")
                s = rest
                continue
            m = _NUMBER_ONLY_RE.match(first.strip())
            if m and self.allow_labels and self.has_series():
                self.labels.append(_Label("", position_text(m.group("pos"))))
                self.cut(first + sep, "series")
                self.nameless = True
                s = rest
                continue
            if self.take_label(first, first + sep):
                s = rest
                continue
            return s


def _merge(known: Sequence[SeriesRef], labels: Sequence[_Label]) -> tuple[SeriesRef, ...]:
    """The known series, with a missing position taken from a label of that series (or from a
    label that names none, for the first series); with none known, the first named label."""
    known = [s for s in known if s.name]
    if known:
        out = []
        for i, s in enumerate(known):
            pos = s.position
            if not pos:
                for lb in labels:
                    if lb.position and ((not lb.name and i == 0) or (lb.name and _same_series(lb.name, s.name))):
                        pos = lb.position
                        break
            out.append(s if pos == s.position else SeriesRef(s.name, pos))
        return tuple(out)
    named = [lb for lb in labels if lb.name and lb.strong]
    if not named:
        return ()
    first = named[0]
    pos = first.position or next((lb.position for lb in labels if not lb.name and lb.position), None)
    return (SeriesRef(first.name, pos),)


def _unescape(s: str) -> str:
    return html.unescape(html.unescape(s)) if "&" in s and _ENTITY_RE.search(s) else s


def _squash(s: str) -> str:
    return " ".join(s.split()).strip(" ,;:-–—")


def tidy(
    title: str,
    *,
    subtitle: str = "",
    series: Iterable[SeriesRef] = (),
    authors: Iterable[str] = (),
) -> Tidy:
    """Take series labels, edition tags and marketing out of ``title`` and ``subtitle``.

    ``series`` is what the tracker or the source names (it wins over any label; a label fills a
    missing position); ``authors`` are the book's authors (a title that repeats one loses it).
    """
    return _tidy(title or "", subtitle or "", tuple(series), tuple(authors))


@lru_cache(maxsize=100_000)
def _tidy(title: str, subtitle: str, series: tuple[SeriesRef, ...], authors: tuple[str, ...]) -> Tidy:
    work = _Work(series, authors)
    new_title = _tidy_title(title, work)
    kinds = set(work.kinds)
    new_sub = subtitle
    if subtitle.strip():
        before = len(work.removed)
        new_sub = _tidy_subtitle(subtitle, work, new_title)
        if len(work.removed) > before:
            kinds.add("subtitle")
    labels = tuple(SeriesRef(lb.name, lb.position) for lb in work.labels)
    return Tidy(new_title, new_sub, _merge(work.series, work.labels), tuple(work.removed), labels,
                frozenset(kinds))


def _strip(title: str, work: _Work) -> str:
    s = " ".join(_unescape(title).split())
    s = work.groups(s)
    s = work.tail(s)
    s = work.head(s)
    return _squash(s)


def _tidy_title(title: str, work: _Work) -> str:
    if not title.strip() or not _HINT_RE.search(title):
        return title
    unescaped = _unescape(title) != title
    s = _strip(title, work)
    # Taken apart too far: nothing left, only a label left, or a label that names no series left
    # the series' name ("Mistborn: Book 3", "Dungeon Crawler Carl, Book 4"): the title is kept,
    # minus its tags.
    if work.removed and (not s or _label(s, ()) is not None or (work.nameless and _is_series_name(s, work))):
        plain = _Work((), (), labels=False)
        s = _strip(title, plain)
        work.labels.clear()
        work.nameless = False
        work.removed[:] = plain.removed
        work.kinds = set(plain.kinds)
        if not s:
            return title
    if not work.removed:
        return " ".join(_unescape(title).split()) if unescaped else title
    return s


def _is_series_name(s: str, work: _Work) -> bool:
    names = [x.name for x in work.series] + [lb.name for lb in work.labels if lb.name]
    return any(_same_series(s, n) for n in names)


def _tidy_subtitle(subtitle: str, work: _Work, title: str) -> str:
    before = len(work.removed)
    s = work.groups(" ".join(_unescape(subtitle).split()))
    whole = " ".join(s.split()).strip(" ,;")
    if whole and (_is_tag(whole) or _is_marketing(whole)):
        work.removed.append(whole)
        return ""
    # "The Stormlight Archive, Book 1 (Dramatized Adaptation)": a label of another recording
    core = _EDITION_GROUP_RE.sub("", whole).strip() if whole.endswith(")") else whole
    label = _label(core, work.series) if core else None
    if label is not None and not _is_range(label):
        # A subtitle that only names a series and a position is not a subtitle: it is dropped,
        # and its series fills the book's when the book has none.
        if label.name or work.has_series():
            work.labels.append(label)
        work.removed.append(whole)
        return ""
    s = _squash(work.tail(s))
    if s and fold(title).endswith(fold(s)) and fold(title) != fold(s):
        work.removed.append(s)  # "Educated: A Memoir" with the subtitle "A Memoir"
        return ""
    if len(work.removed) == before:
        return subtitle
    return s


# ---------------------------------------------------------------------------------- questions
def is_series_label(text: str, series: Iterable[SeriesRef] = ()) -> bool:
    """True when ``text`` (a subtitle, say) only names a series and a position, or only says what
    kind of book it is ("A Novel"): it is not a subtitle."""
    t = text or ""
    if not t.strip():
        return False
    label = _label(t, tuple(series))
    return (label is not None and (bool(label.name) or label.position is not None)) or _is_marketing(t)


_ARTICLES = frozenset({"the", "a", "an"})
# Prowlarr's MAM releases: "<title> by <author>[, <author>...] [<LANG> / <filetype>][ [VIP]]"
_BYLINE_RE = re.compile(
    r"^(?P<title>.+)\s+by\s+(?P<who>[^\[\]]+?)\s*\[\s*[A-Za-z]{2,4}\s*/\s*[^\[\]]+\](?:\s*\[\s*VIP\s*\])?\s*$")


def byline(title: str) -> tuple[str, ...]:
    """The authors a release title names the way Prowlarr writes MAM's ("The Hero of Ages by
    Brandon Sanderson [ENG / m4b]"); () for any other title."""
    m = _BYLINE_RE.match(" ".join(_unescape(title or "").split()))
    if not m:
        return ()
    return tuple(a.strip() for a in m.group("who").split(",") if a.strip())


def title_key(text: str) -> str:
    """A loose key under which punctuation, case, accents and articles do not count: "Mistborn:
    The Hero of Ages" and the torrent folder "Mistborn The Hero of Ages" share one."""
    return " ".join(w for w in re.findall(r"[^\W_]+", fold(_unescape(text or ""))) if w not in _ARTICLES)


def same_title(a: str, b: str) -> bool:
    """Do two (tidied) titles name the same book? Their folded forms are equal; or one is the
    other plus a subtitle ("Sapiens" / "Sapiens: A Brief History of Humankind"); or they differ
    by a letter or two of spelling ("Colour" / "Color") and in no number."""
    na, nb = normalize_title(a), normalize_title(b)
    if na == nb:
        return True
    if not na or not nb:
        return False
    pa, pb = parse_title(a), parse_title(b)
    if pa.main == nb or pb.main == na:
        return True
    return (re.findall(r"\d+", na) == re.findall(r"\d+", nb) and min(len(na), len(nb)) >= 8
            and similarity(na, nb) >= 0.94)
