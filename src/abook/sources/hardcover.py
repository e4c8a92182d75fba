"""Hardcover's GraphQL API (token): librarian-curated series positions and author catalogues.

Series positions are floats (1, 1.5; null for companions) with a text form in ``details``
("1-3" for a compilation) and a ``compilation`` flag on the book, so novellas and omnibus
editions are told apart. The API allows 60 requests a minute and counts each top-level field as
one request, so lookups use at most two round trips. ``_like``-style operators are disabled:
names are found through ``search`` and then confirmed by exact comparison.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import urlsplit

from ..errors import BadResponse
from .base import (
    KIND_BOOK,
    KIND_OMNIBUS,
    BibEntry,
    Candidate,
    Connection,
    SeriesRef,
    Source,
    SourceUnavailable,
    clean_position,
    dedupe,
    is_upcoming,
    language_name,
    norm_key,
    position_kind,
    strip_html,
    year_of,
)

if TYPE_CHECKING:
    import httpx

NAME = "hardcover"

_CONTRIB = "contributions { contribution author { id name } }"
_EDITION = (
    "id asin isbn_13 isbn_10 audio_seconds release_date edition_format "
    f"publisher {{ name }} language {{ language code2 code3 }} {_CONTRIB}"
)
BOOK_FIELDS = f"""
  id title subtitle description release_date release_year slug compilation
  cached_tags cached_image
  {_CONTRIB}
  book_series {{ position details featured series {{ id name }} }}
  default_audio_edition {{ {_EDITION} }}
  default_physical_edition {{ {_EDITION} }}
  default_ebook_edition {{ {_EDITION} }}
"""

Q_SEARCH = """
query AbookSearch($q: String!, $type: String!, $per: Int!) {
  search(query: $q, query_type: $type, per_page: $per, page: 1) { ids results }
}
"""
Q_BOOKS = f"""
query AbookBooks($ids: [Int!]!) {{
  books(where: {{id: {{_in: $ids}}}}) {{ {BOOK_FIELDS} }}
}}
"""
Q_EDITIONS = f"""
query AbookEditions($code: String!) {{
  editions(where: {{_or: [{{isbn_13: {{_eq: $code}}}}, {{isbn_10: {{_eq: $code}}}},
                          {{asin: {{_eq: $code}}}}]}}, limit: 5) {{
    id book {{ {BOOK_FIELDS} }}
  }}
}}
"""
Q_SERIES = """
query AbookSeries($id: Int!) {
  series_by_pk(id: $id) {
    id name books_count primary_books_count is_completed
    book_series(where: {book: {canonical_id: {_is_null: true}}},
                order_by: [{position: asc}, {book: {users_count: desc}}]) {
      position details featured
      book { id title release_date release_year compilation
             contributions { contribution author { name } }
             default_audio_edition { asin audio_seconds language { language code2 } } }
    }
  }
}
"""
Q_AUTHOR = """
query AbookAuthor($id: Int!, $limit: Int!, $offset: Int!) {
  authors_by_pk(id: $id) {
    id name
    contributions(limit: $limit, offset: $offset, order_by: {book: {release_year: asc}},
                  where: {contributable_type: {_eq: "Book"},
                          book: {canonical_id: {_is_null: true}}}) {
      contribution
      book { id title release_date release_year compilation
             contributions { contribution author { name } }
             book_series { position details series { id name } }
             default_audio_edition { asin audio_seconds language { language code2 } } }
    }
  }
}
"""

_AUTHOR_ROLES = {"", "author", "writer", "co-author"}


class HardcoverSource(Source):
    name = NAME
    # still limited after HttpService's Retry-After waits
    throttled = "Hardcover rate limit reached (60 requests/minute); skipped for this run"

    def __init__(
        self, url: str = "https://api.hardcover.app/v1/graphql", token: str = "", *,
        per_page: int = 10, max_author_pages: int = 5, **connection: Unpack[Connection],
    ) -> None:
        token = token.strip()
        # The token page shows it as "Bearer ey…"; accept it with or without the prefix.
        bare = re.sub(r"(?i)^bearer\s+", "", token)
        parts = urlsplit(url)
        self.path = parts.path or "/"
        self.per_page = max(1, min(25, per_page))
        self.max_author_pages = max(1, max_author_pages)
        self.http = self.open_http(
            "Hardcover",
            f"{parts.scheme}://{parts.netloc}",
            setting="HARDCOVER_URL",
            headers={"authorization": f"Bearer {bare}", "content-type": "application/json"},
            secrets=[bare],
            auth_hint="Hardcover refused HARDCOVER_TOKEN",
            **connection,
        )

    # ------------------------------------------------------------------ find
    def find(
        self, title: str, authors: Sequence[str], *, isbn: str = "", asin: str = ""
    ) -> list[Candidate]:
        for code in (asin.strip(), re.sub(r"[^0-9Xx]", "", isbn or "")):
            if not code:
                continue
            data = self.query(Q_EDITIONS, {"code": code})
            books: dict[int, dict[str, Any]] = {}
            for edition in data.get("editions") or []:
                book = edition.get("book") or {}
                if book.get("id") is not None:
                    books.setdefault(book["id"], book)
            if books:
                return [c for c in map(book_candidate, books.values()) if c is not None]
        terms = " ".join(t for t in (title, authors[0] if authors else "") if t).strip()
        if not terms:
            return []
        ids = self._search_ids(terms, "Book")
        if not ids:
            return []
        rows = self.query(Q_BOOKS, {"ids": ids}).get("books") or []
        by_id = {row.get("id"): row for row in rows}
        ordered = [by_id[i] for i in ids if i in by_id]  # keep the search ranking
        return [c for c in map(book_candidate, ordered) if c is not None]

    # --------------------------------------------------------------- series
    def series_books(self, series_name: str, author: str = "") -> list[BibEntry] | None:
        series_id = self._pick(series_name, "Series", author)
        if series_id is None:
            return []
        data = self.query(Q_SERIES, {"id": series_id}).get("series_by_pk") or {}
        from ..matching import normalize_title

        name = str(data.get("name") or series_name)
        entries: list[BibEntry] = []
        taken: set[tuple[str, bool, str]] = set()
        for link in data.get("book_series") or []:
            book = link.get("book") or {}
            if not book.get("title"):
                continue
            compilation = bool(book.get("compilation"))
            position = _link_position(link, compilation)
            if position is not None:
                # Several records may share a position: merged duplicates of one book (the
                # query orders them by readers, so the first is the canonical one) - dropped -
                # but also a second work at that position (3a / 3b), which is kept: whether it
                # is owned is the owned check's question, not a duplicate's.
                slot = (position, compilation, normalize_title(str(book["title"])))
                if slot in taken:
                    continue
                taken.add(slot)
            entries.append(_entry(book, position, compilation, (SeriesRef(name, position),)))
        return entries

    # --------------------------------------------------------------- author
    def author_books(self, author: str) -> list[BibEntry] | None:
        author_id = self._pick(author, "Author")
        if author_id is None:
            return []
        entries: list[BibEntry] = []
        seen: set[Any] = set()
        limit = 100
        for page in range(self.max_author_pages):
            data = self.query(Q_AUTHOR, {"id": author_id, "limit": limit, "offset": page * limit})
            rows = (data.get("authors_by_pk") or {}).get("contributions") or []
            for row in rows:
                role = str(row.get("contribution") or "").strip().lower()
                book = row.get("book") or {}
                if role not in _AUTHOR_ROLES or not book.get("title") or book.get("id") in seen:
                    continue
                seen.add(book.get("id"))
                compilation = bool(book.get("compilation"))
                series = tuple(
                    SeriesRef(str(s["series"]["name"]), _link_position(s, compilation))
                    for s in book.get("book_series") or []
                    if (s.get("series") or {}).get("name")
                )
                position = series[0].position if series else None
                entries.append(_entry(book, position, compilation, series))
            if len(rows) < limit:
                break
        return entries

    # ------------------------------------------------------------- internals
    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST one GraphQL document; return ``data`` or raise."""
        assert self.http is not None
        where = "POST graphql"
        # A read-only query is safe to resend, so it gets HttpService's retries.
        response = self._request(
            "POST", self.path, json={"query": query, "variables": variables},
            idempotent=True, ok=(401, 403),
        )
        status = response.status_code
        if status in (401, 403):
            reason = _error_text(response) or f"HTTP {status}"
            raise SourceUnavailable(
                NAME,
                f"Hardcover refused HARDCOVER_TOKEN ({reason}): renew it at hardcover.app "
                "-> Settings -> Hardcover API; skipped for this run",
            )
        body = self.http.decode(response, where)
        if not isinstance(body, dict):
            raise BadResponse(f"Hardcover sent an unexpected answer to {where}", service="Hardcover")
        errors = body.get("errors") or []
        if errors:
            message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            codes = " ".join(
                str((e.get("extensions") or {}).get("code", "")) for e in errors if isinstance(e, dict)
            )
            if re.search(r"(?i)jwt|token|unauthori|access.denied|permission", message + codes):
                raise SourceUnavailable(
                    NAME, f"Hardcover refused HARDCOVER_TOKEN ({message[:120]}); skipped for this run"
                )
            raise BadResponse(
                f"Hardcover rejected a query: {message[:200]}", service="Hardcover", status=status
            )
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _search(self, terms: str, kind: str) -> tuple[list[int], list[dict[str, Any]]]:
        data = self.query(Q_SEARCH, {"q": terms, "type": kind, "per": self.per_page})
        result = data.get("search") or {}
        ids = [int(i) for i in result.get("ids") or [] if str(i).isdigit()]
        results = result.get("results") or {}
        hits = results.get("hits") if isinstance(results, dict) else results
        docs = [
            (h.get("document") if isinstance(h, dict) and "document" in h else h)
            for h in hits or []
        ]
        return ids, [d for d in docs if isinstance(d, dict)]

    def _search_ids(self, terms: str, kind: str) -> list[int]:
        ids, docs = self._search(terms, kind)
        if not ids:
            ids = [int(d["id"]) for d in docs if str(d.get("id", "")).isdigit()]
        return ids

    def _pick(self, name: str, kind: str, author: str = "") -> int | None:
        """The id of the series/author search hit that is ``name``; None when none is.

        A series is matched by :func:`abook.naming.pick` (similar names, the author deciding:
        a near miss by someone else would list another series' books), a person by
        :func:`abook.naming.pick_person`."""
        from ..naming import Candidate, pick, pick_person

        if not norm_key(name):
            return None
        _, docs = self._search(name, kind)
        candidates = []
        for rank, doc in enumerate(docs):
            if not doc.get("id") or not doc.get("name"):
                continue
            by = str(doc.get("author_name") or "")
            candidates.append(Candidate(str(doc["name"]), (by,) if by else (), doc["id"], -float(rank)))
        found = pick(name, author, candidates) if kind == "Series" else pick_person(name, candidates)
        if found is None:
            return None
        try:
            return int(found.ref)
        except (TypeError, ValueError):
            return None


def _link_position(link: dict[str, Any], compilation: bool) -> str | None:
    """A ``book_series`` position; for a compilation the text form ("1-3") in ``details``
    carries the range where the numeric ``position`` only says 1."""
    if compilation:
        ranged = clean_position(link.get("details"))
        if ranged and "-" in ranged:
            return ranged
    return clean_position(link.get("position"))


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except Exception:
        return ""
    if isinstance(body, dict):
        value = body.get("error") or body.get("message") or ""
        return str(value)[:80]
    return ""


def _people(contributions: Any, roles: set[str]) -> tuple[str, ...]:
    names = []
    for row in contributions or []:
        role = str(row.get("contribution") or "").strip().lower()
        name = (row.get("author") or {}).get("name")
        if name and role in roles:
            names.append(str(name))
    return dedupe(names)


def _entry(
    book: dict[str, Any], position: str | None, compilation: bool, series: tuple[SeriesRef, ...]
) -> BibEntry:
    audio = book.get("default_audio_edition") or {}
    release = str(book.get("release_date") or "")[:10]
    if compilation:
        kind = KIND_OMNIBUS
    elif not series:
        kind = KIND_BOOK
    else:
        kind = position_kind(position)
    year = year_of(book.get("release_year") or release)
    language = (audio.get("language") or {}) if isinstance(audio.get("language"), dict) else {}
    return BibEntry(
        title=str(book.get("title") or "").strip(),
        authors=_people(book.get("contributions"), _AUTHOR_ROLES),
        position=position,
        asin=str(audio.get("asin") or ""),
        year=year,
        # Hardcover lists audio editions unevenly: "has one" is knowledge, "has none" is not.
        is_audiobook=True if audio else None,
        kind=kind,
        series=series,
        release_date=release if year_of(release) else "",
        upcoming=is_upcoming(release) if year_of(release) else None,
        source=NAME,
        source_id=str(book.get("id", "")),
        language=language_name(language.get("code2") or language.get("language") or ""),
    )


def book_candidate(book: dict[str, Any]) -> Candidate | None:
    """Map a ``books`` row (with its default editions) to a Candidate."""
    title = str(book.get("title") or "").strip()
    if not title:
        return None
    audio = book.get("default_audio_edition") or {}
    physical = book.get("default_physical_edition") or {}
    ebook = book.get("default_ebook_edition") or {}
    main = audio or physical or ebook
    series = []
    links = sorted(book.get("book_series") or [], key=lambda s: not s.get("featured"))
    for link in links:
        name = (link.get("series") or {}).get("name")
        if name:
            series.append(SeriesRef(str(name), clean_position(link.get("position"))))
    tags = book.get("cached_tags") or {}
    genre_rows = tags.get("Genre") if isinstance(tags, dict) else tags
    genres = [
        str(t.get("tag") if isinstance(t, dict) else t)
        for t in genre_rows or []
        if (t.get("tag") if isinstance(t, dict) else t)
    ]
    image = book.get("cached_image") or {}
    cover = image.get("url", "") if isinstance(image, dict) else str(image or "")
    seconds = audio.get("audio_seconds")
    language = (main.get("language") or {}) if main else {}
    publisher = ((main.get("publisher") or {}) if main else {}).get("name") or ""
    isbn = audio.get("isbn_13") or physical.get("isbn_13") or ebook.get("isbn_13") or ""
    isbn = isbn or audio.get("isbn_10") or physical.get("isbn_10") or ""
    slug = book.get("slug") or ""
    return Candidate(
        source=NAME,
        source_id=str(book.get("id", "")),
        title=title,
        subtitle=str(book.get("subtitle") or "").strip(),
        authors=_people(book.get("contributions"), _AUTHOR_ROLES),
        narrators=_people(audio.get("contributions"), {"narrator"}),
        series=tuple(series),
        description=strip_html(book.get("description")),
        publisher=str(publisher).strip(),
        year=year_of(book.get("release_year") or book.get("release_date")),
        isbn=str(isbn),
        asin=str(audio.get("asin") or ""),
        genres=dedupe(genres),
        language=language_name(language.get("code2") or language.get("language") or ""),
        duration_minutes=round(seconds / 60) if isinstance(seconds, int | float) and seconds else None,
        cover_url=str(cover or ""),
        kind="audiobook" if audio else ("book" if physical or not ebook else "ebook"),
        url=f"https://hardcover.app/books/{slug}" if slug else "",
        raw=book,
    )
