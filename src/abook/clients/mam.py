"""MyAnonamouse (MAM): search, download, user stats and the bonus store, JSON endpoints only.

Why only JSON: an API session (the ``mam_id`` made in *Preferences -> Security*) cannot read HTML
pages, and the site's rules forbid automating anything else. Quirks handled here (see the research
note on MAM for the evidence):

- **Cookie rotation.** MAM answers every request with ``Set-Cookie: mam_id=<new value>``. We send
  the newest value on every request (including retries) and hand each new one to ``on_cookie`` so
  the workflow can persist it; a client that keeps sending the configured value falls out of sync.
  The cookie is sent as an explicit header from an :class:`httpx.Auth` flow, never from httpx's
  jar, so a ``Domain=`` attribute on MAM's cookie cannot leave two ``mam_id`` values in flight.
- **Auth failures** look like a 403, a redirect to the login page, or an HTML page where JSON was
  expected; all become one :class:`AuthError` telling the user to make a new session.
- **Search rows** carry JSON *inside strings*, HTML entities, formatted sizes and 0/1 flags that
  are sometimes strings: :mod:`abook.clients.mamdata` parses them (and holds MAM's categories and
  languages); this module only fetches.
- **Paging** is defensive: MAM's ``found``/``total`` semantics are disputed, so we stop on a short
  or empty page, when ``start + rows`` reaches ``max(found, total)``, or when ids start repeating.
- **Pacing.** Every call goes through one :class:`abook.http.Pacer` (``MAM_RATE_LIMIT_MIN`` ..
  ``MAX`` seconds apart, optionally shared between processes through a pace file); 429 backs off.

The client makes no decisions (what to grab, when to buy VIP): workflows do.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, BadResponse, ServiceError
from ..http import HttpService, Pacer, ServiceClient, redact, register_secret
from ..models import Release
from .mamdata import (  # noqa: F401  (the parsed vocabulary: callers import it from here too)
    _PAIR_RE,
    _SERIES_RE,
    _SIZE_POWERS,
    _SIZE_RE,
    _VIP_CLASSES,
    AUDIOBOOK_CATEGORIES,
    AUDIOBOOKS,
    AUTH_MESSAGE,
    DEFAULT_SRCH_IN,
    EBOOKS,
    FLAG_ABRIDGED,
    GENRE_ALIASES,
    LANGUAGES,
    MAIN_CATEGORIES,
    BonusResult,
    SearchPage,
    Snatch,
    SnatchList,
    UserStats,
    _date_param,
    _filetypes,
    _genre_key,
    _iso,
    _language,
    _main_category,
    _names,
    _series,
    _summary_count,
    category_ids_for,
    clean_mam_id,
    genre_categories,
    is_abridged,
    parse_duration,
    parse_flag,
    parse_int,
    parse_json_field,
    parse_mam_time,
    parse_ratio,
    parse_row,
    parse_size,
    parse_snatch,
    parse_user_stats,
    unescape,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("abook.mam")


class DownloadRefused(BadResponse):
    """MAM answered a .torrent request with a JSON error instead of the torrent (``detail``)."""

    def __init__(self, message: str, *, detail: str = "", status: int | None = None) -> None:
        super().__init__(message, service="MAM", status=status)
        self.detail = detail

SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
DOWNLOAD_PATH = "/tor/download.php"
USER_PATH = "/jsonLoad.php"
BONUS_PATH = "/json/bonusBuy.php"
SNATCH_PATH = "/json/loadUserDetailsTorrents.php"
SNATCH_PAGE = 250  # rows MAM sends per snatch-list page (MightyMouse, MLM)





# ----------------------------------------------------------------- client
def _set_cookie_value(response: httpx.Response, name: str = "mam_id") -> str | None:
    """The value of ``name`` in the response's Set-Cookie headers, None if absent or a deletion."""
    found: str | None = None
    for header in response.headers.get_list("set-cookie"):
        first, _, attrs = header.partition(";")
        key, sep, value = first.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip().strip('"')
        lowered = attrs.lower()
        if not value or value == "deleted" or "max-age=0" in lowered.replace(" ", ""):
            continue
        found = value
    return found


class MAM(ServiceClient):
    """MyAnonamouse over its JSON endpoints, with cookie rotation, pacing and clear auth errors."""

    def __init__(
        self,
        url: str,
        mam_id: str,
        *,
        rate_min: float,
        rate_max: float,
        pace_file: Path | None = None,
        on_cookie: Callable[[str], None] | None = None,
        timeout: float = 30,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        fallback_mam_id: str | None = None,
    ) -> None:
        """``mam_id`` is the newest value we know (the persisted rotated one, else the configured
        one); ``fallback_mam_id`` (the configured MAM_ID) is tried once if MAM refuses it, which
        covers a rotated value that was persisted but never reached MAM, or a fresh MAM_ID the user
        just pasted while an old rotated value is still stored."""
        self.mam_id = clean_mam_id(mam_id)
        fallback = clean_mam_id(fallback_mam_id) if fallback_mam_id else None
        self._fallback = fallback if fallback != self.mam_id else None
        self.on_cookie = on_cookie
        self.user_class: str | None = None  # learnt from user_stats(); decides fl_vip freeleech
        self.uid: int | None = None  # learnt from user_stats(); the snatch list is asked per user id
        self.http = HttpService(
            "MAM",
            url,
            setting="MAM_URL",
            secrets=[self.mam_id, self._fallback or ""],
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            pacer=Pacer(rate_min, rate_max, pace_file),
            auth_hint=AUTH_MESSAGE,
            transport=transport,
        )
        self._auth = self._make_auth()

    def _make_auth(self) -> httpx.Auth:
        """An auth flow that sends the newest ``mam_id`` and learns the next one from the response.

        Living in the auth flow (not around ``HttpService.request``) means every attempt, the
        retries after a 429 included, carries the value MAM handed out last.
        """
        import httpx

        owner = self

        class RotatingCookie(httpx.Auth):
            requires_response_body = False

            def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
                request.headers["Cookie"] = f"mam_id={owner.mam_id}"
                response = yield request
                owner._learn_cookie(response)

        return RotatingCookie()

    # ------------------------------------------------------------ plumbing
    def _learn_cookie(self, response: httpx.Response) -> None:
        new = _set_cookie_value(response)
        # httpx's jar would keep MAM's cookie too (maybe under another domain); we own it alone.
        self.http.client.cookies.clear()
        if not new or new == self.mam_id:
            return
        register_secret(new)
        self.mam_id = new
        if self.on_cookie is not None:
            try:
                self.on_cookie(new)
            except Exception as exc:  # the call itself succeeded; losing it would be worse
                log.warning("MAM: could not persist the rotated mam_id: %s", redact(str(exc)))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, auth=self._auth, **kwargs)
        except AuthError:
            # A refused request was not carried out, so one retry with the fallback is safe.
            if not self._fallback:
                raise
            log.info("MAM refused the stored mam_id; trying the configured MAM_ID")
            self.mam_id, self._fallback = self._fallback, None
            response = self.http.request(method, path, auth=self._auth, **kwargs)
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            if "login" in location.lower() or not location:
                raise AuthError(AUTH_MESSAGE, service="MAM", status=response.status_code)
            raise BadResponse(
                f"MAM redirected {method} {path.split('?', 1)[0]} elsewhere; check MAM_URL",
                service="MAM", status=response.status_code,
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        where = f"{method} {path.split('?', 1)[0]}"
        text = response.text.lstrip()[:200].lower()
        if text.startswith(("<!doctype", "<html", "<head", "<body")) or (
            "text/html" in response.headers.get("content-type", "") and not text.startswith(("{", "["))
        ):
            # An API session never gets HTML: this is the login page.
            raise AuthError(AUTH_MESSAGE, service="MAM", status=response.status_code)
        return self.http.decode(response, where)

    # -------------------------------------------------------------- search
    def _search_body(
        self,
        text: str,
        *,
        srch_in: Iterable[str],
        categories: Iterable[int],
        main_cat: Iterable[int],
        languages: Iterable[int],
        start_date: Any,
        end_date: Any,
        sort: str,
        per_page: int,
        start: int,
        search_type: str,
        search_in: str,
        dl_link: bool,
        description: bool,
        extra: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        tor: dict[str, Any] = {
            "text": text,
            "srchIn": list(srch_in),
            "searchType": search_type,
            "searchIn": search_in,
            "main_cat": [int(c) for c in main_cat],
            "browse_lang": [int(lang) for lang in languages],
            "sortType": sort,
            "startNumber": str(start),
            # MAM's docs put perpage at the top level, Prowlarr inside tor: send both.
            "perpage": per_page,
        }
        cats = [int(c) for c in categories]
        if cats:
            tor["cat"] = cats
        sd, ed = _date_param(start_date), _date_param(end_date)
        if sd is not None:
            tor["startDate"] = sd
        if ed is not None:
            tor["endDate"] = ed
        if extra:
            tor.update(extra)
        body: dict[str, Any] = {"tor": tor, "perpage": per_page}
        if dl_link:
            body["dlLink"] = "true"
        if description:
            body["description"] = "true"
        return body

    def search_page(self, text: str = "", *, start: int = 0, **kwargs: Any) -> SearchPage:
        """One page of :meth:`search` starting at ``start`` (same keyword arguments)."""
        opts = _search_defaults(kwargs)
        body = self._search_body(text, start=start, **opts)
        data = self._json("POST", SEARCH_PATH, json=body, idempotent=True)
        return self._parse_page(data, start, opts["per_page"])

    def _parse_page(self, data: Any, start: int, per_page: int) -> SearchPage:
        if not isinstance(data, dict):
            raise BadResponse("MAM search answered with an unexpected shape (not an object)", service="MAM")
        error = data.get("error")
        rows = data.get("data")
        if not isinstance(rows, list):
            message = str(error or data.get("message") or "").strip()
            if not message or message.lower().startswith("nothing returned"):
                return SearchPage([], start, per_page, 0, 0, 0)
            raise ServiceError(f"MAM search failed: {redact(message)[:200]}", service="MAM")
        vip_user = (self.user_class or "").strip().lower() in _VIP_CLASSES
        releases: list[Release] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                releases.append(parse_row(row, vip_user=vip_user))
            except Exception as exc:  # one odd row must not sink the search
                log.warning("MAM: skipped an unreadable search row (%s)", type(exc).__name__)
        perpage = parse_int(data.get("perpage"), per_page) or per_page
        return SearchPage(
            releases=releases,
            start=parse_int(data.get("start"), start),
            perpage=perpage,
            total=parse_int(data.get("total")),
            found=parse_int(data.get("found")),
            rows=len(rows),
        )

    def iter_search(self, text: str = "", *, max_results: int | None = None, **kwargs: Any) -> Iterator[Release]:
        """Every matching release, page after page (see :meth:`search` for the arguments)."""
        opts = _search_defaults(kwargs)
        per_page = opts["per_page"]
        seen: set[str] = set()
        start = 0
        produced = 0
        while True:
            if max_results is not None and produced >= max_results:
                return
            body = self._search_body(text, start=start, **opts)
            data = self._json("POST", SEARCH_PATH, json=body, idempotent=True)
            page = self._parse_page(data, start, per_page)
            fresh = 0
            for release in page.releases:
                if release.torrent_id in seen:
                    continue
                seen.add(release.torrent_id)
                fresh += 1
                yield release
                produced += 1
                if max_results is not None and produced >= max_results:
                    return
            if page.rows == 0 or fresh == 0:
                return
            # The server may cap perpage below what we asked; a page shorter than that is the last.
            if page.rows < min(per_page, page.perpage or per_page):
                return
            known = max(page.total, page.found)
            start += page.rows
            if known and start >= known:
                return

    def search(
        self,
        text: str = "",
        *,
        srch_in: Iterable[str] = DEFAULT_SRCH_IN,
        categories: Iterable[int] = (),
        main_cat: Iterable[int] = (AUDIOBOOKS,),
        languages: Iterable[int] = (1,),
        start_date: date | datetime | str | int | None = None,
        end_date: date | datetime | str | int | None = None,
        sort: str = "snatchedDesc",
        per_page: int = 100,
        max_results: int | None = None,
        search_type: str = "all",
        search_in: str = "torrents",
        dl_link: bool = False,
        description: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> list[Release]:
        """Search torrents (POST JSON to ``loadSearchJSONbasic.php``), all pages up to ``max_results``.

        ``categories`` are audiobook category ids (see :func:`category_ids_for`); ``start_date`` is
        inclusive and ``end_date`` exclusive (dates as YYYY-MM-DD, datetimes as unix seconds);
        ``sort`` is MAM's ``sortType`` (``snatchedDesc``, ``dateDesc``, ``seedersDesc``...).
        ``dl_link`` asks MAM for the ``dl`` download hash (kept in ``release.raw['dl']``; it works
        like a credential, so it is off unless wanted). ``description`` asks for the torrent's
        description too (MAM sends it only when asked: it makes the rows several times heavier).
        "Nothing returned" is an empty list.
        """
        return list(
            self.iter_search(
                text,
                max_results=max_results,
                srch_in=srch_in,
                categories=categories,
                main_cat=main_cat,
                languages=languages,
                start_date=start_date,
                end_date=end_date,
                sort=sort,
                per_page=per_page,
                search_type=search_type,
                search_in=search_in,
                dl_link=dl_link,
                description=description,
                extra=extra,
            )
        )

    def torrent(self, torrent_id: int | str) -> Release | None:
        """One torrent by its id, read fresh (``tor[id]``: an exact lookup in one paced request).

        Any category and language: the caller decides what the answer means. With its
        description (one row is cheap; the import writes it into the book's ``metadata.json``).
        None when MAM does not (or no longer) list it."""
        found = self.search("", srch_in=("title",), main_cat=(), languages=(), sort="default", per_page=5,
                            max_results=1, description=True, extra={"id": str(torrent_id)})
        hit = next((r for r in found if r.torrent_id == str(torrent_id)), None)
        return hit

    # ------------------------------------------------------------ download
    def download(self, torrent_id: int | str | Release, *, dl: str | None = None, wedge: bool = False) -> bytes:
        """The .torrent of one torrent, checked to really be a torrent.

        Uses ``/tor/download.php?tid=<id>`` (with the cookie, as Prowlarr does), or the ``dl`` hash
        link when given (or present in a Release found with ``dl_link=True``).

        ``wedge`` asks MAM to spend a freeleech wedge on the torrent with this very download
        (``fl=1``), the way MAM allows it since its API stopped selling personal freeleech (May
        2026). MAM does not say in the answer whether it spent one: the caller reads the account's
        wedge count afterwards. Such a request is sent once, never retried: a resent one could spend
        a second wedge.
        """
        from ..torrent import parse_torrent

        if isinstance(torrent_id, Release):
            dl = dl or str(torrent_id.raw.get("dl") or "") or None
            tid = torrent_id.torrent_id
        else:
            tid = str(torrent_id)
        tid = tid.strip()
        if dl:
            path = f"{DOWNLOAD_PATH}/{dl}" + ("?fl=1" if wedge else "")
        elif tid.isdigit():
            path = f"{DOWNLOAD_PATH}?tid={tid}" + ("&fl=1" if wedge else "")
        else:
            raise ValueError(f"not a MAM torrent id: {tid!r}")
        response = self._request("GET", path, idempotent=False) if wedge else self._request("GET", path)
        data = response.content
        try:
            parse_torrent(data)
        except ValueError:
            message = self._not_a_torrent(tid, response)
            detail = self._json_error(response)
            if detail is not None:
                raise DownloadRefused(message, detail=detail, status=response.status_code) from None
            raise BadResponse(message, service="MAM", status=response.status_code) from None
        return data

    @staticmethod
    def _json_error(response: httpx.Response) -> str | None:
        """MAM's reason when it answered with a JSON object instead of a .torrent, else None."""
        if not response.content[:300].lstrip().startswith(b"{"):
            return None
        try:
            decoded = json.loads(response.text)
        except ValueError:
            return None
        if not isinstance(decoded, dict):
            return None
        return redact(unescape(decoded.get("error") or decoded.get("message") or ""))[:200]

    @staticmethod
    def _not_a_torrent(tid: str, response: httpx.Response) -> str:
        head = response.content[:300].lstrip().decode("utf-8", errors="replace")
        lowered = head.lower()
        if lowered.startswith(("<!doctype", "<html", "<head", "<body")) or "text/html" in response.headers.get(
            "content-type", ""
        ):
            return (
                f"MAM sent an HTML page instead of the .torrent for torrent {tid}: "
                "the session may have expired or the IP changed (check MAM_ID)"
            )
        if lowered.startswith("{"):
            try:
                decoded = json.loads(response.text)
            except ValueError:
                decoded = None
            detail = ""
            if isinstance(decoded, dict):
                detail = decoded.get("error") or decoded.get("message") or ""
            said = f" ({redact(str(detail))[:120]})" if detail else ""
            return f"MAM sent a JSON error instead of the .torrent for torrent {tid}{said}"
        first = head.splitlines()[0][:80] if head.strip() else "an empty body"
        return f"MAM sent something that is not a .torrent for torrent {tid}: {redact(first)!r}"

    # --------------------------------------------------------------- stats
    def user_stats(self, *, summary: bool = True) -> UserStats:
        """The account's ratio, bonus, VIP and unsatisfied counts from ``jsonLoad.php``."""
        path = f"{USER_PATH}?snatch_summary&notif" if summary else USER_PATH
        data = self._json("GET", path)
        if not isinstance(data, dict):
            raise BadResponse("MAM jsonLoad.php answered with an unexpected shape", service="MAM")
        stats = parse_user_stats(data)
        self.user_class = stats.user_class
        self.uid = stats.uid or self.uid
        return stats

    def snatch_list(self, kind: str = "unsat", *, max_pages: int = 4) -> SnatchList:
        """The account's own snatches of one kind (``unsat``: every snatch not satisfied yet, with
        the seeding MAM still wants for it), page after page (250 rows each) up to ``max_pages``.

        ``complete`` is False when MAM had more pages than ``max_pages``: a caller must then not
        read "absent from the list" as "satisfied"."""
        if self.uid is None:
            self.user_stats(summary=False)
        snatches: list[Snatch] = []
        seen: set[str] = set()
        for page in range(max_pages):
            stamp = int(time.time())
            path = f"{SNATCH_PATH}?uid={self.uid}&iteration={page}&type={kind}&cacheTime={stamp}"
            data = self._json("GET", path, idempotent=True)
            if not isinstance(data, dict):
                raise BadResponse("MAM loadUserDetailsTorrents.php answered with an unexpected shape", service="MAM")
            rows = data.get("rows")
            if rows is None and not parse_flag(data.get("success", True)):
                detail = unescape(data.get("error") or data.get("message") or "no reason given")
                raise ServiceError(f"MAM snatch list failed: {redact(detail)[:200]}", service="MAM")
            rows = rows if isinstance(rows, list) else []
            fresh = 0
            for row in rows:
                if not isinstance(row, dict):
                    continue
                try:
                    snatch = parse_snatch(row)
                except Exception as exc:  # one odd row must not hide the others
                    log.warning("MAM: skipped an unreadable snatch-list row (%s)", type(exc).__name__)
                    continue
                if snatch.torrent_id and snatch.torrent_id not in seen:
                    seen.add(snatch.torrent_id)
                    snatches.append(snatch)
                    fresh += 1
            if len(rows) < SNATCH_PAGE or fresh == 0:
                return SnatchList(kind, snatches, complete=True)
        return SnatchList(kind, snatches, complete=False)

    def whoami(self) -> tuple[str, str]:
        """(username, class): the cheapest proof the session works, for ``doctor``."""
        stats = self.user_stats(summary=False)
        return stats.username, stats.user_class

    ping = whoami

    # ---------------------------------------------------------- bonus store
    def _bonus(self, kind: str, params: dict[str, str]) -> BonusResult:
        stamp = int(time.time() * 1000)
        query = "&".join(f"{k}={v}" for k, v in {**params, "_": str(stamp)}.items())
        # A purchase must never be resent blindly: idempotent=False disables retries.
        data = self._json("GET", f"{BONUS_PATH}/{stamp}?{query}", idempotent=False)
        if not isinstance(data, dict):
            raise BadResponse("MAM bonusBuy.php answered with an unexpected shape", service="MAM")
        success = parse_flag(data.get("success"))
        amount = data.get("amount")
        seedbonus = data.get("seedbonus")
        try:
            amount_f = float(amount) if amount not in (None, "") else None
        except (TypeError, ValueError):
            amount_f = None
        try:
            bonus_f = float(str(seedbonus).replace(",", "")) if seedbonus not in (None, "") else None
        except ValueError:
            bonus_f = None
        error = "" if success else unescape(data.get("error") or data.get("message") or "")
        return BonusResult(success=success, kind=kind, amount=amount_f, seedbonus=bonus_f,
                           error=error, raw=dict(data))

    def buy_vip(self, weeks: int | float | str) -> BonusResult:
        """Spend bonus points on VIP: ``weeks`` (MAM's minimum is 1 via the API) or ``"max"``."""
        if isinstance(weeks, str):
            duration = weeks.strip().lower()
            if duration != "max":
                raise ValueError("weeks must be a number or 'max'")
        else:
            if weeks <= 0:
                raise ValueError("weeks must be positive")
            duration = f"{weeks:g}"
        return self._bonus("VIP", {"spendtype": "VIP", "duration": duration})

    def buy_upload(self, gb: int | float | str) -> BonusResult:
        """Spend bonus points on upload credit: ``gb`` gigabytes or ``"max"`` (Max Affordable)."""
        if isinstance(gb, str):
            if gb.strip().lower() != "max":
                raise ValueError("gb must be a number or 'max'")
            amount = "Max%20Affordable%20"
        else:
            if gb <= 0:
                raise ValueError("gb must be positive")
            amount = f"{gb:g}"
        return self._bonus("upload", {"spendtype": "upload", "amount": amount})


def _search_defaults(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    allowed = {
        "srch_in": DEFAULT_SRCH_IN,
        "categories": (),
        "main_cat": (AUDIOBOOKS,),
        "languages": (1,),
        "start_date": None,
        "end_date": None,
        "sort": "snatchedDesc",
        "per_page": 100,
        "search_type": "all",
        "search_in": "torrents",
        "dl_link": False,
        "description": False,
        "extra": None,
    }
    unknown = set(kwargs) - set(allowed)
    if unknown:
        raise TypeError(f"unknown search option(s): {', '.join(sorted(unknown))}")
    opts = {**allowed, **kwargs}
    opts["per_page"] = max(5, min(100, int(opts["per_page"])))  # MAM accepts 5..100
    return opts
