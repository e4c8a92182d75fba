"""`abook downloads` end to end: a torrent queued by `abook top10` really downloads from a second
qbittorrent-nox (the seeder), is hardlinked into the library folder the fake ABS watches, found
by ABS, and its empty fields are filled from what the tracker said."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.helpers import run_abook
from tests.fakes.abs import FakeABS
from tests.fakes.mam import FakeMAM, mam_row
from tests.qbt import wait_for

ABS_TOKEN = "test-abs-token-downloads"
MAM_COOKIE = "test-mam-cookie-downloads"


@pytest.fixture
def world(tmp_path: Path, qbt_pair):
    seeder, client_qbt = qbt_pair
    library = tmp_path / "library"
    library.mkdir()
    abs_fake = FakeABS(token=ABS_TOKEN, library_path=library, scan_delay=0.3)
    abs_fake.add_book("Some Owned Book", authors=["Owner Author"])
    mam = FakeMAM([
        mam_row(301, "Golden Son", authors=["Pierce Brown"], narrators=["Tim Gerard Reynolds"],
                series=[("Red Rising", "2")], category=41, snatches=100, language=1),
    ], mam_id=MAM_COOKIE)
    mam.set_ratio(5.0)
    with abs_fake.serve(), mam:
        env = {
            "ABS_URL": abs_fake.url, "ABS_TOKEN": ABS_TOKEN, "ABS_LIBRARY_PATH": str(library),
            "ABS_SCAN_TIMEOUT": "20",
            "MAM_URL": mam.url, "MAM_ID": MAM_COOKIE,
            "QB_URL": client_qbt.url, "QB_USERNAME": client_qbt.username, "QB_PASSWORD": client_qbt.password,
            "QB_SAVE_PATH": str(tmp_path / "downloads"),
            "TOP10_GENRES": "Fantasy", "TOP10_COUNT": "1",
            "ABOOK_DB": str(tmp_path / "abook.db"),
        }
        assert run_abook(["scan"], env).code == 0
        yield env, mam, seeder, client_qbt, abs_fake, library


def _seed(seeder, mam: FakeMAM, tid: int) -> str:
    client = seeder.client()
    data = mam.torrent_bytes(tid)
    t = client.add_torrent(data, save_path=str(mam.payload_path(tid).parent), skip_checking=True)
    return t.hash


def _db(env) -> sqlite3.Connection:
    conn = sqlite3.connect(env["ABOOK_DB"])
    conn.row_factory = sqlite3.Row
    return conn


def test_queued_book_reaches_the_library_with_metadata(world):
    env, mam, seeder, client_qbt, abs_fake, library = world
    info_hash = _seed(seeder, mam, 301)  # the seeder announces to the tracker first
    wait_for(lambda: mam._swarms, 20, what="the seeder's announce")
    assert run_abook(["top10"], env).code == 0
    client = client_qbt.client()
    assert client.get(info_hash) is not None
    first = run_abook(["downloads"], env)
    assert first.code == 0, first.output
    # No help: the two qBittorrents find each other through the tracker in the .torrent.
    wait_for(lambda: (t := client.get(info_hash)) is not None and t.is_complete, 90, what="the download")

    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    row = _db(env).execute("SELECT * FROM downloads").fetchone()
    assert row["status"] == "done", (row["status"], row["status_reason"], res.output)
    # Folder layout Author/Series/Vol N - Title {Narrator}/ with a metadata.json ABS reads first.
    folder = library / "Pierce Brown" / "Red Rising" / "Vol 2 - Golden Son {Tim Gerard Reynolds}"
    assert folder.is_dir(), list(library.rglob("*"))
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["title"] == "Golden Son" and meta["authors"] == ["Pierce Brown"]
    assert meta["narrators"] == ["Tim Gerard Reynolds"] and meta["series"] == ["Red Rising #2"]
    media = [p for p in folder.iterdir() if p.suffix == ".m4b"]
    assert media, list(folder.iterdir())
    # Hardlinked, not copied: the torrent keeps seeding from its own path.
    seeded = Path(client.get(info_hash).content_path)
    source_file = seeded if seeded.is_file() else next(p for p in seeded.rglob("*.m4b"))
    assert os.stat(source_file).st_ino == os.stat(media[0]).st_ino
    # ABS found the item; abook recorded its id.
    item = abs_fake.book(row["abs_item_id"])
    assert item["media"]["metadata"]["title"] == "Golden Son"
    # Never harm seeding: the torrent is still there, complete and not paused.
    t = client.get(info_hash)
    assert t is not None and t.is_complete and not t.is_paused
    # A second pass changes nothing.
    again = run_abook(["downloads"], env)
    assert again.code == 0 and "nothing to do" in again.stdout, again.output


def test_gone_torrent_is_retried_then_failed_permanently(world):
    env, _mam, _seeder, client_qbt, _abs, _library = world
    assert run_abook(["top10"], env).code == 0
    db = _db(env)
    dl = db.execute("SELECT id, info_hash FROM downloads").fetchone()
    # Simulate a torrent that disappears from qBittorrent (abook itself never deletes one).
    client = client_qbt.client()
    client.login()
    client.http.request("POST", "/api/v2/torrents/delete", data={"hashes": dl["info_hash"], "deleteFiles": "false"})
    wait_for(lambda: client.get(dl["info_hash"]) is None, 10, what="torrent removed")
    res = run_abook(["downloads"], {**env, "DOWNLOAD_RETRIES": "1"})
    assert res.code == 0, res.output
    assert client.get(dl["info_hash"]) is not None  # re-added from the kept .torrent
    client.http.request("POST", "/api/v2/torrents/delete", data={"hashes": dl["info_hash"], "deleteFiles": "false"})
    wait_for(lambda: client.get(dl["info_hash"]) is None, 10, what="torrent removed")
    res = run_abook(["downloads"], {**env, "DOWNLOAD_RETRIES": "1"})
    assert res.code == 1, res.output
    row = _db(env).execute("SELECT status FROM downloads WHERE id=?", (dl["id"],)).fetchone()
    assert row["status"] == "failed"
    failure = _db(env).execute("SELECT * FROM failed_attempts WHERE kind='download'").fetchone()
    assert failure["reason_code"] == "gone" and "gave up" in failure["reason"]
    # --retry gives it another round.
    retry = run_abook(["downloads", "--retry", str(dl["id"])], env)
    assert retry.code == 0, retry.output
    assert client.get(dl["info_hash"]) is not None


def test_dry_run_moves_nothing(world):
    env, _mam, _seeder, client_qbt, _abs, _library = world
    assert run_abook(["top10"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"}).code == 0
    res = run_abook(["downloads", "--dry-run"], env)
    assert res.code == 0, res.output
    assert client_qbt.client().torrents() == []
    assert _db(env).execute("SELECT status FROM downloads").fetchone()[0] == "pending"


def test_pending_are_submitted_up_to_the_active_limit(world):
    env, mam, _seeder, client_qbt, _abs, _library = world
    mam.add(mam_row(302, "Morning Star", authors=["Pierce Brown"], series=[("Red Rising", "3")], category=41,
                    snatches=90))
    assert run_abook(["top10", "--count", "2"], {**env, "MAX_ACTIVE_DOWNLOADS": "0"}).code == 0
    assert client_qbt.client().torrents() == []
    res = run_abook(["downloads"], {**env, "MAX_ACTIVE_DOWNLOADS": "1"})
    assert res.code == 0, res.output
    assert len(client_qbt.client().torrents()) == 1
    statuses = sorted(r[0] for r in _db(env).execute("SELECT status FROM downloads"))
    assert statuses == ["pending", "queued"]


def test_without_library_path_qbittorrent_saves_into_the_library(world, tmp_path):
    """The second import mode: no ABS_LIBRARY_PATH; qBittorrent's save path is the ABS folder."""
    env, mam, seeder, client_qbt, abs_fake, library = world
    env = {k: v for k, v in env.items() if k != "ABS_LIBRARY_PATH"}
    env["QB_SAVE_PATH"] = str(library)
    info_hash = _seed(seeder, mam, 301)
    wait_for(lambda: mam._swarms, 20, what="the seeder's announce")
    assert run_abook(["top10"], env).code == 0
    client = client_qbt.client()
    wait_for(lambda: (t := client.get(info_hash)) is not None and t.is_complete, 90, what="the download")
    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    row = _db(env).execute("SELECT * FROM downloads").fetchone()
    assert row["status"] == "done", (row["status"], row["status_reason"], res.output)
    assert (library / "Golden Son").is_dir()  # the torrent's own folder, where qBittorrent put it
    assert not (library / "Pierce Brown").exists()  # abook moved or linked nothing
    item = abs_fake.book(row["abs_item_id"])
    meta = item["media"]["metadata"]
    # The folder alone gave ABS only a title; the tracker filled the empty fields.
    assert [a["name"] for a in meta["authors"]] == ["Pierce Brown"]
    assert meta["narrators"] == ["Tim Gerard Reynolds"]
    assert [(s["name"], s["sequence"]) for s in meta["series"]] == [("Red Rising", "2")]
    assert meta["title"] == "Golden Son"


@pytest.mark.parametrize("kill_after", [0.3, 0.9, 1.5])
def test_import_killed_at_any_point_then_rerun_finishes_once(world, kill_after):
    """SIGKILL `abook downloads` while it imports (linking, waiting for the ABS scan, patching),
    run it again: one folder, one ABS item, one row, status done, the torrent still seeding."""
    import signal
    import subprocess
    import time

    from tests.e2e.helpers import BASE_ENV, abook_executable

    env, mam, seeder, client_qbt, abs_fake, library = world
    abs_fake.scan_delay = 0.8
    info_hash = _seed(seeder, mam, 301)
    wait_for(lambda: mam._swarms, 20, what="the seeder's announce")
    assert run_abook(["top10"], env).code == 0
    client = client_qbt.client()
    wait_for(lambda: (t := client.get(info_hash)) is not None and t.is_complete, 90, what="the download")
    assert run_abook(["downloads", "--dry-run"], env).code == 0
    proc = subprocess.Popen([*abook_executable(), "downloads"], env={**os.environ, **BASE_ENV, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for _ in range(3):
        res = run_abook(["downloads"], env)
        assert res.code == 0, res.output
        if _db(env).execute("SELECT status FROM downloads").fetchone()[0] == "done":
            break
    rows = _db(env).execute("SELECT status, abs_item_id FROM downloads").fetchall()
    assert len(rows) == 1 and rows[0]["status"] == "done"
    folders = [p for p in library.rglob("*") if p.is_dir() and any(f.suffix == ".m4b" for f in p.iterdir())]
    assert len(folders) == 1
    assert len(abs_fake.find_books("Golden Son")) == 1
    t = client.get(info_hash)
    assert t is not None and t.is_complete and not t.is_paused


# --------------------------------------------------------------------- curated titles
def _untidy_torrents(mam: FakeMAM) -> None:
    """Two tracker titles that carry their series: a prefix (with MAM's series_info) and a suffix
    (no series_info at all: the label is all the tracker says)."""
    mam.add(
        mam_row(401, "Mistborn: The Hero of Ages", authors=["Brandon Sanderson"], narrators=["Michael Kramer"],
                series=[("Mistborn", "3")], category=41, snatches=500),
        mam_row(402, "The Gate of the Feral Gods: Dungeon Crawler Carl, Book 4", authors=["Matt Dinniman"],
                narrators=["Jeff Hays"], category=41, snatches=400),
    )


def _download_both(env, mam, seeder, client_qbt) -> None:
    hashes = [_seed(seeder, mam, tid) for tid in (401, 402)]
    wait_for(lambda: len(mam._swarms) >= 2, 20, what="the seeder's announces")
    assert run_abook(["top10", "--count", "2"], env).code == 0
    client = client_qbt.client()
    assert all(client.get(h) is not None for h in hashes)
    wait_for(lambda: all((t := client.get(h)) is not None and t.is_complete for h in hashes), 120,
             what="the downloads")


def _shows(abs_fake: FakeABS, item_id: str) -> tuple[str, list[tuple[str, str]]]:
    meta = abs_fake.book(item_id)["media"]["metadata"]
    return meta["title"], [(s["name"], s["sequence"]) for s in meta["series"]]


def test_series_prefix_and_suffix_are_imported_as_curated_titles(world):
    env, mam, seeder, client_qbt, abs_fake, library = world
    _untidy_torrents(mam)
    _download_both(env, mam, seeder, client_qbt)
    for _ in range(3):
        res = run_abook(["downloads"], env)
        assert res.code == 0, res.output
        rows = {r["torrent_id"]: r for r in _db(env).execute("SELECT * FROM downloads")}
        if rows["401"]["status"] == rows["402"]["status"] == "done":
            break
    assert rows["401"]["status"] == rows["402"]["status"] == "done", {k: dict(v) for k, v in rows.items()}
    hero = library / "Brandon Sanderson" / "Mistborn" / "Vol 3 - The Hero of Ages {Michael Kramer}"
    gate = library / "Matt Dinniman" / "Dungeon Crawler Carl" / "Vol 4 - The Gate of the Feral Gods {Jeff Hays}"
    assert hero.is_dir() and gate.is_dir(), sorted(str(p) for p in library.rglob("*"))
    assert json.loads((hero / "metadata.json").read_text())["series"] == ["Mistborn #3"]
    meta = json.loads((gate / "metadata.json").read_text())
    assert meta["title"] == "The Gate of the Feral Gods" and meta["series"] == ["Dungeon Crawler Carl #4"]
    assert meta["authors"] == ["Matt Dinniman"] and meta["narrators"] == ["Jeff Hays"]
    # ABS showed the book right on its first scan: the PATCH after it had no title or series to set
    assert _shows(abs_fake, rows["401"]["abs_item_id"]) == ("The Hero of Ages", [("Mistborn", "3")])
    assert _shows(abs_fake, rows["402"]["abs_item_id"]) == ("The Gate of the Feral Gods",
                                                            [("Dungeon Crawler Carl", "4")])
    for p in abs_fake.patches:
        assert not {"title", "series"} & set((p.body or {}).get("metadata") or {}), p
    # the scan mirrors the curated books, and there is nothing to tidy
    assert run_abook(["scan"], env).code == 0
    titles = {r[0] for r in _db(env).execute("SELECT title FROM books")}
    assert {"The Hero of Ages", "The Gate of the Feral Gods"} <= titles
    assert json.loads(run_abook(["report", "--json"], env).stdout)["titles"]["to_tidy"] == 0


def test_without_library_path_the_patch_tidies_the_folder_title(world):
    """qBittorrent saved into the library: ABS took the torrent's folder name as the title; the
    PATCH after the scan replaces it with the tidy one and fills the series from the tracker."""
    env, mam, seeder, client_qbt, abs_fake, library = world
    env = {k: v for k, v in env.items() if k != "ABS_LIBRARY_PATH"}
    env["QB_SAVE_PATH"] = str(library)
    _untidy_torrents(mam)
    _download_both(env, mam, seeder, client_qbt)
    res = run_abook(["downloads"], env)
    assert res.code == 0, res.output
    rows = {r["torrent_id"]: r for r in _db(env).execute("SELECT * FROM downloads")}
    assert rows["401"]["status"] == rows["402"]["status"] == "done", res.output
    # the torrent's own folder, holding its one file: qBittorrent's content_path is that file
    assert (library / "Mistborn The Hero of Ages").is_dir()
    assert rows["401"]["content_path"].endswith("Mistborn The Hero of Ages.m4b")
    assert _shows(abs_fake, rows["401"]["abs_item_id"]) == ("The Hero of Ages", [("Mistborn", "3")])
    assert _shows(abs_fake, rows["402"]["abs_item_id"]) == ("The Gate of the Feral Gods",
                                                            [("Dungeon Crawler Carl", "4")])
    db = _db(env)
    fixed = db.execute("SELECT old, new, source FROM metadata_corrections WHERE field='title' AND book_id=?",
                       (rows["401"]["abs_item_id"],)).fetchone()
    assert tuple(fixed) == ("Mistborn The Hero of Ages", "The Hero of Ages", "tracker")
