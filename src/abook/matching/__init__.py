"""Is this the same work? The same recording?

Everything here is pure (no I/O) so it can be tested from tables and run over 50,000 owned books.

The shape follows beets' autotagger: strings are normalised first (case, accents, HTML entities,
punctuation, bracketed tracker tags, leading articles, "Book 2" suffixes, author initials and
name order), then a :class:`Distance` collects named, weighted penalties (title, authors,
series, narrators, identifiers, year) into one number between 0 and 1, and :func:`compare`
turns that number into a verdict with thresholds.

A few facts are stronger than any distance, because peers got them wrong:

* the same ASIN or ISBN is the same work, whatever the titles say;
* a different position in the same series is a different work ("Red Rising" #1 vs
  "Golden Son" #2), as are disjoint numbers in the titles ("The Dark Tower II" vs "III");
* a different author is a different work ("The Stand" by Stephen King vs by someone else);
* an omnibus or a summary / study guide is never the book it contains or describes.

Different ASINs, on the other hand, prove nothing: every edition and region has its own.

Verdicts are about the *work* by default. Abridged, dramatized or differently narrated editions
of an owned work are still "same" (owned); :attr:`Match.same_recording` says whether the
recording matches too, and ``compare(..., level="recording")`` makes that the question.

The package, each module importing only the ones before it: :mod:`.text` (folding, number
words, character similarity), :mod:`.names` (people's names) and :mod:`.titles` (titles, series
names and positions), :mod:`.editions` (edition classes, languages), :mod:`.distance` (the
prepared record, :class:`Distance`, :func:`compare`) and :mod:`.index` (:class:`LibraryIndex`).
"""

from __future__ import annotations

from .distance import (
    DEFAULT_WEIGHTS,
    NEAR_THRESHOLD,
    SAME_THRESHOLD,
    Distance,
    Match,
    compare,
    title_similarity,
)
from .editions import EDITION_CLASSES, edition_class, language_ok
from .index import LibraryIndex
from .names import name_similarity, name_tokens, normalize_name, split_names
from .text import fold, similarity
from .titles import (
    TitleParts,
    is_primary_position,
    normalize_series,
    normalize_title,
    parse_position,
    parse_title,
    split_part,
    split_series_name,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "EDITION_CLASSES",
    "NEAR_THRESHOLD",
    "SAME_THRESHOLD",
    "Distance",
    "LibraryIndex",
    "Match",
    "TitleParts",
    "compare",
    "edition_class",
    "fold",
    "is_primary_position",
    "language_ok",
    "name_similarity",
    "name_tokens",
    "normalize_name",
    "normalize_series",
    "normalize_title",
    "parse_position",
    "parse_title",
    "similarity",
    "split_names",
    "split_part",
    "split_series_name",
    "title_similarity",
]
