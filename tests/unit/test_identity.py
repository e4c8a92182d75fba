"""One torrent, one identity: a MAM torrent is the MAM torrent whichever route (MAM or Prowlarr)
found it; the download row keeps the route that fetches its .torrent again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from abook.acquisition import Policy
from abook.models import Release
from abook.state import State
from abook.workflows.grab import Shelf


def test_the_same_mam_torrent_is_recognised_whichever_route_found_it():
    state = State.open(None)
    try:
        shelf = Shelf.load(state, Policy())
        state.add_download({"source": "mam", "torrent_id": "303", "title": "Gamma Choir", "status": "queued",
                            "reason": "top10", "genre": "Science Fiction"})
        via_prowlarr = Release(source="prowlarr", tracker="mam", torrent_id="303", title="Gamma Choir")
        assert shelf.mine(via_prowlarr)["source"] == "mam"
        state.add_download({"source": "prowlarr", "tracker": "mam", "torrent_id": "302", "title": "Beta Drift",
                            "status": "pending", "reason": "top10"})
        via_mam = Release(source="mam", torrent_id="302", title="Beta Drift")
        assert shelf.mine(via_mam)["source"] == "prowlarr"
        # another indexer's torrent with the same number is not the MAM torrent
        elsewhere = Release(source="prowlarr", tracker="prowlarr", torrent_id="303", title="Gamma Choir")
        assert shelf.mine(elsewhere) is None
    finally:
        state.close()



def test_migration_gives_old_rows_their_tracker(tmp_path: Path):
    from abook.migrations import migrations

    path = tmp_path / "abook.db"
    import sqlite_utils

    db = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m007_downloads_tracker")
    for source, tid in (("mam", "11"), ("prowlarr", "https://www.myanonamouse.net/t/12"),
                        ("prowlarr", "https://tracker.example/torrents/abc")):
        db["downloads"].insert({"source": source, "torrent_id": tid, "title": "t", "status": "done"})
    db.conn.execute("PRAGMA user_version=2")
    db.conn.commit()
    db.conn.close()
    state = State.open(path)
    try:
        rows = [(r["source"], r["tracker"], r["torrent_id"]) for r in state.downloads()]
        assert rows == [("mam", "mam", "11"), ("prowlarr", "mam", "12"),
                        ("prowlarr", "prowlarr", "https://tracker.example/torrents/abc")]
        assert state.find_download(tracker="mam", torrent_id="12")["source"] == "prowlarr"
    finally:
        state.close()
