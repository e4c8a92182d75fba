"""Audible's public catalog API (no key): the audiobook source of truth.

Narrators, runtime, abridged/unabridged, ASIN and series with sequence come from here; series
completeness follows the series product's ``relationships`` (what exists *as audiobooks* in this
marketplace), author catalogues come from an ``author=`` search filtered by the author's ASIN.
The API is undocumented and unmetered, so calls are paced and batched (``asins=`` by 50).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Unpack

from .base import (
    KIND_BOOK,
    KIND_OMNIBUS,
    BibEntry,
    Candidate,
    Connection,
    SeriesRef,
    Source,
    clean_position,
    dedupe,
    is_upcoming,
    language_name,
    norm_key,
    position_kind,
    strip_html,
    year_of,
)

NAME = "audible"
PRODUCT_GROUPS = (
    "category_ladders,contributors,media,product_attrs,product_desc,product_details,"
    "product_extended_attrs,series"
)
SEARCH_GROUPS = "contributors,media,product_attrs,product_desc,product_extended_attrs,series"
LIST_GROUPS = "contributors,media,product_attrs,series"
_NOT_BOOKS = {"BookSeries", "PodcastParent", "PodcastSeason", "PodcastEpisode"}
_BATCH = 50


class AudibleSource(Source):
    name = NAME
    # 429/5xx are retried by HttpService (honouring Retry-After) before we give up
    throttled = "Audible keeps answering 429 Too Many Requests; skipped for this run"

    def __init__(
        self, url: str = "https://api.audible.com", *,
        num_results: int = 10, max_pages: int = 5, **connection: Unpack[Connection],
    ) -> None:
        self.num_results = max(1, min(50, num_results))
        self.max_pages = max(1, max_pages)
        self.http = self.open_http("Audible", url, setting="AUDIBLE_URL", **connection)

    # ------------------------------------------------------------------ find
    def find(
        self, title: str, authors: Sequence[str], *, isbn: str = "", asin: str = ""
    ) -> list[Candidate]:
        if asin:
            product = self.product(asin)
            if product is not None:
                return [product]
        params: dict[str, Any] = {}
        if title:
            params["title"] = title
        if authors:
            params["author"] = authors[0]
        if not params and isbn:
            params["keywords"] = isbn
        if not params:
            return []
        products = self._search(params, SEARCH_GROUPS, self.num_results)
        return [c for c in (product_candidate(p) for p in products) if c is not None]

    def product(self, asin: str) -> Candidate | None:
        """One product by ASIN in full; None when this marketplace does not know it."""
        data = self._product_json(asin, PRODUCT_GROUPS + ",relationships")
        if data is None:
            return None
        return product_candidate(data)

    # --------------------------------------------------------------- series
    def series_books(self, series_name: str, author: str = "") -> list[BibEntry] | None:
        series_asin, name = self.find_series(series_name, author)
        if not series_asin:
            return []
        return self.series_books_by_asin(series_asin, name or series_name)

    def find_series_asin(self, series_name: str, author: str = "") -> str:
        """The ASIN of the series product that is ``series_name``; "" when none is."""
        return self.find_series(series_name, author)[0]

    def find_series(self, series_name: str, author: str = "") -> tuple[str, str]:
        """(ASIN, Audible's name) of the series that is ``series_name`` by ``author``, matched
        by :func:`abook.naming.pick` ("Salt Kings" is "The Salt Kings Saga"); ("", "") if none.

        Asked with the name and the author, then with the name's core words and the author
        (a keyword search wants every word: "The Iron Tide Trilogy" finds no "Iron Tide"), then
        with the name alone."""
        from ..matching import fold
        from ..naming import Candidate, pick
        from ..queries import series_words

        if not norm_key(series_name):
            return "", ""
        attempts: list[dict[str, Any]] = []
        core = series_words(series_name)
        if author:
            attempts.append({"keywords": series_name, "author": author})
            if core and fold(core) != fold(series_name):
                attempts.append({"keywords": core, "author": author})
        attempts.append({"keywords": series_name})
        for params in attempts:
            votes: Counter[str] = Counter()
            names: dict[str, str] = {}
            credited: dict[str, set[str]] = {}
            for product in self._search(params, "contributors,series,product_attrs", 50):
                people = {str(p.get("name", "")) for p in product.get("authors") or [] if p.get("name")}
                for entry in product.get("series") or []:
                    asin, title = str(entry.get("asin") or ""), str(entry.get("title") or "").strip()
                    if not asin or not title:
                        continue
                    votes[asin] += 1
                    names.setdefault(asin, title)
                    credited.setdefault(asin, set()).update(people)
            found = pick(series_name, author, [
                Candidate(names[a], tuple(sorted(credited.get(a, ()))), a, float(n)) for a, n in votes.items()
            ])
            if found is not None:
                return str(found.ref), found.name
        return "", ""

    def series_books_by_asin(self, series_asin: str, series_name: str = "") -> list[BibEntry]:
        """The children of a series product, in Audible's order, with their details."""
        data = self._product_json(series_asin, "relationships,product_attrs")
        if data is None:
            return []
        children = [
            r
            for r in data.get("relationships") or []
            if r.get("relationship_to_product") == "child"
            and r.get("relationship_type") == "series"
            and r.get("asin")
        ]
        children.sort(key=_relationship_order)
        name = series_name or str(data.get("title") or "")
        details = self._products([str(r["asin"]) for r in children], LIST_GROUPS)
        entries = []
        for rel in children:
            product = details.get(str(rel["asin"]), {"asin": rel["asin"]})
            position = clean_position(rel.get("sequence"))
            entry = product_entry(product, position=position, series_name=name)
            if entry is not None:
                entries.append(entry)
        return entries

    # --------------------------------------------------------------- author
    def author_books(self, author: str) -> list[BibEntry] | None:
        from ..naming import same_person

        if not norm_key(author):
            return []
        products = self._search(
            {"author": author, "products_sort_by": "-ReleaseDate"}, LIST_GROUPS, 50,
            pages=self.max_pages,
        )
        # The author search matches loosely (co-authors, same surnames): keep the products
        # credited to the author's ASIN, found as the most frequent ASIN carrying this name
        # (the same person however the name is written: "J.K." / "J. K.", "Liu Cixin" / "Cixin Liu").
        asins: Counter[str] = Counter()
        for product in products:
            for person in product.get("authors") or []:
                if same_person(author, str(person.get("name", ""))) and person.get("asin"):
                    asins[str(person["asin"])] += 1
        author_asin = asins.most_common(1)[0][0] if asins else ""
        entries = []
        seen: set[str] = set()
        for product in products:
            credited = product.get("authors") or []
            if author_asin:
                mine = any(str(p.get("asin", "")) == author_asin for p in credited)
            else:
                mine = any(same_person(author, str(p.get("name", ""))) for p in credited)
            asin = str(product.get("asin", ""))
            if not mine or asin in seen:
                continue
            seen.add(asin)
            series = _series(product)
            entry = product_entry(product, position=series[0].position if series else None)
            if entry is not None:
                entries.append(entry)
        return entries

    # ------------------------------------------------------------- internals
    def _search(
        self, params: dict[str, Any], groups: str, num: int, *, pages: int = 1
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in range(pages):
            query = {
                "num_results": num,
                "products_sort_by": "Relevance",
                "response_groups": groups,
                "image_sizes": "500,1024",
                **params,
            }
            if page:
                query["page"] = page
            data = self._json("/1.0/catalog/products", query)
            products = [p for p in data.get("products") or [] if isinstance(p, dict)]
            out.extend(products)
            total = data.get("total_results")
            if len(products) < num or (isinstance(total, int) and len(out) >= total):
                break
        return out

    def _products(self, asins: Iterable[str], groups: str) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(a for a in asins if a))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), _BATCH):
            chunk = unique[start : start + _BATCH]
            data = self._json(
                "/1.0/catalog/products",
                {"asins": ",".join(chunk), "response_groups": groups, "image_sizes": "500,1024"},
            )
            for product in data.get("products") or []:
                if isinstance(product, dict) and product.get("asin"):
                    found[str(product["asin"])] = product
        return found

    def _product_json(self, asin: str, groups: str) -> dict[str, Any] | None:
        assert self.http is not None
        path = f"/1.0/catalog/products/{asin}"
        params = {"response_groups": groups, "image_sizes": "500,1024"}
        response = self._request("GET", path, params=params, ok=(400, 404))
        if response.status_code in (400, 404):
            return None  # unknown ASIN in this marketplace (Audible answers 404, sometimes 400)
        data = self.http.decode(response, f"GET {path}")
        product = data.get("product") if isinstance(data, dict) else None
        if not isinstance(product, dict) or not product.get("asin"):
            return None
        return product

    def _json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.http is not None
        response = self._request("GET", path, params=params)
        data = self.http.decode(response, f"GET {path}")
        return data if isinstance(data, dict) else {}


def _relationship_order(rel: dict[str, Any]) -> tuple[float, float, str]:
    def num(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            pos = clean_position(value)
            try:
                return float(pos.split("-")[0]) if pos else float("inf")
            except ValueError:
                return float("inf")

    return (num(rel.get("sort")), num(rel.get("sequence")), str(rel.get("asin", "")))


def _series(product: dict[str, Any]) -> tuple[SeriesRef, ...]:
    """Series with cleaned sequences, the primary one (``publication_name``) first."""
    refs = []
    for entry in product.get("series") or []:
        title = str(entry.get("title") or "").strip()
        if title:
            refs.append(SeriesRef(title, clean_position(entry.get("sequence"))))
    primary = norm_key(str(product.get("publication_name") or ""))
    if primary:
        refs.sort(key=lambda r: norm_key(r.name) != primary)
    return tuple(refs)


def _genres(product: dict[str, Any]) -> tuple[str, ...]:
    # Like Audnexus: the first rung of every "Genres" ladder is a genre, deeper rungs are tags.
    genres = []
    for ladder in product.get("category_ladders") or []:
        if ladder.get("root", "Genres") != "Genres":
            continue
        rungs = ladder.get("ladder") or []
        if rungs and rungs[0].get("name"):
            genres.append(str(rungs[0]["name"]))
    return dedupe(genres)


def _tags(product: dict[str, Any]) -> tuple[str, ...]:
    tags = []
    for ladder in product.get("category_ladders") or []:
        for rung in (ladder.get("ladder") or [])[1:]:
            if rung.get("name"):
                tags.append(str(rung["name"]))
    return dedupe(tags)


def _abridged(product: dict[str, Any]) -> bool | None:
    fmt = str(product.get("format_type") or "").lower()
    return {"abridged": True, "unabridged": False}.get(fmt)


def _cover(product: dict[str, Any]) -> str:
    images = product.get("product_images") or {}
    best = ""
    for size in sorted(images, key=lambda k: int(k) if str(k).isdigit() else 0, reverse=True):
        if images[size]:
            best = str(images[size])
            break
    # "…/I/91eop._SL1024_.jpg" -> "…/I/91eop.jpg": the original, largest image
    return re.sub(r"\._[A-Z]{2}\d+_(?=\.\w+$)", "", best)


def _names(people: Any) -> tuple[str, ...]:
    return dedupe([str(p.get("name", "")) for p in people or [] if isinstance(p, dict)])


def product_candidate(product: dict[str, Any]) -> Candidate | None:
    """Map one catalog product to a Candidate; None for series parents and podcasts."""
    title = str(product.get("title") or "").strip()
    if not title or product.get("content_delivery_type") in _NOT_BOOKS:
        return None
    asin = str(product.get("asin", ""))
    description = strip_html(
        product.get("publisher_summary")
        or product.get("merchandising_summary")
        or product.get("extended_product_description")
    )
    runtime = product.get("runtime_length_min")
    return Candidate(
        source=NAME,
        source_id=asin,
        title=title,
        subtitle=str(product.get("subtitle") or "").strip(),
        authors=_names(product.get("authors")),
        narrators=_names(product.get("narrators")),
        series=_series(product),
        description=description,
        publisher=str(product.get("publisher_name") or "").strip(),
        year=year_of(product.get("release_date") or product.get("issue_date")),
        isbn=re.sub(r"[^0-9Xx]", "", str(product.get("isbn") or "")),
        asin=asin,
        genres=_genres(product),
        language=language_name(product.get("language")),
        duration_minutes=int(runtime) if isinstance(runtime, int | float) and runtime > 0 else None,
        cover_url=_cover(product),
        abridged=_abridged(product),
        kind="audiobook",
        url=f"https://www.audible.com/pd/{asin}" if asin else "",
        raw={**product, "_tags": list(_tags(product))},
    )


def product_entry(
    product: dict[str, Any], *, position: str | None, series_name: str = ""
) -> BibEntry | None:
    """Map a product to a bibliography entry; None for series parents and podcasts."""
    if product.get("content_delivery_type") in _NOT_BOOKS:
        return None
    title = str(product.get("title") or "").strip()
    asin = str(product.get("asin", ""))
    if not title and not asin:
        return None
    release = str(product.get("release_date") or product.get("issue_date") or "")[:10]
    series = _series(product)
    if series_name:
        # keep the series we were asked about, with the relationship's position
        others = tuple(s for s in series if norm_key(s.name) != norm_key(series_name))
        series = (SeriesRef(series_name, position), *others)
    omnibus = bool(position and "-" in position) or bool(
        re.search(r"(?i)\b(box(ed)? set|omnibus|books \d+\s*[-–]\s*\d+)\b", title)
    )
    if omnibus:
        kind = KIND_OMNIBUS
    elif not series:
        kind = KIND_BOOK  # a standalone
    else:
        kind = position_kind(position)
    return BibEntry(
        title=title,
        authors=_names(product.get("authors")),
        position=position,
        asin=asin,
        isbn=re.sub(r"[^0-9Xx]", "", str(product.get("isbn") or "")),
        year=year_of(release),
        is_audiobook=True,
        kind=kind,
        series=series,
        narrators=_names(product.get("narrators")),
        abridged=_abridged(product),
        release_date=release if year_of(release) else "",
        upcoming=is_upcoming(release) if year_of(release) else None,
        source=NAME,
        source_id=asin,
        language=language_name(product.get("language")),
    )
