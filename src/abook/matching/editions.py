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

# Where an edition class may come from, most trusted first:
#
# * tags: the tracker's tag field and the bracketed / trailing tags of a title ("[Abridged]",
#   "(Dramatized Adaptation)", " - Unabridged"): a word there describes the upload;
# * the tracker's own fields (MAM's abridged flag): :attr:`Release.abridged`, passed by the caller;
# * title patterns that only an edition has ("Summary of ...", "Books 1-3", "Box Set",
#   "GraphicAudio", "A Full-Cast Dramatization");
# * the description, only where it says what *this* recording is ("This is an unofficial
#   summary", "An abridged reading", "This omnibus edition collects"), never a word in passing
#   ("a condensed history", "adapted for radio in 1981", "a full cast of characters").
#
# A word anywhere in a real title ("Summary Justice", "The Butterfly Collection", "Radio Silence")
# decides nothing.

_ABRIDGED_TAG_RE = re.compile(r"(?<![\w-])abridged\b|\babridgement\b|\bcondensed\b")
_ABRIDGED_DESC_RE = re.compile(
    r"\b(?:this|an?)\s+(?:\w+\s+){0,2}?abridged\s+(?:edition|version|reading|recording|production|"
    r"audio\s*book|audiobook|adaptation|presentation|performance)\b|\babridged\s+(?:by|from)\b"
)
_DRAMATIZED_TAG_RE = re.compile(
    r"dramati[sz](?:ed|ation)|graphic\s*audio|full[\s-]*cast|radio\s+(?:drama|play|dramati[sz]ation)"
    r"|\bbbc\s+radio|\baudio\s+(?:drama|play)\b|\baudio\s+movie\b"
)
_DRAMATIZED_TITLE_RE = re.compile(
    r"\bdramati[sz]ed\s+(?:adaptation|production|version|edition|recording)\b"
    r"|\b(?:a\s+)?full[\s-]*cast\s+(?:dramati[sz]ation|production|recording|audio|performance|adaptation|edition)\b"
    r"|\bdramati[sz]ation\b|\bgraphic\s*audio\b|\b(?:bbc\s+)?radio\s+(?:drama|play|dramati[sz]ation|adaptation)\b"
    r"|\baudio\s+(?:drama|play|movie)\b"
)
_DRAMATIZED_DESC_RE = re.compile(
    r"\b(?:this|an?)\s+(?:[\w'-]+\s+){0,4}?(?:full[\s-]*cast\s+(?:dramati[sz]ation|production|recording|"
    r"performance|audio|adaptation)|dramati[sz]ation|dramati[sz]ed\s+(?:production|adaptation|version|"
    r"recording|edition|audiobook)|radio\s+(?:drama|play|dramati[sz]ation)|audio\s+(?:drama|play|movie))\b"
    r"|\bperformed\s+by\s+(?:a|the)\s+full[\s-]*cast\b|\bgraphic\s*audio\s+(?:production|presents)\b"
    r"|\ba\s+movie\s+in\s+your\s+mind\b"
)
_OMNIBUS_STRONG_RE = re.compile(
    r"\bbox(?:ed)?[\s-]*set\b|\bomnibus\b|\bcomplete\s+(?:series|collection|saga|trilogy|works|novels)\b"
    r"|\b(?:books?|volumes?|vols?|novels?|#)\.?\s*\d{1,2}\s*(?:-|to|&|through|and)\s*#?\d{1,2}\b"
    r"|\b\d{1,2}[\s-]*(?:book|novel|volume)s?\s+(?:set|collection|bundle|series)\b|\bseries\s+set\b"
)
_COLLECTION_QUALIFIED_RE = re.compile(
    r"\b(?:complete|ultimate|essential|definitive|deluxe|classic|series|trilogy|saga|quartet|novels?|books?)"
    r"\s+collection\b|\bcollection\s*(?:[:\-(]\s*)?(?:books?|volumes?|vols?|#)?\s*\d{1,2}\s*(?:-|to)\s*\d{1,2}\b"
)
# "The Sherlock Holmes Collection": a collection named after a person or a series (two words or
# more before it, or a name of the release); "The Butterfly Collection" is a novel's title
_NAMED_COLLECTION_RE = re.compile(r"^(?:the\s+)?(?P<name>.+?)\s+collection$")
# blurbs of single books mention "books 1-3" of their series; only these say "this is a pack"
_OMNIBUS_DESC_RE = re.compile(
    r"\bthis\s+(?:omnibus|box(?:ed)?[\s-]*set|collection|bundle)\s+(?:edition\s+)?"
    r"(?:contains|includes|collects|brings\s+together|features|gathers)\b"
    r"|\b(?:this|an)\s+omnibus\b|\bthis\s+box(?:ed)?[\s-]*set\b"
)
_SUMMARY_TAG_RE = re.compile(r"\bsummary\b|\bstudy\s+guide\b")
_PUNCT_RE = re.compile(r"[^\w\s']+")
_TRILOGY_RE = re.compile(r"\btrilogy$|\b(?:trilogy|series|saga)\s*[:\-]\s*books?\b")
_RANGE_RE = re.compile(r"(?<![\w\-])(\d{1,2})\s*-\s*(\d{1,2})(?![\w\-])")
_SUMMARY_QUAL = r"(?:(?:a|an|the|book|chapter|detailed|quick|complete|brief|short|full|unofficial|comprehensive|extended)\s+)*"
_SUMMARY_TITLE_RE = re.compile(
    rf"^{_SUMMARY_QUAL}summar(?:y|ies)\b\s*(?:(?:&|and)\s*analysis\b\s*)?(?:of\b|for\b|on\b|[:\-(|])"
    rf"|[:\-(|,]\s*{_SUMMARY_QUAL}summar(?:y|ies)\b|\bsummary\s*\)?$|\bsummary\s+(?:&|and)\s+analysis\b"
    r"|\bunofficial\s+summary\b|\bstudy\s+guide\b|^(?:an?\s+)?(?:literary\s+|critical\s+)?analysis\s+of\b"
    r"|[:\-(]\s*(?:an?\s+)?(?:literary\s+|critical\s+)?analysis\b|\bworkbook\b|\bspark\s*notes\b"
    r"|\bcliffs?\s*notes\b|\bkey\s+takeaways\b|\bbook\s+review\b|\bconversation\s+starters\b"
)
_SUMMARY_DESC_RE = re.compile(
    r"\bthis\s+is\s+(?:a|an)\s+(?:unofficial\s+|brief\s+|detailed\s+|book\s+|chapter[\s-]by[\s-]chapter\s+)?"
    r"(?:summary|study\s+guide|analysis|workbook)\b|\bunofficial\s+summary\b"
    r"|\bsummary\s+(?:and|&)\s+analysis\b|\bthis\s+(?:summary|study\s+guide|workbook)\b"
    r"|\bworkbook\s+for\b|\bnot\s+the\s+original\s+book\b|\bsummary\s+of\s+the\s+(?:original\s+)?book\b"
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
    "movie",
    "set",
)


_EDITION_HINT_RE = re.compile("|".join(map(re.escape, _EDITION_WORDS)) + r"|\d")


def _names_collection(name: str, names: Iterable[str]) -> bool:
    if len(name.split()) >= 2:
        return True
    wanted = {t for n in names for t in fold(n).replace(",", " ").split() if len(t) > 2}
    return bool(wanted & set(name.split()))


def edition_class(
    title: str, tags: str = "", description: str = "", *, names: Iterable[str] = ()
) -> set[str]:
    """Edition classes of a release: subset of {"abridged", "dramatized", "omnibus", "summary"}.

    ``tags`` (the tracker's tag field) and the title's own bracketed / trailing tags are trusted
    word by word; the rest of the title only through patterns that mark an edition; the
    description only through phrases that say what this recording is. ``names`` (the release's
    authors and series) tell "The Discworld Collection" (a pack) from "The Butterfly Collection".
    """
    t = fold(title)
    g = fold(tags)
    d = fold(description)
    found: set[str] = set()
    if not _EDITION_HINT_RE.search(t) and not _EDITION_HINT_RE.search(g) and not (
        d and _EDITION_HINT_RE.search(d)
    ):
        return found  # nothing any rule below could match: skip the regexes
    tp = parse_title(title) if t else None
    title_tags = " | ".join(tp.tags) if tp else ""
    tagged = f"{g} | {title_tags}"
    # the tag pattern never matches inside "unabridged"
    if _ABRIDGED_TAG_RE.search(tagged) or (d and _ABRIDGED_DESC_RE.search(d)):
        found.add("abridged")
    if (
        _DRAMATIZED_TAG_RE.search(tagged)
        or _DRAMATIZED_TITLE_RE.search(t)
        or (d and _DRAMATIZED_DESC_RE.search(d))
    ):
        found.add("dramatized")
    if _is_omnibus(t, tp, g, d, names):
        found.add("omnibus")
    if _SUMMARY_TITLE_RE.search(t) or (g and _SUMMARY_TAG_RE.search(g)) or (
        d and _SUMMARY_DESC_RE.search(d)
    ):
        found.add("summary")
    return found


def _is_omnibus(t: str, tp: object, g: str, d: str, names: Iterable[str]) -> bool:
    if _OMNIBUS_STRONG_RE.search(t) or (g and _OMNIBUS_STRONG_RE.search(g)):
        return True
    if d and _OMNIBUS_DESC_RE.search(d):
        return True
    if "collection" in t:
        if _COLLECTION_QUALIFIED_RE.search(t):
            return True
        bare = _PUNCT_RE.sub(" ", t)
        m = _NAMED_COLLECTION_RE.match(" ".join(bare.split()))
        if m and _names_collection(m.group("name"), names):
            return True
    if _TRILOGY_RE.search(t):
        return True
    stripped = getattr(tp, "text", "")
    return any(int(m.group(2)) > int(m.group(1)) for m in _RANGE_RE.finditer(f"{t} {stripped}"))


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
