"""`abook scan`, `report` and `doctor` as a user runs them, against the fake ABS on loopback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS

TOKEN = "test-abs-token-0123456789"


@pytest.fixture
def fake_abs():
    fake = FakeABS(token=TOKEN)
    fake.add_book("The Final Empire", authors=["Brandon Sanderson"], narrators=["Michael Kramer"],
                  series=[("Mistborn", "1"), ("The Cosmere", None)], genres=["Fantasy"], year="2006",
                  isbn="9780765311788")
    fake.add_book("The Well of Ascension", authors=["Brandon Sanderson"], narrators=["Michael Kramer"],
                  series=[("Mistborn", "2")], genres=["Fantasy"])
    fake.add_book("Project Hail Mary", authors=["Andy Weir"], narrators=["Ray Porter"], asin="B08G9PRS1K",
                  description="A lone astronaut.", publisher="Audible Studios", language="English")
    fake.add_book("Good Omens", authors=["Terry Pratchett", "Neil Gaiman"], narrators=["Martin Jarvis"])
    fake.add_book("Golden Son", authors=["Pierce Brown"], series=[("Red Rising", "2.5")])
    with fake.serve():
        yield fake


@pytest.fixture
def env(tmp_path: Path, fake_abs: FakeABS) -> dict[str, str]:
    return {"ABS_URL": fake_abs.url, "ABS_TOKEN": TOKEN, "ABOOK_DB": str(tmp_path / "state" / "abook.db")}


def _db(env: dict[str, str]) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def test_first_scan_mirrors_every_book_then_rescan_changes_nothing(env, fake_abs):
    first = run_abook(["scan"], env)
    assert first.code == 0, first.output
    assert "+5 new, ~0 changed, -0 removed" in first.stdout
    first.assert_no_secret([TOKEN])
    rows = {r["title"]: r for r in _db(env).execute("SELECT * FROM books")}
    assert set(rows) == {"The Final Empire", "The Well of Ascension", "Project Hail Mary", "Good Omens",
                         "Golden Son"}
    fe = rows["The Final Empire"]
    assert [a["name"] for a in json.loads(fe["authors"])] == ["Brandon Sanderson"]
    assert all(a["id"] for a in json.loads(fe["authors"]))  # ids from the expanded record
    assert json.loads(fe["narrators"]) == ["Michael Kramer"]
    series = {s["name"]: s["sequence"] for s in json.loads(fe["series"])}
    assert series == {"Mistborn": "1", "The Cosmere": None}
    assert fe["isbn"] == "9780765311788" and fe["year"] == "2006"
    assert json.loads(rows["Golden Son"]["series"])[0]["sequence"] == "2.5"
    assert [a["name"] for a in json.loads(rows["Good Omens"]["authors"])] == ["Terry Pratchett", "Neil Gaiman"]
    assert 0 < rows["Project Hail Mary"]["completeness"] <= 1
    db = _db(env)
    assert db.execute("SELECT COUNT(*) FROM authors WHERE removed_at IS NULL").fetchone()[0] == 5
    mistborn = db.execute("SELECT * FROM series WHERE name='Mistborn'").fetchone()
    assert mistborn["owned"] == 2
    assert (Path(env["ABOOK_DB"]).stat().st_mode & 0o777) == 0o600

    batch_calls = sum(1 for r in fake_abs.requests if r.path.startswith("/api/items/batch/get"))
    second = run_abook(["scan"], env)
    assert second.code == 0, second.output
    assert "+0 new, ~0 changed, -0 removed" in second.stdout
    # An unchanged library is not fetched in full again.
    assert sum(1 for r in fake_abs.requests if r.path.startswith("/api/items/batch/get")) == batch_calls


def test_an_edit_and_a_removal_are_seen_exactly_once(env, fake_abs):
    assert run_abook(["scan"], env).code == 0
    pid = fake_abs.find_books("Project Hail Mary")[0]
    fake_abs.edit_book(pid, narrators=["Ray Porter", "Someone Else"])
    gone = fake_abs.find_books("Golden Son")[0]
    fake_abs.remove_book(gone)
    res = run_abook(["scan"], env)
    assert res.code == 0, res.output
    assert "+0 new, ~1 changed, -1 removed" in res.stdout
    db = _db(env)
    assert json.loads(db.execute("SELECT narrators FROM books WHERE id=?", (pid,)).fetchone()[0]) == [
        "Ray Porter", "Someone Else"]
    assert db.execute("SELECT removed_at FROM books WHERE id=?", (gone,)).fetchone()[0] is not None
    assert "+0 new, ~0 changed, -0 removed" in run_abook(["scan"], env).stdout


def test_author_rename_without_updated_at_is_picked_up(env, fake_abs):
    assert run_abook(["scan"], env).code == 0
    author = fake_abs.author_id("Andy Weir")
    fake_abs.rename_author(author, "Andrew Weir")
    res = run_abook(["scan"], env)
    assert "~1 changed" in res.stdout, res.output
    row = _db(env).execute("SELECT authors FROM books WHERE title='Project Hail Mary'").fetchone()
    assert json.loads(row[0])[0]["name"] == "Andrew Weir"


def test_dry_run_shows_changes_and_writes_nothing(env, fake_abs):
    res = run_abook(["scan", "--dry-run"], env)
    assert res.code == 0, res.output
    assert "dry run" in res.stdout and "+5 new" in res.stdout
    assert "new: The Final Empire" in res.stdout
    assert _db(env).execute("SELECT COUNT(*) FROM books").fetchone()[0] == 0


def test_report_after_scan_text_and_json(env):
    assert run_abook(["scan"], env).code == 0
    text = run_abook(["report"], env)
    assert text.code == 0, text.output
    assert "Library" in text.stdout and "Metadata completeness" in text.stdout
    data = json.loads(run_abook(["report", "--json"], env).stdout)
    assert data["schema"] == 1
    assert data["library"]["books"] == 5
    assert data["library"]["fields"]["narrators"]["filled"] == 4
    assert data["runs"][-1]["command"] in {"report", "scan"}
    assert any(r["command"] == "scan" and r["status"] == "ok" for r in data["runs"])


def test_doctor_reports_abs_version(env):
    res = run_abook(["doctor", "--json"], {**env, "QB_URL": ""})
    assert res.code == 0, res.output
    data = json.loads(res.stdout)
    abs_check = next(s for s in data["services"] if s["service"] == "Audiobookshelf")
    assert abs_check["ok"] and abs_check["version"] == "2.36.0"
    res.assert_no_secret([TOKEN])


# --------------------------------------------------------------------- faults
def test_wrong_token_is_exit_3_with_one_line(env):
    res = run_abook(["scan"], {**env, "ABS_TOKEN": "wrong-token-abcdef"})
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "ABS_TOKEN was refused" in res.stderr
    res.assert_no_secret(["wrong-token-abcdef"])
    doctor = run_abook(["doctor"], {**env, "ABS_TOKEN": "wrong-token-abcdef"})
    assert doctor.code == 3
    doctor.assert_no_secret(["wrong-token-abcdef"])


def test_server_error_is_retried_then_exit_3(env, fake_abs):
    fake_abs.fail_next(500, path_prefix="/api/libraries", times=10)
    res = run_abook(["scan"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "500" in res.stderr
    # recorded as a failed task
    row = _db(env).execute("SELECT status, error FROM tasks WHERE command='scan'").fetchone()
    assert row["status"] == "failed" and "500" in row["error"]
    assert _db(env).execute("SELECT COUNT(*) FROM failed_attempts").fetchone()[0] == 1


def test_transient_error_recovers(env, fake_abs):
    fake_abs.fail_next(503, path_prefix="/api/libraries", times=1)
    res = run_abook(["scan"], env)
    assert res.code == 0, res.output
    assert "+5 new" in res.stdout


def test_timeout_is_exit_3(env, fake_abs):
    fake_abs.slow_delay = 5
    fake_abs.set_mode("slow", "/api/libraries")
    res = run_abook(["scan"], {**env, "HTTP_TIMEOUT": "0.5", "HTTP_RETRIES": "1"})
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert "timed out" in res.stderr


@pytest.mark.parametrize("mode", ["malformed", "html"])
def test_bad_bodies_are_exit_3(env, fake_abs, mode):
    fake_abs.set_mode(mode, "/api/")
    res = run_abook(["scan"], env)
    assert res.code == 3, res.output
    res.assert_one_line_error()
    assert ("malformed JSON" if mode == "malformed" else "HTML page") in res.stderr


def test_unreachable_service_is_exit_3(env):
    res = run_abook(["scan"], {**env, "ABS_URL": "http://127.0.0.1:9"})
    assert res.code == 3
    res.assert_one_line_error()
    assert "ABS_URL" in res.stderr


@pytest.mark.parametrize(
    ("extra", "needle"),
    [({"ABS_TOKEN": ""}, "ABS_TOKEN is not set"), ({"ABS_URL": "not a url"}, "ABS_URL"),
     ({"HTTP_TIMEOUT": "soon"}, "HTTP_TIMEOUT"), ({"ABS_LIBRARY": "Podcasts"}, "ABS_LIBRARY")],
)
def test_configuration_errors_are_exit_2(env, extra, needle):
    res = run_abook(["scan"], {**env, **extra})
    assert res.code == 2, res.output
    res.assert_one_line_error()
    assert needle in res.stderr


def test_second_concurrent_run_exits_75(env, tmp_path):
    import fcntl
    import os

    db = Path(env["ABOOK_DB"])
    db.parent.mkdir(parents=True, exist_ok=True)
    lock = db.with_name(db.name + ".scan.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a running `abook scan` holds
    try:
        res = run_abook(["scan"], env)
    finally:
        os.close(fd)
    assert res.code == 75, res.output
    assert "still running" in res.stderr
    assert run_abook(["scan"], env).code == 0


def test_help_on_every_command():
    from abook.cli import app

    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"scan", "doctor", "report"} <= set(names)
    for name in names:
        res = run_abook([name, "--help"], {})
        assert res.code == 0, res.output
        assert "Examples" in res.stdout


def test_missing_files_stay_owned_and_are_reported(env, fake_abs):
    assert run_abook(["scan"], env).code == 0
    gone = fake_abs.find_books("Good Omens")[0]
    fake_abs.remove_book(gone, missing=True)  # ABS keeps the item, flags isMissing
    res = run_abook(["scan"], env)
    assert "~1 changed, -0 removed" in res.stdout, res.output
    data = json.loads(run_abook(["report", "--json"], env).stdout)
    assert data["library"]["books"] == 5 and data["library"]["files_missing"] == 1
    assert all(r["status"] != "running" for r in data["runs"])  # the report does not list itself


# --------------------------------------------------------------- the minified first scan
def _mirror(env: dict[str, str]) -> dict[str, dict]:
    from abook.library import BOOK_FIELDS

    with _db(env) as db:
        return {r["id"]: {c: r[c] for c in BOOK_FIELDS} for r in db.execute("SELECT * FROM books")}


def _expanded_mirror(fake: FakeABS) -> dict[str, dict]:
    """The mirror built from every item's expanded record (batch/get), the way scans built it."""
    from abook.clients.audiobookshelf import Audiobookshelf
    from abook.library import BOOK_FIELDS, book_row, fingerprint

    with Audiobookshelf(fake.url, TOKEN) as client:
        items = client.batch_get(fake.item_ids)
    assert len(items) == len(fake.item_ids)
    return {i.id: {c: book_row(i, fp=fingerprint(i))[c] for c in BOOK_FIELDS} for i in items}


def _requests(fake: FakeABS, path_part: str) -> list:
    return [r for r in fake.requests if path_part in r.path]


def _hard_names(fake: FakeABS) -> dict[str, str]:
    """Books whose joined strings a plain split on ", " and " #" gets wrong."""
    return {
        "mlk": fake.add_book("Strength to Love", authors=["Martin Luther King, Jr."], genres=["History"],
                             description="<p>Sermons &amp; <b>speeches</b>.</p>", year=1963),
        "co": fake.add_book("The Autobiography", authors=["Martin Luther King, Jr.", "Coretta Scott King"],
                            narrators=["Clayborne Carson", "Full Cast, The"]),
        "gaiman": fake.add_book("Good Omens", authors=["Terry Pratchett", "Neil Gaiman"],
                                narrators=["Martin Jarvis"], series=[("Discworld Adjacent", None)]),
        "secret": fake.add_book("Secret History", authors=["Brandon Sanderson"],
                                narrators=["Michael Kramer", "Kate Reading"],
                                series=[("Mistborn", "0.5"), ("The Cosmere", "0")]),
        "hero": fake.add_book("The Hero of Ages", authors=["Brandon Sanderson"], series=[("Mistborn", "3")],
                              narrators=["Michael Kramer"]),
        "kitchen": fake.add_book("Hell's Kitchen", authors=["Gordon Ramsay"],
                                 series=[("Kitchen #5", "2"), ("Lords, Liars and Thieves", "1.5")]),
        "lords": fake.add_book("Thieves' World", authors=["Lynn Abbey"],
                               series=[("Lords, Liars and Thieves", "1")]),
        "gone": fake.add_book("Lost Book", authors=["Neil Gaiman"], series=[("Mistborn", "4")]),
    }


def test_a_first_scan_from_the_pages_equals_the_mirror_of_expanded_records(env, fake_abs):
    ids = _hard_names(fake_abs)
    fake_abs.remove_book(ids["gone"], missing=True)  # still listed, flagged isMissing
    res = run_abook(["-v", "scan"], env)
    assert res.code == 0, res.output
    assert "+13 new" in res.stdout
    assert "13 new or changed items mirrored from the item pages, 0 read in full" in res.stderr
    assert not _requests(fake_abs, "/api/items/batch/get")  # nothing asked for in full
    assert len(_requests(fake_abs, "/filterdata")) == 1

    mirror = _mirror(env)
    assert mirror == _expanded_mirror(fake_abs)  # every row, field by field
    # ... and what the rows say is ABS's truth, not only what abook's two paths agree on
    mlk = mirror[ids["mlk"]]
    assert json.loads(mlk["authors"]) == [{"id": fake_abs.author_id("Martin Luther King, Jr."),
                                           "name": "Martin Luther King, Jr."}]
    assert json.loads(mlk["narrators"]) == [] and mlk["description"] == "Sermons & speeches."
    co = mirror[ids["co"]]
    assert [a["name"] for a in json.loads(co["authors"])] == ["Martin Luther King, Jr.", "Coretta Scott King"]
    assert json.loads(co["narrators"]) == ["Clayborne Carson", "Full Cast, The"]
    assert json.loads(mirror[ids["secret"]]["series"]) == [
        {"id": fake_abs.series_id("Mistborn"), "name": "Mistborn", "sequence": "0.5"},
        {"id": fake_abs.series_id("The Cosmere"), "name": "The Cosmere", "sequence": "0"}]
    assert json.loads(mirror[ids["kitchen"]]["series"]) == [
        {"id": fake_abs.series_id("Kitchen #5"), "name": "Kitchen #5", "sequence": "2"},
        {"id": fake_abs.series_id("Lords, Liars and Thieves"), "name": "Lords, Liars and Thieves",
         "sequence": "1.5"}]
    assert json.loads(mirror[ids["gaiman"]]["series"])[0]["sequence"] is None
    assert mirror[ids["gone"]]["is_missing"] == 1


def test_names_the_lists_cannot_settle_are_read_in_full(env, fake_abs):
    both = fake_abs.add_book("Ancillary Pair", authors=["Ann Leckie", "Becky Chambers"])
    one = fake_abs.add_book("One Author Called Two", authors=["Ann Leckie, Becky Chambers"])
    res = run_abook(["-v", "scan"], env)
    assert res.code == 0, res.output
    assert "5 new or changed items mirrored from the item pages, 2 read in full" in res.stderr
    asked = [i for r in _requests(fake_abs, "/api/items/batch/get") for i in r.json()["libraryItemIds"]]
    assert sorted(asked) == sorted([both, one])
    mirror = _mirror(env)
    assert mirror == _expanded_mirror(fake_abs)
    assert [a["name"] for a in json.loads(mirror[both]["authors"])] == ["Ann Leckie", "Becky Chambers"]
    assert [a["name"] for a in json.loads(mirror[one]["authors"])] == ["Ann Leckie, Becky Chambers"]


def test_filterdata_kept_by_abs_lags_and_is_not_trusted_past_its_age(env, fake_abs):
    """The web UI had ABS build filterdata; then a series was renamed (ABS's kept copy does not
    follow), and a book was edited to a new series and a new narrator whose name joins two known
    ones. A plain reading with the kept lists would cut "Michael Kramer, Kate Reading" in two."""
    ids = _hard_names(fake_abs)
    fake_abs.add_book("Narrated", authors=["Kate Reading"], narrators=["Michael Kramer"])
    fake_abs.add_book("Narrated Too", authors=["Kate Reading"], narrators=["Kate Reading"])
    fake_abs.load_filterdata()
    fake_abs.rename_series(fake_abs.series_id("Discworld Adjacent"), "Discworld, Adjacent")
    fake_abs.edit_book(ids["hero"], series=[("The Mistborn Saga", "3")],
                       narrators=["Michael Kramer, Kate Reading"])  # one narrator, a comma in it
    res = run_abook(["-v", "scan"], env)
    assert res.code == 0, res.output
    asked = {i for r in _requests(fake_abs, "/api/items/batch/get") for i in r.json()["libraryItemIds"]}
    assert asked == {ids["hero"], ids["gaiman"]}  # only what the kept lists cannot vouch for
    mirror = _mirror(env)
    assert mirror == _expanded_mirror(fake_abs)
    assert json.loads(mirror[ids["hero"]]["narrators"]) == ["Michael Kramer, Kate Reading"]
    assert json.loads(mirror[ids["gaiman"]]["series"])[0]["name"] == "Discworld, Adjacent"


def test_a_few_changes_are_read_in_full_and_a_big_first_scan_costs_about_its_pages(env, fake_abs):
    """The honest fake's ledger (what a real ABS 2.36 would spend, no clock involved)."""
    fake_abs.generate(3000, seed=7)
    res = run_abook(["scan"], env)
    assert res.code == 0, res.output
    first = list(fake_abs.requests)
    pages = sum(r.cost for r in first if r.path.endswith("/items"))
    lists = sum(r.cost for r in first if r.path.endswith(("/filterdata", "/authors")))
    in_full = [r for r in first if r.path == "/api/items/batch/get"]
    asked = sum(len(r.json()["libraryItemIds"]) for r in in_full)
    assert asked < 3005 * 0.01  # only the few generated "A, B"-style names
    assert len(in_full) <= 1
    assert sum(r.cost for r in first) <= pages + lists + sum(r.cost for r in in_full) + 0.05
    assert lists < 0.35 * pages
    assert _mirror(env) == _expanded_mirror(fake_abs)

    fake_abs.requests.clear()
    changed = fake_abs.item_ids[:3]
    for item_id in changed:
        fake_abs.edit_book(item_id, narrators=["Someone, New"])
    res = run_abook(["scan"], env)
    assert "~3 changed" in res.stdout, res.output
    assert not _requests(fake_abs, "/filterdata")  # three items: batch/get is cheaper than the lists
    asked = [i for r in _requests(fake_abs, "/api/items/batch/get") for i in r.json()["libraryItemIds"]]
    assert sorted(asked) == sorted(changed)
    assert _mirror(env) == _expanded_mirror(fake_abs)

    fake_abs.requests.clear()
    many = fake_abs.item_ids[10:410]
    for item_id in many:
        fake_abs.edit_book(item_id, genres=["Changed"])
    fake_abs.filterdata_ttl = 0  # the next day: ABS builds its filterdata again when asked
    res = run_abook(["-v", "scan"], env)
    assert "~400 changed" in res.stdout, res.output
    assert len(_requests(fake_abs, "/filterdata")) == 1  # 400 items: the lists cost less
    asked = [i for r in _requests(fake_abs, "/api/items/batch/get") for i in r.json()["libraryItemIds"]]
    assert len(asked) < 40  # only the items changed after ABS built its filterdata that need it
    assert _mirror(env) == _expanded_mirror(fake_abs)
