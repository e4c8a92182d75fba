"""``abook downloads``: carry every grab to "in the library, with the right metadata".

One pass (run every 5 minutes by cron):

1. **watch** abook's queued/downloading torrents in qBittorrent: progress, completion, errors,
   torrents gone, stalls (no progress for ``STALL_HOURS``). A broken download is retried
   (re-added with its .torrent fetched again and checked by hash, or re-checked / re-announced) up to
   ``DOWNLOAD_RETRIES`` times; then it is ``failed`` with a permanent ``failed_attempts`` row;
2. **submit** ``pending`` downloads, oldest first, while abook has fewer than
   ``MAX_ACTIVE_DOWNLOADS`` unfinished torrents: each passes the ratio guard again, then the fresh
   look (its flags read again right before the fetch; a pick whose freeleech ended is judged as
   one that costs ratio) and, for a big one that costs ratio, the freeleech wedge (see
   :mod:`abook.workflows.grab`);
3. **import** completed ones: with ``ABS_LIBRARY_PATH`` hardlink (copy across file systems) the
   files to ``Author/Series/Vol N - Title {Narrator}/`` with a ``metadata.json`` that ABS reads
   first; without it qBittorrent already saved into an ABS folder. Both carry the tracker's title
   tidied (:func:`tracker_book`: no series label, no edition tag; the series and sequence it
   names). Then ask ABS to scan and find the new item (by path, else by matching), bounded in
   time; a book ABS has not shown yet is looked for again on the next run;
4. **apply** what the tracker said (narrators, series + sequence, language, authors, description)
   to the ABS item's empty fields only, recording each field's source; a title ABS read from the
   torrent's folder or tags is replaced only when it is an untidy form of the same title.

abook never deletes a torrent or its files, and never pauses or stops one here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AbookError, AuthError, PartialFailure, ServiceError
from ..models import DownloadStatus as S
from ..models import SeriesRef
from ..progress import NullProgress, Progress
from ..times import iso, parse_iso
from .grab import Submitter, extra_tags, fetch_torrent, fresh_look, resolve_wedge
from .metadata import fill_empty

if TYPE_CHECKING:
    from ..acquisition import Guard, Policy
    from ..clients.audiobookshelf import Audiobookshelf
    from ..clients.qbittorrent import QBittorrent
    from ..library import AbsItem
    from ..state import State

log = logging.getLogger("abook")
AUDIO_EXT = {".mp3", ".m4b", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma", ".wav", ".mka"}


@dataclass(frozen=True)
class Options:
    max_active: int = 10
    retries: int = 3
    stall_hours: float = 12.0
    library_path: Path | None = None
    library_name: str = ""
    scan_timeout: float = 120.0
    seed_min_hours: float = 72.0

    @classmethod
    def from_settings(cls, settings: Any) -> Options:
        return cls(
            max_active=settings.max_active_downloads,
            retries=settings.download_retries,
            stall_hours=settings.stall_hours,
            library_path=settings.abs_library_path,
            library_name=settings.abs_library,
            scan_timeout=settings.abs_scan_timeout,
            seed_min_hours=settings.seed_min_hours,
        )


@dataclass
class Move:
    download_id: int
    title: str
    old: str
    new: str
    detail: str = ""


@dataclass
class DownloadsResult:
    moves: list[Move] = field(default_factory=list)
    failed: list[Move] = field(default_factory=list)
    dry_run: bool = False
    counts_by_status: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.moves:
            out[m.new] = out.get(m.new, 0) + 1
        out["failed"] = len(self.failed)
        return out

    def error(self) -> PartialFailure | None:
        """What the command's exit code must say (None: done)."""
        if self.failed:
            return PartialFailure(f"{len(self.failed)} downloads failed permanently (see abook report)")
        return None


# ---------------------------------------------------------------- pure helpers
_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def _clean(part: str) -> str:
    part = _BAD.sub(" ", part or "").strip().strip(".")
    return re.sub(r"\s+", " ", part)[:120] or "Unknown"


def library_folder(
    author: str, title: str, *, series: str = "", position: str = "", narrator: str = ""
) -> Path:
    """``Author/Series/Vol N - Title {Narrator}`` (or ``Author/Title {Narrator}``), as ABS parses it."""
    first_author = (author or "").split(",")[0].strip() or "Unknown Author"
    leaf = _clean(title)
    if series and position:
        leaf = f"Vol {_clean(position)} - {leaf}"
    if narrator:
        leaf = f"{leaf} {{{_clean(narrator.split(',')[0])}}}"
    parts = [_clean(first_author)]
    if series:
        parts.append(_clean(series))
    parts.append(leaf)
    return Path(*parts)


@dataclass(frozen=True)
class TrackerBook:
    """What the tracker said about a download, tidied for the library: the title without its
    series label or edition tags (:func:`abook.tidy.tidy`), the series with a sequence ABS can
    read, every author and narrator, the language and the tracker's description."""

    title: str
    raw_title: str
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesRef, ...] = ()
    language: str = ""
    description: str = ""
    genres: tuple[str, ...] = ()


def _names(values: Any, joined: str | None) -> tuple[str, ...]:
    names = [str(v).strip() for v in values or [] if str(v).strip()]
    if not names:
        names = [n.strip() for n in (joined or "").split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def _sequence(position: Any) -> str | None:
    """A tracker's series position as an ABS sequence ("1 - 5" -> "1-5", "03" -> "3"). ABS reads
    ``"Name #seq"`` only when seq has no space or "#", so anything else that is not a position
    is dropped rather than glued into the series name."""
    from ..tidy import position_text

    text = str(position or "").strip()
    if not text:
        return None
    return position_text(text) or (text if not re.search(r"[\s#]", text) else None)


def tracker_book(download: Mapping[str, Any]) -> TrackerBook:
    """The download row (its JSON ``payload`` first, the columns after) as a :class:`TrackerBook`."""
    from ..tidy import byline, tidy

    payload = json.loads(download.get("payload") or "{}")
    series: list[SeriesRef] = []
    for entry in payload.get("series") or []:
        name, pos = [*entry, None, None][:2] if isinstance(entry, list | tuple) else (entry, None)
        if name and str(name).strip():
            series.append(SeriesRef(str(name).strip(), _sequence(pos)))
    if not series and download.get("series"):
        series.append(SeriesRef(str(download["series"]).strip(), _sequence(download.get("series_position"))))
    raw = str(download.get("title") or payload.get("title") or "")
    # Prowlarr's MAM releases carry the author only in the title ("... by Author [ENG / m4b]")
    authors = _names(payload.get("authors"), download.get("author")) or byline(raw)
    cleaned = tidy(raw, series=series, authors=authors)
    return TrackerBook(
        title=cleaned.title or raw,
        raw_title=raw,
        authors=authors,
        narrators=_names(payload.get("narrators"), download.get("narrator")),
        series=tuple(SeriesRef(s.name, _sequence(s.position)) for s in cleaned.series),
        language=str(payload.get("language") or download.get("language") or ""),
        description=str(payload.get("description") or "").strip(),
        genres=(str(download["genre"]),) if download.get("genre") else (),
    )


def metadata_json(download: Mapping[str, Any]) -> dict[str, Any]:
    """The ``metadata.json`` ABS reads first for a new folder (ABS 2.36 ``abmetadataGenerator``
    ``parseJson``: flat keys, people as strings, series as ``"Name #sequence"``), so the book
    shows with its clean title, series and sequence on the very first scan."""
    book = tracker_book(download)
    data: dict[str, Any] = {
        "title": book.title,
        "authors": list(book.authors),
        "narrators": list(book.narrators),
        "series": [f"{s.name} #{s.position}" if s.position else s.name for s in book.series],
        "language": book.language or None,
        "description": book.description or None,
        "genres": list(book.genres),
    }
    return {k: v for k, v in data.items() if v not in (None, [], "")}


def tracker_metadata(download: Mapping[str, Any]) -> dict[str, Any]:
    """What the tracker told us, in the shapes ABS's PATCH accepts (authors as objects,
    sequences as strings)."""
    book = tracker_book(download)
    return {
        "authors": [{"name": a} for a in book.authors],
        "narrators": list(book.narrators),
        "series": [{"name": s.name, "sequence": s.position} for s in book.series],
        "language": book.language or None,
        "description": book.description or None,
    }


def retitle(current: str | None, book: TrackerBook) -> str | None:
    """The title the PATCH after the scan sets, or None to leave ABS's.

    ABS may have read the new item's title from a folder or file name or the audio tags (no
    ``metadata.json`` when qBittorrent saved straight into the library): when that is a dirty
    form of the same title ("Mistborn - The Hero of Ages [Unabridged]"), the tidy one replaces
    it; a title that says something else is left alone."""
    from ..tidy import tidy, title_key

    if not book.title or current == book.title:
        return None
    if not current or not current.strip() or title_key(current) == title_key(book.raw_title):
        return book.title
    mine = tidy(current, series=book.series, authors=book.authors).title
    return book.title if title_key(mine) == title_key(book.title) else None


def link_tree(source: Path, target: Path) -> list[Path]:
    """Hardlink (copy across file systems) ``source`` (a file or folder) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    made = []
    for src in files:
        rel = Path(src.name) if source.is_file() else src.relative_to(source)
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            made.append(dst)
            continue
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        made.append(dst)
    return made


# --------------------------------------------------------------------- the run
@dataclass
class Downloads:
    state: State
    qbt: QBittorrent
    abs_client: Audiobookshelf | None
    policy: Policy
    options: Options
    now: Callable[[], datetime]
    dry_run: bool = False
    task_id: int | None = None
    guard: Guard | None = None
    # fetch(row) -> (.torrent bytes, magnet): fetches a recorded download's torrent again
    fetch: Callable[[Mapping[str, Any]], tuple[bytes | None, str | None]] | None = None
    progress: Progress = field(default_factory=NullProgress)
    sleep: Callable[[float], None] = time.sleep
    result: DownloadsResult = field(default_factory=DownloadsResult)

    # --------------------------------------------------------------- helpers
    def _move(self, d: Mapping[str, Any], new: str, detail: str = "", **fields: Any) -> None:
        old = d["status"]
        if not self.dry_run:
            self.state.update_download(d["id"], status=new, status_reason=detail or None, **fields)
        self.result.moves.append(Move(d["id"], d["title"] or "", old, new, detail))
        self.progress.event(f"#{d['id']} {d['title']}: {old} -> {new}{' (' + detail + ')' if detail else ''}")

    def _fail(self, d: Mapping[str, Any], code: str, reason: str) -> None:
        move = Move(d["id"], d["title"] or "", d["status"], S.FAILED, reason)
        self.result.failed.append(move)
        if self.dry_run:
            self.progress.event(f"#{d['id']} {d['title']}: would fail ({reason})")
            return
        with self.state.tx():
            self.state.update_download(d["id"], status=S.FAILED, status_reason=reason)
            self.state.record_failure(
                "downloads", "download", code, reason, ref=str(d["id"]), title=d["title"] or "",
                task_id=self.task_id,
            )
        self.progress.warn(f"#{d['id']} {d['title']}: failed permanently: {reason}")

    def _retry(self, d: Mapping[str, Any], code: str, reason: str, action: Callable[[], None]) -> None:
        tries = int(d["retries"] or 0) + 1
        if tries > self.options.retries:
            self._fail(d, code, f"{reason}; gave up after {self.options.retries} retries")
            return
        if self.dry_run:
            self.progress.event(f"#{d['id']} {d['title']}: would retry ({reason})")
            return
        try:
            action()
        except AbookError as exc:
            reason = f"{reason}; retry failed: {exc}"
        self.state.update_download(
            d["id"], retries=tries, status_reason=f"retry {tries}/{self.options.retries}: {reason}",
            last_progress_at=iso(self.now()),
        )
        self.result.moves.append(Move(d["id"], d["title"] or "", d["status"], "retry", reason))
        self.progress.warn(f"#{d['id']} {d['title']}: {reason}; retry {tries} of {self.options.retries}")

    # ------------------------------------------------------------------ watch
    def watch(self) -> None:
        rows = self.state.downloads((S.QUEUED, S.DOWNLOADING))
        if not rows:
            return
        torrents = {t.hash: t for t in self.qbt.torrents()}
        now = self.now()
        for d in rows:
            h = (d["qb_hash"] or d["info_hash"] or "").lower()
            t = torrents.get(h)
            if t is None:
                self._retry(d, "gone", "the torrent is gone from qBittorrent", lambda d=d: self._readd(d))
                continue
            if t.is_error:
                self._retry(d, "error", f"qBittorrent reports {t.state}", lambda h=h: self.qbt.recheck(h))
                continue
            if t.is_complete:
                self._move(d, S.COMPLETED, f"{t.size / 1e6:.0f} MB", progress=1.0,
                           completed_at=iso(now), content_path=t.content_path or None)
                continue
            last = parse_iso(d["last_progress_at"]) or parse_iso(d["updated_at"]) or now
            if t.progress > float(d["progress"] or 0.0) + 1e-6:
                if not self.dry_run:
                    self.state.update_download(d["id"], status=S.DOWNLOADING, progress=t.progress,
                                               last_progress_at=iso(now))
                if d["status"] != S.DOWNLOADING:
                    self.result.moves.append(Move(d["id"], d["title"] or "", d["status"], S.DOWNLOADING,
                                                  f"{t.progress:.0%}"))
                continue
            if t.is_paused:
                continue  # paused by the ratio guard or the user: not a stall
            if now - last >= timedelta(hours=self.options.stall_hours):
                self._retry(d, "stalled", f"no progress for {self.options.stall_hours:g} h",
                            lambda h=h: self.qbt.reannounce(h))

    def _readd(self, d: Mapping[str, Any]) -> None:
        full = self.state.get_download(d["id"]) or d
        data, magnet = self._torrent(full)
        Submitter(self.state, self.qbt, self.policy).submit(
            d["id"], release_tags=_tags(full), data=data, magnet=magnet,
            info_hash=full.get("info_hash") or "",
        )

    def _torrent(self, row: Mapping[str, Any], *, wedge: bool = False) -> tuple[bytes | None, str | None]:
        if self.fetch is None:
            raise ServiceError(f"no search source is configured to fetch {row.get('source')} torrents again")
        try:
            return self.fetch(row, wedge=True) if wedge else self.fetch(row)
        except ValueError as exc:
            raise ServiceError(str(exc)) from None

    # ----------------------------------------------------------------- submit
    def submit(self) -> None:
        pending = self.state.downloads((S.PENDING,))
        if not pending:
            return
        if self.state.hold():
            self.progress.event(f"ratio hold is on: {len(pending)} pending downloads wait")
            return
        submitter = Submitter(self.state, self.qbt, self.policy)
        for d in pending:
            if submitter.active() >= self.options.max_active:
                break
            full = self.state.get_download(d["id"]) or d
            release = _release_of(full)
            if self.guard is not None:
                refusal = self.guard(release)
                if refusal:
                    if not self.dry_run:
                        self.state.update_download(d["id"], status_reason=refusal)
                    self.progress.event(f"#{d['id']} {d['title']}: waits ({refusal})")
                    continue  # a smaller or free pick behind it may still fit
            clearance = None if self.dry_run else fresh_look(self.guard, release)
            if clearance is not None:
                resolve_wedge(self.state, full, clearance)
                if clearance.gone:
                    self._gone(full, clearance.gone)
                    continue
                if clearance.refusal:
                    self.state.update_download(d["id"], status_reason=clearance.refusal)
                    self.progress.event(f"#{d['id']} {d['title']}: waits ({clearance.refusal})")
                    continue
                release = clearance.release
                now_free = bool(release.freeleech or release.personal_freeleech)
                if now_free != bool(full.get("freeleech")):
                    self.state.update_download(d["id"], freeleech=int(now_free))
                _keep_description(self.state, full, release)
                if clearance.changed:
                    self.progress.event(f"#{d['id']} {d['title']}: {clearance.changed}")
            if self.dry_run:
                self.result.moves.append(Move(d["id"], d["title"] or "", S.PENDING, S.QUEUED, "dry run"))
                continue
            try:
                data, magnet, _wedge = fetch_torrent(
                    self.state, self.guard, lambda wedge, full=full: self._torrent(full, wedge=wedge), d["id"],
                    release, clearance, command="downloads", task_id=self.task_id,
                )
            except AuthError:
                raise
            except ServiceError as exc:
                self.state.update_download(d["id"], status_reason=f"fetching the .torrent failed: {exc}")
                self.progress.warn(f"#{d['id']} {d['title']}: fetching the .torrent failed: {exc}")
                if exc.status is None or exc.status >= 500 or exc.status == 429:
                    break  # the tracker itself is in trouble: the other picks wait for the next run
                continue
            try:
                submitter.submit(d["id"], release_tags=_tags(full), data=data, magnet=magnet,
                                 info_hash=full.get("info_hash") or "")
            except ServiceError as exc:
                self.state.update_download(d["id"], status_reason=f"qBittorrent add failed: {exc}")
                self.progress.warn(f"#{d['id']} {d['title']}: qBittorrent add failed: {exc}")
                continue
            self.result.moves.append(Move(d["id"], d["title"] or "", S.PENDING, S.QUEUED))
            self.progress.event(f"#{d['id']} {d['title']}: pending -> queued")

    def _gone(self, d: Mapping[str, Any], why: str) -> None:
        """A pending pick the fresh look says must not be fetched: the account snatched it
        meanwhile (not abook's grab any more: the row is taken back), or the tracker dropped it."""
        if why.startswith("snatched before"):
            self.state.discard_download(d["id"], "skipped", f"fresh look: {why}")
            self.result.moves.append(Move(d["id"], d["title"] or "", S.PENDING, "skipped", why))
            self.progress.event(f"#{d['id']} {d['title']}: not taken ({why})")
            return
        self._fail(d, "gone", f"fresh look: {why}")

    # ----------------------------------------------------------------- import
    def import_completed(self) -> None:
        rows = self.state.downloads((S.COMPLETED,))
        if not rows or self.abs_client is None:
            return
        from ..library import select_libraries

        # Without ABS_LIBRARY every book library is scanned and searched: abook cannot tell which
        # ABS folder its ABS_LIBRARY_PATH (or qBittorrent's save path) is.
        libs = select_libraries(self.abs_client.libraries(), self.options.library_name)
        placed: list[tuple[Mapping[str, Any], Path | None]] = []
        for d in rows:
            folder = None
            if self.options.library_path is not None:
                full = self.state.get_download(d["id"]) or d
                if not full.get("content_path"):
                    t = self.qbt.get(full.get("qb_hash") or full.get("info_hash") or "")
                    full = {**full, "content_path": t.content_path if t else None}
                if not full.get("content_path") or not Path(full["content_path"]).exists():
                    self._retry(d, "import", f"downloaded files not found at {full.get('content_path')!r}",
                                lambda: None)
                    continue
                # A folder chosen by an earlier run is kept: a run killed after linking (or an
                # upgrade that tidies titles differently) must not make a second item.
                folder = Path(full["import_path"]) if full.get("import_path") else book_folder(full)
                if self.dry_run:
                    self.progress.event(f"#{d['id']} would import into {folder}")
                    continue
                target = self.options.library_path / folder
                link_tree(Path(full["content_path"]), target)
                (target / "metadata.json").write_text(
                    json.dumps(metadata_json(full), indent=2, ensure_ascii=False), encoding="utf-8"
                )
                self.state.update_download(d["id"], import_path=str(folder))
            placed.append((d, folder))
        if not placed or self.dry_run:
            return
        with_scan = any(self.state.get_download(d["id"]).get("status_reason") != "waiting for ABS"  # type: ignore[union-attr]
                        for d, _ in placed)
        if with_scan:
            for lib in libs:
                self.abs_client.scan_library(lib.id)
        deadline = time.monotonic() + self.options.scan_timeout
        waiting = dict((d["id"], (d, folder)) for d, folder in placed)
        while waiting:
            recent = [item for lib in libs for item in self._recent_items(lib.id)]
            for dl_id, (d, folder) in list(waiting.items()):
                item = _find_item(recent, d, folder)
                if item is not None:
                    del waiting[dl_id]
                    self._move(d, S.IMPORTED, f"ABS item {item.id}", abs_item_id=item.id)
                    self.apply_metadata({**d, "abs_item_id": item.id})
            if not waiting or time.monotonic() >= deadline:
                break
            self.sleep(2.0)
        for d, _ in waiting.values():
            if not self.dry_run:
                self.state.update_download(d["id"], status_reason="waiting for ABS")
            self.progress.event(f"#{d['id']} {d['title']}: not in ABS yet; looked for again next run")

    def _recent_items(self, library_id: str) -> list[AbsItem]:
        assert self.abs_client is not None
        return self.abs_client.recent_items(library_id, limit=200)

    # --------------------------------------------------------------- metadata
    def apply_metadata(self, d: Mapping[str, Any]) -> None:
        assert self.abs_client is not None
        full = self.state.get_download(d["id"]) or d
        item_id = d["abs_item_id"]
        current = self.abs_client.item(item_id).metadata_values()
        patch = fill_empty(current, tracker_metadata(full))
        title = retitle(current.get("title"), tracker_book(full))
        if title is not None:
            patch["title"] = title
        if patch:
            self.abs_client.patch_media(item_id, {"metadata": patch})
            self.state.record_corrections(item_id, current, patch, "tracker", self.task_id)
        self._move({**d, "status": S.IMPORTED}, S.DONE, f"{len(patch)} fields filled from the tracker")

    # -------------------------------------------------------------------- run
    def run(self) -> DownloadsResult:
        self.result.dry_run = self.dry_run
        self.watch()
        self.submit()
        self.import_completed()
        for d in self.state.downloads((S.IMPORTED,)):
            if d["abs_item_id"] and not self.dry_run and self.abs_client is not None:
                self.apply_metadata(d)
        return self.result


def run(
    state: State,
    qbt: QBittorrent,
    abs_client: Audiobookshelf | None,
    policy: Policy,
    options: Options,
    *,
    now: Callable[[], datetime],
    dry_run: bool = False,
    task_id: int | None = None,
    guard: Guard | None = None,
    fetch: Callable[[Mapping[str, Any]], tuple[bytes | None, str | None]] | None = None,
    progress: Progress | None = None,
    retry: int | None = None,
) -> DownloadsResult:
    """One pass over every download (see the module docstring); ``retry`` first gives that
    failed download a fresh round of retries."""
    if retry is not None:
        reset_failed(state, retry, dry_run=dry_run)
    return Downloads(state, qbt, abs_client, policy, options, now=now, dry_run=dry_run, task_id=task_id,
                     guard=guard, fetch=fetch, progress=progress or NullProgress()).run()


def reset_failed(state: State, download_id: int, *, dry_run: bool = False) -> None:
    """``--retry ID``: give a failed download a fresh set of retries (back to pending)."""
    from ..errors import ConfigError

    d = state.get_download(download_id)
    if d is None:
        raise ConfigError(f"--retry {download_id}: no such download (see abook report --json)")
    if d["status"] != S.FAILED:
        raise ConfigError(f"--retry {download_id}: download is {d['status']}, not failed")
    if not dry_run:
        state.update_download(download_id, status=S.PENDING, retries=0, status_reason="retry by hand",
                              qb_hash=None)


def _tags(d: Mapping[str, Any]) -> list[str]:
    return extra_tags(d.get("reason") or "manual", d.get("genre") or "", d.get("source") or "")


def _keep_description(state: State, d: Mapping[str, Any], release: Any) -> None:
    """The tracker's description, read with the fresh look (MAM sends none in a search page),
    goes into the pick's payload for the import's ``metadata.json``."""
    text = (release.description or "").strip()
    if not text:
        return
    payload = json.loads(d.get("payload") or "{}")
    if not (payload.get("description") or "").strip():
        payload["description"] = text[:2000]
        state.update_download(d["id"], payload=json.dumps(payload, default=str))


def _release_of(d: Mapping[str, Any]) -> Any:
    from ..models import Release

    return Release(
        source=d.get("source") or "", tracker=d.get("tracker") or "", torrent_id=str(d.get("torrent_id") or ""),
        title=d.get("title") or "",
        size=int(d.get("size") or 0), freeleech=bool(d.get("freeleech")), vip=bool(d.get("vip")),
    )


def book_folder(d: Mapping[str, Any]) -> Path:
    """The library folder of a download (:func:`library_folder` of its :class:`TrackerBook`)."""
    book = tracker_book(d)
    first = book.series[0] if book.series else None
    return library_folder(", ".join(book.authors), book.title, series=first.name if first else "",
                          position=(first.position or "") if first else "", narrator=", ".join(book.narrators))


def _find_item(items: Iterable[AbsItem], d: Mapping[str, Any], folder: Path | None) -> AbsItem | None:
    """The ABS item of a download: by the folder abook placed it in; else by the torrent's own
    folder or file name (qBittorrent saved it into the library: compare names only, as qBittorrent
    and ABS often see the same files under different mount points); else by matching."""
    items = list(items)
    if folder is not None:
        want = str(folder).strip("/")
        for item in items:
            if item.rel_path.strip("/") == want:
                return item
    elif d.get("content_path"):
        from pathlib import PurePosixPath

        path = PurePosixPath(str(d["content_path"]))
        names = {path.name}
        # qBittorrent's content_path of a torrent with one file is that file, also when the file
        # sits in the torrent's folder (the usual "Title/Title.m4b"): ABS's item is the folder
        if path.suffix.lower() in AUDIO_EXT:
            names.add(path.parent.name)
        names.discard("")
        for item in items:
            rel = item.rel_path.strip("/")
            if any(rel == name or rel.endswith("/" + name) for name in names):
                return item
    from ..matching import compare
    from ..models import BookRef

    book = tracker_book(d)
    # the tidy book, and the tracker's own title (what a folder named after the torrent says)
    offers = [BookRef(title=book.title, authors=book.authors, series=book.series)]
    if book.raw_title != book.title:
        offers.append(BookRef(title=book.raw_title, authors=book.authors))
    for item in items:
        have = BookRef(title=item.title or "", authors=tuple(a.name for a in item.people()))
        if any(compare(have, offered).verdict == "same" for offered in offers):
            return item
    return None
