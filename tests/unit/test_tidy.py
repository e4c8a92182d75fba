"""The title cleaner over real-world tracker and source title shapes, in both directions: series
labels, edition tags and marketing taken out; real titles and subtitles kept exactly."""

from __future__ import annotations

import pytest

from abook.models import SeriesRef
from abook.tidy import is_series_label, position_text, same_title, tidy, title_key

S = SeriesRef
MISTBORN_3 = (S("Mistborn", "3"),)


def series(result) -> list[tuple[str, str | None]]:
    return [(s.name, s.position) for s in result.series]


# (title, known series, authors, expected title, expected series)
REMOVED = [
    # the two shapes of the issue
    ("Mistborn: The Hero of Ages", MISTBORN_3, (), "The Hero of Ages", [("Mistborn", "3")]),
    ("The Gate of the Feral Gods: Dungeon Crawler Carl, Book 4", (), (), "The Gate of the Feral Gods",
     [("Dungeon Crawler Carl", "4")]),
    # series prefixes
    ("Mistborn 3: The Hero of Ages", (S("Mistborn"),), (), "The Hero of Ages", [("Mistborn", "3")]),
    ("Mistborn - The Hero of Ages", MISTBORN_3, (), "The Hero of Ages", [("Mistborn", "3")]),
    ("The Expanse Book 2: Caliban's War", (), (), "Caliban's War", [("The Expanse", "2")]),
    ("The Wheel of Time 01 - The Eye of the World", (S("The Wheel of Time", "1"),), (), "The Eye of the World",
     [("The Wheel of Time", "1")]),
    ("Wheel of Time, Book 1: The Eye of the World", (S("The Wheel of Time"),), (), "The Eye of the World",
     [("The Wheel of Time", "1")]),
    ("Legends of the First Empire 1 - Age of Myth", (S("Legends of the First Empire", "1"),), (), "Age of Myth",
     [("Legends of the First Empire", "1")]),
    ("Overlord, Vol. 1: The Undead King", (S("Overlord"),), (), "The Undead King", [("Overlord", "1")]),
    ("Book 3: The Hero of Ages", (S("Mistborn"),), (), "The Hero of Ages", [("Mistborn", "3")]),
    ("03 - The Hero of Ages", (S("Mistborn"),), (), "The Hero of Ages", [("Mistborn", "3")]),
    ("Mistborn: The Final Empire", (S("Mistborn", "1"),), (), "The Final Empire", [("Mistborn", "1")]),
    ("Red Rising: Golden Son", (S("Red Rising Saga", "2"),), (), "Golden Son", [("Red Rising Saga", "2")]),
    ("Jack Reacher: Killing Floor", (S("Jack Reacher", "1"),), (), "Killing Floor", [("Jack Reacher", "1")]),
    # series suffixes
    ("Leviathan Wakes: The Expanse, Book 1", (), (), "Leviathan Wakes", [("The Expanse", "1")]),
    ("Leviathan Wakes – The Expanse, Book 1", (), (), "Leviathan Wakes", [("The Expanse", "1")]),
    ("Golden Son - Red Rising Saga Book 2", (), (), "Golden Son", [("Red Rising Saga", "2")]),
    ("Wool: Silo, Book 1", (), (), "Wool", [("Silo", "1")]),
    ("The Final Empire: Mistborn, Book 1", (), (), "The Final Empire", [("Mistborn", "1")]),
    ("Oathbringer: Book Three of the Stormlight Archive", (), (), "Oathbringer", [("The Stormlight Archive", "3")]),
    ("The Way of Kings: Book One of The Stormlight Archive [Unabridged]", (), (), "The Way of Kings",
     [("The Stormlight Archive", "1")]),
    ("Shadow and Bone: Book 1 of the Grisha Trilogy", (), (), "Shadow and Bone", [("The Grisha Trilogy", "1")]),
    ("Year One: Chronicles of The One, Book 1", (), (), "Year One", [("Chronicles of The One", "1")]),
    ("Children of Time: Children of Time, Book 1", (), (), "Children of Time", [("Children of Time", "1")]),
    ("Harry Potter and the Sorcerer's Stone, Book 1", (S("Harry Potter", "1"),), (),
     "Harry Potter and the Sorcerer's Stone", [("Harry Potter", "1")]),
    ("Caliban's War #2", (S("The Expanse"),), (), "Caliban's War", [("The Expanse", "2")]),
    ("The Hero of Ages - Mistborn", MISTBORN_3, (), "The Hero of Ages", [("Mistborn", "3")]),
    # trailing groups
    ("The Eye of the World (The Wheel of Time, Book 1)", (), (), "The Eye of the World",
     [("The Wheel of Time", "1")]),
    ("The Eye of the World (Wheel of Time #1) [Unabridged]", (), (), "The Eye of the World",
     [("Wheel of Time", "1")]),
    ("Red Rising (Red Rising Saga #1)", (), (), "Red Rising", [("Red Rising Saga", "1")]),
    ("Heir of Fire (Throne of Glass Series Book 3)", (), (), "Heir of Fire", [("Throne of Glass", "3")]),
    ("Fourth Wing (The Empyrean, Book 1)", (), (), "Fourth Wing", [("The Empyrean", "1")]),
    ("A Court of Thorns and Roses (A Court of Thorns and Roses, #1)", (), (), "A Court of Thorns and Roses",
     [("A Court of Thorns and Roses", "1")]),
    ("Mort (Discworld, #4)", (), (), "Mort", [("Discworld", "4")]),
    ("The Hunger Games (Hunger Games Trilogy, Book 1)", (), (), "The Hunger Games",
     [("Hunger Games Trilogy", "1")]),
    ("The Lies of Locke Lamora (Gentleman Bastard, Book 1) (Unabridged)", (), (), "The Lies of Locke Lamora",
     [("Gentleman Bastard", "1")]),
    ("Artemis Fowl (Artemis Fowl, Book 1)", (), (), "Artemis Fowl", [("Artemis Fowl", "1")]),
    ("Harry Potter and the Philosopher's Stone (Harry Potter 1)", (S("Harry Potter"),), (),
     "Harry Potter and the Philosopher's Stone", [("Harry Potter", "1")]),
    ("The Girl with the Dragon Tattoo (Millennium Series)", (S("Millennium", "1"),), (),
     "The Girl with the Dragon Tattoo", [("Millennium", "1")]),
    ("The Final Empire (Book 1)", (S("Mistborn"),), (), "The Final Empire", [("Mistborn", "1")]),
    ("The Way of Kings [Stormlight Archive, Book 1]", (), (), "The Way of Kings", [("Stormlight Archive", "1")]),
    ("The Hitchhiker&#039;s Guide to the Galaxy (Hitchhiker&#039;s Guide, #1)", (), (),
     "The Hitchhiker's Guide to the Galaxy", [("Hitchhiker's Guide", "1")]),
    # the tracker's position wins over a label's
    ("Mistborn: The Hero of Ages (Mistborn #4)", MISTBORN_3, (), "The Hero of Ages", [("Mistborn", "3")]),
    # edition and format tags
    ("Dune [Unabridged]", (), (), "Dune", []),
    ("Dune (Unabridged)", (), (), "Dune", []),
    ("The Silent Patient (Audiobook)", (), (), "The Silent Patient", []),
    ("The Martian - Unabridged Edition", (), (), "The Martian", []),
    ("The Martian: Unabridged", (), (), "The Martian", []),
    ("Circe [64kbps] [m4b]", (), (), "Circe", []),
    ("Circe (Unabridged) [Retail]", (), (), "Circe", []),
    # marketing subtitles
    ("Project Hail Mary: A Novel", (), (), "Project Hail Mary", []),
    ("Project Hail Mary: A Novel [Unabridged]", (), (), "Project Hail Mary", []),
    ("11/22/63: A Novel", (), (), "11/22/63", []),
    ("Killing Floor: A Jack Reacher Novel", (), (), "Killing Floor", []),
    ("Guards! Guards!: A Discworld Novel", (), (), "Guards! Guards!", []),
    ("The Silent Patient - A Psychological Thriller", (), (), "The Silent Patient", []),
    ("Shogun: A Novel of Japan", (), (), "Shogun", []),
    ("Dungeon Crawler Carl: A LitRPG Adventure", (), (), "Dungeon Crawler Carl", []),
    # the author repeated in the title (file-name-style and Prowlarr's "Title by Author [ENG / m4b]")
    ("Brandon Sanderson - Mistborn 03 - The Hero of Ages", (S("Mistborn"),), ("Brandon Sanderson",),
     "The Hero of Ages", [("Mistborn", "3")]),
    ("The Hero of Ages by Brandon Sanderson [ENG / m4b]", (), ("Brandon Sanderson",), "The Hero of Ages", []),
    ("The Hero of Ages by Brandon Sanderson [ENG / m4b] [VIP]", (), ("Sanderson, Brandon",), "The Hero of Ages", []),
]

# titles that must come back exactly as given
KEPT = [
    # real subtitles inside the title
    ("Sapiens: A Brief History of Humankind", (), ()),
    ("Educated: A Memoir", (), ()),
    ("Killers of the Flower Moon: The Osage Murders and the Birth of the FBI", (), ()),
    ("Bad Blood: Secrets and Lies in a Silicon Valley Startup", (), ()),
    ("Unbroken: A World War II Story of Survival, Resilience, and Redemption", (), ()),
    ("Good Omens: The Nice and Accurate Prophecies of Agnes Nutter, Witch", (), ()),
    ("Hidden Figures: The Untold Story of the Black Women Mathematicians", (), ()),
    ("Atomic Habits: An Easy & Proven Way to Build Good Habits & Break Bad Ones", (), ()),
    # never invent a series from what does not clearly say so
    ("Mistborn: The Hero of Ages", (), ()),
    ("Mistborn 3: The Hero of Ages", (), ()),
    ("03 - The Hero of Ages", (), ()),
    ("Foundation and Empire (Foundation 2)", (), ()),
    ("The Girl with the Dragon Tattoo (Millennium Series)", (), ()),
    ("Caliban's War, Book 2", (), ()),  # a position of no known series: the only trace of it
    # never shortened to the series' name
    ("Mistborn: Book 3", MISTBORN_3, ()),
    ("Dungeon Crawler Carl, Book 4", (S("Dungeon Crawler Carl", "4"),), ()),
    ("Mistborn #3", MISTBORN_3, ()),
    ("Red Rising", (S("Red Rising Saga", "1"),), ()),
    ("Mistborn", (S("Mistborn", "1"),), ()),
    # an omnibus keeps its range; other recordings keep their edition
    ("The Expanse: Books 1-3", (), ()),
    ("Leviathan Wakes, Caliban's War (The Expanse, Books 1-2)", (), ()),
    ("The Way of Kings (Dramatized Adaptation)", (), ()),
    ("Dune (Abridged)", (), ()),
    ("Dune: Part Two", (), ()),
    ("Harry Potter and the Cursed Child - Parts One and Two", (), ()),
    # ordinary titles that look a little like labels
    ("Star Wars: Thrawn", (S("Star Wars: Thrawn", "1"),), ()),
    ("Stand by Me", (), ("Stephen King",)),
    ("Stephen King - The Stand", (), ()),
    ("The 7 1/2 Deaths of Evelyn Hardcastle", (), ()),
    ("Catch-22", (), ()),
    ("Fahrenheit 451", (), ()),
    ("The Book Thief", (), ()),
    ("The Jungle Book", (), ()),
    ("Dune (1965)", (), ()),
    ("A Novel", (), ()),
    ("Book 1", (S("Mistborn", "1"),), ()),
    ("  Mistborn:   The Hero of Ages ", (), ()),  # not even its spaces are touched
    ("", (), ()),
]


@pytest.mark.parametrize(("title", "known", "authors", "want", "want_series"), REMOVED,
                         ids=[r[0][:50] for r in REMOVED])
def test_series_labels_tags_and_marketing_are_removed(title, known, authors, want, want_series):
    result = tidy(title, series=known, authors=authors)
    assert result.title == want
    assert series(result) == want_series
    assert result.changed and result.removed


@pytest.mark.parametrize(("title", "known", "authors"), KEPT, ids=[r[0][:50] or "empty" for r in KEPT])
def test_titles_it_cannot_split_are_kept_exactly(title, known, authors):
    result = tidy(title, series=known, authors=authors)
    assert result.title == title
    assert not result.changed
    assert series(result) == [(s.name, s.position) for s in known]


def test_the_table_is_large_enough():
    assert len(REMOVED) + len(KEPT) >= 60


# (title, subtitle, known series, expected subtitle, expected series)
SUBTITLES = [
    ("Caliban's War", "The Expanse, Book 2", (), "", [("The Expanse", "2")]),
    ("Caliban's War", "Book Two of The Expanse", (), "", [("The Expanse", "2")]),
    ("Caliban's War", "Book 2", (S("The Expanse"),), "", [("The Expanse", "2")]),
    ("The Hero of Ages", "Mistborn, Book 3", MISTBORN_3, "", [("Mistborn", "3")]),
    ("The Way of Kings", "The Stormlight Archive, Book 1", (S("The Stormlight Archive", "1"),), "",
     [("The Stormlight Archive", "1")]),
    ("The Gate of the Feral Gods", "Dungeon Crawler Carl, Book 4", (), "", [("Dungeon Crawler Carl", "4")]),
    ("Leviathan Wakes", "Expanse Series, Book 1", (), "", [("Expanse", "1")]),
    ("Leviathan Wakes", "A Novel (The Expanse, Book 1)", (), "", [("The Expanse", "1")]),
    ("Project Hail Mary", "A Novel", (), "", []),
    ("Dungeon Crawler Carl", "A LitRPG Adventure", (), "", []),
    ("Playing with Fire", "An Inspector Banks Novel", (), "", []),
    ("Gone Girl", "A Novel of Suspense", (), "", []),
    ("Dune", "Unabridged", (), "", []),
    ("The Way of Kings", "The Stormlight Archive, Book 1 (Dramatized Adaptation)", (), "",
     [("The Stormlight Archive", "1")]),
    ("Cradle", "Cradle, Book 1", (), "", [("Cradle", "1")]),
    ("The Eye of the World", "Book 1 of the Wheel of Time Series", (), "", [("The Wheel of Time", "1")]),
    ("Mistborn: Secret History", "Mistborn, Book 3.5", (), "", [("Mistborn", "3.5")]),
    ("Leviathan Wakes", "An Expanse Novel", (), "", []),
    ("Mystery Book", "Book 2", (), "", []),  # a label of no series: still not a subtitle
    # a series label already known: the source's own series stands, the subtitle goes
    ("Golden Son", "Red Rising Saga, Book 3", (S("Red Rising", "2"),), "", [("Red Rising", "2")]),
    # real subtitles are kept exactly
    ("Educated", "A Memoir", (), "A Memoir", []),
    ("Hidden Figures", "The Untold Story of the Black Women Mathematicians", (), "The Untold Story of the Black "
     "Women Mathematicians", []),
    ("Sapiens", "A Brief History of Humankind", (), "A Brief History of Humankind", []),
    ("The Notebook", "A Love Story", (), "A Love Story", []),
    ("Atomic Habits", "An Easy & Proven Way to Build Good Habits & Break Bad Ones", (),
     "An Easy & Proven Way to Build Good Habits & Break Bad Ones", []),
    ("11/22/63", "Part One", (), "Part One", []),
    ("The Expanse", "Books 1-3", (), "Books 1-3", []),  # an omnibus says so
    ("The Way of Kings", "Dramatized Adaptation", (), "Dramatized Adaptation", []),
    ("The Name of the Wind", "The Kingkiller Chronicle, Day One", (), "The Kingkiller Chronicle, Day One", []),
    # a subtitle the title already carries is not written twice
    ("Educated: A Memoir", "A Memoir", (), "", []),
]


@pytest.mark.parametrize(("title", "subtitle", "known", "want", "want_series"), SUBTITLES,
                         ids=[f"{r[0][:20]}/{r[1][:30]}" for r in SUBTITLES])
def test_a_subtitle_survives_only_when_it_is_one(title, subtitle, known, want, want_series):
    result = tidy(title, subtitle=subtitle, series=known)
    assert result.subtitle == want
    assert series(result) == want_series
    assert result.title == title
    assert result.changed == (want != subtitle)


def test_labels_found_are_reported_and_empty_title_keeps_the_original():
    result = tidy("Leviathan Wakes: The Expanse, Book 1 [Unabridged]")
    assert result.removed == ("[Unabridged]", ": The Expanse, Book 1")
    assert result.labels == (S("The Expanse", "1"),)
    # what is left would be empty or only a label: the original stands (minus its tags)
    assert tidy("[Unabridged]").title == "[Unabridged]"
    assert tidy("Mistborn: Book 3 [Unabridged]", series=MISTBORN_3).title == "Mistborn: Book 3"


@pytest.mark.parametrize(("text", "want"), [
    ("3", "3"), ("03", "3"), ("Book Two", "2"), ("#2.5", "2.5"), ("1 - 5", "1-5"), ("Books 1-3", "1-3"),
    ("Vol. III", "3"), ("", None), ("Prequel", None), (None, None),
])
def test_position_text_is_an_abs_sequence(text, want):
    assert position_text(text) == want


@pytest.mark.parametrize(("text", "known", "want"), [
    ("The Expanse, Book 2", (), True), ("Book 2", (), True), ("Book Two of The Expanse", (), True),
    ("A Novel", (), True), ("Mistborn", MISTBORN_3, True), ("Mistborn #3", (), True),
    ("A Memoir", (), False), ("The Untold Story of Apollo 11", (), False), ("Mistborn", (), False),
    ("Part One", (), False), ("", (), False),
])
def test_is_series_label(text, known, want):
    assert is_series_label(text, known) is want


@pytest.mark.parametrize(("a", "b", "want"), [
    ("Caliban's War", "Caliban’s War", True),
    ("The Hero of Ages", "Hero of Ages", True),
    ("Sapiens", "Sapiens: A Brief History of Humankind", True),
    ("Ready Player One", "Ready Player 1", True),
    ("The Colour of Magic", "The Color of Magic", True),
    ("Leviathan Wakes", "Leviathan Falls", False),
    ("Mistborn 2", "Mistborn 3", False),
    ("Harry Potter and the Philosopher's Stone", "Harry Potter and the Sorcerer's Stone", False),
    ("First Book", "Study Guide: First Book", False),
])
def test_same_title(a, b, want):
    assert same_title(a, b) is want


def test_title_key_ignores_punctuation_case_and_articles():
    assert title_key("Mistborn: The Hero of Ages") == title_key("mistborn the hero of ages")
    assert title_key("Caliban&#039;s War") == title_key("Caliban's War")
    assert title_key("Mistborn: The Hero of Ages") != title_key("The Hero of Ages")


def test_byline_reads_prowlarrs_mam_titles_only():
    from abook.tidy import byline

    assert byline("The Hero of Ages by Brandon Sanderson [ENG / m4b]") == ("Brandon Sanderson",)
    assert byline("Stand by Me by Stephen King [ENG / mp3] [VIP]") == ("Stephen King",)
    assert byline("Good Omens by Terry Pratchett, Neil Gaiman [ENG / m4b]") == ("Terry Pratchett", "Neil Gaiman")
    assert byline("Stand by Me") == ()
    assert byline("Death by Chocolate [Unabridged]") == ()
