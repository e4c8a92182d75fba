"""The tracker query plan (abook.queries): what is asked for one book, in which order."""

from __future__ import annotations

import pytest

from abook.queries import (
    COMPARISON,
    KEYWORDS,
    MAIN_TITLE,
    MAX_QUERIES_PER_BOOK,
    SERIES,
    TITLE_ALONE,
    WRITTEN,
    keywords,
    main_title,
    plan,
    series_words,
    surname,
    written,
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("Xyz's Fear", "Xyz's Fear"),  # the apostrophe stays: "xyzs" is no word of "Xyz's"
        ("Three Xyz", "Three Xyz"),  # number words stay words
        ("Book of Ash II", "Book of Ash II"),  # so do roman numerals
        ("Salt & Iron", "Salt Iron"),  # "&" is no word to a full-text index
        ("The Lighthouse Keeper: A Salt Kings Story", "The Lighthouse Keeper A Salt Kings Story"),
        ("Mistborn: The Final Empire (Mistborn, Book 1) [Unabridged]", "Mistborn The Final Empire"),
        ("Harry Potter and the Sorcerer\u2019s Stone, Book 1", "Harry Potter and the Sorcerer's Stone"),
        ("The Harbor-Master's Daughter", "The Harbor-Master's Daughter"),
        ("Dark Matter: A Novel", "Dark Matter"),
        ("11/22/63", "11 22 63"),
        ("Catch-22", "Catch-22"),
        ("'Salem's Lot", "Salem's Lot"),
        ("Caf&eacute; Aurora", "Café Aurora"),  # entities decoded, accents kept as written
        ("Who Goes There? (Book 3)", "Who Goes There"),
        ("Red Rising #1", "Red Rising"),
    ],
)
def test_written_keeps_the_text_as_people_write_it(raw, want):
    assert written(raw) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("The Lighthouse Keeper: A Salt Kings Story", "The Lighthouse Keeper"),
        ("Leviathan Wakes - The Expanse", "Leviathan Wakes"),
        ("Book 2: The Well of Ascension", "The Well of Ascension"),  # "Book 2" is a position
        ("Dune", ""),
        ("Catch-22", ""),  # an intra-word hyphen is no subtitle
    ],
)
def test_main_title(raw, want):
    assert main_title(raw) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Salt and Iron", "Salt Iron"),
        ("Xyz's Fear", "Fear"),
        ("Three Crowns of Salt", "Crowns Salt"),
        ("Part II The Return", "Part Return"),
        ("The Harbor-Master's Daughter", "Harbor Daughter"),
        ("1984", ""),
    ],
)
def test_keywords_drop_every_word_a_spelling_may_change(text, want):
    assert keywords(text) == want


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("Jane Author", "Author"),
        ("Ursula K. Le Guin", "Guin"),
        ("Sanderson, Brandon", "Sanderson"),
        ("J.R.R. Tolkien", "Tolkien"),
        ("Charlotte Brontë", "Brontë"),
        ("Patrick O'Brian", "O'Brian"),
        ("Martin Luther King Jr.", "King"),
        ("", ""),
        ("Unknown", ""),
    ],
)
def test_surname(name, want):
    assert surname(name) == want


def test_series_words_drop_articles_and_kind_words():
    assert series_words("The Salt Kings Saga") == "Salt Kings"
    assert series_words("The Iron Tide Trilogy") == "Iron Tide"
    assert series_words("The Expanse") == "Expanse"
    assert series_words("Saga") == "Saga"  # nothing else left: keep the name


def test_the_plan_searches_as_written_first_then_looser_forms():
    queries = plan("Xyz's Fear", ("Pat Rothfuss",), series="The Kingkiller Chronicle")
    assert [(q.kind, q.sent) for q in queries] == [
        (WRITTEN, "Xyz's Fear Rothfuss"),
        (TITLE_ALONE, "Xyz's Fear"),
        (COMPARISON, "xyzs fear Rothfuss"),  # an upload that dropped the apostrophe
        (KEYWORDS, "Fear Rothfuss"),
        (SERIES, "Kingkiller Rothfuss"),
    ]
    words = plan("Three Xyz", ("Pat Rothfuss",))
    assert words[0].sent == "Three Xyz Rothfuss" and words[2].sent == "3 xyz Rothfuss"


def test_the_plan_has_the_main_title_and_never_more_than_the_maximum():
    queries = plan("The Colour of Salt: A Tale of the Iron Tide", ("Idris Vane",), series="Iron Tide")
    kinds = [q.kind for q in queries]
    assert kinds == [WRITTEN, TITLE_ALONE, MAIN_TITLE, COMPARISON, KEYWORDS, SERIES]
    assert len(queries) == MAX_QUERIES_PER_BOOK
    assert queries[2].sent == "The Colour of Salt Vane"
    assert len(plan("X", ("A B",), limit=99)) <= MAX_QUERIES_PER_BOOK
    assert [q.kind for q in plan("The Colour of Salt: A Tale", ("Idris Vane",), limit=2)] == [WRITTEN, TITLE_ALONE]


def test_the_plan_repeats_no_query():
    queries = plan("Fourth Flame", ("Jane Author",), series="Ember Saga")
    assert [q.sent for q in queries] == ["Fourth Flame Author", "Fourth Flame", "Ember Author"]
    assert [q.sent for q in plan("1984", ("George Orwell",))] == ["1984 Orwell", "1984"]
    assert [q.sent for q in plan("Dune", ())] == ["Dune"]  # no author: the title alone once
