"""`abook fix-metadata` end to end against the fake ABS and fake Google Books / Audible / Goodreads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.metadata import (
    FakeAudible,
    FakeBook,
    FakeGoodreads,
    FakeGoogleBooks,
    default_catalogue,
)

ABS_TOKEN = "test-abs-token-metadata"
GOOGLE_KEY = "test-google-key-0123456789"


@pytest.fixture
def world(tmp_path: Path):
    catalogue = default_catalogue()
    # A study guide that a source ranks first must never be taken for the book.
    catalogue.add(FakeBook("Study Guide: First Book", ("Jane Author",), description="A summary and analysis.",
                           publisher="Notes Inc", readers=10_000, services=frozenset({"google"})))
    abs_fake = FakeABS(token=ABS_TOKEN)
    ids = {
        "first": abs_fake.add_book("First Book", authors=["Jane Author"], series=[("Example Saga", "1")],
                                   publisher="Kept Publisher"),
        "standalone": abs_fake.add_book("Lonely Standalone", authors=["Jane Author"]),
        "cot": abs_fake.add_book("Children of Time", authors=["Adrian Tchaikovsky"]),
        "unknown": abs_fake.add_book("A Book Nobody Knows", authors=["Nobody"]),
    }
    with abs_fake.serve(), FakeGoogleBooks(catalogue) as google, FakeAudible(catalogue) as audible, \
            FakeGoodreads(catalogue) as goodreads:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
            "GOOGLE_BOOKS_URL": google.url, "GOOGLE_BOOKS_API_KEY": GOOGLE_KEY,
            "AUDIBLE_URL": audible.url, "GOODREADS_URL": goodreads.url,
            "METADATA_SOURCES": "googlebooks,goodreads,audible",
            "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, abs_fake, ids, google, audible, goodreads


def _db(env) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def _patched(abs_fake: FakeABS, item_id: str) -> dict:
    merged: dict = {}
    for p in abs_fake.patches:
        if p.item_id == item_id:
            merged.update((p.body or {}).get("metadata") or {})
    return merged


def test_fills_only_empty_fields_and_records_sources(world):
    env, abs_fake, ids, google, _audible, _goodreads = world
    res = run_abook(["fix-metadata"], env)
    assert res.code == 0, res.output
    res.assert_no_secret([GOOGLE_KEY, ABS_TOKEN])
    first = _patched(abs_fake, ids["first"])
    assert "publisher" not in first  # never overwrite
    assert "title" not in first and "authors" not in first and "series" not in first
    assert first.get("isbn") == "9780000000011"
    assert "begins" in first.get("description", "")
    assert "summary" not in first.get("description", "").lower()
    assert abs_fake.book(ids["first"])["media"]["metadata"]["publisher"] == "Kept Publisher"
    # Google has no narrator: the next source in METADATA_SOURCES fills what earlier ones left.
    assert first.get("narrators") == ["Nora Narrator"]
    cot = _patched(abs_fake, ids["cot"])
    assert cot.get("asin") == "B0FAKECOT1" and cot.get("narrators") == ["Mel Hudson"]
    assert _patched(abs_fake, ids["unknown"]) == {}
    # A missing cover is set through POST /api/items/:id/cover (never via the PATCH, whose
    # failure would sink every other field) and recorded like any other field.
    covers = [p for p in abs_fake.patches if p.via == "cover" and p.item_id == ids["first"]]
    assert covers and covers[0].body["cover"].startswith("https://")
    assert abs_fake.book(ids["first"])["media"]["coverPath"]
    db = _db(env)
    sources = json.loads(db.execute("SELECT metadata_source FROM books WHERE id=?", (ids["first"],)).fetchone()[0])
    assert sources["isbn"] == "googlebooks" and sources["narrators"] == "goodreads"
    rows = db.execute("SELECT field, source, old, new FROM metadata_corrections WHERE book_id=?",
                      (ids["first"],)).fetchall()
    assert {r["field"] for r in rows} == {*first, "cover"}
    assert all(r["source"] in {"googlebooks", "audible", "goodreads"} for r in rows)
    checked = db.execute("SELECT COUNT(*) FROM books WHERE metadata_checked_at IS NOT NULL").fetchone()[0]
    assert checked == 4
    assert "completeness" in res.stdout


def test_rerun_on_unchanged_library_makes_no_request(world):
    env, _abs, _ids, google, audible, goodreads = world
    assert run_abook(["fix-metadata"], env).code == 0
    before = (len(google.requests), len(audible.requests), len(goodreads.requests))
    again = run_abook(["fix-metadata"], env)
    assert again.code == 0, again.output
    assert (len(google.requests), len(audible.requests), len(goodreads.requests)) == before
    assert "0 books looked at" in again.stdout


def test_dry_run_prints_diff_and_changes_nothing(world):
    env, abs_fake, ids, *_ = world
    res = run_abook(["fix-metadata", "--dry-run", "--all"], env)
    assert res.code == 0, res.output
    assert "isbn" in res.stdout and "9780000000011" in res.stdout and "googlebooks" in res.stdout
    assert abs_fake.patches == []
    assert _db(env).execute("SELECT COUNT(*) FROM metadata_corrections").fetchone()[0] == 0


def test_google_quota_and_goodreads_waf_skip_the_source_once(world):
    env, abs_fake, ids, google, audible, goodreads = world
    google.mode = "quota"
    goodreads.mode = "waf"
    res = run_abook(["fix-metadata"], env)
    assert res.code == 0, res.output
    assert res.stdout.count("googlebooks skipped") + res.stderr.count("googlebooks skipped") >= 1
    assert len(google.requests) == 1 and len(goodreads.requests) == 1  # not asked again this run
    assert _patched(abs_fake, ids["first"]).get("narrators") == ["Nora Narrator"]  # Audible still fills
    res.assert_no_secret([GOOGLE_KEY])


def test_item_and_force(world):
    env, abs_fake, ids, google, *_ = world
    assert run_abook(["fix-metadata", "--item", ids["standalone"]], env).code == 0
    assert _patched(abs_fake, ids["standalone"]).get("isbn") == "9780000001001"
    assert _patched(abs_fake, ids["first"]) == {}


def test_report_shows_completeness_before_after_and_sources_per_field(world):
    env, *_ = world
    assert run_abook(["fix-metadata"], env).code == 0
    data = json.loads(run_abook(["report", "--json"], env).stdout)["metadata"]
    last = data["last_run"]
    assert last["completeness_after"] > last["completeness_before"]
    assert set(data["by_field"]["isbn"]) == {"googlebooks"}
    assert "goodreads" in data["by_field"]["narrators"]
    text = run_abook(["report"], env).stdout
    assert "Fields filled, by source" in text and "last fix-metadata run: completeness" in text


# --------------------------------------------------------------------- curated titles
COREY = ("James S. A. Corey",)


@pytest.fixture
def untidy(tmp_path: Path):
    """Sources that put the series in the subtitle, as Audible's catalog and Google Books do, and
    a library whose titles and subtitles carry series labels and edition tags."""
    catalogue = default_catalogue()
    expanse = "The Expanse"
    catalogue.add(FakeBook("Caliban's War", COREY, ((expanse, "2"),), ("Jefferson Mays",), asin="B0FAKEEXP2",
                           isbn="9780000002002", description="<p>The war begins.</p>",
                           subtitles={"google": "The Expanse, Book 2", "audible": "The Expanse, Book 2"}))
    catalogue.add(FakeBook("Leviathan Wakes", COREY, ((expanse, "1"),), ("Jefferson Mays",), asin="B0FAKEEXP1",
                           isbn="9780000002001", subtitles={"google": "Book One of the Expanse",
                                                            "audible": "The Expanse, Book 1"}))
    catalogue.add(FakeBook("Educated", ("Tara Westover",), (), ("Julia Whelan",), subtitle="A Memoir",
                           asin="B0FAKEEDU1", isbn="9780000003001"))
    abs_fake = FakeABS(token=ABS_TOKEN)
    ids = {
        "caliban": abs_fake.add_book("Caliban's War", authors=list(COREY), publisher="Orbit"),
        "leviathan": abs_fake.add_book("Leviathan Wakes", authors=list(COREY), subtitle="The Expanse, Book 1",
                                       isbn="9780000002001"),
        "hero": abs_fake.add_book("Mistborn: The Hero of Ages [Unabridged]", authors=["Brandon Sanderson"],
                                  series=[("Mistborn", "3")], isbn="9780000004003"),
        "educated": abs_fake.add_book("Educated", authors=["Tara Westover"]),
        "sapiens": abs_fake.add_book("Sapiens: A Brief History of Humankind", authors=["Yuval Noah Harari"],
                                     isbn="9780000005001"),
    }
    with abs_fake.serve(), FakeGoogleBooks(catalogue) as google, FakeAudible(catalogue) as audible:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN,
            "GOOGLE_BOOKS_URL": google.url, "GOOGLE_BOOKS_API_KEY": GOOGLE_KEY, "AUDIBLE_URL": audible.url,
            "METADATA_SOURCES": "googlebooks,audible", "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, abs_fake, ids


def _meta(abs_fake: FakeABS, item_id: str) -> dict:
    return abs_fake.book(item_id)["media"]["metadata"]


def test_a_series_label_subtitle_fills_the_series_and_is_never_written(untidy):
    env, abs_fake, ids = untidy
    res = run_abook(["fix-metadata", "--all"], env)
    assert res.code == 0, res.output
    caliban = _patched(abs_fake, ids["caliban"])
    assert "subtitle" not in caliban  # both sources said "The Expanse, Book 2": not a subtitle
    assert caliban["series"] == [{"name": "The Expanse", "sequence": "2"}]
    assert caliban["isbn"] == "9780000002002" and caliban["narrators"] == ["Jefferson Mays"]
    meta = _meta(abs_fake, ids["caliban"])
    assert meta["subtitle"] is None and [(s["name"], s["sequence"]) for s in meta["series"]] == [("The Expanse", "2")]
    # a real subtitle is written
    assert _patched(abs_fake, ids["educated"]).get("subtitle") == "A Memoir"
    # no source label ever became a subtitle, anywhere
    assert not any(
        "Book" in ((p.body or {}).get("metadata") or {}).get("subtitle", "") for p in abs_fake.patches
    )
    db = _db(env)
    assert db.execute("SELECT COUNT(*) FROM metadata_corrections WHERE field='subtitle' AND new LIKE '%Book%'"
                      ).fetchone()[0] == 0
    # titles are never changed by default, not even untidy ones
    assert _meta(abs_fake, ids["hero"])["title"] == "Mistborn: The Hero of Ages [Unabridged]"
    assert not any("title" in ((p.body or {}).get("metadata") or {}) for p in abs_fake.patches)
    # ...but the report counts them
    titles = json.loads(run_abook(["report", "--json"], env).stdout)["titles"]
    assert titles["to_tidy"] == 2  # the Mistborn title, the Leviathan Wakes subtitle
    assert {e["id"] for e in titles["examples"]} == {ids["hero"], ids["leviathan"]}
    assert "titles to tidy: 2" in run_abook(["report"], env).stdout


def test_tidy_titles_dry_run_then_for_real(untidy):
    env, abs_fake, ids = untidy
    dry = run_abook(["fix-metadata", "--tidy-titles", "--dry-run"], env)
    assert dry.code == 0, dry.output
    assert "The Hero of Ages" in dry.stdout and "tidy" in dry.stdout and "2 titles would be tidied" in dry.stdout
    assert abs_fake.patches == []
    assert _db(env).execute("SELECT COUNT(*) FROM metadata_corrections").fetchone()[0] == 0

    res = run_abook(["fix-metadata", "--tidy-titles"], env)
    assert res.code == 0, res.output
    hero = _meta(abs_fake, ids["hero"])
    assert hero["title"] == "The Hero of Ages"
    assert [(s["name"], s["sequence"]) for s in hero["series"]] == [("Mistborn", "3")]
    leviathan = _meta(abs_fake, ids["leviathan"])
    assert leviathan["subtitle"] is None and leviathan["title"] == "Leviathan Wakes"
    assert [(s["name"], s["sequence"]) for s in leviathan["series"]] == [("The Expanse", "1")]
    # a title the cleaner cannot split is kept exactly
    assert _meta(abs_fake, ids["sapiens"])["title"] == "Sapiens: A Brief History of Humankind"
    assert not any(p.item_id == ids["sapiens"] and "title" in ((p.body or {}).get("metadata") or {})
                   for p in abs_fake.patches)
    db = _db(env)
    rows = {(r["book_id"], r["field"]): (r["old"], r["new"]) for r in db.execute(
        "SELECT book_id, field, old, new FROM metadata_corrections WHERE source='tidy'")}
    assert rows[(ids["hero"], "title")] == ("Mistborn: The Hero of Ages [Unabridged]", "The Hero of Ages")
    assert rows[(ids["leviathan"], "subtitle")][0] == "The Expanse, Book 1"
    # the mirror follows, the report has nothing left to tidy, a second run changes nothing
    assert db.execute("SELECT title FROM books WHERE id=?", (ids["hero"],)).fetchone()[0] == "The Hero of Ages"
    assert json.loads(run_abook(["report", "--json"], env).stdout)["titles"]["to_tidy"] == 0
    before = len(abs_fake.patches)
    again = run_abook(["fix-metadata", "--tidy-titles"], env)
    assert again.code == 0, again.output
    assert len(abs_fake.patches) == before
