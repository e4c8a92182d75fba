"""Fake Google Books, Goodreads, Audible and Hardcover servers on 127.0.0.1.

Each fake is a context manager running a stdlib ``ThreadingHTTPServer`` in a daemon thread::

    with FakeAudible() as fake:          # default_catalogue()
        source = AudibleSource(fake.url)
        ...
        assert fake.requests == []       # every request is logged as a FakeRequest

They answer from one shared :class:`Catalogue` of :class:`FakeBook` records, in the shapes of the
recorded responses in ``tests/fixtures/<service>/`` (Google volumes and Audible products are built
by filling a copy of the real fixture record; Goodreads pages follow the schematic pages and the
Apollo-state layout described in the research). ``fake.mode`` switches failure behaviour:

- all: ``"error500"`` (every request 500), ``"malformed"`` (broken JSON / garbage HTML);
  ``fake.fail_times = n`` answers 500 to the next n requests, then recovers;
- Google: ``"quota"`` (429 rateLimitExceeded), ``"daily"`` (403 dailyLimitExceeded),
  ``"badkey"`` (400 keyInvalid); ``required_key`` makes a wrong key a 400 keyInvalid;
- Goodreads: ``"waf"`` (202, empty body, ``x-amzn-waf-action: challenge``), ``"waf-page"``
  (200 with the JS challenge page), ``"throttle"`` (503);
- Audible: ``"throttle"`` (429);
- Hardcover: ``"unauthorized"`` (401 invalid_token), ``"graphql-error"`` (200 with ``errors``),
  ``"throttle"`` (429); a token other than ``token`` is refused with 401.

``fake.fail_if = lambda request: "error500"`` applies a mode to the requests it names only (one
series or author failing while the others are served), e.g. :func:`asking_about`.
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


# ------------------------------------------------------------------------------ catalogue
@dataclass
class FakeBook:
    title: str
    authors: tuple[str, ...]
    series: tuple[tuple[str, str | None], ...] = ()  # (series name, position "1", "2.5", "1-3")
    narrators: tuple[str, ...] = ()
    subtitle: str = ""
    asin: str = ""
    isbn: str = ""
    release_date: str = "2015-06-01"
    description: str = ""
    publisher: str = "Example House"
    genres: tuple[str, ...] = ("Fantasy",)
    language: str = "English"
    duration_minutes: int = 0
    abridged: bool = False
    omnibus: bool = False
    audio: bool = True  # an audio edition exists (Audible lists only these)
    services: frozenset[str] = frozenset({"google", "goodreads", "audible", "hardcover"})
    readers: int = 100  # popularity, for ordering duplicates
    id: int = 0  # assigned by the catalogue
    # What one service puts in ``subtitle`` when it is not the book's own: Audible's catalog
    # often restates the series there ("The Expanse, Book 2"), Google Books "Book Two of ...".
    subtitles: dict[str, str] = field(default_factory=dict)

    @property
    def year(self) -> str:
        return self.release_date[:4]

    def subtitle_for(self, service: str) -> str:
        return self.subtitles.get(service, self.subtitle)

    @property
    def upcoming(self) -> bool:
        return date.fromisoformat(self.release_date) > date.today()


@dataclass
class Catalogue:
    books: list[FakeBook] = field(default_factory=list)

    def __post_init__(self) -> None:
        for index, book in enumerate(self.books):
            book.id = book.id or 1001 + index

    def add(self, book: FakeBook) -> FakeBook:
        book.id = book.id or 1001 + len(self.books)
        self.books.append(book)
        return book

    def for_service(self, service: str) -> list[FakeBook]:
        return [b for b in self.books if service in b.services]

    def series_names(self, service: str) -> list[str]:
        names: list[str] = []
        for book in self.for_service(service):
            for name, _ in book.series:
                if name not in names:
                    names.append(name)
        return names

    def authors(self, service: str) -> list[str]:
        names: list[str] = []
        for book in self.for_service(service):
            for name in book.authors:
                if name not in names:
                    names.append(name)
        return names


def default_catalogue() -> Catalogue:
    """A series with novellas (0.5, 2.5), an omnibus (Books 1-3), an upcoming book, an abridged
    Audible edition, a standalone, a co-written book, and a same-title book by someone else.
    Audible's subtitles restate the series ("Example Saga, Book 1"), as its catalog does."""
    soon = (date.today() + timedelta(days=200)).isoformat()
    saga = "Example Saga"
    jane = ("Jane Author",)
    return Catalogue(
        [
            FakeBook("Prequel Novella", jane, ((saga, "0.5"),), ("Nora Narrator",),
                     asin="B0FAKE0005", isbn="9780000000059", release_date="2012-03-01",
                     duration_minutes=95, description="<p>Before it all.</p>"),
            FakeBook("First Book", jane, ((saga, "1"),), ("Nora Narrator",),
                     asin="B0FAKE0001", isbn="9780000000011", release_date="2010-05-04",
                     duration_minutes=610, description="<p>It <b>begins</b>.</p><p>Second para.</p>",
                     genres=("Fantasy", "Epic"), readers=900, subtitles={"audible": f"{saga}, Book 1"}),
            FakeBook("First Book", jane, ((saga, "1"),), ("Someone Else",),
                     subtitle="Abridged", asin="B0FAKE001A", release_date="2011-01-01",
                     duration_minutes=180, abridged=True, services=frozenset({"audible"})),
            FakeBook("Second Book", jane, ((saga, "2"),), ("Nora Narrator",),
                     asin="B0FAKE0002", isbn="9780000000028", release_date="2011-06-01",
                     duration_minutes=640, readers=700,
                     subtitles={"audible": f"{saga}, Book 2", "google": f"Book Two of the {saga}"}),
            FakeBook("Between Tales", jane, ((saga, "2.5"),), ("Nora Narrator",),
                     asin="B0FAKE0025", release_date="2012-09-01", duration_minutes=120),
            FakeBook("Third Book", jane, ((saga, "3"),), ("Nora Narrator",),
                     asin="B0FAKE0003", isbn="9780000000035", release_date="2013-06-01",
                     duration_minutes=700, readers=500),
            FakeBook("Example Saga: Books 1-3", jane, ((saga, "1-3"),), ("Nora Narrator",),
                     asin="B0FAKE0103", release_date="2014-01-01", duration_minutes=1950,
                     omnibus=True, readers=50),
            FakeBook("Fourth Book", jane, ((saga, "4"),), ("Nora Narrator",),
                     asin="B0FAKE0004", release_date=soon, duration_minutes=0),
            FakeBook("Lonely Standalone", jane, (), ("Nora Narrator",), asin="B0FAKE0100",
                     isbn="9780000001001", release_date="2016-02-02", duration_minutes=400),
            FakeBook("Shared Tale", ("Jane Author", "Co Writer"), (), ("Nora Narrator",),
                     asin="B0FAKE0200", release_date="2017-07-07", duration_minutes=300),
            FakeBook("Print Only Essays", jane, (), (), isbn="9780000009999",
                     release_date="2018-01-01", audio=False,
                     services=frozenset({"google", "goodreads", "hardcover"})),
            FakeBook("First Book", ("Other Person",), (), ("Other Voice",), asin="B0OTHER001",
                     isbn="9780000007777", release_date="2019-01-01", duration_minutes=200,
                     genres=("Romance",)),
            FakeBook("Children of Time", ("Adrian Tchaikovsky",), (("Children of Time", "1"),),
                     ("Mel Hudson",), asin="B0FAKECOT1", isbn="9781447273301",
                     release_date="2015-06-04", duration_minutes=972, genres=("Science Fiction",),
                     services=frozenset({"goodreads", "audible", "hardcover"}),
                     subtitles={"audible": "Children of Time, Book 1"}),
        ]
    )


# ------------------------------------------------------------------------------ helpers
def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", _fold(text))


def _contains_words(haystack: str, needle: str) -> bool:
    have = set(_words(haystack))
    return all(w in have for w in _words(needle))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", _fold(text)).strip("-")


def _float(position: str | None) -> float | None:
    if not position:
        return None
    try:
        return float(position.split("-")[0])
    except ValueError:
        return None


def _epoch_ms(iso: str) -> int:
    when = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc)  # noqa: UP017
    return int(when.timestamp() * 1000)


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    mode: str | None = None  # a failure mode ``fail_if`` chose for this request only

    def text(self) -> str:
        """Everything the request asks about (query values and body), for ``fail_if`` rules."""
        return " ".join([*self.query.values(), self.body.decode("utf-8", "replace")])

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def asking_about(words: str, mode: str = "error500") -> Any:
    """A ``fail_if`` rule: ``mode`` for every request whose query or body holds all ``words``."""
    def rule(request: FakeRequest) -> str | None:
        return mode if _contains_words(request.text(), words) else None
    return rule


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _json(data: Any, status: int = 200, **headers: str) -> FakeResponse:
    return FakeResponse(status, json.dumps(data).encode(), dict(headers), "application/json")


def _html(text: str, status: int = 200, **headers: str) -> FakeResponse:
    return FakeResponse(status, text.encode(), dict(headers), "text/html; charset=utf-8")


# ------------------------------------------------------------------------------ server base
class FakeServer:
    """A loopback HTTP server answering through :meth:`handle`; a context manager."""

    name = "fake"

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()
        self.mode: str | None = None
        self.fail_times = 0
        self.fail_if: Any = None  # request -> a mode for that request, or None
        self.requests: list[FakeRequest] = []
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # lifecycle -------------------------------------------------------------
    def __enter__(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                request = FakeRequest(
                    self.command, parts.path, query,
                    {k.lower(): v for k, v in self.headers.items()}, body,
                )
                response = fake._dispatch(request)
                payload = response.body
                if not isinstance(payload, bytes):
                    payload = str(payload).encode()
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.base_path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    base_path = ""

    # dispatch --------------------------------------------------------------
    def _dispatch(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            failing = self.fail_times > 0
            if failing:
                self.fail_times -= 1
        if self.fail_if is not None:
            request.mode = self.fail_if(request)
        if failing or self._mode(request) == "error500":
            return _json({"error": "internal"}, 500)
        try:
            return self.handle(request)
        except Exception as exc:  # a bug in the fake must show as a 500, not a hang
            return _json({"error": f"fake crashed: {exc!r}"}, 500)

    def _mode(self, request: FakeRequest) -> str | None:
        return request.mode or self.mode

    def handle(self, request: FakeRequest) -> FakeResponse:  # pragma: no cover - abstract
        raise NotImplementedError

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def reset(self) -> None:
        self.requests.clear()
        self.mode = None
        self.fail_if = None
        self.fail_times = 0


# ------------------------------------------------------------------------------ Google Books
class FakeGoogleBooks(FakeServer):
    """``/books/v1/volumes`` search and ``/books/v1/volumes/<id>``; fixture volumes included."""

    name = "google"
    base_path = "/books/v1"

    def __init__(self, catalogue: Catalogue | None = None, *, required_key: str = "") -> None:
        super().__init__(catalogue)
        self.required_key = required_key
        search = json.loads((FIXTURES / "google-books" / "google-books-volumes-search.json").read_text())
        self.single = json.loads((FIXTURES / "google-books" / "google-books-volume-get.json").read_text())
        self.template = search["items"][0]
        self.fixture_items = list(search["items"])

    def volume(self, book: FakeBook) -> dict[str, Any]:
        item = copy.deepcopy(self.template)
        item["id"] = f"fakevol{book.id}"
        item["selfLink"] = f"{self.url}/volumes/fakevol{book.id}"
        info = item["volumeInfo"]
        info.update(
            title=book.title,
            authors=list(book.authors),
            publisher=book.publisher,
            publishedDate=book.release_date,
            description=re.sub(r"<[^>]+>", "", book.description) or f"About {book.title}.",
            categories=list(book.genres[:1]),
            language={"English": "en", "French": "fr"}.get(book.language, "en"),
            industryIdentifiers=[{"type": "ISBN_13", "identifier": book.isbn}] if book.isbn else [
                {"type": "OTHER", "identifier": f"FAKE:{book.id}"}
            ],
        )
        if book.subtitle_for("google"):
            info["subtitle"] = book.subtitle_for("google")
        for key in ("previewLink", "infoLink", "canonicalVolumeLink"):
            info[key] = f"https://books.google.com/books?id={item['id']}"
        for link in info.get("imageLinks", {}):
            info["imageLinks"][link] = info["imageLinks"][link].replace(
                "49T5twEACAAJ", item["id"]
            )
        return item

    def volumes(self) -> list[dict[str, Any]]:
        generated = [self.volume(b) for b in self.catalogue.for_service("google")]
        return [*self.fixture_items, *generated]

    def _error(self, status: int, reason: str, message: str, domain: str = "global") -> FakeResponse:
        body: dict[str, Any] = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
        if status == 429:
            body["error"]["status"] = "RESOURCE_EXHAUSTED"
        return _json(body, status)

    def handle(self, request: FakeRequest) -> FakeResponse:
        if self._mode(request) == "quota":
            return self._error(
                429, "rateLimitExceeded",
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service "
                "'books.googleapis.com' for consumer 'project_number:000000000000'.",
            )
        if self._mode(request) == "daily":
            return self._error(403, "dailyLimitExceeded", "Daily Limit Exceeded", "usageLimits")
        key = request.query.get("key", "")
        if self._mode(request) == "badkey" or (self.required_key and key != self.required_key):
            return self._error(400, "keyInvalid", "API key not valid. Please pass a valid API key.")
        if self._mode(request) == "malformed":
            return FakeResponse(200, b'{"kind": "books#volumes", "items": [', {}, "application/json")
        path = request.path[len(self.base_path):] if request.path.startswith(self.base_path) else request.path
        if path == "/volumes":
            return self._search(request.query.get("q", ""), int(request.query.get("maxResults", 10)))
        match = re.fullmatch(r"/volumes/([\w-]+)", path)
        if match:
            wanted = match.group(1)
            if wanted == self.single["id"]:
                return _json(self.single)
            for item in self.volumes():
                if item["id"] == wanted:
                    return _json(item)
            return self._error(404, "notFound", "The volume ID could not be found.")
        return self._error(404, "notFound", "Not Found")

    def _search(self, q: str, limit: int) -> FakeResponse:
        isbn = re.match(r"\s*isbn:(\S+)", q)
        title = re.search(r"intitle:(.*?)(?=\s+in\w+:|$)", q)
        author = re.search(r"inauthor:(.*?)(?=\s+in\w+:|$)", q)
        hits = []
        for item in self.volumes():
            info = item["volumeInfo"]
            if isbn:
                codes = {i["identifier"] for i in info.get("industryIdentifiers", [])}
                if isbn.group(1) not in codes:
                    continue
            else:
                free = re.sub(r"\bin\w+:\S*", " ", q) if not (title or author) else ""
                if title and not _contains_words(info.get("title", ""), title.group(1)):
                    continue
                if author and not _contains_words(" ".join(info.get("authors", [])), author.group(1)):
                    continue
                if free.strip() and not _contains_words(
                    f"{info.get('title', '')} {' '.join(info.get('authors', []))}", free
                ):
                    continue
            hits.append(item)
        body: dict[str, Any] = {"kind": "books#volumes", "totalItems": len(hits)}
        if hits:  # the real API leaves "items" out when nothing matched
            body["items"] = hits[:limit]
        return _json(body)


# ------------------------------------------------------------------------------ Audible
class FakeAudible(FakeServer):
    """``/1.0/catalog/products`` (search, ``asins=``) and ``/1.0/catalog/products/<asin>``,
    series parents with ``relationships``; the real fixture product B017V4IM1G included."""

    name = "audible"

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        super().__init__(catalogue)
        self.fixture = json.loads(
            (FIXTURES / "audible" / "audible-catalog-product-B017V4IM1G.json").read_text()
        )
        self.template = self.fixture["product"]

    @staticmethod
    def series_asin(name: str) -> str:
        return "B0SER" + str(zlib.crc32(_fold(name).encode()) % 10**5).zfill(5)

    def product(self, book: FakeBook) -> dict[str, Any]:
        item = copy.deepcopy(self.template)
        for key in ("rating", "social_media_images", "editorial_reviews", "platinum_keywords"):
            item.pop(key, None)
        item.update(
            asin=book.asin,
            title=book.title,
            authors=[{"asin": "B0AUTH" + str(zlib.crc32(a.encode()) % 10**4).zfill(4), "name": a}
                     for a in book.authors],
            narrators=[{"name": n} for n in book.narrators],
            publisher_name=book.publisher,
            release_date=book.release_date,
            issue_date=book.release_date,
            language=book.language.lower(),
            runtime_length_min=book.duration_minutes,
            format_type="abridged" if book.abridged else "unabridged",
            publisher_summary=book.description or f"<p>About {book.title}.</p>",
            merchandising_summary=book.description or f"<p>About {book.title}.</p>",
            isbn=book.isbn or None,
            sku=f"BK_FAKE_{book.id}",
            sku_lite=f"BK_FAKE_{book.id}",
            category_ladders=[
                {"root": "Genres", "ladder": [{"id": str(1000 + i), "name": g}]}
                for i, g in enumerate(book.genres)
            ],
            series=[
                {"asin": self.series_asin(name), "sequence": pos or "", "title": name,
                 "url": f"/pd/{_slug(name)}-Audiobook/{self.series_asin(name)}"}
                for name, pos in book.series
            ],
            publication_name=book.series[0][0] if book.series else None,
            product_images={
                "500": f"https://m.media-amazon.com/images/I/{book.asin}._SL500_.jpg",
                "1024": f"https://m.media-amazon.com/images/I/{book.asin}._SL1024_.jpg",
            },
        )
        if book.subtitle_for("audible"):
            item["subtitle"] = book.subtitle_for("audible")
        else:
            item.pop("subtitle", None)
        if not item["series"]:
            item.pop("series")
            item.pop("publication_name")
        return item

    def series_product(self, name: str) -> dict[str, Any]:
        members = [
            (book, pos)
            for book in self.catalogue.for_service("audible")
            for sname, pos in book.series
            if sname == name and book.asin
        ]
        # Audible lists children in no useful order; ``sort`` is what orders them.
        relationships = []
        for index, (book, pos) in enumerate(reversed(members)):
            number = _float(pos)
            relationships.append({
                "asin": book.asin,
                "relationship_to_product": "child",
                "relationship_type": "series",
                "sequence": pos or "",
                "sort": str(int((number if number is not None else 90 + index) * 10)),
                "sku": f"BK_FAKE_{book.id}",
                "sku_lite": f"BK_FAKE_{book.id}",
            })
        relationships.append({  # a parent link that must be ignored
            "asin": "B0PARENT01", "relationship_to_product": "parent",
            "relationship_type": "series", "sequence": "", "sort": "0",
        })
        return {
            "asin": self.series_asin(name),
            "title": name,
            "content_delivery_type": "BookSeries",
            "content_type": "Product",
            "relationships": relationships,
        }

    def products(self) -> list[dict[str, Any]]:
        made = [self.product(b) for b in self.catalogue.for_service("audible") if b.asin and b.audio]
        return [copy.deepcopy(self.template), *made]

    def handle(self, request: FakeRequest) -> FakeResponse:
        if self._mode(request) == "throttle":
            return _json({"message": "Too many requests"}, 429)
        if self._mode(request) == "malformed":
            return FakeResponse(200, b'{"products": [{"asin": ', {}, "application/json")
        groups = request.query.get("response_groups", "").split(",")
        if request.path == "/1.0/catalog/products":
            return self._search(request.query, groups)
        match = re.fullmatch(r"/1\.0/catalog/products/(\w+)", request.path)
        if match:
            asin = match.group(1)
            for name in self.catalogue.series_names("audible"):
                if self.series_asin(name) == asin:
                    return _json({"product": self.series_product(name), "response_groups": groups})
            for product in self.products():
                if product["asin"] == asin:
                    if "relationships" in groups:
                        product["relationships"] = [
                            {"asin": s["asin"], "relationship_to_product": "parent",
                             "relationship_type": "series", "sequence": s["sequence"], "sort": "1"}
                            for s in product.get("series", [])
                        ]
                    return _json({"product": product, "response_groups": groups})
            return _json({"error_code": "000307", "message": "Requested product does not exist"}, 404)
        return _json({"message": "Not Found"}, 404)

    def _search(self, query: dict[str, str], groups: list[str]) -> FakeResponse:
        products = self.products()
        if query.get("asins"):
            wanted = query["asins"].split(",")
            by_asin = {p["asin"]: p for p in products}
            found = [by_asin[a] for a in wanted if a in by_asin]
            return _json({"products": found, "response_groups": groups, "total_results": len(found)})
        hits = []
        for product in products:
            title = f"{product.get('title', '')} {product.get('subtitle', '')}"
            authors = " ".join(a["name"] for a in product.get("authors", []))
            series = " ".join(s["title"] for s in product.get("series", []))
            if query.get("title") and not _contains_words(title, query["title"]):
                continue
            if query.get("author") and not _contains_words(authors, query["author"]):
                continue
            if query.get("keywords") and not _contains_words(
                f"{title} {authors} {series} {product.get('isbn') or ''}", query["keywords"]
            ):
                continue
            hits.append(product)
        if query.get("products_sort_by") == "-ReleaseDate":
            hits.sort(key=lambda p: p.get("release_date", ""), reverse=True)
        num = int(query.get("num_results", 10))
        page = int(query.get("page", 0))
        chunk = hits[page * num: (page + 1) * num]
        return _json({"products": chunk, "response_groups": groups, "total_results": len(hits)})


# ------------------------------------------------------------------------------ Hardcover
class FakeHardcover(FakeServer):
    """``POST /v1/graphql``: the ``search``, ``books``, ``editions``, ``series_by_pk`` and
    ``authors_by_pk`` fields abook asks for, answered from the catalogue."""

    name = "hardcover"
    base_path = "/v1/graphql"

    def __init__(self, catalogue: Catalogue | None = None, *, token: str = "test-token-abc") -> None:
        super().__init__(catalogue)
        self.token = token

    # records -----------------------------------------------------------------
    def series_id(self, name: str) -> int:
        return 5000 + self.catalogue.series_names("hardcover").index(name)

    def author_id(self, name: str) -> int:
        return 7000 + self.catalogue.authors("hardcover").index(name)

    def _contributions(self, book: FakeBook, *, narrators: bool = False) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"contribution": None, "author": {"id": self.author_id(a), "name": a}} for a in book.authors
        ]
        if narrators:
            rows += [{"contribution": "Narrator", "author": {"id": 9000, "name": n}}
                     for n in book.narrators]
        return rows

    def book_row(self, book: FakeBook) -> dict[str, Any]:
        audio = None
        if book.audio and book.asin:
            audio = {
                "id": book.id * 10 + 1, "asin": book.asin, "isbn_13": None, "isbn_10": None,
                "audio_seconds": book.duration_minutes * 60 or None,
                "release_date": book.release_date, "edition_format": "Audible Audio",
                "publisher": {"name": book.publisher},
                "language": {"language": book.language, "code2": "en", "code3": "eng"},
                "contributions": self._contributions(book, narrators=True),
            }
        physical = {
            "id": book.id * 10 + 2, "asin": None, "isbn_13": book.isbn or None, "isbn_10": None,
            "audio_seconds": None, "release_date": book.release_date, "edition_format": "Hardcover",
            "publisher": {"name": book.publisher},
            "language": {"language": book.language, "code2": "en", "code3": "eng"},
            "contributions": self._contributions(book),
        }
        return {
            "id": book.id,
            "title": book.title,
            "subtitle": book.subtitle_for("hardcover") or None,
            "description": re.sub(r"</p>\s*<p>", "\n\n", book.description).replace("<p>", "")
            .replace("</p>", "") or None,
            "release_date": book.release_date,
            "release_year": int(book.year),
            "slug": _slug(book.title),
            "compilation": book.omnibus,
            "users_count": book.readers,
            "cached_tags": {"Genre": [{"tag": g, "tagSlug": _slug(g), "category": "Genre",
                                        "categorySlug": "genre", "count": 10} for g in book.genres],
                            "Mood": [{"tag": "adventurous", "count": 3}]},
            "cached_image": {"url": f"https://assets.hardcover.app/books/{book.id}.jpg",
                             "width": 400, "height": 600},
            "contributions": self._contributions(book),
            "book_series": [
                {"position": _float(pos), "details": pos, "featured": i == 0,
                 "series": {"id": self.series_id(name), "name": name}}
                for i, (name, pos) in enumerate(book.series)
            ],
            "default_audio_edition": audio,
            "default_physical_edition": physical,
            "default_ebook_edition": None,
        }

    # dispatch ----------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeResponse:
        if request.method != "POST" or request.path != self.base_path:
            return _json({"error": "not found"}, 404)
        if self._mode(request) == "unauthorized" or request.headers.get("authorization") != f"Bearer {self.token}":
            return _json({"error": "invalid_token"}, 401)
        if self._mode(request) == "throttle":
            return _json({"error": "Too Many Requests"}, 429, **{"Retry-After": "0"})
        if self._mode(request) == "malformed":
            return FakeResponse(200, b'{"data": {"search": ', {}, "application/json")
        if self._mode(request) == "graphql-error":
            return _json({"errors": [{"message": "field 'nope' not found in type: 'query_root'",
                                      "extensions": {"code": "validation-failed"}}]})
        payload = request.json() or {}
        query = payload.get("query", "")
        variables = payload.get("variables") or {}
        data: dict[str, Any] = {}
        if re.search(r"\bsearch\s*\(", query):
            data["search"] = self._search(variables)
        if re.search(r"\bbooks\s*\(", query):
            ids = variables.get("ids") or []
            rows = {b.id: self.book_row(b) for b in self.catalogue.for_service("hardcover")}
            data["books"] = [rows[i] for i in sorted(ids) if i in rows]
        if re.search(r"\beditions\s*\(", query):
            code = variables.get("code", "")
            data["editions"] = [
                {"id": b.id * 10 + 1, "book": self.book_row(b)}
                for b in self.catalogue.for_service("hardcover")
                if code and code in (b.asin, b.isbn)
            ]
        if "series_by_pk" in query:
            data["series_by_pk"] = self._series(int(variables["id"]))
        if "authors_by_pk" in query:
            data["authors_by_pk"] = self._author(
                int(variables["id"]), int(variables.get("limit", 100)), int(variables.get("offset", 0))
            )
        return _json({"data": data})

    def _search(self, variables: dict[str, Any]) -> dict[str, Any]:
        terms = str(variables.get("q", ""))
        kind = str(variables.get("type", "book")).lower()
        per = int(variables.get("per", 10))
        docs: list[dict[str, Any]] = []
        if kind == "book":
            for book in self.catalogue.for_service("hardcover"):
                text = f"{book.title} {' '.join(book.authors)} {' '.join(n for n, _ in book.series)}"
                if _contains_words(text, terms):
                    docs.append({"id": str(book.id), "title": book.title,
                                 "author_names": list(book.authors),
                                 "series_names": [n for n, _ in book.series],
                                 "has_audiobook": book.audio, "release_year": int(book.year)})
        elif kind == "series":
            for name in self.catalogue.series_names("hardcover"):
                members = [b for b in self.catalogue.for_service("hardcover")
                           if any(n == name for n, _ in b.series)]
                if _contains_words(name, terms) or _contains_words(terms, name):
                    docs.append({"id": str(self.series_id(name)), "name": name,
                                 "author_name": members[0].authors[0] if members else "",
                                 "books_count": len(members),
                                 "primary_books_count": sum(
                                     1 for b in members for n, p in b.series
                                     if n == name and p and p.isdigit())})
            # a near-miss hit that must not be taken for the series asked about
            docs.append({"id": "5999", "name": f"{terms} Universe", "author_name": "Somebody",
                         "books_count": 2})
        elif kind == "author":
            for name in self.catalogue.authors("hardcover"):
                if _contains_words(name, terms):
                    docs.append({"id": str(self.author_id(name)), "name": name,
                                 "books_count": 3})
        docs = docs[:per]
        return {
            "ids": [int(d["id"]) for d in docs],
            "results": {"found": len(docs), "page": 1,
                        "hits": [{"document": d, "text_match": 100} for d in docs]},
            "query": terms, "query_type": kind, "page": 1, "per_page": per, "error": None,
        }

    def _series(self, series_id: int) -> dict[str, Any] | None:
        names = self.catalogue.series_names("hardcover")
        index = series_id - 5000
        if not 0 <= index < len(names):
            return None
        name = names[index]
        links = []
        for book in self.catalogue.for_service("hardcover"):
            for sname, pos in book.series:
                if sname == name:
                    links.append((book, pos))
        # A lesser-read duplicate record at position 1 (Hardcover's real data has these).
        first = [b for b, p in links if p == "1"]
        if first:
            dup = copy.copy(first[0])
            dup.id, dup.readers, dup.title = 8888, 1, f"{first[0].title} (Special Edition)"
            links.append((dup, "1"))
        links.sort(key=lambda bp: (_float(bp[1]) is None, _float(bp[1]) or 0, -bp[0].readers))
        return {
            "id": series_id, "name": name, "books_count": len(links),
            "primary_books_count": None, "is_completed": False,
            "book_series": [
                {"position": _float(pos), "details": pos, "featured": True,
                 "book": {k: v for k, v in self.book_row(book).items()
                          if k in ("id", "title", "release_date", "release_year", "compilation",
                                   "contributions", "default_audio_edition")}}
                for book, pos in links
            ],
        }

    def _author(self, author_id: int, limit: int, offset: int) -> dict[str, Any] | None:
        names = self.catalogue.authors("hardcover")
        index = author_id - 7000
        if not 0 <= index < len(names):
            return None
        name = names[index]
        rows = []
        for book in self.catalogue.for_service("hardcover"):
            if name in book.authors:
                row = self.book_row(book)
                rows.append({"contribution": None, "book": row})
        # the same person credited as narrator/translator of someone else's book
        rows.append({"contribution": "Translator",
                     "book": {"id": 9999, "title": "Translated Thing", "release_year": 2001,
                              "contributions": [], "book_series": [],
                              "default_audio_edition": None, "compilation": False}})
        rows.sort(key=lambda r: r["book"].get("release_year") or 0)
        return {"id": author_id, "name": name, "contributions": rows[offset: offset + limit]}


# ------------------------------------------------------------------------------ Goodreads
_WAF_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title></title>
<script type="text/javascript">
window.awsWafCookieDomainList = [];
window.gokuProps = {"key":"AQIDAHj...","iv":"A6x...","context":"..."};
</script>
<script src="https://0d1e2f3a4b5c.edge.sdk.awswaf.com/0d1e2f3a4b5c/challenge.js"></script>
<script src="https://0d1e2f3a4b5c.token.awswaf.com/0d1e2f3a4b5c/abcdef/challenge.js"></script>
</head><body><div id="challenge-container"></div></body></html>"""


class FakeGoodreads(FakeServer):
    """Search, book pages (``__NEXT_DATA__``), series pages (React props) and author lists."""

    name = "goodreads"

    def __init__(self, catalogue: Catalogue | None = None, *, series_per_page: int = 100) -> None:
        super().__init__(catalogue)
        self.series_per_page = series_per_page

    def series_id(self, name: str) -> int:
        return 40000 + self.catalogue.series_names("goodreads").index(name)

    def author_id(self, name: str) -> int:
        return 20000 + self.catalogue.authors("goodreads").index(name)

    def _books(self) -> list[FakeBook]:
        return self.catalogue.for_service("goodreads")

    @staticmethod
    def full_title(book: FakeBook) -> str:
        if not book.series:
            return book.title
        inner = "; ".join(f"{n}, #{p}" if p else n for n, p in book.series)
        return f"{book.title} ({inner})"

    def handle(self, request: FakeRequest) -> FakeResponse:
        if self._mode(request) == "waf":
            return FakeResponse(202, b"", {"x-amzn-waf-action": "challenge"}, "text/html")
        if self._mode(request) == "waf-page":
            return _html(_WAF_PAGE)
        if self._mode(request) == "throttle":
            return _html("<html><body>Service Unavailable</body></html>", 503)
        if self._mode(request) == "malformed":
            return _html("<html><body><table class='tableList'><tr><td><a href='/nowhere'>x")
        path = request.path
        if path == "/search":
            return self._search(request.query.get("q", ""))
        match = re.fullmatch(r"/book/show/(\d+)(?:[.-][\w-]*)?", path)
        if match:
            book = next((b for b in self._books() if b.id == int(match.group(1))), None)
            return _html(self.book_page(book)) if book else _html("<html>Not found</html>", 404)
        match = re.fullmatch(r"/series/(\d+)(?:-[\w-]*)?", path)
        if match:
            page = int(request.query.get("page", 1))
            return self._series(int(match.group(1)), page)
        match = re.fullmatch(r"/author/list/(\d+)(?:\.[\w.-]*)?", path)
        if match:
            return self._author_list(int(match.group(1)), int(request.query.get("page", 1)),
                                     int(request.query.get("per_page", 30)))
        return _html("<html>Not found</html>", 404)

    # pages -------------------------------------------------------------------
    def _row(self, book: FakeBook, rank: int) -> str:
        title = html.escape(self.full_title(book))
        authors = "".join(
            f'<span itemprop="author" itemscope="" itemtype="http://schema.org/Person">'
            f'<div class="authorName__container"><a class="authorName" itemprop="url" '
            f'href="https://www.goodreads.com/author/show/{self.author_id(a)}.{quote(a.replace(" ", "_"))}">'
            f'<span itemprop="name">{html.escape(a)}</span></a></div></span>'
            for a in book.authors
        )
        when = f"expected publication {book.year}" if book.upcoming else f"published {book.year}"
        return f"""
    <tr itemscope itemtype="http://schema.org/Book">
      <td width="5%" valign="top"><a title="{title}" href="/book/show/{book.id}.{_slug(book.title)}"><img alt="{title}" class="bookCover" itemprop="image" src="https://i.gr-assets.com/images/books/{book.id}._SY75_.jpg"/></a></td>
      <td width="100%" valign="top">
        <a title="{title}" href="/book/show/{book.id}.{_slug(book.title)}?from_search=true&amp;rank={rank}" class="bookTitle" itemprop="url"><span itemprop="name" role="heading" aria-level="4">{title}</span></a>
        <br/><span class="by">by</span> {authors}<br/>
        <div><span class="greyText smallText uitext"><span class="minirating"> 4.00 avg rating &mdash; 1,000 ratings</span>
          &mdash; {when} &mdash; <a class="greyText" href="/work/editions/{book.id + 300000}">3 editions</a></span></div>
      </td>
    </tr>"""

    def _list_page(self, rows: list[FakeBook], header: str, pager: str = "") -> str:
        body = "".join(self._row(b, i + 1) for i, b in enumerate(rows))
        return (f'<html><body><div class="leftContainer"><h3 class="searchSubNavContainer">{header}</h3>'
                f'<table class="tableList">{body}</table>{pager}</div></body></html>')

    def _search(self, q: str) -> FakeResponse:
        code = re.sub(r"[^0-9A-Za-z]", "", q)
        for book in self._books():
            if code and code in (book.isbn, book.asin):
                return FakeResponse(302, b"", {"Location": f"/book/show/{book.id}.{_slug(book.title)}"}, "text/html")
        hits = [
            b for b in self._books()
            if _contains_words(f"{self.full_title(b)} {' '.join(b.authors)}", q)
        ]
        return _html(self._list_page(hits, f"Page 1 of about {len(hits)} results"))

    def book_page(self, book: FakeBook) -> str:
        ref = f"Book:kca://book/amzn1.gr.book.v1.fake{book.id}"
        state: dict[str, Any] = {
            "ROOT_QUERY": {"__typename": "Query",
                           f'getBookByLegacyId({{"legacyId":"{book.id}"}})': {"__ref": ref}},
        }
        contributors = []
        for i, name in enumerate((*book.authors, *book.narrators)):
            cref = f"Contributor:kca://author/amzn1.gr.author.v1.fake{_slug(name)}"
            state[cref] = {"__typename": "Contributor", "id": cref.split(":", 1)[1],
                           "legacyId": self.author_id(name) if name in book.authors else 99999,
                           "name": name, "isGrAuthor": False,
                           "webUrl": f"https://www.goodreads.com/author/show/{i}"}
            contributors.append({"__typename": "BookContributorEdge", "node": {"__ref": cref},
                                 "role": "Author" if name in book.authors else "Narrator"})
        series_links = []
        for name, pos in book.series:
            sref = f"Series:kca://series/amzn1.gr.series.v1.fake{self.series_id(name)}"
            state[sref] = {"__typename": "Series", "id": sref.split(":", 1)[1], "title": name,
                           "webUrl": f"https://www.goodreads.com/series/{self.series_id(name)}-{_slug(name)}"}
            series_links.append({"__typename": "BookSeries", "userPosition": pos or "",
                                 "series": {"__ref": sref}})
        wref = f"Work:kca://work/amzn1.gr.work.v1.fake{book.id}"
        state[wref] = {"__typename": "Work", "id": wref.split(":", 1)[1], "legacyId": book.id + 300000,
                       "details": {"__typename": "WorkDetails",
                                   "publicationTime": _epoch_ms(book.release_date)},
                       "stats": {"averageRating": 4.0, "ratingsCount": 1000}}
        state[ref] = {
            "__typename": "Book",
            "id": ref.split(":", 1)[1],
            "legacyId": book.id,
            "webUrl": f"https://www.goodreads.com/book/show/{book.id}-{_slug(book.title)}",
            "title": self.full_title(book),
            "titleComplete": self.full_title(book),
            "description": book.description or f"About {book.title}.",
            'description({"stripped":true})': re.sub(r"<[^>]+>", "", book.description),
            "imageUrl": f"https://images-na.ssl-images-amazon.com/images/S/books/{book.id}.jpg",
            "primaryContributorEdge": contributors[0] if contributors else None,
            "secondaryContributorEdges": contributors[1:],
            "bookSeries": series_links,
            "bookGenres": [{"__typename": "BookGenre",
                            "genre": {"__typename": "Genre", "name": g}} for g in book.genres],
            "details": {
                "__typename": "BookDetails",
                "asin": book.asin or None,
                "isbn": None,
                "isbn13": book.isbn or None,
                "format": "Audible Audio" if (book.asin and not book.isbn) else "Hardcover",
                "numPages": 320,
                "publicationTime": _epoch_ms(book.release_date),
                "publisher": book.publisher,
                "language": {"__typename": "Language", "name": book.language},
            },
            "work": {"__ref": wref},
        }
        data = {"props": {"pageProps": {"apolloState": state, "params": {}}},
                "page": "/book/show/[book_id]", "query": {"book_id": str(book.id)},
                "buildId": "fake", "isFallback": False}
        return (
            "<!DOCTYPE html><html><head><title>" + html.escape(book.title) + "</title></head><body>"
            f"<h1 class=\"Text Text__title1\">{html.escape(book.title)}</h1>"
            '<script id="__NEXT_DATA__" type="application/json">'
            + json.dumps(data).replace("</", "<\\/")
            + "</script></body></html>"
        )

    def _series(self, series_id: int, page: int) -> FakeResponse:
        names = self.catalogue.series_names("goodreads")
        index = series_id - 40000
        if not 0 <= index < len(names):
            return _html("<html>Not found</html>", 404)
        name = names[index]
        members = sorted(
            ((b, p) for b in self._books() for n, p in b.series if n == name),
            key=lambda bp: (_float(bp[1]) is None, _float(bp[1]) or 0, "-" in (bp[1] or "")),
        )
        per = self.series_per_page
        chunk = members[(page - 1) * per: page * per]
        headers = [(f"Books {p}" if "-" in p else f"Book {p}") if p else "" for _, p in chunk]
        series = [{
            "isLibrarianView": False,
            "book": {
                "imageUrl": f"https://i.gr-assets.com/images/books/{b.id}._SX50_.jpg",
                "bookId": str(b.id), "workId": str(b.id + 300000),
                "bookUrl": f"/book/show/{b.id}-{_slug(b.title)}",
                "from_search": False, "from_srp": False, "qid": None, "rank": None,
                "title": self.full_title(b), "bookTitleBare": b.title,
                "numPages": 300, "avgRating": "4.01", "ratingsCount": 1000,
                "author": {"id": self.author_id(b.authors[0]), "name": b.authors[0],
                           "isGoodreadsAuthor": False},
                "description": {"truncatedHtml": "...", "html": b.description},
                "publicationDate": b.year, "toBePublished": b.upcoming,
                "editions": "3 editions", "editionsUrl": f"/work/editions/{b.id + 300000}",
            },
        } for b, _ in chunk]
        primary = sum(1 for _, p in members if p and p.isdigit())
        head = {"title": f"{name} Series",
                "subtitle": f"{primary} primary works • {len(members)} total works",
                "description": {"html": "Series blurb."}}
        pager = {"numWorks": len(members), "currentPageNumber": page, "perPage": per}
        page_html = f"""<html><body>
<div data-react-class="ReactComponents.SeriesHeader" data-react-props="{html.escape(json.dumps(head))}"></div>
<div data-react-class="ReactComponents.SeriesList" data-react-props="{html.escape(json.dumps({"seriesHeaders": headers, "series": series}))}"></div>
<div data-react-class="ReactComponents.FullPagePaginationControls" data-react-props="{html.escape(json.dumps(pager))}"></div>
</body></html>"""
        return _html(page_html)

    def _author_list(self, author_id: int, page: int, per_page: int) -> FakeResponse:
        names = self.catalogue.authors("goodreads")
        index = author_id - 20000
        if not 0 <= index < len(names):
            return _html("<html>Not found</html>", 404)
        name = names[index]
        books = [b for b in self._books() if name in b.authors]
        chunk = books[(page - 1) * per_page: page * per_page]
        more = page * per_page < len(books)
        nxt = (
            f' <a class="next_page" rel="next" href="/author/list/{author_id}?page={page + 1}'
            f'&amp;per_page={per_page}">next »</a>'
            if more
            else ' <span class="next_page disabled">next »</span>'
        )
        pager = f'<div style="float: right"><div><em class="current">{page}</em>{nxt}</div></div>'
        return _html(self._list_page(chunk, f"Books by {html.escape(name)}", pager))


__all__ = [
    "Catalogue",
    "FakeAudible",
    "FakeBook",
    "FakeGoodreads",
    "FakeGoogleBooks",
    "FakeHardcover",
    "FakeRequest",
    "FakeServer",
    "default_catalogue",
]
