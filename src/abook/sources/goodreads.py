"""Goodreads (HTML; its API is closed): an opt-in, best-effort last resort.

Since 2026 Goodreads answers non-browser clients with an AWS WAF challenge (HTTP 202 with an empty
body and ``x-amzn-waf-action: challenge``, or a page loading ``token.awswaf.com``). abook does not
try to solve or evade it: the first challenge raises :class:`SourceUnavailable` and the source is
skipped for the run. Requests are paced by seconds, never hammered.

Pages read:
- search ``/search?q=..&search_type=books`` (``table.tableList`` rows; an ISBN may redirect
  straight to the book page);
- book ``/book/show/<id>``: the Next.js ``__NEXT_DATA__`` Apollo state (``Book:``, ``Series:``,
  ``Contributor:``, ``Work:`` records), else JSON-LD / Open Graph tags of older markup;
- series ``/series/<id>``: ``ReactComponents.SeriesList`` props (``seriesHeaders[i]`` labels
  ``series[i]``), else the server-rendered ``listWithDividers`` list;
- author list ``/author/list/<id>?per_page=100`` (same rows as search).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import urljoin, urlsplit

from ..errors import ServiceError
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
    language_name,
    norm_key,
    position_kind,
    strip_html,
    year_of,
)

if TYPE_CHECKING:
    import httpx
    from bs4 import BeautifulSoup, Tag

NAME = "goodreads"
WAF_REASON = "Goodreads answers with a bot challenge (AWS WAF); skipped for this run"
_BOOK_ID = re.compile(r"/book/show/(\d+)")
_AUTHOR_ID = re.compile(r"/author/(?:show|list)/(\d+)")
_SERIES_SUFFIX = re.compile(r"\s*\(([^()]*#\s*[\d.]+[^()]*)\)\s*$")
_AUDIO_FORMATS = ("audio", "audible", "mp3", "audiobook")
_EBOOK_FORMATS = ("kindle", "ebook", "nook", "epub")


class GoodreadsSource(Source):
    name = NAME
    # throttling, as Goodreads showed before the WAF: the rest of the run would fare no better
    throttled = "Goodreads is throttling (HTTP {status}); skipped for this run"
    throttled_statuses = (429, 503)

    def __init__(
        self, url: str = "https://www.goodreads.com", *,
        detail_limit: int = 3, max_pages: int = 5, **connection: Unpack[Connection],
    ) -> None:
        self.base_url = url.rstrip("/")
        self.detail_limit = max(0, detail_limit)
        self.max_pages = max(1, max_pages)
        self.http = self.open_http(
            "Goodreads",
            url,
            setting="GOODREADS_URL",
            headers={"Accept": "text/html,application/xhtml+xml", "Accept-Language": "en"},
            follow_redirects=True,
            pace_spread=2.0,  # a scraped site: each wait 1-2 times the pace, never a steady beat
            **connection,
        )

    # ------------------------------------------------------------------ find
    def find(
        self, title: str, authors: Sequence[str], *, isbn: str = "", asin: str = ""
    ) -> list[Candidate]:
        codes = [c for c in (re.sub(r"[^0-9Xx]", "", isbn or ""), asin.strip()) if c]
        for code in codes:
            found = self._search(code)
            if found:
                return found
        terms = " ".join(t for t in (title, authors[0] if authors else "") if t).strip()
        return self._search(terms) if terms else []

    def book(self, book_id: str) -> Candidate | None:
        """One book page in full; None when Goodreads has no such book."""
        response = self._get(f"/book/show/{book_id}", missing_ok=True)
        if response is None:
            return None
        return parse_book_page(response.text, book_id=book_id, url=str(response.url))

    def _search(self, terms: str) -> list[Candidate]:
        response = self._get("/search", params={"q": terms, "search_type": "books"})
        final = str(response.url)
        match = _BOOK_ID.search(urlsplit(final).path)
        if match:  # an ISBN/ASIN search redirects straight to the book
            book = parse_book_page(response.text, book_id=match.group(1), url=final)
            return [book] if book else []
        rows = parse_list_rows(response.text)
        out: list[Candidate] = []
        for index, row in enumerate(rows):
            full = self.book(row["id"]) if index < self.detail_limit else None
            out.append(full or _row_candidate(row, self.base_url))
        return out

    # --------------------------------------------------------------- series
    def series_books(self, series_name: str, author: str = "") -> list[BibEntry] | None:
        path = self.find_series_path(series_name, author)
        if not path:
            return []
        return self.series_by_path(path)

    def find_series_path(self, series_name: str, author: str = "") -> str:
        """``/series/<id>`` of the series that is ``series_name`` (via a book of it); "" if none.

        Names are matched by :func:`abook.naming.pick` ("Salt Kings" is "The Salt Kings Saga",
        the author deciding); the search is made with the name, then with its core words."""
        from ..matching import fold
        from ..naming import Candidate, pick
        from ..queries import series_words

        if not norm_key(series_name):
            return ""
        names = [series_name]
        core = series_words(series_name)
        if core and fold(core) != fold(series_name):
            names.append(core)
        for name in names:
            terms = " ".join(t for t in (name, author) if t)
            response = self._get("/search", params={"q": terms, "search_type": "books"})
            rows = parse_list_rows(response.text)
            found = pick(series_name, author, [
                Candidate(s.name, tuple(row["authors"]), row["id"], -float(rank))
                for rank, row in enumerate(rows) for s in row["series"]
            ])
            if found is None:
                continue
            page = self._get(f"/book/show/{found.ref}", missing_ok=True)
            if page is None:
                return ""
            links = [Candidate(n, (), link) for n, link in _series_links(page.text) if link]
            # the book page names the series as the row did; the author is already settled
            chosen = pick(found.name, "", links)
            return urlsplit(urljoin(self.base_url + "/", str(chosen.ref))).path if chosen else ""
        return ""

    def series_by_path(self, path: str) -> list[BibEntry]:
        entries: list[BibEntry] = []
        seen: set[str] = set()
        for page in range(1, self.max_pages + 1):
            response = self._get(path, params={"page": page} if page > 1 else None, missing_ok=True)
            if response is None:
                break
            parsed, total = parse_series_page(response.text)
            fresh = [e for e in parsed if e.source_id not in seen]
            for entry in fresh:
                seen.add(entry.source_id)
                entries.append(entry)
            if not fresh or total is None or len(seen) >= total:
                break
        return entries

    # --------------------------------------------------------------- author
    def author_books(self, author: str) -> list[BibEntry] | None:
        from ..naming import Candidate, pick_person

        if not norm_key(author):
            return []
        response = self._get("/search", params={"q": author, "search_type": "books"})
        people = [Candidate(name, (), aid, -float(rank))
                  for rank, row in enumerate(parse_list_rows(response.text))
                  for name, aid in row["author_links"] if aid]
        chosen = pick_person(author, people)
        author_id = str(chosen.ref) if chosen else ""
        if not author_id:
            return []
        entries: list[BibEntry] = []
        seen: set[str] = set()
        for page in range(1, self.max_pages + 1):
            response = self._get(
                f"/author/list/{author_id}", params={"page": page, "per_page": 100}, missing_ok=True
            )
            if response is None:
                break
            rows = parse_list_rows(response.text)
            for row in rows:
                # co-authored, edited and introduced books show up too: keep the author's own
                if row["id"] in seen or author_id not in {a for _, a in row["author_links"]}:
                    continue
                seen.add(row["id"])
                entries.append(_row_entry(row))
            if not rows or 'class="next_page"' not in response.text or "next_page disabled" in response.text:
                break
        return entries

    # ------------------------------------------------------------- internals
    def _get(
        self, path: str, *, params: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> Any:
        response = self._request("GET", path, params=params, ok=(202, 403, 404))
        if is_waf_challenge(response):
            raise SourceUnavailable(NAME, WAF_REASON)
        if response.status_code == 403:
            raise SourceUnavailable(NAME, "Goodreads refused the request (HTTP 403); skipped for this run")
        if response.status_code == 404:
            if missing_ok:
                return None
            raise ServiceError(f"Goodreads answered 404 on GET {path}", service="Goodreads", status=404)
        return response


def is_waf_challenge(response: httpx.Response) -> bool:
    """The AWS WAF bot challenge: a 202 without body, the action header, or the challenge script."""
    if response.headers.get("x-amzn-waf-action"):
        return True
    text = response.text
    if response.status_code == 202 and not text.strip():
        return True
    head = text[:20000].lower()
    return "token.awswaf.com" in head or "awswafcookiedomainlist" in head or (
        "challenge.js" in head and "awswaf" in head
    )


# ------------------------------------------------------------------------- parsing
def _soup(text: str) -> BeautifulSoup:
    from bs4 import BeautifulSoup

    return BeautifulSoup(text, "html.parser")


def split_title(title: str) -> tuple[str, tuple[SeriesRef, ...]]:
    """"First Book (Example Saga, #1)" -> ("First Book", (SeriesRef("Example Saga", "1"),)).

    Several series are separated by ";": "(A, #1; B, #3)"."""
    title = (title or "").strip()
    match = _SERIES_SUFFIX.search(title)
    if not match:
        return title, ()
    refs = []
    for part in match.group(1).split(";"):
        name, _, number = part.rpartition("#")
        name = name.strip().rstrip(",").strip()
        if name:
            refs.append(SeriesRef(name, clean_position(number)))
    return title[: match.start()].strip(), tuple(refs)


def parse_list_rows(text: str) -> list[dict[str, Any]]:
    """Rows of ``table.tableList`` (search results and author lists)."""
    soup = _soup(text)
    rows = []
    for tr in soup.select("table.tableList tr"):
        link = tr.select_one("a.bookTitle") or tr.select_one("a[href*='/book/show/']")
        if link is None:
            continue
        match = _BOOK_ID.search(link.get("href") or "")
        if not match:
            continue
        name = link.select_one("[itemprop=name]")
        full_title = (name or link).get_text(" ", strip=True) or str(link.get("title") or "")
        bare, series = split_title(full_title)
        author_links = []
        for a in tr.select("a.authorName"):
            aid = _AUTHOR_ID.search(a.get("href") or "")
            author_links.append(
                (a.get_text(" ", strip=True), aid.group(1) if aid else "")
            )
        grey = tr.select_one(".greyText.smallText") or tr.select_one("span.greyText")
        info = grey.get_text(" ", strip=True) if grey is not None else ""
        year = re.search(r"(?:published|expected publication)\s+(\d{4})", info)
        rows.append(
            {
                "id": match.group(1),
                "title": bare,
                "full_title": full_title,
                "series": series,
                "authors": dedupe([n for n, _ in author_links]),
                "author_links": author_links,
                "year": year.group(1) if year else "",
                "upcoming": "expected publication" in info,
                "cover": (tr.select_one("img") or {}).get("src", "") if tr.select_one("img") else "",
            }
        )
    return rows


def _row_candidate(row: dict[str, Any], base_url: str) -> Candidate:
    return Candidate(
        source=NAME,
        source_id=row["id"],
        title=row["title"],
        authors=row["authors"],
        series=row["series"],
        year=row["year"],
        cover_url=row.get("cover", ""),
        url=f"{base_url}/book/show/{row['id']}",
        raw={"row": {k: v for k, v in row.items() if k != "series"}},
    )


def _row_entry(row: dict[str, Any]) -> BibEntry:
    series = row["series"]
    position = series[0].position if series else None
    omnibus = bool(position and "-" in position)
    return BibEntry(
        title=row["title"],
        authors=row["authors"],
        position=position,
        year=row["year"],
        kind=KIND_OMNIBUS if omnibus else (position_kind(position) if series else KIND_BOOK),
        series=series,
        upcoming=True if row["upcoming"] else None,
        source=NAME,
        source_id=row["id"],
    )


def _next_data(text: str) -> dict[str, Any]:
    soup = _soup(text)
    script = soup.find("script", id="__NEXT_DATA__")
    if script is None or not script.string:
        return {}
    try:
        data = json.loads(script.string)
    except ValueError:
        return {}
    state = (data.get("props") or {}).get("pageProps", {}).get("apolloState")
    return state if isinstance(state, dict) else {}


def _deref(state: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and "__ref" in value:
        return state.get(value["__ref"], {})
    return value or {}


def _series_links(text: str) -> list[tuple[str, str]]:
    """(series title, series URL) pairs from a book page's Apollo state (or legacy links)."""
    state = _next_data(text)
    pairs = [
        (str(v.get("title", "")), str(v.get("webUrl", "")))
        for k, v in state.items()
        if k.startswith("Series:") and isinstance(v, dict)
    ]
    if not pairs:
        for a in _soup(text).select("a[href*='/series/']"):
            label = a.get_text(" ", strip=True).strip("() ")
            label = re.sub(r"\s*#\s*[\d.\-–]+\s*$", "", label).rstrip(", ")
            pairs.append((label, str(a.get("href", ""))))
    return pairs


def _pick_book(state: dict[str, Any], book_id: str) -> dict[str, Any]:
    books = [v for k, v in state.items() if k.startswith("Book:") and isinstance(v, dict)]
    for book in books:
        if str(book.get("legacyId", "")) == str(book_id):
            return book
    with_title = [b for b in books if b.get("title")]
    return with_title[0] if with_title else {}


def _kind_of_format(fmt: str) -> str:
    low = fmt.lower()
    if any(w in low for w in _AUDIO_FORMATS):
        return "audiobook"
    if any(w in low for w in _EBOOK_FORMATS):
        return "ebook"
    return "book" if low else ""


def parse_book_page(text: str, *, book_id: str = "", url: str = "") -> Candidate | None:
    """A book page -> Candidate, from ``__NEXT_DATA__`` when present, else JSON-LD / meta tags."""
    state = _next_data(text)
    if state:
        return _from_apollo(state, book_id, url)
    return _from_legacy(text, book_id, url)


def _from_apollo(state: dict[str, Any], book_id: str, url: str) -> Candidate | None:
    book = _pick_book(state, book_id)
    title = str(book.get("titleComplete") or book.get("title") or "").strip()
    if not title:
        return None
    bare, title_series = split_title(title)
    bare = str(book.get("title") or bare).strip()
    bare, _ = split_title(bare)
    authors, narrators = [], []
    edges = [book.get("primaryContributorEdge"), *(book.get("secondaryContributorEdges") or [])]
    for edge in edges:
        if not isinstance(edge, dict):
            continue
        person = _deref(state, edge.get("node"))
        name = str(person.get("name") or "").strip()
        role = str(edge.get("role") or "Author").lower()
        if not name:
            continue
        if "narrat" in role or "reader" in role:
            narrators.append(name)
        elif role in ("author", "co-author", "writer"):
            authors.append(name)
    series = []
    for link in book.get("bookSeries") or []:
        record = _deref(state, link.get("series"))
        if record.get("title"):
            series.append(SeriesRef(str(record["title"]), clean_position(link.get("userPosition"))))
    if not series:
        series = list(title_series)
    details = book.get("details") or {}
    work = _deref(state, book.get("work"))
    when = details.get("publicationTime") or (work.get("details") or {}).get("publicationTime")
    year = ""
    if isinstance(when, int | float):
        from datetime import UTC, datetime

        year = str(datetime.fromtimestamp(when / 1000, tz=UTC).year)
    description = next(
        (v for k, v in book.items() if k.startswith("description") and isinstance(v, str) and v), ""
    )
    genres = [
        str((g.get("genre") or {}).get("name", ""))
        for g in book.get("bookGenres") or []
        if isinstance(g, dict)
    ]
    language = (details.get("language") or {}).get("name") if isinstance(details.get("language"), dict) else details.get("language")
    fmt = str(details.get("format") or "")
    legacy = str(book.get("legacyId") or book_id)
    return Candidate(
        source=NAME,
        source_id=legacy,
        title=bare,
        authors=dedupe(authors),
        narrators=dedupe(narrators),
        series=tuple(series),
        description=strip_html(description),
        publisher=str(details.get("publisher") or "").strip(),
        year=year_of(year),
        isbn=str(details.get("isbn13") or details.get("isbn") or ""),
        asin=str(details.get("asin") or ""),
        genres=dedupe(genres),
        language=language_name(language or ""),
        cover_url=str(book.get("imageUrl") or ""),
        kind=_kind_of_format(fmt),
        url=url or str(book.get("webUrl") or ""),
        raw=book,
    )


def _from_legacy(text: str, book_id: str, url: str) -> Candidate | None:
    soup = _soup(text)
    ld: dict[str, Any] = {}
    for script in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(script.string or "")
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("@type") == "Book":
            ld = data
            break

    def meta(prop: str) -> str:
        tag = soup.find("meta", attrs={"property": prop}) or soup.find("meta", attrs={"name": prop})
        return str(tag.get("content", "")).strip() if tag is not None else ""

    heading = soup.select_one("h1#bookTitle") or soup.select_one("h1")
    title = str(ld.get("name") or meta("og:title") or (heading.get_text(" ", strip=True) if heading else ""))
    if not title:
        return None
    bare, series = split_title(title)
    authors = ld.get("author") or []
    if isinstance(authors, dict):
        authors = [authors]
    names = [str(a.get("name", "")) for a in authors if isinstance(a, dict)]
    if not names:
        names = [a.get_text(" ", strip=True) for a in soup.select("a.authorName [itemprop=name]")]
    description = meta("og:description")
    box = soup.select_one("#description span[style*='display:none']") or soup.select_one("#description span")
    if box is not None:
        description = str(box)
    return Candidate(
        source=NAME,
        source_id=book_id,
        title=bare,
        authors=dedupe(names),
        series=series,
        description=strip_html(description),
        isbn=str(ld.get("isbn") or meta("books:isbn") or ""),
        language=language_name(str(ld.get("inLanguage") or "")),
        cover_url=str(ld.get("image") or meta("og:image") or ""),
        kind=_kind_of_format(str(ld.get("bookFormat") or "")),
        url=url,
        raw={"ld": ld},
    )


def _props(node: Tag) -> dict[str, Any]:
    try:
        data = json.loads(str(node.get("data-react-props") or ""))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def parse_series_page(text: str) -> tuple[list[BibEntry], int | None]:
    """Series page -> (entries in page order, total works when the page says so).

    The props JSON is preferred; the header ("Book 1.5", "Books 1-3") beats the "#N" in a title
    (a book in two series carries the other series' number in its title)."""
    soup = _soup(text)
    name = ""
    header = soup.find(attrs={"data-react-class": "ReactComponents.SeriesHeader"})
    if header is not None:
        name = str(_props(header).get("title") or "")
    if not name:
        h1 = soup.select_one(".responsiveSeriesHeader__title h1") or soup.select_one("h1")
        name = h1.get_text(" ", strip=True) if h1 else ""
    name = re.sub(r"\s+Series\s*$", "", name).strip()
    total = None
    pager = soup.find(attrs={"data-react-class": "ReactComponents.FullPagePaginationControls"})
    if pager is not None:
        works = _props(pager).get("numWorks")
        total = int(works) if isinstance(works, int | float) or str(works).isdigit() else None
    entries: list[BibEntry] = []
    lists = soup.find_all(attrs={"data-react-class": "ReactComponents.SeriesList"})
    for node in lists:
        props = _props(node)
        headers = props.get("seriesHeaders") or []
        for index, item in enumerate(props.get("series") or []):
            book = (item or {}).get("book") or {}
            label = str(headers[index]) if index < len(headers) and headers[index] else ""
            entries.append(_series_entry(book, label, name))
    if not lists:
        for item in soup.select("div.listWithDividers__item"):
            label_node = item.select_one("h3")
            link = item.select_one("a[href*='/book/show/']:not(:has(img))") or item.select_one(
                "a[href*='/book/show/']"
            )
            if link is None:
                continue
            title_node = item.select_one("[itemprop=name]")
            author = item.select_one("[itemprop=author] [itemprop=name]")
            match = _BOOK_ID.search(link.get("href") or "")
            rating = item.select_one(".communityRating")
            published = re.search(r"published (\d{4})", rating.get_text(" ") if rating else "")
            book = {
                "bookId": match.group(1) if match else "",
                "title": title_node.get_text(" ", strip=True) if title_node else link.get_text(" ", strip=True),
                "author": {"name": author.get_text(" ", strip=True) if author else ""},
                "publicationDate": published.group(1) if published else "",
            }
            label = label_node.get_text(" ", strip=True) if label_node else ""
            entries.append(_series_entry(book, label, name))
    return [e for e in entries if e.title], total


def _series_entry(book: dict[str, Any], label: str, series_name: str) -> BibEntry:
    full = str(book.get("title") or "")
    bare, title_series = split_title(full)
    bare = str(book.get("bookTitleBare") or bare).strip()
    position = clean_position(label) if label else None
    if position is None and not label:
        # no header at all: fall back on this series' "#N" in the title
        mine = [s for s in title_series if norm_key(s.name) == norm_key(series_name)]
        position = mine[0].position if mine else None
    omnibus = bool(position and "-" in position) or bool(re.match(r"(?i)books\b", label))
    author = book.get("author") or {}
    authors = author if isinstance(author, list) else [author]
    upcoming = book.get("toBePublished")
    book_id = str(book.get("bookId") or "")
    if not book_id:
        match = _BOOK_ID.search(str(book.get("bookUrl") or ""))
        book_id = match.group(1) if match else ""
    return BibEntry(
        title=bare,
        authors=dedupe([str(a.get("name", "")) for a in authors if isinstance(a, dict)]),
        position=position,
        year=year_of(book.get("publicationDate")),
        kind=KIND_OMNIBUS if omnibus else position_kind(position),
        series=(SeriesRef(series_name, position),) if series_name else (),
        upcoming=bool(upcoming) if isinstance(upcoming, bool) else None,
        source=NAME,
        source_id=book_id,
    )


__all__ = [
    "WAF_REASON",
    "GoodreadsSource",
    "is_waf_challenge",
    "parse_book_page",
    "parse_list_rows",
    "parse_series_page",
    "split_title",
]
