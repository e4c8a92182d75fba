"""Schema of the state file: append-only ``sqlite_utils.Migrations`` steps.

Never edit a step that has shipped; add ``m00N_...`` instead. Each step runs in one transaction
together with its record in ``_sqlite_migrations``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils import Migrations

if TYPE_CHECKING:
    from sqlite_utils import Database

migrations = Migrations("abook")


@migrations()
def m001_initial(db: Database) -> None:
    db["books"].create(
        {
            "id": str,  # ABS library item id
            "library_id": str,
            "media_id": str,
            "path": str,
            "title": str,
            "subtitle": str,
            "authors": str,  # JSON [{"id","name"}]
            "author_name": str,  # "A, B" as ABS shows it
            "narrators": str,  # JSON ["name"]
            "series": str,  # JSON [{"id","name","sequence"}]
            "series_name": str,
            "isbn": str,
            "asin": str,
            "year": str,
            "publisher": str,
            "description": str,
            "genres": str,  # JSON
            "tags": str,  # JSON
            "language": str,
            "abridged": int,
            "explicit": int,
            "has_cover": int,
            "duration": float,
            "size": int,
            "num_audio_files": int,
            "added_at": int,  # ms epoch, as ABS
            "updated_at": int,  # ms epoch, as ABS
            "completeness": float,
            "fingerprint": str,  # hash of the minified record: unchanged -> nothing written
            "metadata_source": str,  # JSON {field: source}
            "metadata_checked_at": str,
            "removed_at": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
    )
    db["books"].create_index(["library_id"])
    db["books"].create_index(["asin"])
    db["books"].create_index(["isbn"])
    db["authors"].create(
        {
            "id": str,
            "library_id": str,
            "name": str,
            "asin": str,
            "num_books": int,
            "owned": int,
            "known_total": int,
            "missing": int,
            "last_check": str,
            "removed_at": str,
        },
        pk="id",
    )
    db["series"].create(
        {
            "id": str,
            "library_id": str,
            "name": str,
            "owned": int,
            "known_total": int,
            "missing": int,
            "status": str,  # unknown | incomplete | complete
            "last_check": str,
            "removed_at": str,
        },
        pk="id",
    )
    db["missing_books"].create(
        {
            "id": int,
            "kind": str,  # series_gap | author_gap
            "series_id": str,
            "series_name": str,
            "author_id": str,
            "author_name": str,
            "title": str,
            "position": str,
            "asin": str,
            "isbn": str,
            "source": str,
            "status": str,  # wanted | queued | downloading | in_library | not_found | ignored
            "download_id": int,
            "last_search": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    db["missing_books"].create_index(["kind", "status"])
    db["downloads"].create(
        {
            "id": int,
            "source": str,  # mam | prowlarr
            "torrent_id": str,
            "info_hash": str,
            "title": str,
            "author": str,
            "series": str,
            "series_position": str,
            "narrator": str,
            "language": str,
            "genre": str,
            "reason": str,  # top10 | series_gap | author_gap | manual
            "size": int,
            "freeleech": int,
            "vip": int,
            "filetype": str,
            "status": str,  # pending | queued | downloading | completed | imported | done | failed
            "status_reason": str,
            "retries": int,
            "next_retry": str,
            "progress": float,
            "qb_hash": str,
            "qb_paused_by_abook": int,
            "abs_item_id": str,
            "content_path": str,
            "import_path": str,
            "payload": str,  # JSON: the release record as the tracker gave it
            "torrent_file": bytes,  # unused: a .torrent carries the passkey, so it is fetched again
            "magnet": str,
            "task_id": int,
            "created_at": str,
            "updated_at": str,
            "completed_at": str,
            "last_progress_at": str,
        },
        pk="id",
    )
    db["downloads"].create_index(["status"])
    db["downloads"].create_index(["info_hash"])
    db["downloads"].create_index(["source", "torrent_id"])
    db["top10_runs"].create(
        {
            "id": int,
            "task_id": int,
            "run_at": str,
            "genre": str,
            "rank": int,
            "source": str,
            "torrent_id": str,
            "title": str,
            "author": str,
            "decision": str,  # queued | pending | skipped | near_miss
            "reason": str,
            "download_id": int,
        },
        pk="id",
    )
    db["top10_runs"].create_index(["run_at"])
    db["metadata_corrections"].create(
        {
            "id": int,
            "book_id": str,
            "field": str,
            "old": str,
            "new": str,
            "source": str,
            "task_id": int,
            "created_at": str,
        },
        pk="id",
    )
    db["failed_attempts"].create(
        {
            "id": int,
            "command": str,
            "kind": str,  # download | metadata | search | import | service
            "ref": str,  # book id, download id, title...
            "title": str,
            "reason_code": str,
            "reason": str,
            "task_id": int,
            "created_at": str,
        },
        pk="id",
    )
    db["tasks"].create(
        {
            "id": int,
            "command": str,
            "arguments": str,  # JSON
            "started_at": str,
            "finished_at": str,
            "status": str,  # running | ok | partial | failed | held | dry_run
            "counts": str,  # JSON
            "error": str,
            "pid": int,
        },
        pk="id",
    )
    db["tasks"].create_index(["command", "started_at"])
    db["tracker_snapshots"].create(
        {
            "id": int,
            "taken_at": str,
            "username": str,
            "ratio": float,
            "uploaded": int,
            "downloaded": int,
            "bonus": float,
            "class_name": str,
            "vip_until": str,
            "unsat_count": int,
            "unsat_limit": int,
            "action": str,
            "raw": str,
        },
        pk="id",
    )
    db["settings_kv"].create({"key": str, "value": str, "updated_at": str}, pk="key")
    db["bibliography_cache"].create(
        {"key": str, "source": str, "fetched_at": str, "payload": str}, pk="key"
    )


@migrations()
def m002_books_is_missing(db: Database) -> None:
    # ABS keeps an item whose folder vanished and flags it isMissing. abook still counts it as
    # owned (a NAS that is briefly unmounted must not trigger a mass re-download) but reports it.
    if "is_missing" not in db["books"].columns_dict:
        db["books"].add_column("is_missing", int)


@migrations()
def m004_downloads_fetch_and_wedge(db: Database) -> None:
    # When abook first asked the tracker for a torrent's .torrent (a snatch on MAM: it takes an
    # unsatisfied slot at once, but MAM's own counts show it 5-20 minutes later), and the wedge
    # asked for with that download: requested (written before asking, so a run killed in between
    # never asks twice) | used | not_spent | refused | unconfirmed, with the wedge count before.
    columns = db["downloads"].columns_dict
    for name, kind in (("fetched_at", str), ("wedge", str), ("wedges_before", int)):
        if name not in columns:
            db["downloads"].add_column(name, kind)
    db["downloads"].create_index(["fetched_at"], if_not_exists=True)


@migrations()
def m007_downloads_tracker(db: Database) -> None:
    # One torrent is one torrent whichever route found it: `source` keeps the route that fetches
    # the .torrent again, `tracker` + `torrent_id` say which torrent it is. Rows from before kept
    # a MAM torrent found through Prowlarr under its guid (".../t/<id>"): they get the MAM id.
    import re

    table = db["downloads"]
    if "tracker" not in table.columns_dict:
        table.add_column("tracker", str)
    mam_guid = re.compile(r"^https?://[^/]*myanonamouse[^/]*/t/(\d+)/?$", re.I)
    rows = list(db.execute("SELECT id, source, torrent_id FROM downloads WHERE tracker IS NULL"))
    for row_id, source, torrent_id in rows:
        tracker, tid = source or "mam", torrent_id
        if source == "prowlarr":
            found = mam_guid.match(str(torrent_id or ""))
            if found:
                tracker, tid = "mam", found.group(1)
        db.execute("UPDATE downloads SET tracker=?, torrent_id=? WHERE id=?", (tracker, tid, row_id))
    table.create_index(["tracker", "torrent_id"], if_not_exists=True)


@migrations()
def m003_gap_outcomes(db: Database) -> None:
    # fill-series / fill-authors explain themselves: what each missing book's search tried and
    # came to, and why a series or author has no bibliography (and from which source and under
    # which name it has one).
    for table, columns in (
        ("missing_books", {"queries": str, "reason_code": str, "reason": str}),
        ("series", {"reason": str, "source": str, "source_name": str}),
        ("authors", {"status": str, "reason": str, "source": str}),
    ):
        have = db[table].columns_dict
        for name, kind in columns.items():
            if name not in have:
                db[table].add_column(name, kind)


@migrations()
def m005_notifications(db: Database) -> None:
    # The exit code of every run: "a command failed twice in a row" is read from it, and the
    # metrics file shows it per command.
    if "exit_code" not in db["tasks"].columns_dict:
        db["tasks"].add_column("exit_code", int)
    # The notification outbox: one row per event and target, written before anything is sent, so
    # an event is queued once (unique key) and a target that is down gets it on a later run.
    db["notifications"].create(
        {
            "id": int,
            "key": str,  # what the event is about, e.g. "hold_on:<snapshot>": queued once per target
            "target": str,  # a digest of the Apprise URL (the URL itself is a secret and never stored)
            "event": str,  # failure | hold | vip | import | weekly
            "level": str,  # info | success | warning | failure (Apprise's notify types)
            "title": str,
            "body": str,
            "command": str,
            "task_id": int,
            "created_at": str,
            "claimed_at": str,  # a run is sending it (two commands may end at the same moment)
            "attempts": int,
            "sent_at": str,
            "gave_up_at": str,
            "last_error": str,
        },
        pk="id",
        not_null={"key", "target"},
        defaults={"attempts": 0},
    )
    db["notifications"].create_index(["key", "target"], unique=True)
    db["notifications"].create_index(["sent_at", "gave_up_at"])
