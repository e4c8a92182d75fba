"""``abook scan``: mirror the Audiobookshelf library into the state file, incrementally.

Cost model (``design.md`` §5, the research note on ABS §9): the minified item pages are the floor
(~0.5 ms per item on a real ABS 2.36). They carry every field the mirror keeps, people and series
as joined strings ("A, B", "S #1, T #2.5"), which are read with the library's own names (the
authors list and ``filterdata``: two requests whatever the library's size) so a name with a comma
or a series with a "#" is never cut wrongly. Only an item those lists cannot settle is asked for in
full (``batch/get``, ~0.4 s per request on 50k books plus ~1.4 ms per item), in large chunks.

"Changed" is a fingerprint of the minified record, not just ``updatedAt``: renaming an author or
series in ABS changes ``authorName``/``seriesName`` without bumping ``updatedAt``. An unchanged
library therefore costs the page reads and writes nothing; a few changed items are cheaper asked
for in full than the lists are (see :func:`lists_pay_off`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ServiceError
from ..library import AbsFilterData, AbsItem, LibraryNames, book_row, select_libraries
from ..progress import NullProgress, Progress

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from ..clients.audiobookshelf import Audiobookshelf
    from ..library import AbsAuthor, AbsLibrary
    from ..state import State

log = logging.getLogger("abook")

# What a real ABS 2.36 costs (50,000 books, 2 cores; research note on ABS §9): building filterdata
# ~64 us per book of the library; one batch/get ~15 us per book of the library (SQLite builds the
# whole book-author and book-series joins) plus ~1.3 ms per item asked for.
FILTERDATA_S_PER_BOOK = 64e-6
BATCH_S_PER_BOOK = 15e-6
BATCH_S_PER_ITEM = 1.3e-3


def lists_pay_off(items: int, library_size: int, batch_size: int) -> bool:
    """Whether reading the library's name lists costs ABS less than asking for ``items`` items in
    full. (The authors list is read either way: the mirror keeps it whenever anything changed.)"""
    if items <= 0:
        return False
    chunks = -(-items // max(1, batch_size))
    in_full = chunks * library_size * BATCH_S_PER_BOOK + items * BATCH_S_PER_ITEM
    return in_full > library_size * FILTERDATA_S_PER_BOOK


@dataclass
class LibraryScan:
    id: str
    name: str
    total: int = 0
    new: list[str] = field(default_factory=list)  # titles
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    from_pages: int = 0  # new or changed items mirrored from their minified record
    in_full: int = 0  # ... and those that needed their expanded record


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
    batch_size: int = 1000,
    page_size: int = 2500,
) -> ScanResult:
    """Mirror every selected library; return what changed (nothing is written with ``dry_run``)."""
    progress = progress or NullProgress()
    result = ScanResult(libraries=[], dry_run=dry_run)
    for lib in select_libraries(abs_client.libraries(), library):
        result.libraries.append(
            _LibraryScanner(abs_client, state, lib, dry_run, progress, batch_size, page_size).run()
        )
    return result


def read_lists(abs_client: Audiobookshelf, library_id: str) -> tuple[LibraryNames, list[AbsAuthor]]:
    """The library's name lists: filterdata first, then the authors list, so that the authors
    are at least as fresh as the ``as_of`` of the series and narrators."""
    try:
        filterdata = abs_client.filter_data(library_id)
    except ServiceError as exc:
        if exc.status != 404:
            raise
        # An ABS without the route: no series list, so every series is read in full.
        log.info("Audiobookshelf has no filterdata route; items in a series are read in full")
        filterdata = AbsFilterData(loaded_at=None)
    authors = abs_client.authors(library_id)
    return LibraryNames(authors, filterdata), authors


class _LibraryScanner:
    """One library. The next page (and the next expanded chunk) is fetched in the background
    while this one is processed, so abook's own work hides behind the server's."""

    def __init__(self, abs_client: Audiobookshelf, state: State, lib: AbsLibrary, dry_run: bool,
                 progress: Progress, batch_size: int, page_size: int) -> None:
        self.abs, self.state, self.lib = abs_client, state, lib
        self.dry_run, self.progress = dry_run, progress
        self.batch_size, self.page_size = batch_size, page_size
        self.out = LibraryScan(id=lib.id, name=lib.name)
        self.lists: Future[tuple[LibraryNames, list[AbsAuthor]]] | None = None
        self.waiting: list[tuple[AbsItem, str]] = []  # new or changed, the lists not read yet
        self.in_full: list[tuple[str, str]] = []  # (id, fingerprint) the lists could not settle

    def run(self) -> LibraryScan:
        from concurrent.futures import ThreadPoolExecutor

        out, state, lib = self.out, self.state, self.lib
        stored = state.book_fingerprints(lib.id)
        seen: set[str] = set()
        pages = self.abs.item_pages(lib.id, page_size=self.page_size)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="abook-scan") as pool:
            if not stored and not self.dry_run:
                # A first scan mirrors every item: the lists always pay off, so read them while
                # the first page is on its way.
                self.lists = pool.submit(read_lists, self.abs, lib.id)
            next_page = pool.submit(next, pages, None)
            total = -1
            while True:
                page = next_page.result()
                if page is None:
                    break
                next_page = pool.submit(next, pages, None)
                if total < 0:
                    total = page.total
                    self.progress.start(f"Scanning {lib.name}", total)
                # The hot loop of every scan (50,000 rounds on a big library): keep it lean.
                seen_add, stored_get = seen.add, stored.get
                waiting = self.waiting
                for index, (item_id, media_type, fp) in enumerate(page.entries):
                    if not item_id or item_id in seen or media_type != "book":
                        continue
                    seen_add(item_id)
                    old = stored_get(item_id)
                    if old is not None and old[0] == fp and old[1] is None:
                        continue
                    item = page.item(index)
                    (out.changed if old is not None and old[1] is None else out.new).append(
                        str(item.title or item_id))
                    if not self.dry_run:
                        waiting.append((item, fp))
                n_items = len(page)
                del page
                if waiting:
                    if self.lists is None and lists_pay_off(len(waiting), total, self.batch_size):
                        self.lists = pool.submit(read_lists, self.abs, lib.id)
                    if self.lists is not None:
                        self._mirror_waiting()
                self.progress.advance(n_items)
            if self.waiting:  # a few changes: asking for them in full is cheaper than the lists
                self.in_full += [(item.id, fp) for item, fp in self.waiting]
                self.waiting.clear()
            if self.in_full:
                self._mirror_in_full(pool)
        out.total = len(seen)
        gone = [i for i, (_fp, removed_at) in stored.items() if removed_at is None and i not in seen]
        if gone:
            titles = state.book_titles(gone)
            out.removed = [titles.get(i, i) for i in gone]
        changed = bool(out.new or out.changed or gone)
        if not self.dry_run and (changed or not state.has_authors(lib.id)):
            # Author renames and merges change the books' authorName too, so an unchanged book list
            # means an unchanged author list: no need to fetch it.
            authors = self.lists.result()[1] if self.lists is not None else self.abs.authors(lib.id)
            rows = [{"id": a.id, "name": a.name, "asin": a.asin, "num_books": a.num_books} for a in authors]
            state.apply_scan(lib.id, (), gone, authors=rows, refresh_series=True)
        if out.new or out.changed:
            log.info(
                "%s: %d new or changed items mirrored from the item pages, %d read in full "
                "(names the library's lists do not settle)", lib.name, out.from_pages, out.in_full,
            )
        self.progress.done()
        return out

    def _mirror_waiting(self) -> None:
        assert self.lists is not None
        names = self.lists.result()[0]
        rows: list[dict[str, Any]] = []
        resolve = names.resolve
        for item, fp in self.waiting:
            full = resolve(item)
            if full is None:
                self.in_full.append((item.id, fp))
            else:
                rows.append(book_row(full, fp=fp))
        self.waiting.clear()
        if rows:
            self.state.apply_scan(self.lib.id, rows, ())
            self.out.from_pages += len(rows)

    def _mirror_in_full(self, pool: ThreadPoolExecutor) -> None:
        """The items the lists could not settle, from their expanded records (the next chunk is on
        its way while one is written). An item ABS no longer has is left for the next scan."""
        todo, size = self.in_full, self.batch_size
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        pending = pool.submit(self.abs.batch_get, [i for i, _ in chunks[0]])
        for n, chunk in enumerate(chunks):
            expanded = {x.id: x for x in pending.result()}
            if n + 1 < len(chunks):
                pending = pool.submit(self.abs.batch_get, [i for i, _ in chunks[n + 1]])
            rows = [book_row(expanded[i], fp=fp) for i, fp in chunk if i in expanded]
            del expanded
            self.state.apply_scan(self.lib.id, rows, ())
            self.out.in_full += len(rows)
        self.in_full = []
