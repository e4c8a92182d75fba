"""Series and author names across sources (abook.naming): a table of real-world pairs."""

from __future__ import annotations

import pytest

from abook.naming import Candidate, matched_name, pick, pick_person, same_person, series_name_score
from abook.sources.base import BibEntry, SeriesRef

# (the library's name, a source's name, same series?) - pairs seen between ABS libraries,
# Audible, Hardcover and Goodreads
SERIES_PAIRS = [
    ("The Expanse", "Expanse", True),
    ("Red Rising", "Red Rising Saga", True),
    ("Red Rising Saga", "Red Rising", True),
    ("Harry Potter", "Harry Potter Series", True),
    ("The Wheel of Time", "Wheel of Time", True),
    ("A Song of Ice and Fire", "A Song of Ice & Fire", True),
    ("The Lord of the Rings", "Lord of the Rings", True),
    ("Cormoran Strike", "Cormoran Strike Novels", True),
    ("The Witcher", "The Witcher Saga", True),
    ("Foundation", "Foundation (Publication Order)", True),
    ("The Murderbot Diaries", "Murderbot Diaries", True),
    ("The Kingkiller Chronicle", "Kingkiller Chronicles", True),  # a spelling slip
    ("Stormlight", "The Stormlight Archive", True),  # a shorter form: needs the author
    ("The Inheritance Cycle", "Inheritance", True),
    ("Dune", "Dune Chronicles", True),
    ("The Salt Kings", "Salt Kings Saga", True),
    ("The Iron Tide Trilogy", "Iron Tide", True),
    ("Red Rising", "Dark Age", False),
    ("His Dark Materials", "The Book of Dust", False),
    ("Three-Body Problem", "Remembrance of Earth's Past", False),
    ("The Expanse", "The Dark Tower", False),
    ("Mistborn", "Stormlight Archive", False),
]


@pytest.mark.parametrize(("ours", "theirs", "same"), SERIES_PAIRS)
def test_series_names_across_sources(ours, theirs, same):
    assert (series_name_score(ours, theirs) > 0) is same
    assert series_name_score(ours, theirs) == series_name_score(theirs, ours)


PEOPLE = [
    ("J.K. Rowling", "J. K. Rowling", True),
    ("Liu Cixin", "Cixin Liu", True),
    ("Ursula K. Le Guin", "Ursula Le Guin", True),
    ("Sanderson, Brandon", "Brandon Sanderson", True),
    ("Gabriel García Márquez", "Gabriel Garcia Marquez", True),
    ("Frank Herbert", "Brian Herbert", False),
    ("Andy Weir", "Andrew Weir", False),  # the matching rules refuse nicknames: no guess here
    ("Jane Author", "Somebody", False),
]


@pytest.mark.parametrize(("a", "b", "same"), PEOPLE)
def test_people_across_sources(a, b, same):
    assert same_person(a, b) is same


def test_the_author_decides_between_equal_names():
    dune = [Candidate("Dune: House Trilogy", ("Brian Herbert", "Kevin J. Anderson"), "house", 9.0),
            Candidate("Dune Chronicles", ("Frank Herbert",), "chronicles", 3.0)]
    assert pick("Dune", "Frank Herbert", dune).ref == "chronicles"
    # the same name credited to someone else is never taken, however popular
    near = [Candidate("Example Universe", ("Somebody",), "u", 50.0), Candidate("Example Saga", ("Jane Author",), "s")]
    assert pick("Example", "Jane Author", near).ref == "s"
    assert pick("Example", "Nobody Known", near) is None


def test_a_shorter_name_needs_the_author_and_exact_beats_longer():
    archive = [Candidate("The Stormlight Archive", (), "a")]
    assert pick("Stormlight", "", archive) is None  # no author to vouch for the looser name
    assert pick("Stormlight", "Brandon Sanderson", [Candidate("The Stormlight Archive", ("Brandon Sanderson",), "a")])
    both = [Candidate("Mistborn: Wax and Wayne", ("Brandon Sanderson",), "ww", 9.0),
            Candidate("Mistborn Saga", ("Brandon Sanderson",), "era1", 1.0)]
    assert pick("Mistborn", "Brandon Sanderson", both).ref == "era1"


def test_equal_rivals_are_no_answer_but_one_record_twice_is():
    twins = [Candidate("Legacy", ("Ann Writer",), "a"), Candidate("Legacy", ("Ann Writer",), "b")]
    assert pick("Legacy", "Ann Writer", twins) is None
    same = [Candidate("Legacy", ("Ann Writer",), "a"), Candidate("The Legacy", ("Ann Writer",), "a")]
    assert pick("Legacy", "Ann Writer", same).ref == "a"


def test_pick_person_and_the_name_a_source_uses():
    people = [Candidate("Brian Herbert", ref=1), Candidate("Frank Herbert", ref=2), Candidate("F. Herbert", ref=3)]
    assert pick_person("Herbert, Frank", people).ref == 2
    assert pick_person("Kevin J. Anderson", people) is None
    entries = [BibEntry("A", series=(SeriesRef("The Salt Kings Saga", "1"),)),
               BibEntry("B", series=(SeriesRef("The Salt Kings Saga", "2"),)),
               BibEntry("C", series=(SeriesRef("Other", "1"),))]
    assert matched_name(entries) == "The Salt Kings Saga"
    assert matched_name([]) == ""
