"""The state file: opening, migrating, locking, and every query abook makes.

Workflows never write SQL; they call intent methods here. Each method that changes more than one
row runs in one transaction (``with self.tx():``) so a run killed at any point leaves either all
of a change or none of it.

Why one module of this size: it is the only place that knows the schema, and several intents
span tables in one transaction (a download and the decision that chose it; a failure and the
run that met it). Split by table, those transactions would have to cross modules.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, LockedError
from .library import BOOK_FIELDS, COMPLETENESS_FIELDS, completeness, decode_row
from .models import DownloadStatus, TaskStatus
from .times import iso, parse_iso, utcnow  # noqa: F401  (the state file's clock; callers import it from here too)

if TYPE_CHECKING:
    from sqlite_utils import Database


# The number of steps in migrations.py (a test keeps them equal).
SCHEMA_VERSION = 6

@dataclass
class Lock:
    path: Path
    fd: int

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(self.fd)


class State:
    """The SQLite state file. Open with :meth:`open`; it is migrated on open."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        """A sqlite_utils view of the same connection (migrations, tests). Imported lazily:
        sqlite_utils pulls in numpy when it is installed, a quarter second abook rarely needs."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # ------------------------------------------------------------- opening
    @classmethod
    def open(cls, path: Path | str | None) -> State:
        """Open (creating 0600 if new) and migrate the state file; ``None`` = in memory."""
        if path is None or str(path) == ":memory:":
            state = cls(sqlite3.connect(":memory:", isolation_level=None), None)
        else:
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                os.close(fd)
                os.chmod(path, 0o600)
            except OSError as exc:
                raise ConfigError(
                    f"ABOOK_DB={path} cannot be created or opened ({exc.strerror}): "
                    "point ABOOK_DB at a writable place"
                ) from None
            old_umask = os.umask(0o077)  # the -wal and -shm files must be private too
            try:
                conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                except sqlite3.DatabaseError as exc:
                    raise ConfigError(
                        f"ABOOK_DB={path} is not an abook state file ({exc}): move it away or fix ABOOK_DB"
                    ) from None
            finally:
                os.umask(old_umask)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            state = cls(conn, path)
        state.migrate()
        return state

    def migrate(self) -> None:
        """Apply pending migrations; ``PRAGMA user_version`` short-cuts the check when current."""
        if self.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        from .migrations import migrations

        migrations.apply(self.db)
        applied = len(migrations.applied(self.db))
        self.conn.execute(f"PRAGMA user_version={int(applied)}")

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[None]:
        """One transaction; nested calls join the outer one."""
        conn = self.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def q(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description or ()]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # --------------------------------------------------------------- locking
    def lock(self, command: str) -> Lock:
        """Take the per-command lock or raise LockedError (exit 75) at once."""
        base = self.path if self.path is not None else Path(os.environ.get("TMPDIR", "/tmp")) / "abook-memory"
        lock_path = base.with_name(f"{base.name}.{command}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="ignore").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise LockedError(
                f"another 'abook {command}' is still running{who}; this run exits without doing anything"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return Lock(lock_path, fd)

    # ---------------------------------------------------------------- tasks
    def start_task(self, command: str, arguments: Mapping[str, Any]) -> int:
        with self.tx():
            cur = self.conn.execute(
                "INSERT INTO tasks (command, arguments, started_at, status, pid) VALUES (?,?,?,?,?)",
                (command, json.dumps(arguments, default=str, sort_keys=True), iso(), TaskStatus.RUNNING, os.getpid()),
            )
        return int(cur.lastrowid or 0)

    def close_dead_tasks(self) -> int:
        """Mark runs still 'running' whose process is gone (killed, power cut) as 'killed'."""
        dead = []
        for task_id, pid in self.conn.execute("SELECT id, pid FROM tasks WHERE status='running'"):
            try:
                if pid:
                    os.kill(int(pid), 0)
                    continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue  # alive, another user's
            dead.append(task_id)
        if dead:
            with self.tx():
                self.conn.executemany(
                    "UPDATE tasks SET status='killed', finished_at=?, error='the run ended without finishing' "
                    "WHERE id=?", ((iso(), t) for t in dead),
                )
        return len(dead)

    def finish_task(
        self, task_id: int, status: str, counts: Mapping[str, Any] | None = None, error: str = "",
        exit_code: int | None = None,
    ) -> None:
        with self.tx():
            self.conn.execute(
                "UPDATE tasks SET finished_at=?, status=?, counts=?, error=?, exit_code=? WHERE id=?",
                (iso(), status, json.dumps(dict(counts or {}), default=str), error or None, exit_code, task_id),
            )

    def task_status(self, task_id: int) -> str | None:
        return self.scalar("SELECT status FROM tasks WHERE id=?", (task_id,))

    # How a run ended, for "failed twice in a row": runs that ended by themselves count; a run killed,
    # interrupted or still going says nothing about whether the command works.
    _VERDICT_STATUSES = ("ok", "dry_run", "partial", "held", "failed")

    def failure_streak(self, command: str, *, before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest finished runs of ``command`` that failed in a row (status ``failed``: exit 2,
        3 or a crash), newest first; empty when the newest one did not fail. ``before``: only runs
        older than that task."""
        marks = ",".join("?" for _ in self._VERDICT_STATUSES)
        rows = self.q(
            f"SELECT id, status, exit_code, error, started_at, finished_at FROM tasks "
            f"WHERE command=? AND id < ? AND status IN ({marks}) ORDER BY id DESC LIMIT ?",
            (command, before if before is not None else 2**62, *self._VERDICT_STATUSES, limit),
        )
        streak = []
        for row in rows:
            if row["status"] != TaskStatus.FAILED:
                break
            streak.append(row)
        return streak

    def last_runs(self) -> list[dict[str, Any]]:
        """The newest run of every command."""
        return self.q(
            "SELECT t.* FROM tasks t JOIN (SELECT command, MAX(id) AS id FROM tasks GROUP BY command) m "
            "ON t.id = m.id ORDER BY t.command"
        )

    def last_counts(self, command: str) -> dict[str, Any]:
        """The counts of the newest finished run of ``command`` ({} when there is none)."""
        raw = self.scalar(
            "SELECT counts FROM tasks WHERE command=? AND status IN ('ok','partial') ORDER BY id DESC LIMIT 1",
            (command,),
        )
        return json.loads(raw) if raw else {}

    def recent_tasks(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.q("SELECT * FROM tasks ORDER BY id DESC LIMIT ?", (limit,))

    # ------------------------------------------------------------- failures
    def record_failure(
        self,
        command: str,
        kind: str,
        reason_code: str,
        reason: str,
        *,
        ref: str = "",
        title: str = "",
        task_id: int | None = None,
    ) -> None:
        """Append a permanent failure row (never deleted by retention)."""
        with self.tx():
            self.conn.execute(
                "INSERT INTO failed_attempts (command, kind, ref, title, reason_code, reason, task_id, created_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (command, kind, ref, title, reason_code, reason, task_id, iso()),
            )

    def failures(self, since: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return self.q(
            "SELECT * FROM failed_attempts WHERE created_at >= ? ORDER BY id DESC LIMIT ?",
            (iso(since) if since else "", limit),
        )

    # ------------------------------------------------------------ key/value
    def get_kv(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM settings_kv WHERE key=?", (key,))
        return default if value is None else value

    def set_kv(self, key: str, value: str | None) -> None:
        with self.tx():
            if value is None:
                self.conn.execute("DELETE FROM settings_kv WHERE key=?", (key,))
            else:
                self.conn.execute(
                    "INSERT INTO settings_kv (key, value, updated_at) VALUES (?,?,?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                    (key, value, iso()),
                )

    # ---------------------------------------------------------------- books
    def book_fingerprints(self, library_id: str) -> dict[str, tuple[str | None, str | None]]:
        """id -> (fingerprint, removed_at) of every mirrored book of a library."""
        cur = self.conn.execute(
            "SELECT id, fingerprint, removed_at FROM books WHERE library_id=?", (library_id,)
        )
        return {row[0]: (row[1], row[2]) for row in cur}

    def apply_scan(
        self,
        library_id: str,
        upserts: Iterable[Mapping[str, Any]],
        removed_ids: Iterable[str],
        authors: Iterable[Mapping[str, Any]] = (),
        refresh_series: bool = False,
    ) -> None:
        """Write one library's scan result in a single transaction."""
        now = iso()
        cols = (*BOOK_FIELDS, "first_seen", "last_seen", "removed_at")
        placeholders = ",".join("?" for _ in ("id", *cols))
        updates = ",".join(f"{c}=excluded.{c}" for c in (*BOOK_FIELDS, "last_seen", "removed_at"))
        sql = (
            f"INSERT INTO books (id,{','.join(cols)}) VALUES ({placeholders}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}"
        )
        conn = self.conn
        with self.tx():
            conn.executemany(
                sql,
                (
                    (row["id"], *(row.get(c) for c in BOOK_FIELDS), now, now, None)
                    for row in upserts
                ),
            )
            conn.executemany(
                "UPDATE books SET removed_at=? WHERE id=? AND removed_at IS NULL",
                ((now, i) for i in removed_ids),
            )
            author_rows = list(authors)
            if author_rows:
                conn.executemany(
                    "INSERT INTO authors (id, library_id, name, asin, num_books, removed_at) "
                    "VALUES (?,?,?,?,?,NULL) ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
                    "asin=excluded.asin, num_books=excluded.num_books, removed_at=NULL "
                    "WHERE authors.name IS NOT excluded.name OR authors.asin IS NOT excluded.asin "
                    "OR authors.num_books IS NOT excluded.num_books OR authors.removed_at IS NOT NULL",
                    ((a["id"], library_id, a["name"], a.get("asin"), a.get("num_books")) for a in author_rows),
                )
                current = {a["id"] for a in author_rows}
                stale = [
                    aid for (aid,) in conn.execute(
                        "SELECT id FROM authors WHERE library_id=? AND removed_at IS NULL", (library_id,)
                    ) if aid not in current
                ]
                conn.executemany("UPDATE authors SET removed_at=? WHERE id=?", ((now, a) for a in stale))
            if refresh_series:
                self._refresh_series(library_id, now)

    def _refresh_series(self, library_id: str, now: str) -> None:
        """Recompute the series of a library from its books (ids, names, owned counts)."""
        conn = self.conn
        found: dict[str, dict[str, Any]] = {}
        for (raw,) in conn.execute(
            "SELECT series FROM books WHERE library_id=? AND removed_at IS NULL AND series NOT IN ('', '[]')",
            (library_id,),
        ):
            for entry in json.loads(raw):
                sid = entry.get("id") or f"name:{(entry.get('name') or '').lower()}"
                if not entry.get("name"):
                    continue
                row = found.setdefault(sid, {"id": sid, "name": entry["name"], "owned": 0})
                row["owned"] += 1
        conn.executemany(
            "INSERT INTO series (id, library_id, name, owned, status, removed_at) VALUES (?,?,?,?,'unknown',NULL) "
            "ON CONFLICT(id) DO UPDATE SET name=excluded.name, owned=excluded.owned, removed_at=NULL "
            "WHERE series.name IS NOT excluded.name OR series.owned IS NOT excluded.owned "
            "OR series.removed_at IS NOT NULL",
            ((r["id"], library_id, r["name"], r["owned"]) for r in found.values()),
        )
        stale = [
            sid for (sid,) in conn.execute(
                "SELECT id FROM series WHERE library_id=? AND removed_at IS NULL", (library_id,)
            ) if sid not in found
        ]
        conn.executemany("UPDATE series SET removed_at=? WHERE id=?", ((now, sid) for sid in stale))

    def has_authors(self, library_id: str) -> bool:
        return self.scalar("SELECT 1 FROM authors WHERE library_id=? LIMIT 1", (library_id,)) is not None

    def book_titles(self, ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for book_id, title in self.conn.execute(
                f"SELECT id, title FROM books WHERE id IN ({','.join('?' for _ in chunk)})", chunk
            ):
                out[book_id] = title
        return out

    def books(self, *, include_removed: bool = False) -> list[dict[str, Any]]:
        """Mirrored books, JSON columns parsed (see :func:`abook.library.decode_row`)."""
        where = "" if include_removed else "WHERE removed_at IS NULL"
        return [decode_row(row) for row in self.q(f"SELECT * FROM books {where}")]

    def book(self, book_id: str) -> dict[str, Any] | None:
        rows = self.q("SELECT * FROM books WHERE id=?", (book_id,))
        return decode_row(rows[0]) if rows else None

    # --------------------------------------------------------------- report
    def library_summary(self, recent_days: int = 7, now: datetime | None = None) -> dict[str, Any]:
        since_ms = int(((now or utcnow()) - timedelta(days=recent_days)).timestamp() * 1000)
        # One pass over the books for every figure: the metrics file runs this after every run.
        filled_cols = []
        for n, field in enumerate(COMPLETENESS_FIELDS):
            col = {"cover": "has_cover"}.get(field, field)
            if col in ("authors", "narrators", "series", "genres"):
                cond = f"{col} IS NOT NULL AND {col} NOT IN ('', '[]')"
            elif col == "has_cover":
                cond = "has_cover = 1"
            else:
                cond = f"{col} IS NOT NULL AND {col} != ''"
            filled_cols.append(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS f{n}")
        row = self.q(
            "SELECT COUNT(*) AS books, COALESCE(SUM(duration),0) AS seconds, COALESCE(SUM(size),0) AS bytes, "
            "COALESCE(AVG(completeness),0) AS completeness, "
            "SUM(CASE WHEN added_at >= ? THEN 1 ELSE 0 END) AS added_recent, "
            "SUM(CASE WHEN is_missing = 1 THEN 1 ELSE 0 END) AS files_missing, "
            f"{', '.join(filled_cols)} FROM books WHERE removed_at IS NULL",
            (since_ms,),
        )[0]
        authors = self.scalar("SELECT COUNT(*) FROM authors WHERE removed_at IS NULL") or 0
        series = self.scalar("SELECT COUNT(*) FROM series WHERE removed_at IS NULL") or 0
        removed = self.scalar("SELECT COUNT(*) FROM books WHERE removed_at IS NOT NULL") or 0
        files_missing = row["files_missing"] or 0
        fields = {}
        total = row["books"] or 0
        for n, field in enumerate(COMPLETENESS_FIELDS):
            filled = row[f"f{n}"] or 0
            fields[field] = {"filled": filled, "percent": round(100.0 * filled / total, 1) if total else 0.0}
        recent = self.q(
            "SELECT id, title, author_name, added_at FROM books WHERE removed_at IS NULL AND added_at >= ? "
            "ORDER BY added_at DESC LIMIT 50",
            (since_ms,),
        )
        return {
            "books": total,
            "authors": authors,
            "series": series,
            "removed": removed,
            "files_missing": files_missing,
            "hours": round((row["seconds"] or 0) / 3600.0, 1),
            "bytes": int(row["bytes"] or 0),
            "completeness": round(100.0 * (row["completeness"] or 0), 1),
            "fields": fields,
            "added_recent": row["added_recent"] or 0,
            "recent": recent,
        }

    # ------------------------------------------------------------ downloads

    def find_download(
        self, *, tracker: str = "", torrent_id: str = "", info_hash: str = "", source: str = ""
    ) -> dict[str, Any] | None:
        """abook's own record of a torrent, by tracker and torrent id (whichever route found it:
        a MAM torrent grabbed through Prowlarr is the MAM torrent), or by info hash (failed ones
        included). ``source`` matches the route instead of the tracker."""
        if tracker and torrent_id:
            rows = self.q(
                "SELECT * FROM downloads WHERE tracker=? AND torrent_id=? ORDER BY id DESC LIMIT 1",
                (tracker, str(torrent_id)),
            )
            if rows:
                return rows[0]
        elif source and torrent_id:
            rows = self.q(
                "SELECT * FROM downloads WHERE source=? AND torrent_id=? ORDER BY id DESC LIMIT 1",
                (source, str(torrent_id)),
            )
            if rows:
                return rows[0]
        if info_hash:
            rows = self.q(
                "SELECT * FROM downloads WHERE info_hash=? ORDER BY id DESC LIMIT 1", (info_hash.lower(),)
            )
            if rows:
                return rows[0]
        return None

    def downloads(self, statuses: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if statuses is None:
            return self.q("SELECT * FROM downloads ORDER BY id")
        marks = ",".join("?" for _ in statuses)
        return self.q(f"SELECT * FROM downloads WHERE status IN ({marks}) ORDER BY id", tuple(statuses))

    def count_downloads(self, statuses: Sequence[str]) -> int:
        marks = ",".join("?" for _ in statuses)
        return int(self.scalar(f"SELECT COUNT(*) FROM downloads WHERE status IN ({marks})", tuple(statuses)) or 0)

    def add_download(self, row: Mapping[str, Any], decision: Mapping[str, Any] | None = None) -> int:
        """Insert a download and (same transaction) the decision that chose it."""
        now = iso()
        data = {"status": DownloadStatus.PENDING, "retries": 0, "created_at": now, "updated_at": now, **row}
        data["tracker"] = data.get("tracker") or data.get("source")
        if isinstance(data.get("info_hash"), str):
            data["info_hash"] = data["info_hash"].lower()
        cols = list(data)
        with self.tx():
            cur = self.conn.execute(
                f"INSERT INTO downloads ({','.join(cols)}) VALUES ({','.join('?' for _ in cols)})",
                tuple(data[c] for c in cols),
            )
            download_id = int(cur.lastrowid or 0)
            if decision is not None:
                self._insert_decision({**decision, "download_id": download_id})
        return download_id

    def update_download(self, download_id: int, **fields: Any) -> None:
        fields["updated_at"] = iso()
        sets = ",".join(f"{k}=?" for k in fields)
        with self.tx():
            self.conn.execute(f"UPDATE downloads SET {sets} WHERE id=?", (*fields.values(), download_id))

    def discard_download(self, download_id: int, decision: str, reason: str) -> None:
        """Take back a download row that turned out not to be wanted, and say why in its decision."""
        with self.tx():
            self.conn.execute(
                "UPDATE top10_runs SET decision=?, reason=?, download_id=NULL WHERE download_id=?",
                (decision, reason, download_id),
            )
            self.conn.execute("DELETE FROM downloads WHERE id=?", (download_id,))

    def get_download(self, download_id: int) -> dict[str, Any] | None:
        rows = self.q("SELECT * FROM downloads WHERE id=?", (download_id,))
        return rows[0] if rows else None

    def mark_fetching(self, download_id: int, *, wedges_before: int | None = None) -> None:
        """Say, before the tracker is asked, that abook fetches this torrent now (the first time
        counts: that is the snatch) and, with ``wedges_before``, that it asks for a wedge with it."""
        with self.tx():
            self.conn.execute(
                "UPDATE downloads SET fetched_at=COALESCE(fetched_at, ?), updated_at=? WHERE id=?",
                (iso(), iso(), download_id),
            )
            if wedges_before is not None:
                self.conn.execute(
                    "UPDATE downloads SET wedge='requested', wedges_before=? WHERE id=?", (wedges_before, download_id)
                )

    def unmark_fetching(self, download_id: int) -> None:
        """The tracker answered the fetch with an error: no snatch happened, nothing was spent."""
        with self.tx():
            self.conn.execute(
                "UPDATE downloads SET fetched_at=NULL, wedge=CASE WHEN wedge='requested' THEN NULL ELSE wedge END, "
                "updated_at=? WHERE id=?", (iso(), download_id),
            )

    def set_wedge(self, download_id: int, outcome: str | None, *, freeleech: bool | None = None) -> None:
        """What became of the wedge asked for with a download (``None``: it was never sent)."""
        with self.tx():
            self.conn.execute("UPDATE downloads SET wedge=?, updated_at=? WHERE id=?", (outcome, iso(), download_id))
            if freeleech is not None:
                self.conn.execute("UPDATE downloads SET freeleech=? WHERE id=?", (int(freeleech), download_id))

    def guard_downloads(self, unfinished: Sequence[str], fetched_since: datetime) -> list[dict[str, Any]]:
        """What the tracker guard counts: abook's unfinished downloads, and every download whose
        .torrent was fetched since ``fetched_since`` (the tracker's own counts may not show it yet)."""
        marks = ",".join("?" for _ in unfinished)
        # Two indexed lookups: an OR over the two columns would scan every download ever made.
        return self.q(
            f"SELECT * FROM downloads WHERE id IN (SELECT id FROM downloads WHERE status IN ({marks}) "
            "UNION SELECT id FROM downloads WHERE fetched_at >= ?) ORDER BY id",
            (*unfinished, iso(fetched_since)),
        )

    def unsettled_wedges(self, since: datetime) -> int:
        """Wedges asked for since ``since`` whose spending the account's count has not shown yet."""
        return int(self.scalar(
            "SELECT COUNT(*) FROM downloads WHERE wedge IN ('requested', 'unconfirmed') AND fetched_at >= ?",
            (iso(since),),
        ) or 0)

    def tracker_torrents(self, tracker: str = "mam") -> list[dict[str, Any]]:
        """abook's downloads of torrents on ``tracker`` (whichever route found them) that have a
        torrent id: id, hashes, status, times."""
        return self.q(
            "SELECT id, torrent_id, info_hash, qb_hash, title, status, size, freeleech, fetched_at, created_at, "
            "completed_at FROM downloads WHERE COALESCE(tracker, source)=? AND COALESCE(torrent_id, '') != '' "
            "ORDER BY id",
            (tracker,),
        )

    # ------------------------------------------------------------- top10 log
    def record_decision(self, decision: Mapping[str, Any]) -> None:
        with self.tx():
            self._insert_decision(decision)

    def _insert_decision(self, decision: Mapping[str, Any]) -> None:
        data = {"run_at": iso(), **decision}
        cols = list(data)
        self.conn.execute(
            f"INSERT INTO top10_runs ({','.join(cols)}) VALUES ({','.join('?' for _ in cols)})",
            tuple(data[c] for c in cols),
        )

    def top10_decisions(self, task_id: int | None = None) -> list[dict[str, Any]]:
        if task_id is None:
            task_id = self.scalar("SELECT MAX(task_id) FROM top10_runs")
        return self.q("SELECT * FROM top10_runs WHERE task_id=? ORDER BY genre, rank", (task_id,))

    # ---------------------------------------------------------------- hold
    def hold(self) -> str | None:
        """The ratio guard's hold reason, or None when downloads may go on."""
        return self.get_kv("hold")

    # ------------------------------------------------------------ metadata
    def record_corrections(
        self,
        book_id: str,
        current: Mapping[str, Any],
        changes: Mapping[str, Any],
        source: str | Mapping[str, str],
        task_id: int | None = None,
    ) -> None:
        """One ``metadata_corrections`` row per field, and the field -> source map of the book."""
        now = iso()
        with self.tx():
            for field_name, new in changes.items():
                src = source if isinstance(source, str) else source.get(field_name, "")
                old = current.get(field_name)
                self.conn.execute(
                    "INSERT INTO metadata_corrections (book_id, field, old, new, source, task_id, created_at) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (book_id, field_name, _as_text(old), _as_text(new), src, task_id, now),
                )
            row = self.conn.execute("SELECT metadata_source FROM books WHERE id=?", (book_id,)).fetchone()
            if row is not None:
                sources = json.loads(row[0]) if row[0] else {}
                for field_name in changes:
                    sources[field_name] = source if isinstance(source, str) else source.get(field_name, "")
                self.conn.execute(
                    "UPDATE books SET metadata_source=? WHERE id=?", (json.dumps(sources), book_id)
                )

    def mark_metadata_checked(self, book_id: str, when: str) -> None:
        with self.tx():
            self.conn.execute("UPDATE books SET metadata_checked_at=? WHERE id=?", (when, book_id))

    def update_book_fields(self, book_id: str, fields: Mapping[str, Any]) -> None:
        """Mirror fields abook itself just wrote to ABS (the next scan confirms them)."""
        values: dict[str, Any] = {}
        for col, value in fields.items():
            if col == "has_cover":
                values[col] = 1
            elif col == "authors":
                values[col] = json.dumps([{"id": None, "name": a["name"]} for a in value])
            elif col == "series":
                values[col] = json.dumps([{"id": None, "name": x["name"], "sequence": x.get("sequence")} for x in value])
            elif isinstance(value, list | tuple):
                values[col] = json.dumps(list(value))
            else:
                values[col] = value
        with self.tx():
            row = self.q("SELECT * FROM books WHERE id=?", (book_id,))
            if not row:
                return
            merged = {**row[0], **values}
            values["completeness"] = completeness(merged)
            sets = ",".join(f"{k}=?" for k in values)
            self.conn.execute(f"UPDATE books SET {sets} WHERE id=?", (*values.values(), book_id))

    def corrections(self, since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.q(
            "SELECT c.*, b.title FROM metadata_corrections c LEFT JOIN books b ON b.id = c.book_id "
            "WHERE c.created_at >= ? ORDER BY c.id DESC LIMIT ?",
            (iso(since) if since else "", limit),
        )

    def download_summary(self) -> dict[str, Any]:
        rows = self.q(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(size),0) AS bytes FROM downloads GROUP BY status"
        )
        return {r["status"]: {"count": r["n"], "bytes": r["bytes"]} for r in rows}


    def downloads_completed_since(self, since: datetime) -> dict[str, int]:
        """Downloads whose bytes all arrived since ``since`` (whatever happened to them after)."""
        row = self.q(
            "SELECT COUNT(*) AS n, COALESCE(SUM(size),0) AS bytes FROM downloads WHERE completed_at >= ?",
            (iso(since),),
        )[0]
        return {"count": int(row["n"] or 0), "bytes": int(row["bytes"] or 0)}

    def count_failures(self, since: datetime | None = None) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM failed_attempts WHERE created_at >= ?",
                               (iso(since) if since else "",)) or 0)

    def failure_counts(self) -> dict[str, int]:
        """Every failure ever recorded, per command (failed_attempts is never pruned: a counter)."""
        return {r["command"]: int(r["n"]) for r in self.q(
            "SELECT COALESCE(command, '') AS command, COUNT(*) AS n FROM failed_attempts GROUP BY command")}

    def authors_catalogued(self) -> int:
        """Authors whose bibliography fill-authors found (their books are known, owned or missing)."""
        return int(self.scalar(
            "SELECT COUNT(*) FROM authors WHERE removed_at IS NULL AND known_total IS NOT NULL") or 0)

    # ------------------------------------------- ratio-check / report / retention
    RATIO_PAUSED_KEY = "ratio_paused"

    def set_hold(self, reason: str) -> None:
        """Turn the ratio hold on (or update its reason): grabs and submits wait while it is set."""
        self.set_kv("hold", reason or "ratio hold")

    def clear_hold(self) -> None:
        self.set_kv("hold", None)

    def add_snapshot(self, row: Mapping[str, Any]) -> int:
        """One ``tracker_snapshots`` row (what the tracker said, and what abook did about it)."""
        data = {"taken_at": iso(), **row}
        cols = list(data)
        with self.tx():
            cur = self.conn.execute(
                f"INSERT INTO tracker_snapshots ({','.join(cols)}) VALUES ({','.join('?' for _ in cols)})",
                tuple(data[c] for c in cols),
            )
        return int(cur.lastrowid or 0)

    def snapshots(self, since: datetime | None = None, limit: int = 2000) -> list[dict[str, Any]]:
        """Tracker snapshots, oldest first (the newest ``limit`` of them)."""
        rows = self.q(
            "SELECT id, taken_at, username, ratio, uploaded, downloaded, bonus, class_name, vip_until, "
            "unsat_count, unsat_limit, action FROM tracker_snapshots WHERE taken_at >= ? "
            "ORDER BY id DESC LIMIT ?",
            (iso(since) if since else "", limit),
        )
        return rows[::-1]

    def latest_snapshot(self) -> dict[str, Any] | None:
        rows = self.q(
            "SELECT id, taken_at, username, ratio, uploaded, downloaded, bonus, class_name, vip_until, "
            "unsat_count, unsat_limit, action FROM tracker_snapshots ORDER BY id DESC LIMIT 1"
        )
        return rows[0] if rows else None

    def paused_by_abook(self) -> list[str]:
        """Hashes of the torrents the ratio hold paused (and only those get resumed)."""
        raw = self.get_kv(self.RATIO_PAUSED_KEY)
        return list(json.loads(raw)) if raw else []

    def set_paused_by_abook(self, hashes: Sequence[str]) -> None:
        """Remember exactly which torrents abook paused: a kv list plus the downloads' flag."""
        wanted = sorted({h.lower() for h in hashes})
        with self.tx():
            self.set_kv(self.RATIO_PAUSED_KEY, json.dumps(wanted) if wanted else None)
            self.conn.execute("UPDATE downloads SET qb_paused_by_abook=NULL WHERE qb_paused_by_abook=1")
            for h in wanted:
                self.conn.execute(
                    "UPDATE downloads SET qb_paused_by_abook=1 WHERE lower(qb_hash)=? OR info_hash=?", (h, h)
                )

    def abook_hashes(self) -> set[str]:
        """Every torrent hash abook ever added (any status): how its torrents are recognised."""
        out: set[str] = set()
        for qb_hash, info_hash in self.conn.execute("SELECT qb_hash, info_hash FROM downloads"):
            for h in (qb_hash, info_hash):
                if h:
                    out.add(str(h).lower())
        return out

    def top10_recent(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The decisions of the newest top10 run (all genres), if it ran after ``since``."""
        row = self.conn.execute(
            "SELECT task_id, MAX(run_at) FROM top10_runs WHERE task_id = (SELECT MAX(task_id) FROM top10_runs)"
        ).fetchone()
        if not row or row[0] is None or (since is not None and (row[1] or "") < iso(since)):
            return []
        return self.top10_decisions(row[0])

    def downloads_finished_since(self, since: datetime) -> int:
        return int(self.scalar(
            "SELECT COUNT(*) FROM downloads WHERE status IN ('imported','done') AND updated_at >= ?", (iso(since),)
        ) or 0)

    def prune_history(self, retention_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete history older than ``retention_days`` (one transaction); returns rows deleted per table.

        Kept whatever their age: ``failed_attempts`` (forever, by design), unfinished and failed
        downloads (they are live work or the memory of a broken torrent), the newest task of every
        command (so the report always shows each command's last run, even a monthly one), the newest
        top10 run and the newest tracker snapshot.
        """
        if retention_days <= 0:
            return {}
        cutoff = iso((now or utcnow()) - timedelta(days=retention_days))
        conn = self.conn
        counts: dict[str, int] = {}
        with self.tx():
            counts["tasks"] = conn.execute(
                "DELETE FROM tasks WHERE started_at < ? AND status != 'running' "
                "AND id NOT IN (SELECT MAX(id) FROM tasks GROUP BY command)", (cutoff,)
            ).rowcount
            counts["downloads"] = conn.execute(
                "DELETE FROM downloads WHERE status IN ('done','imported') "
                "AND COALESCE(updated_at, created_at) < ?", (cutoff,)
            ).rowcount
            counts["metadata_corrections"] = conn.execute(
                "DELETE FROM metadata_corrections WHERE created_at < ?", (cutoff,)
            ).rowcount
            counts["tracker_snapshots"] = conn.execute(
                "DELETE FROM tracker_snapshots WHERE taken_at < ? "
                "AND id != (SELECT MAX(id) FROM tracker_snapshots)", (cutoff,)
            ).rowcount
            counts["notifications"] = conn.execute(
                "DELETE FROM notifications WHERE COALESCE(sent_at, gave_up_at) < ?", (cutoff,)
            ).rowcount
            counts["top10_runs"] = conn.execute(
                "DELETE FROM top10_runs WHERE run_at < ? "
                "AND COALESCE(task_id, -1) != COALESCE((SELECT MAX(task_id) FROM top10_runs), -1)", (cutoff,)
            ).rowcount
        return {k: v for k, v in counts.items() if v > 0}

    # -------------------------------------------------------- notifications
    def queue_notifications(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Put events in the outbox, one row per event and target, in one transaction. An event
        whose key is already queued for a target is not queued again. Returns the rows added."""
        added = 0
        now = iso()
        with self.tx():
            for row in rows:
                data = {"created_at": now, "attempts": 0, **row}
                cols = list(data)
                cur = self.conn.execute(
                    f"INSERT OR IGNORE INTO notifications ({','.join(cols)}) "
                    f"VALUES ({','.join('?' for _ in cols)})",
                    tuple(data[c] for c in cols),
                )
                added += max(cur.rowcount, 0)
        return added

    def claim_notifications(
        self, targets: Sequence[str], *, now: datetime, stale_after: timedelta, max_age: timedelta,
        max_attempts: int,
    ) -> list[dict[str, Any]]:
        """The unsent notifications for ``targets`` that no other run is sending, oldest first.

        Claimed in one transaction, so two commands ending at the same moment never send one
        twice; a claim older than ``stale_after`` belongs to a run that died and is taken over. A
        row older than ``max_age``, out of attempts, or for a target no longer configured is
        given up (kept, and shown in the report, until retention).
        """
        stale = iso(now - stale_after)
        marks = ",".join("?" for _ in targets)
        with self.tx():
            self.conn.execute(
                "UPDATE notifications SET gave_up_at=?, claimed_at=NULL WHERE sent_at IS NULL AND gave_up_at IS NULL "
                "AND (created_at < ? OR attempts >= ?) AND (claimed_at IS NULL OR claimed_at < ?)",
                (iso(now), iso(now - max_age), max_attempts, stale),
            )
            self.conn.execute(
                "UPDATE notifications SET gave_up_at=?, last_error='the target is no longer in NOTIFY_URLS' "
                f"WHERE sent_at IS NULL AND gave_up_at IS NULL AND target NOT IN ({marks})",
                (iso(now), *targets),
            )
            rows = self.q(
                "SELECT * FROM notifications WHERE sent_at IS NULL AND gave_up_at IS NULL "
                f"AND (claimed_at IS NULL OR claimed_at < ?) AND target IN ({marks}) ORDER BY id",
                (stale, *targets),
            )
            self.conn.executemany(
                "UPDATE notifications SET claimed_at=? WHERE id=?", ((iso(now), r["id"]) for r in rows)
            )
        return rows

    def finish_notification(
        self, row_id: int, *, sent: bool, error: str = "", tried: bool = True, now: datetime | None = None
    ) -> None:
        """Release a claimed notification: delivered (``sent``), or not (a later run tries again;
        ``tried`` False when it was not even attempted because its target had just failed)."""
        with self.tx():
            self.conn.execute(
                "UPDATE notifications SET claimed_at=NULL, sent_at=?, attempts=attempts+?, "
                "last_error=COALESCE(?, last_error) WHERE id=?",
                (iso(now) if sent else None, 1 if tried else 0, error or None, row_id),
            )

    def notification_summary(self, since: datetime | None = None) -> dict[str, Any]:
        """The outbox: waiting to be sent, given up (since ``since``), sent (since ``since``), the newest error."""
        after = iso(since) if since else ""
        row = self.q(
            "SELECT SUM(CASE WHEN sent_at IS NULL AND gave_up_at IS NULL THEN 1 ELSE 0 END) AS pending, "
            "SUM(CASE WHEN gave_up_at IS NOT NULL AND gave_up_at >= ? THEN 1 ELSE 0 END) AS gave_up, "
            "SUM(CASE WHEN sent_at IS NOT NULL AND sent_at >= ? THEN 1 ELSE 0 END) AS sent, "
            "MAX(sent_at) AS last_sent_at FROM notifications",
            (after, after),
        )[0]
        error = self.q(
            "SELECT last_error, created_at FROM notifications WHERE last_error IS NOT NULL AND sent_at IS NULL "
            "ORDER BY id DESC LIMIT 1"
        )
        return {
            "pending": int(row["pending"] or 0), "gave_up": int(row["gave_up"] or 0), "sent": int(row["sent"] or 0),
            "last_sent_at": row["last_sent_at"], "last_error": error[0]["last_error"] if error else None,
        }

    # ------------------------------------------- gaps (fill-series / fill-authors / missing)
    def bibliography_get(self, key: str) -> dict[str, Any] | None:
        """A cached bibliography: ``{"source", "fetched_at", "payload"}`` (payload parsed), or None."""
        rows = self.q("SELECT source, fetched_at, payload FROM bibliography_cache WHERE key=?", (key,))
        if not rows:
            return None
        row = rows[0]
        try:
            row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        except ValueError:
            return None  # a damaged entry is as good as none: it is fetched again
        return row

    def bibliography_put(self, key: str, source: str, payload: Any, fetched_at: str | None = None) -> None:
        with self.tx():
            self.conn.execute(
                "INSERT INTO bibliography_cache (key, source, fetched_at, payload) VALUES (?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET source=excluded.source, fetched_at=excluded.fetched_at, "
                "payload=excluded.payload",
                (key, source, fetched_at or iso(), json.dumps(payload, ensure_ascii=False)),
            )

    def missing_for(self, kind: str, group_id: str) -> list[dict[str, Any]]:
        """The ``missing_books`` rows of one series (series_gap) or author (author_gap)."""
        column = "series_id" if kind == "series_gap" else "author_id"
        return self.q(
            f"SELECT * FROM missing_books WHERE kind=? AND {column}=? ORDER BY id", (kind, group_id)
        )

    def save_missing(
        self, rows: Iterable[Mapping[str, Any]], delete_ids: Iterable[int] = ()
    ) -> dict[str, int]:
        """Insert (no ``id``) or update (with ``id``) missing_books rows, delete stale ones; one
        transaction. Returns ``{"inserted", "updated", "deleted"}``."""
        now = iso()
        counts = {"inserted": 0, "updated": 0, "deleted": 0}
        conn = self.conn
        with self.tx():
            for row in rows:
                data = {k: v for k, v in row.items() if k != "id"}
                if row.get("id"):
                    data["updated_at"] = now
                    sets = ",".join(f"{k}=?" for k in data)
                    conn.execute(f"UPDATE missing_books SET {sets} WHERE id=?", (*data.values(), row["id"]))
                    counts["updated"] += 1
                else:
                    data = {"created_at": now, "updated_at": now, **data}
                    cols = list(data)
                    conn.execute(
                        f"INSERT INTO missing_books ({','.join(cols)}) VALUES ({','.join('?' for _ in cols)})",
                        tuple(data.values()),
                    )
                    counts["inserted"] += 1
            for row_id in delete_ids:
                counts["deleted"] += conn.execute("DELETE FROM missing_books WHERE id=?", (row_id,)).rowcount
        return counts

    def update_missing(self, row_id: int, **fields: Any) -> None:
        fields["updated_at"] = iso()
        sets = ",".join(f"{k}=?" for k in fields)
        with self.tx():
            self.conn.execute(f"UPDATE missing_books SET {sets} WHERE id=?", (*fields.values(), row_id))

    def missing_books(
        self, kind: str | None = None, *, series: str | None = None, author: str | None = None
    ) -> list[dict[str, Any]]:
        """missing_books rows with the status of their download (``download_status``) joined;
        ``series``/``author`` filter on the name, case-insensitively."""
        where, params = ["m.status != 'ignored'"], []
        if kind:
            where.append("m.kind=?")
            params.append(kind)
        if series:
            where.append("m.kind='series_gap' AND lower(m.series_name)=lower(?)")
            params.append(series)
        if author:
            where.append("m.kind='author_gap' AND lower(m.author_name)=lower(?)")
            params.append(author)
        sql = (
            "SELECT m.*, d.status AS download_status, d.title AS download_title FROM missing_books m "
            f"LEFT JOIN downloads d ON d.id = m.download_id WHERE {' AND '.join(where)} ORDER BY m.kind, m.id"
        )
        return self.q(sql, tuple(params))

    def set_series_gaps(
        self, series_id: str, name: str, *, known_total: int | None, missing: int | None, status: str,
        library_id: str | None = None, when: str | None = None, source: str | None = None,
        source_name: str | None = None, reason: str | None = None,
    ) -> None:
        """Completion figures of a series (``owned`` stays scan's count of books), the source
        that listed it and the name it has there, or why it is unknown."""
        with self.tx():
            self.conn.execute(
                "INSERT INTO series (id, library_id, name, known_total, missing, status, last_check, source, "
                "source_name, reason) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "known_total=excluded.known_total, missing=excluded.missing, status=excluded.status, "
                "last_check=excluded.last_check, source=excluded.source, source_name=excluded.source_name, "
                "reason=excluded.reason",
                (series_id, library_id, name, known_total, missing, status, when or iso(), source, source_name,
                 reason),
            )

    def set_author_gaps(
        self, author_id: str, name: str, *, owned: int, known_total: int | None, missing: int | None,
        library_id: str | None = None, when: str | None = None, status: str | None = None,
        source: str | None = None, reason: str | None = None,
    ) -> None:
        """Completion figures of an author (``num_books`` stays scan's count), the source that
        listed the catalogue, or why it is unknown."""
        with self.tx():
            self.conn.execute(
                "INSERT INTO authors (id, library_id, name, owned, known_total, missing, last_check, status, source, "
                "reason) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET owned=excluded.owned, "
                "known_total=excluded.known_total, missing=excluded.missing, last_check=excluded.last_check, "
                "status=excluded.status, source=excluded.source, reason=excluded.reason",
                (author_id, library_id, name, owned, known_total, missing, when or iso(), status, source, reason),
            )

    def mark_group_unknown(
        self, kind: str, group_id: str, name: str, *, reason: str, owned: int = 0,
        library_id: str | None = None, when: str | None = None,
    ) -> None:
        """A series (``series_gap``) or author (``author_gap``) whose bibliography could not be
        had this run: status ``unknown`` and why; figures an earlier run found are kept."""
        table = "series" if kind == "series_gap" else "authors"
        extra = "" if table == "series" else ", owned"
        with self.tx():
            self.conn.execute(
                f"INSERT INTO {table} (id, library_id, name, status, reason, last_check{extra}) "
                f"VALUES (?,?,?,?,?,?{', ?' if extra else ''}) ON CONFLICT(id) DO UPDATE SET "
                "status=excluded.status, reason=excluded.reason, last_check=excluded.last_check",
                (group_id, library_id, name, "unknown", reason, when or iso(), *((owned,) if extra else ())),
            )

    def series_completion(self) -> list[dict[str, Any]]:
        """Series whose bibliography is known: name, owned (scan), known_total, missing, status."""
        return self.q(
            "SELECT id, name, owned, known_total, missing, status, last_check FROM series "
            "WHERE removed_at IS NULL AND known_total IS NOT NULL ORDER BY name"
        )

    def authors_by_gaps(self, limit: int = 10) -> list[dict[str, Any]]:
        """Authors with the most missing books first."""
        return self.q(
            "SELECT id, name, owned, known_total, missing, last_check FROM authors "
            "WHERE removed_at IS NULL AND missing > 0 ORDER BY missing DESC, name LIMIT ?",
            (limit,),
        )

    def missing_book_counts(self) -> dict[str, int]:
        """``{status: books}`` over missing_books, each book once (a book a series and its author
        both lack is one book; its status is the furthest either row reached)."""
        best: dict[str, str] = {}
        for ident, status in self.conn.execute(
            "SELECT COALESCE(NULLIF(asin, ''), lower(COALESCE(title, '')) || '|' || lower(COALESCE(author_name, ''))), "
            "status FROM missing_books"
        ):
            old = best.get(ident)
            if old is None or _MISSING_RANK.get(status, 0) > _MISSING_RANK.get(old, 0):
                best[ident] = status
        out: dict[str, int] = {}
        for status in best.values():
            out[status] = out.get(status, 0) + 1
        return out

    def unknown_groups(self) -> list[dict[str, Any]]:
        """Series and authors whose bibliography is unknown, with why (``kind`` series_gap /
        author_gap)."""
        return self.q(
            "SELECT 'series_gap' AS kind, id, name, reason, last_check FROM series "
            "WHERE removed_at IS NULL AND status='unknown' AND reason IS NOT NULL "
            "UNION ALL SELECT 'author_gap', id, name, reason, last_check FROM authors "
            "WHERE removed_at IS NULL AND status='unknown' AND reason IS NOT NULL ORDER BY 1, 3"
        )

    def group_figures(self, kind: str, group_id: str) -> dict[str, Any] | None:
        """The stored series / authors row of one group (status, reason, source...)."""
        table = "series" if kind == "series_gap" else "authors"
        rows = self.q(f"SELECT * FROM {table} WHERE id=?", (group_id,))
        return rows[0] if rows else None

    def missing_reason_counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {reason_code: count}}`` over missing_books rows that are not_found or unwanted."""
        out: dict[str, dict[str, int]] = {}
        for row in self.q(
            "SELECT kind, reason_code, COUNT(*) AS n FROM missing_books "
            "WHERE status IN ('not_found', 'unwanted') AND reason_code IS NOT NULL GROUP BY kind, reason_code"
        ):
            out.setdefault(row["kind"], {})[row["reason_code"]] = row["n"]
        return out

    def missing_status_counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {status: count}}`` over missing_books (statuses as stored)."""
        out: dict[str, dict[str, int]] = {}
        for row in self.q("SELECT kind, status, COUNT(*) AS n FROM missing_books GROUP BY kind, status"):
            out.setdefault(row["kind"], {})[row["status"]] = row["n"]
        return out


# The furthest a missing book got, when its series and its author both list it.
_MISSING_RANK = {"ignored": 0, "wanted": 1, "not_found": 2, "queued": 3, "downloading": 4, "in_library": 5}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
