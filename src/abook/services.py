"""The wiring: which setting feeds which client, and the connections of one run.

:class:`Services` is built once per run (``runtime.command_run``) and handed to the command: it
builds each client on first use (each factory first checks the settings that client needs; a
ConfigError names the variable), keeps **one tracker session per run** (MAM rotates its cookie on
every answer, so two clients in one run would each hold a stale one), and closes everything when
the run ends. It also assembles the sets workflows take: the :class:`~abook.acquisition.Acquisition`
of ``top10`` / ``search`` / the gap commands and the guard of ``downloads``.

This module imports clients, sources and the domain modules, never a workflow.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .acquisition import Guard
    from .clients.audiobookshelf import Audiobookshelf
    from .clients.mam import MAM
    from .clients.prowlarr import Prowlarr
    from .clients.qbittorrent import QBittorrent
    from .config import Settings
    from .search import Acquisition, SearchSource
    from .sources.base import Source
    from .state import State

HTTP = ("HTTP_TIMEOUT", "HTTP_RETRIES", "HTTP_BACKOFF")
log = logging.getLogger("abook")


def _http(settings: Settings) -> dict[str, Any]:
    return {"timeout": settings.http_timeout, "retries": settings.http_retries, "backoff": settings.http_backoff}


def make_abs(settings: Settings) -> Audiobookshelf:
    from .clients.audiobookshelf import Audiobookshelf

    settings.require("ABS_URL", "ABS_TOKEN", *HTTP)
    return Audiobookshelf(settings.abs_url, settings.abs_token, **_http(settings))


def make_qbt(settings: Settings) -> QBittorrent:
    from .clients.qbittorrent import QBittorrent

    settings.require("QB_URL", "QB_PORT", "QB_CATEGORY", *HTTP)
    return QBittorrent(settings.qb_url, settings.qb_username, settings.qb_password, **_http(settings))


def make_prowlarr(settings: Settings) -> Prowlarr:
    from .clients.prowlarr import Prowlarr

    settings.require("PROWLARR_URL", "PROWLARR_API_KEY", *HTTP)
    return Prowlarr(settings.prowlarr_url, settings.prowlarr_api_key, **_http(settings))


def _fingerprint(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()[:16]


def make_mam(settings: Settings, state: State | None) -> MAM:
    """The tracker client, starting from the newest rotated cookie the state file holds.

    MAM rotates ``mam_id`` on every response. The rotated value is kept in the state file (the
    only secret it keeps) and used next time, unless the user has since put a different
    ``MAM_ID`` in the settings: a changed setting always wins.
    """
    from .clients.mam import MAM
    from .http import register_secret

    settings.require("MAM_URL", "MAM_ID", "MAM_RATE_LIMIT_MIN", "MAM_RATE_LIMIT_MAX", *HTTP)
    cookie = settings.mam_id
    on_cookie = None
    pace_file = None
    if state is not None:
        configured = _fingerprint(settings.mam_id)
        if state.get_kv("mam_id_configured") == configured:
            cookie = state.get_kv("mam_id") or cookie
        else:
            state.set_kv("mam_id_configured", configured)
            state.set_kv("mam_id", None)

        def on_cookie(value: str) -> None:
            register_secret(value)
            if value and value != state.get_kv("mam_id"):
                state.set_kv("mam_id", value)

        if state.path is not None:
            pace_file = state.path.with_name(state.path.name + ".mam-pace")
    register_secret(cookie)
    return MAM(
        settings.mam_url,
        cookie,
        fallback_mam_id=settings.mam_id if cookie != settings.mam_id else None,
        rate_min=settings.mam_rate_limit_min,
        rate_max=settings.mam_rate_limit_max,
        pace_file=pace_file,
        on_cookie=on_cookie,
        **_http(settings),
    )


def mam_languages(names: tuple[str, ...]) -> tuple[int, ...]:
    """LANGUAGES names -> MAM ``browse_lang`` ids (unknown names are a config error)."""
    from .clients.mam import LANGUAGES
    from .errors import ConfigError

    by_name = {v.lower(): k for k, v in LANGUAGES.items()}
    ids = []
    for name in names:
        if name.lower() not in by_name:
            raise ConfigError(
                f"LANGUAGES: {name!r} is not a MAM language; known: {', '.join(sorted(LANGUAGES.values()))}"
            )
        ids.append(by_name[name.lower()])
    return tuple(ids)


class MamGrabsOnly:
    """A guard for a route that reaches several trackers: the tracker guard for MAM torrents
    (built on the first one, so a run that grabs none never reads the account), nothing for the
    others. ``make`` None: MAM torrents pass unchecked, with one warning per run."""

    def __init__(self, make: Callable[[], Guard] | None) -> None:
        self._make = make
        self._guard: Guard | None = None
        self._warned = False

    def __call__(self, release: Any) -> str | None:
        if (getattr(release, "tracker", "") or release.source) != "mam":
            return None
        if self._make is None:
            if not self._warned:
                self._warned = True
                log.warning("MAM torrents grabbed through Prowlarr are not checked against RATIO_FLOOR and "
                            "UNSAT_MARGIN: set MAM_ID so abook can read the account")
            return None
        return self._inner()(release)

    def _inner(self) -> Any:
        if self._guard is None:
            assert self._make is not None
            self._guard = self._make()
        return self._guard

    def look(self, release: Any, *, fresh: bool = True) -> Any:
        """The tracker guard's fresh look for a MAM torrent (None for others, or without MAM_ID)."""
        if (getattr(release, "tracker", "") or release.source) != "mam" or self._make is None:
            return None
        return self._inner().look(release, fresh=fresh)

    def current(self) -> Any:
        return self._inner().current()

    def wedges_now(self) -> Any:
        return self._inner().wedges_now()


@dataclass(frozen=True)
class Connector:
    """One service as ``doctor`` sees it: configured or not, how to connect, what to set."""

    service: str
    configured: bool
    connect: Callable[[], Any]
    hint: str


class Services:
    """The connections of one run (see the module docstring)."""

    def __init__(self, settings: Settings, state: State | None = None) -> None:
        self.settings = settings
        self.state = state
        self._mam: MAM | None = None
        self._searches: dict[str, SearchSource] = {}
        self._open: list[Any] = []

    def keep(self, client: Any) -> Any:
        """Close ``client`` when the run ends."""
        self._open.append(client)
        return client

    def close(self) -> None:
        for client in reversed(self._open):
            with contextlib.suppress(Exception):
                client.close()
        self._open.clear()
        self._searches.clear()
        self._mam = None

    # ------------------------------------------------------------------ clients
    def abs(self) -> Audiobookshelf:
        return self.keep(make_abs(self.settings))

    def qbt(self) -> QBittorrent:
        return self.keep(make_qbt(self.settings))

    def prowlarr(self) -> Prowlarr:
        return self.keep(make_prowlarr(self.settings))

    def mam(self) -> MAM:
        """The run's one tracker session."""
        if self._mam is None:
            self._mam = self.keep(make_mam(self.settings, self.state))
        return self._mam

    def search(self, source: str | None = None) -> SearchSource:
        """The search source ``source`` (default SEARCH_SOURCE), one per run."""
        from .search import MamSearch, ProwlarrSearch

        chosen = source or self.settings.search_source
        if chosen not in self._searches:
            if chosen == "prowlarr":
                # With MAM_ID too, MAM torrents found through Prowlarr are read from MAM's JSON
                # (narrators, series, snatched-before) through the run's one tracker session.
                mam = self.mam if self.settings.configured("MAM_ID") else None
                self._searches[chosen] = ProwlarrSearch(self.prowlarr(), mam=mam)
            else:
                self._searches[chosen] = MamSearch(self.mam(), mam_languages(self.settings.languages))
        return self._searches[chosen]

    def sources(self, names: tuple[str, ...]) -> list[Source]:
        """The metadata / bibliography sources among ``names``, in that order."""
        from .sources import build_sources

        return [self.keep(s) for s in build_sources(names, self.settings)]

    # --------------------------------------------------------------------- sets
    def _tracker_guard(self) -> Guard:
        from .guard import Rules, TrackerGuard

        self.settings.require("RATIO_FLOOR", "UNSAT_MARGIN", "BUFFER_MIN_GB", "WEDGE_MIN_GB", "WEDGE_RESERVE")
        return TrackerGuard(self.state, self.mam(), rules=Rules.from_settings(self.settings))  # type: ignore[arg-type]

    def guard(self, search: SearchSource, *, dry_run: bool) -> Guard | None:
        """The tracker guard for grabs from ``search``; none in a dry run, which grabs nothing.

        The guard watches the MAM account, so it checks every grab of a MAM torrent, whichever
        route found it: a MAM torrent fetched through Prowlarr is a snatch on the same account.
        Through Prowlarr it needs MAM_ID to read the account; without it such grabs go unchecked
        (said once per run). Other indexers' torrents are on no account abook watches."""
        if dry_run:
            return None
        if search.name == "mam":
            return self._tracker_guard()
        return MamGrabsOnly(self._tracker_guard if self.settings.configured("MAM_ID") else None)

    def download_guard(self, *, dry_run: bool) -> Guard | None:
        """The guard ``downloads`` applies before submitting a pending grab of a MAM torrent
        (none without MAM_ID: the account cannot be read)."""
        if dry_run or not self.settings.configured("MAM_ID"):
            return None
        return MamGrabsOnly(self._tracker_guard)

    def acquisition(self, source: str | None = None, *, dry_run: bool, qbt: bool = True) -> Acquisition:
        """Search, qBittorrent, Policy and guard: what every acquisition command works with.
        ``qbt=False`` (a search that queues nothing, a dry run of the gap commands) connects none."""
        from .acquisition import Policy
        from .search import Acquisition

        self.settings.require("MAX_ACTIVE_DOWNLOADS", "LANGUAGES")
        search = self.search(source)
        return Acquisition(search, self.qbt() if qbt else None, Policy.from_settings(self.settings),
                           self.guard(search, dry_run=dry_run))

    def fetcher(self) -> Callable[..., tuple[bytes | None, str | None]]:
        """fetch(download row, wedge=False) -> (.torrent, magnet), building the row's search source
        on first use (``wedge``: ask MAM to spend a freeleech wedge with its own download).

        The row's route fetches it again; a MAM torrent found through Prowlarr is fetched from
        MAM itself when Prowlarr is no longer configured but MAM_ID is (a user who switched)."""
        from .search import refetch

        def fetch(row: Mapping[str, Any], *, wedge: bool = False) -> tuple[bytes | None, str | None]:
            route = row.get("source") or "mam"
            if (route == "prowlarr" and (row.get("tracker") or "") == "mam"
                    and not self.settings.configured("PROWLARR_URL") and self.settings.configured("MAM_ID")):
                route = "mam"
            return refetch(self.search(route), row, wedge=wedge)

        return fetch

    def connectors(self) -> list[Connector]:
        """Every service abook knows, for ``doctor`` (clients made here are closed by the probe)."""
        st = self.settings
        return [
            Connector("Audiobookshelf", st.configured("ABS_URL"), lambda: make_abs(st), "set ABS_URL and ABS_TOKEN"),
            Connector("qBittorrent", st.configured("QB_URL"), lambda: make_qbt(st), "set QB_URL (or QB_HOST + QB_PORT)"),
            Connector("MyAnonamouse", st.configured("MAM_ID"), lambda: make_mam(st, self.state), "set MAM_ID"),
            Connector("Prowlarr", st.configured("PROWLARR_URL"), lambda: make_prowlarr(st), "optional: set PROWLARR_URL"),
        ]
