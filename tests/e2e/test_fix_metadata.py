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
