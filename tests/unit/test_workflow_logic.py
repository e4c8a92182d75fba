"""Plain tests of the pure parts of the workflows (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from abook.acquisition import Policy, screen
from abook.models import Release, SeriesRef
from abook.sources.base import Candidate
from abook.workflows.downloads import library_folder, metadata_json, tracker_metadata
from abook.workflows.metadata import empty_fields, fill_empty, merge, select_books, verify

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def rel(title: str, **kw) -> Release:
    return Release(source="mam", torrent_id="1", title=title, main_category="audiobook", language="English", **kw)


def test_screen_rejects_unwanted_releases():
    p = Policy()
    assert screen(rel("Dune"), p) is None
    assert "not an audiobook" in screen(Release(source="mam", torrent_id="1", title="Dune", main_category="ebook"), p)
    assert screen(rel("Dune", my_snatched=True), p) == "snatched before"
    assert "language" in screen(Release(source="mam", torrent_id="1", title="Dune", main_category="audiobook",
                                        language="German"), p)
    assert "abridged" in screen(rel("Dune (Abridged)"), p)
    assert screen(rel("Dune (Abridged)"), Policy(allow_abridged=True)) is None
    assert "dramatized" in screen(rel("Dune [GraphicAudio]"), p)
    assert "omnibus" in screen(rel("The Expanse Books 1-3 Box Set"), p)
    assert "summary" in screen(rel("Summary of Dune"), p)
    assert screen(rel("Dune [Unabridged]"), p) is None


def test_library_folder_follows_abs_layout():
    assert library_folder("Pierce Brown", "Golden Son", series="Red Rising", position="2",
                          narrator="Tim Gerard Reynolds") == Path("Pierce Brown/Red Rising/Vol 2 - Golden Son {Tim Gerard Reynolds}")
    assert library_folder("Andy Weir, Someone", "Project Hail Mary") == Path("Andy Weir/Project Hail Mary")
    assert library_folder("A/B", 'What: "Now"?') == Path("A B/What Now")


def test_metadata_json_and_patch_shapes():
    d = {"title": "Golden Son", "author": "Pierce Brown", "narrator": "Tim Gerard Reynolds",
         "series": "Red Rising", "series_position": "2", "genre": "Fantasy",
         "payload": json.dumps({"authors": ["Pierce Brown"], "narrators": ["Tim Gerard Reynolds"],
                                "series": [["Red Rising", "2"]], "language": "English"})}
    meta = metadata_json(d)
    assert meta == {"title": "Golden Son", "authors": ["Pierce Brown"], "narrators": ["Tim Gerard Reynolds"],
                    "series": ["Red Rising #2"], "language": "English", "genres": ["Fantasy"]}
    patch = tracker_metadata(d)
    assert patch["authors"] == [{"name": "Pierce Brown"}]  # objects, never bare strings
    assert patch["series"] == [{"name": "Red Rising", "sequence": "2"}]  # sequence as a string
    current = {"narrators": ["Someone"], "series": [], "language": None, "authors": [{"name": "Pierce Brown"}]}
    assert fill_empty(current, patch) == {"series": [{"name": "Red Rising", "sequence": "2"}], "language": "English"}


def cand(source: str, **kw) -> Candidate:
    base = {"source_id": "x", "title": "First Book", "authors": ("Jane Author",)}
    return Candidate(source=source, **{**base, **kw})


def test_merge_keeps_the_first_source_and_fills_gaps_from_later_ones():
    a = cand("googlebooks", isbn="9780000000011", description="From Google")
    b = cand("audible", description="From Audible", narrators=("Nora",), series=(SeriesRef("Saga", "1"),))
    out = merge(["description", "isbn", "narrators", "series", "publisher"], [a, b])
    assert out["description"] == ("From Google", "googlebooks")
    assert out["narrators"] == (["Nora"], "audible")
    assert out["series"] == ([{"name": "Saga", "sequence": "1"}], "audible")
    assert "publisher" not in out


def test_verify_rejects_study_guides_and_other_authors():
    from abook.models import BookRef

    book = BookRef("First Book", ("Jane Author",))
    guide = cand("googlebooks", title="Study Guide: First Book")
    other = cand("googlebooks", authors=("Other Person",))
    right = cand("googlebooks", isbn="9780000000011")
    assert verify(book, [guide, other, right]) is right
    assert verify(book, [guide, other]) is None


def test_empty_fields_and_selection():
    full = {"id": "a", "subtitle": "s", "description": "d", "publisher": "p", "year": "2000", "isbn": "1",
            "asin": "B", "genres": ["g"], "language": "English", "narrators": ["n"], "series": [{"name": "x"}],
            "authors": [{"name": "y"}], "has_cover": 1, "added_at": 0, "metadata_checked_at": None}
    assert empty_fields(full) == []
    sparse = {**full, "id": "b", "narrators": [], "description": None, "has_cover": 0}
    assert set(empty_fields(sparse)) == {"narrators", "description", "cover"}
    recent = {**sparse, "id": "c", "metadata_checked_at": (NOW - timedelta(days=2)).isoformat()}
    old = {**sparse, "id": "d", "metadata_checked_at": (NOW - timedelta(days=60)).isoformat()}
    new = {**sparse, "id": "e", "added_at": int(NOW.timestamp() * 1000)}
    books = [full, sparse, recent, old, new]
    chosen = select_books(books, now=NOW, mode="default", since=timedelta(days=7), item=None, recheck_days=30,
                          force=False, limit=50)
    assert [b["id"] for b in chosen][:2] in (["b", "e"], ["e", "b"])  # never-checked first
    assert "c" not in [b["id"] for b in chosen] and "a" not in [b["id"] for b in chosen]
    assert [b["id"] for b in select_books(books, now=NOW, mode="new", since=timedelta(days=7), item=None,
                                          recheck_days=30, force=False, limit=50)] == ["e"]
    assert len(select_books(books, now=NOW, mode="default", since=timedelta(days=7), item=None, recheck_days=30,
                            force=False, limit=1)) == 1
