"""Edition classes and languages of a release.

:func:`edition_class` tells abridged, dramatized, omnibus and summary / study-guide releases
from their title, tags and description; :func:`language_ok` compares language names and
codes ("English", "en", "eng", "en-US")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .text import fold
from .titles import parse_title

EDITION_CLASSES = ("abridged", "dramatized", "omnibus", "summary")


# --------------------------------------------------------------------------------------------
# Editions and languages
# --------------------------------------------------------------------------------------------

_ABRIDGED_RE = re.compile(r"(?<![\w-])abridged\b|\babridgement\b|\bcondensed\b")
_DRAMATIZED_RE = re.compile(
    r"dramati[sz](?:ed|ation)|graphic\s*audio|full[\s-]*cast|radio\s+(?:drama|play|dramati[sz]ation)"
    r"|\bbbc\s+radio|\baudio\s+(?:drama|play)\b|\baudio\s+movie\b"
)
_OMNIBUS_STRONG_RE = re.compile(
    r"\bbox(?:ed)?[\s-]*set\b|\bomnibus\b|\bcomplete\s+(?:series|collection|saga|trilogy)\b"
    r"|\b(?:books?|volumes?|vols?|novels?|#)\.?\s*\d{1,2}\s*(?:-|to|&|through|and)\s*#?\d{1,2}\b"
)
# blurbs of single books mention "books 1-3" of their series; only these say "this is a pack"
_OMNIBUS_DESC_RE = re.compile(
    r"\bbox(?:ed)?[\s-]*set\b|\bomnibus\b|\bthis\s+collection\s+(?:contains|includes)\b"
)
_OMNIBUS_TITLE_RE = re.compile(
    r"(?<![\w\-])(\d{1,2})\s*-\s*(\d{1,2})(?![\w\-])|\bcollection\b|\btrilogy$|\bseries\s+set\b"
)
_SUMMARY_TITLE_RE = re.compile(
    r"\bsummary\b|\bstudy\s+guide\b|\banalysis\s+of\b|\bworkbook\b|\bsparknotes\b|\bcliffs?\s*notes\b"
    r"|\bkey\s+takeaways\b|\bbook\s+review\b|\bconversation\s+starters\b"
)
_SUMMARY_DESC_RE = re.compile(
    r"\bthis\s+is\s+(?:a|an)\s+(?:unofficial\s+)?summary\b|\bunofficial\s+summary\b"
    r"|\bsummary\s+(?:and|&)\s+analysis\b|\bstudy\s+guide\b|\bworkbook\s+for\b"
    r"|\bnot\s+the\s+original\s+book\b|\bsummary\s+of\s+the\s+(?:original\s+)?book\b"
)


# every rule in edition_class needs one of these substrings (or a digit in the title)
_EDITION_WORDS = (
    "abridg",
    "condensed",
    "drama",
    "graphic",
    "cast",
    "radio",
    "bbc",
    "audio",
    "box",
    "omnibus",
    "complete",
    "collection",
    "trilogy",
    "series",
    "summar",
    "guide",
    "analysis",
    "workbook",
    "notes",
    "takeaway",
    "review",
    "starters",
    "original book",
)


_EDITION_HINT_RE = re.compile("|".join(map(re.escape, _EDITION_WORDS)) + r"|\d")


def edition_class(title: str, tags: str = "", description: str = "") -> set[str]:
    """Edition classes of a release: subset of {"abridged", "dramatized", "omnibus", "summary"}.

    Title and tags are trusted; the description only with unambiguous phrases, because blurbs
    say things like "now unabridged" or "from the collection of".
    """
    t = fold(title)
    g = fold(tags)
    d = fold(description)
    head = f"{t} | {g}"
    found: set[str] = set()
    if not _EDITION_HINT_RE.search(head) and not (d and _EDITION_HINT_RE.search(d)):
        return found  # nothing any rule below could match: skip the regexes
    if _ABRIDGED_RE.search(head) or (
        d and _ABRIDGED_RE.search(d) and "unabridged" not in d and "unabridged" not in head
    ):
        found.add("abridged")
    if _DRAMATIZED_RE.search(head) or (d and _DRAMATIZED_RE.search(d)):
        found.add("dramatized")
    if _OMNIBUS_STRONG_RE.search(head) or (d and _OMNIBUS_DESC_RE.search(d)):
        found.add("omnibus")
    else:
        stripped = parse_title(title).text if t else ""
        for m in _OMNIBUS_TITLE_RE.finditer(f"{t} {stripped}"):
            if m.group(1) and int(m.group(2)) <= int(m.group(1)):
                continue
            found.add("omnibus")
            break
    if _SUMMARY_TITLE_RE.search(head) or (d and _SUMMARY_DESC_RE.search(d)):
        found.add("summary")
    return found


_LANGUAGES: dict[str, tuple[str, ...]] = {
    "english": ("en", "eng"),
    "french": ("fr", "fre", "fra", "francais"),
    "german": ("de", "ger", "deu", "deutsch"),
    "spanish": ("es", "spa", "espanol", "castellano"),
    "italian": ("it", "ita", "italiano"),
    "dutch": ("nl", "dut", "nld", "nederlands", "flemish"),
    "portuguese": ("pt", "por", "portugues"),
    "russian": ("ru", "rus"),
    "japanese": ("ja", "jpn"),
    "chinese": ("zh", "chi", "zho", "mandarin"),
    "korean": ("ko", "kor"),
    "swedish": ("sv", "swe", "svenska"),
    "norwegian": ("no", "nor", "nb", "nob", "nn", "nno", "norsk"),
    "danish": ("da", "dan", "dansk"),
    "finnish": ("fi", "fin", "suomi"),
    "polish": ("pl", "pol", "polski"),
    "czech": ("cs", "cze", "ces"),
    "hungarian": ("hu", "hun"),
    "greek": ("el", "gre", "ell"),
    "turkish": ("tr", "tur"),
    "arabic": ("ar", "ara"),
    "hebrew": ("he", "heb"),
    "hindi": ("hi", "hin"),
    "ukrainian": ("uk", "ukr"),
    "romanian": ("ro", "rum", "ron"),
    "catalan": ("ca", "cat"),
    "latin": ("la", "lat"),
    "afrikaans": ("af", "afr"),
}
_LANG_ALIASES: dict[str, str] = {}
for _name, _codes in _LANGUAGES.items():
    _LANG_ALIASES[_name] = _name
    for _c in _codes:
        _LANG_ALIASES[_c] = _name


def _language_key(s: str) -> str:
    t = fold(s)
    t = re.split(r"[\s_\-(/]", t, maxsplit=1)[0] if t else ""  # "en-US", "English (US)"
    return _LANG_ALIASES.get(t, t)


def language_ok(language: str | None, wanted: Iterable[str], *, unknown_ok: bool = True) -> bool:
    """Is ``language`` one of ``wanted``? "English", "en", "eng", "en-US" are all English.

    An empty ``wanted`` accepts everything; an unknown (empty) language passes unless
    ``unknown_ok`` is False, because libraries and trackers often leave it blank.
    """
    wanted_keys = {_language_key(w) for w in wanted if w and w.strip()}
    if not wanted_keys:
        return True
    if not language or not language.strip():
        return unknown_ok
    return _language_key(language) in wanted_keys
