"""What abook writes into Audiobookshelf, as plain functions: the import's folder, metadata.json
and PATCH from a tracker's download row, and what fix-metadata takes from a source's candidate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from abook.models import BookRef, SeriesRef
from abook.sources.base import Candidate
from abook.workflows.downloads import (
    book_folder,
    metadata_json,
    retitle,
    tracker_book,
    tracker_metadata,
)
from abook.workflows.metadata import (
    Selection,
    candidate_values,
    keep_subtitle,
    merge,
    tidy_plan,
    titles_to_tidy,
    verify,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def download(title: str, *, series=(), author="Brandon Sanderson", narrator="Michael Kramer", **payload) -> dict:
    body = {"authors": [a.strip() for a in author.split(",")], "narrators": [narrator] if narrator else [],
            "series": [list(s) for s in series], "language": "English", **payload}
    first = series[0] if series else (None, None)
    return {"title": title, "author": author, "narrator": narrator, "series": first[0],
            "series_position": first[1], "genre": "Fantasy", "payload": json.dumps(body)}


# ------------------------------------------------------------------------------- the import
def test_a_series_prefix_goes_from_folder_metadata_json_and_patch():
    d = download("Mistborn: The Hero of Ages", series=[("Mistborn", "3")],
                 description="<p>The final book.</p>")
    assert book_folder(d) == Path("Brandon Sanderson/Mistborn/Vol 3 - The Hero of Ages {Michael Kramer}")
    meta = metadata_json(d)
    assert meta == {"title": "The Hero of Ages", "authors": ["Brandon Sanderson"], "narrators": ["Michael Kramer"],
                    "series": ["Mistborn #3"], "language": "English", "description": "<p>The final book.</p>",
                    "genres": ["Fantasy"]}
    patch = tracker_metadata(d)
    assert patch["series"] == [{"name": "Mistborn", "sequence": "3"}]
    assert patch["description"] == "<p>The final book.</p>"


def test_a_series_suffix_becomes_the_series_when_the_tracker_names_none():
    d = download("The Gate of the Feral Gods: Dungeon Crawler Carl, Book 4", author="Matt Dinniman",
                 narrator="Jeff Hays")
    book = tracker_book(d)
    assert book.title == "The Gate of the Feral Gods"
    assert book.series == (SeriesRef("Dungeon Crawler Carl", "4"),)
    assert metadata_json(d)["series"] == ["Dungeon Crawler Carl #4"]
    assert book_folder(d) == Path("Matt Dinniman/Dungeon Crawler Carl/Vol 4 - The Gate of the Feral Gods {Jeff Hays}")


def test_every_author_and_narrator_and_an_abs_readable_sequence():
    d = download("Good Omens [Unabridged]", author="Terry Pratchett, Neil Gaiman", narrator="Martin Jarvis",
                 series=[("Hitchhiker", "1 - 5")])
    meta = metadata_json(d)
    assert meta["title"] == "Good Omens"
    assert meta["authors"] == ["Terry Pratchett", "Neil Gaiman"]
    # ABS reads "Name #seq" only when seq has no space: "1 - 5" would end up in the series name
    assert meta["series"] == ["Hitchhiker #1-5"]
    weird = download("Dune", series=[("Dune", "Prequel Two")])
    assert metadata_json(weird)["series"] == ["Dune"]


def test_a_title_the_cleaner_cannot_split_is_imported_as_given():
    d = download("Mistborn: The Hero of Ages", series=())  # the tracker names no series
    assert metadata_json(d)["title"] == "Mistborn: The Hero of Ages"
    assert "series" not in metadata_json(d)
    assert book_folder(d) == Path("Brandon Sanderson/Mistborn The Hero of Ages {Michael Kramer}")


def test_the_patch_after_the_scan_retitles_only_a_dirty_form_of_the_same_title():
    book = tracker_book(download("Mistborn: The Hero of Ages", series=[("Mistborn", "3")]))
    assert retitle("The Hero of Ages", book) is None  # metadata.json did its job
    assert retitle("Mistborn: The Hero of Ages", book) == "The Hero of Ages"  # the tracker's own title
    assert retitle("Mistborn The Hero of Ages", book) == "The Hero of Ages"  # the torrent's folder name
    assert retitle("The Hero of Ages [Unabridged]", book) == "The Hero of Ages"  # audio tags
    assert retitle("", book) == "The Hero of Ages"
    assert retitle("Something Else Entirely", book) is None  # someone chose it: left alone


# ----------------------------------------------------------------------------- fix-metadata
def cand(**kw) -> Candidate:
    base = {"source": "audible", "source_id": "B0X", "title": "Caliban's War", "authors": ("James S. A. Corey",)}
    return Candidate(**{**base, **kw})


def test_a_series_label_subtitle_fills_the_series_and_is_never_a_subtitle():
    audible = cand(subtitle="The Expanse, Book 2")
    values = candidate_values(audible)
    assert values["subtitle"] is None
    assert values["series"] == [{"name": "The Expanse", "sequence": "2"}]
    # the source's own series stands; the label only gives it a missing sequence
    named = cand(subtitle="Expanse, Book 2", series=(SeriesRef("The Expanse", None),))
    assert candidate_values(named)["series"] == [{"name": "The Expanse", "sequence": "2"}]
    google = cand(source="googlebooks", subtitle="Book Two of the Expanse", series=(SeriesRef("The Expanse", "2"),))
    assert candidate_values(google)["subtitle"] is None
    real = cand(title="Hidden Figures", subtitle="The Untold Story of the Black Women Mathematicians")
    assert candidate_values(real)["subtitle"] == "The Untold Story of the Black Women Mathematicians"
    novel = cand(title="Project Hail Mary", subtitle="A Novel")
    assert candidate_values(novel)["subtitle"] is None
    # merged over sources: the label does not fill "subtitle", it fills "series"
    out = merge(["subtitle", "series"], [audible])
    assert "subtitle" not in out and out["series"] == ([{"name": "The Expanse", "sequence": "2"}], "audible")


def test_a_candidate_whose_tidy_title_differs_is_not_a_match():
    book = BookRef("Caliban's War", ("James S. A. Corey",), series=(SeriesRef("The Expanse", "2"),))
    assert verify(book, [cand(title="Caliban's War: The Expanse, Book 2")]) is not None
    assert verify(book, [cand(title="Caliban's War", subtitle="The Expanse, Book 2")]) is not None
    assert verify(book, [cand(title="Leviathan Wakes", series=(SeriesRef("The Expanse", "2"),))]) is None
    # the book's own untidy title is judged tidied with the source's series
    untidy = BookRef("Mistborn: The Hero of Ages", ("Brandon Sanderson",))
    hero = cand(title="The Hero of Ages", authors=("Brandon Sanderson",), series=(SeriesRef("Mistborn", "3"),))
    assert verify(untidy, [hero]) is hero
    other = cand(title="The Well of Ascension", authors=("Brandon Sanderson",), series=(SeriesRef("Mistborn", "2"),))
    assert verify(untidy, [other]) is None


def test_a_subtitle_the_title_already_carries_is_not_written():
    assert not keep_subtitle("Educated: A Memoir", "A Memoir")
    assert keep_subtitle("Educated", "A Memoir")
    assert not keep_subtitle("Educated", "")


def row(book_id: str, title: str, subtitle=None, series=(), authors=("Brandon Sanderson",), added=0) -> dict:
    return {"id": book_id, "title": title, "subtitle": subtitle,
            "series": [{"name": n, "sequence": p} for n, p in series], "authors": [{"name": a} for a in authors],
            "added_at": added, "metadata_checked_at": None}


def test_tidy_plan_changes_only_what_the_cleaner_changes():
    assert tidy_plan("Mistborn: The Hero of Ages", None, [{"name": "Mistborn", "sequence": "3"}], []) == {
        "title": "The Hero of Ages"}
    plan = tidy_plan("Caliban's War", "The Expanse, Book 2", [], [])
    assert plan == {"subtitle": None, "series": [{"name": "The Expanse", "sequence": "2"}]}
    # a series the book has keeps its name; only an empty sequence is filled
    plan = tidy_plan("Caliban's War", "Book 2", [{"name": "Expanse", "sequence": None}], [])
    assert plan == {"subtitle": None, "series": [{"name": "Expanse", "sequence": "2"}]}
    assert tidy_plan("Caliban's War", "Expanse, Book 3", [{"name": "Expanse", "sequence": "2"}], []) == {
        "subtitle": None}
    assert tidy_plan("Sapiens: A Brief History of Humankind", None, [], []) == {}
    assert tidy_plan("Educated", "A Memoir", [], []) == {}
    assert tidy_plan(None, None, [], []) == {}


def test_titles_to_tidy_counts_by_kind():
    rows = [
        row("a", "Mistborn: The Hero of Ages", series=[("Mistborn", "3")]),
        row("b", "Dune [Unabridged]"),
        row("c", "Caliban's War", "The Expanse, Book 2"),
        row("d", "Project Hail Mary: A Novel"),
        row("e", "Sapiens: A Brief History of Humankind"),
        row("f", "Mistborn: Book 3", series=[("Mistborn", "3")]),
    ]
    out = titles_to_tidy(rows)
    assert out["to_tidy"] == 4
    assert out["by_kind"]["series"] == 1 and out["by_kind"]["tag"] == 1
    assert out["by_kind"]["subtitle"] == 1 and out["by_kind"]["marketing"] == 1
    assert [e["id"] for e in out["examples"]] == ["a", "b", "c", "d"]
    assert out["examples"][0]["tidy"] == {"title": "The Hero of Ages"}


def test_tidy_scope_follows_new_all_item_and_max():
    recent = int((NOW - timedelta(days=1)).timestamp() * 1000)
    books = [row("a", "Dune [Unabridged]"), row("b", "Circe (Audiobook)", added=recent), row("c", "Clean Title")]
    def pick(**kw):
        sel = Selection.from_options(**{"new": False, "all_books": False, "since": None, "item": None,
                                        "force": False, "limit": None, "daily_max": 1, "recheck_days": 30, **kw})
        return [b["id"] for b in sel.pick_untidy(books, NOW)]
    assert pick() == ["a", "b"]  # METADATA_DAILY_MAX bounds source requests, not tidying
    assert pick(new=True) == ["b"]
    assert pick(item="a") == ["a"]
    assert pick(item="c") == []
    assert pick(limit=1) == ["a"]


def test_a_prowlarr_release_names_its_author_only_in_the_title():
    d = {"source": "prowlarr", "title": "The Hero of Ages by Brandon Sanderson [ENG / m4b] [VIP]", "author": "",
         "narrator": "", "series": None, "series_position": None, "genre": None,
         "payload": json.dumps({"authors": [], "narrators": [], "series": []})}
    book = tracker_book(d)
    assert (book.title, book.authors) == ("The Hero of Ages", ("Brandon Sanderson",))
    assert book_folder(d) == Path("Brandon Sanderson/The Hero of Ages")
    assert metadata_json(d) == {"title": "The Hero of Ages", "authors": ["Brandon Sanderson"]}
    # a MAM row names its authors: a " by " in its title is part of the title
    mam = download("Stand by Me", author="Stephen King", narrator="")
    assert tracker_book(mam).title == "Stand by Me"
