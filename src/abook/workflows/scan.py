"""``abook scan``: mirror the Audiobookshelf library into the state file, incrementally.

Cost model (``design.md`` §5): the minified item pages are the floor; expanded records (needed
for author/series ids and exact sequences) are asked for only for new or changed items, in large
``batch/get`` chunks. "Changed" is a fingerprint of the minified record, not just ``updatedAt``:
renaming an author or series in ABS changes ``authorName``/``seriesName`` without bumping
``updatedAt``. An unchanged library therefore costs the page reads and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..progress import NullProgress, Progress
from ..state import COMPLETENESS_FIELDS

if TYPE_CHECKING:
    from ..clients.audiobookshelf import Audiobookshelf, Library
    from ..state import State


@dataclass
class LibraryScan:
    id: str
    name: str
    total: int = 0
    new: list[str] = field(default_factory=list)  # titles
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    libraries: list[LibraryScan]
    dry_run: bool = False

    @property
    def new(self) -> int:
        return sum(len(lib.new) for lib in self.libraries)

    @property
    def changed(self) -> int:
        return sum(len(lib.changed) for lib in self.libraries)

    @property
    def removed(self) -> int:
        return sum(len(lib.removed) for lib in self.libraries)

    @property
    def total(self) -> int:
        return sum(lib.total for lib in self.libraries)

    def counts(self) -> dict[str, int]:
        return {"books": self.total, "new": self.new, "changed": self.changed, "removed": self.removed}


def select_libraries(libraries: Sequence[Library], wanted: str) -> list[Library]:
    """The book libraries to manage: ``wanted`` by name or id (case-insensitive), or all."""
    books = [lib for lib in libraries if lib.media_type == "book"]
    if not wanted:
        if not books:
            raise ConfigError("Audiobookshelf has no book library this ABS_TOKEN may see")
        return books
    low = wanted.strip().lower()
    chosen = [lib for lib in books if lib.id == wanted.strip() or lib.name.lower() == low]
    if not chosen:
        names = ", ".join(repr(lib.name) for lib in books) or "none"
        raise ConfigError(f"ABS_LIBRARY={wanted!r} is not a book library on this server; known: {names}")
    return chosen


def fingerprint(item: dict[str, Any]) -> str:
    """What decides "changed": ``updatedAt`` plus the name strings ABS recomputes on renames.

    ABS bumps ``updatedAt`` on every edit, match and rescan, but renaming an author or a series
    changes ``authorName``/``seriesName`` without bumping it; ``isMissing`` flips on its own too.
    Cheap on purpose: it runs for every item of every scan.
    """
    meta = (item.get("media") or {}).get("metadata") or {}
    return (
        f"{item.get('updatedAt')}|{item.get('isMissing')}|{meta.get('authorName')}|"
        f"{meta.get('narratorName')}|{meta.get('seriesName')}"
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: list[Any]) -> str:
    return _encode(value) if value else "[]"


def book_row(
    item: dict[str, Any],
    expanded: dict[str, Any] | None,
    known_series: Iterable[str] = (),
    fp: str | None = None,
) -> dict[str, Any]:
    """One ``books`` row from a minified item, enriched by its expanded record when we have it."""
    media = item.get("media") or {}
    meta = dict(media.get("metadata") or {})
    if expanded:
        meta.update((expanded.get("media") or {}).get("metadata") or {})
    if expanded and isinstance(meta.get("authors"), list):
        authors = [{"id": a.get("id"), "name": a.get("name")} for a in meta["authors"] if isinstance(a, dict)]
    else:
        from ..matching import split_names

        authors = [{"id": None, "name": n} for n in split_names(meta.get("authorName") or "")]
    if expanded and isinstance(meta.get("narrators"), list):
        narrators = [str(n) for n in meta["narrators"] if n]
    else:
        from ..matching import split_names

        narrators = split_names(meta.get("narratorName") or "")
    if expanded and isinstance(meta.get("series"), list):
        series = [
            {"id": s.get("id"), "name": s.get("name"), "sequence": _text(s.get("sequence"))}
            for s in meta["series"]
            if isinstance(s, dict)
        ]
    else:
        from ..matching import split_series_name

        series = [
            {"id": None, "name": s.name, "sequence": s.position}
            for s in split_series_name(meta.get("seriesName") or "", known_series)
        ]
    genres = [str(g) for g in meta.get("genres") or [] if g]
    row = {
        "id": item["id"],
        "library_id": item.get("libraryId"),
        "media_id": media.get("id"),
        "path": item.get("path"),
        "title": _text(meta.get("title")),
        "subtitle": _text(meta.get("subtitle")),
        "authors": _dumps(authors),
        "author_name": _text(meta.get("authorName")) or ", ".join(a["name"] for a in authors if a["name"]),
        "narrators": _dumps(narrators),
        "series": _dumps(series),
        "series_name": _text(meta.get("seriesName")),
        "isbn": _text(meta.get("isbn")),
        "asin": _text(meta.get("asin")),
        "year": _text(meta.get("publishedYear")),
        "publisher": _text(meta.get("publisher")),
        "description": _text(meta.get("descriptionPlain") or meta.get("description")),
        "genres": _dumps(genres),
        "tags": _dumps(list(media.get("tags") or [])),
        "language": _text(meta.get("language")),
        "abridged": 1 if meta.get("abridged") else 0,
        "explicit": 1 if meta.get("explicit") else 0,
        "has_cover": 1 if media.get("coverPath") else 0,
        "duration": float(media.get("duration") or 0.0),
        "size": int(media.get("size") or item.get("size") or 0),
        "num_audio_files": int(media.get("numAudioFiles") or 0),
        "added_at": item.get("addedAt"),
        "updated_at": item.get("updatedAt"),
        "fingerprint": fp or fingerprint(item),
        "is_missing": 1 if item.get("isMissing") else 0,
    }
    row["completeness"] = completeness(row)
    return row


def completeness(row: dict[str, Any]) -> float:
    filled = 0
    for name in COMPLETENESS_FIELDS:
        value = row.get("has_cover" if name == "cover" else name)
        if name in ("authors", "narrators", "series", "genres"):
            filled += bool(value and value != "[]")
        elif name == "cover":
            filled += bool(value)
        else:
            filled += bool(value)
    return round(filled / len(COMPLETENESS_FIELDS), 3)


def run(
    abs_client: Audiobookshelf,
    state: State,
    *,
    library: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = 500,
    page_size: int = 2500,
) -> ScanResult:
    """Mirror every selected library; return what changed (nothing is written with ``dry_run``)."""
    progress = progress or NullProgress()
    result = ScanResult(libraries=[], dry_run=dry_run)
    for lib in select_libraries(abs_client.libraries(), library):
        result.libraries.append(
            _scan_library(abs_client, state, lib, dry_run, progress, batch_size, page_size)
        )
    return result


def _scan_library(
    abs_client: Audiobookshelf,
    state: State,
    lib: Library,
    dry_run: bool,
    progress: Progress,
    batch_size: int,
    page_size: int,
) -> LibraryScan:
    """One library. The next page and the next expanded chunk are fetched in the background
    while this one is processed, so abook's own work hides behind the server's."""
    from concurrent.futures import ThreadPoolExecutor

    out = LibraryScan(id=lib.id, name=lib.name)
    stored = state.book_fingerprints(lib.id)
    seen: set[str] = set()
    known_series = state.series_names(lib.id)
    pages = abs_client.item_pages(lib.id, page_size=page_size)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="abook-scan") as pool:
        next_page = pool.submit(next, pages, None)
        first = True
        while True:
            got = next_page.result()
            if got is None:
                break
            next_page = pool.submit(next, pages, None)
            page, total = got
            if first:
                progress.start(f"Scanning {lib.name}", total)
                first = False
            todo: list[tuple[dict[str, Any], str]] = []
            # The hot loop of every scan (50,000 rounds on a big library): keep it lean.
            seen_add, stored_get = seen.add, stored.get
            for item in page:
                item_id = item.get("id")
                if not item_id or item_id in seen or item.get("mediaType", "book") != "book":
                    continue
                seen_add(item_id)
                old = stored_get(item_id)
                fp = fingerprint(item)
                if old is not None and old[0] == fp and old[1] is None:
                    continue
                title = ((item.get("media") or {}).get("metadata") or {}).get("title") or item_id
                (out.changed if old is not None and old[1] is None else out.new).append(str(title))
                todo.append((item, fp))
            n_items = len(page)
            del page
            if todo and not dry_run:
                chunks = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
                pending = pool.submit(abs_client.batch_get, [i["id"] for i, _ in chunks[0]])
                for n, chunk in enumerate(chunks):
                    expanded_list = pending.result()
                    if n + 1 < len(chunks):
                        pending = pool.submit(abs_client.batch_get, [i["id"] for i, _ in chunks[n + 1]])
                    expanded = {x.get("id"): x for x in expanded_list}
                    del expanded_list
                    rows = [book_row(i, expanded.get(i["id"]), known_series, fp) for i, fp in chunk]
                    del expanded
                    state.apply_scan(lib.id, rows, ())
            progress.advance(n_items)
    out.total = len(seen)
    gone = [i for i, (_fp, removed_at) in stored.items() if removed_at is None and i not in seen]
    if gone:
        titles = state.book_titles(gone)
        out.removed = [titles.get(i, i) for i in gone]
    changed = bool(out.new or out.changed or gone)
    if not dry_run and (changed or not state.has_authors(lib.id)):
        # Author renames and merges change the books' authorName too, so an unchanged book list
        # means an unchanged author list: no need to fetch it.
        authors = [
            {"id": a.get("id"), "name": a.get("name"), "asin": a.get("asin"), "num_books": a.get("numBooks")}
            for a in abs_client.authors(lib.id)
            if a.get("id")
        ]
        state.apply_scan(lib.id, (), gone, authors=authors, refresh_series=True)
    progress.done()
    return out
