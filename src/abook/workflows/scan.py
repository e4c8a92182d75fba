"""``abook scan``: mirror the Audiobookshelf library into the state file, incrementally.

Cost model (``design.md`` §5): the minified item pages are the floor; expanded records (needed
for author/series ids and exact sequences) are asked for only for new or changed items, in large
``batch/get`` chunks. "Changed" is a fingerprint of the minified record, not just ``updatedAt``:
renaming an author or series in ABS changes ``authorName``/``seriesName`` without bumping
``updatedAt``. An unchanged library therefore costs the page reads and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..library import AbsItem, book_row, select_libraries
from ..progress import NullProgress, Progress

if TYPE_CHECKING:
    from ..clients.audiobookshelf import Audiobookshelf
    from ..library import AbsLibrary
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

    def error(self) -> None:
        return None


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
    lib: AbsLibrary,
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
            page = next_page.result()
            if page is None:
                break
            next_page = pool.submit(next, pages, None)
            if first:
                progress.start(f"Scanning {lib.name}", page.total)
                first = False
            todo: list[tuple[AbsItem, str]] = []
            # The hot loop of every scan (50,000 rounds on a big library): keep it lean.
            seen_add, stored_get = seen.add, stored.get
            for index, (item_id, media_type, fp) in enumerate(page.entries):
                if not item_id or item_id in seen or media_type != "book":
                    continue
                seen_add(item_id)
                old = stored_get(item_id)
                if old is not None and old[0] == fp and old[1] is None:
                    continue
                item = page.item(index)
                (out.changed if old is not None and old[1] is None else out.new).append(str(item.title or item_id))
                todo.append((item, fp))
            n_items = len(page)
            del page
            if todo and not dry_run:
                chunks = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
                pending = pool.submit(abs_client.batch_get, [i.id for i, _ in chunks[0]])
                for n, chunk in enumerate(chunks):
                    expanded_list = pending.result()
                    if n + 1 < len(chunks):
                        pending = pool.submit(abs_client.batch_get, [i.id for i, _ in chunks[n + 1]])
                    expanded = {x.id: x for x in expanded_list}
                    del expanded_list
                    rows = [book_row(i.with_expanded(expanded.get(i.id)), known_series, fp) for i, fp in chunk]
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
            {"id": a.id, "name": a.name, "asin": a.asin, "num_books": a.num_books}
            for a in abs_client.authors(lib.id)
        ]
        state.apply_scan(lib.id, (), gone, authors=authors, refresh_series=True)
    progress.done()
    return out
