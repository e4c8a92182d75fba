"""Build service clients from Settings: the one place that knows which setting feeds which client.

Each factory first checks the settings that client needs (a ConfigError names the variable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clients.audiobookshelf import Audiobookshelf
    from .clients.mam import MAM
    from .clients.prowlarr import Prowlarr
    from .clients.qbittorrent import QBittorrent
    from .config import Settings
    from .search import SearchSource
    from .state import State

from .errors import AbookError

HTTP = ("HTTP_TIMEOUT", "HTTP_RETRIES", "HTTP_BACKOFF")


def make_abs(settings: Settings) -> Audiobookshelf:
    from .clients.audiobookshelf import Audiobookshelf

    settings.require("ABS_URL", "ABS_TOKEN", *HTTP)
    return Audiobookshelf(
        settings.abs_url,
        settings.abs_token,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        backoff=settings.http_backoff,
    )


def make_qbt(settings: Settings) -> QBittorrent:
    from .clients.qbittorrent import QBittorrent

    settings.require("QB_URL", "QB_PORT", "QB_CATEGORY", *HTTP)
    return QBittorrent(
        settings.qb_url,
        settings.qb_username,
        settings.qb_password,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        backoff=settings.http_backoff,
    )


def make_prowlarr(settings: Settings) -> Prowlarr:
    from .clients.prowlarr import Prowlarr

    settings.require("PROWLARR_URL", "PROWLARR_API_KEY", *HTTP)
    return Prowlarr(
        settings.prowlarr_url,
        settings.prowlarr_api_key,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        backoff=settings.http_backoff,
    )


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
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        backoff=settings.http_backoff,
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


# One tracker session per state file and process: MAM rotates the cookie on every answer, so
# two clients in one run (the guard's and the fetcher's, say) would each hold a stale one.
_SEARCHES: dict[tuple[int, str], SearchSource] = {}


def make_search(settings: Settings, state: State | None, source: str | None = None) -> SearchSource:
    from .search import MamSearch, ProwlarrSearch

    chosen = source or settings.search_source
    if chosen == "prowlarr":
        return ProwlarrSearch(make_prowlarr(settings))
    key = (id(state), settings.mam_url)
    if key not in _SEARCHES:
        _SEARCHES[key] = MamSearch(make_mam(settings, state), mam_languages(settings.languages))
    return _SEARCHES[key]


def forget_searches() -> None:
    """Drop the per-process tracker sessions (a run's end; tests running many runs in one process)."""
    _SEARCHES.clear()


def make_fetcher(settings: Settings, state: State | None) -> Callable[[Mapping[str, Any]], tuple[bytes | None, str | None]]:
    """fetch(download row) -> (.torrent, magnet), building the row's search client on first use."""
    from .workflows.grab import refetch

    made: dict[str, SearchSource] = {}

    def fetch(row: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
        source = row.get("source") or "mam"
        if source not in made:
            made[source] = make_search(settings, state, source)
        return refetch(made[source], dict(row))

    fetch.clients = made  # type: ignore[attr-defined]
    return fetch


def doctor_probes(settings: Settings, state: State | None = None) -> list[tuple[str, bool, object, str]]:
    """(service, configured, probe, hint) for every service abook knows."""
    probes: list[tuple[str, bool, object, str]] = []

    def abs_probe() -> tuple[str | None, str]:
        from .library import select_libraries

        with make_abs(settings) as client:
            version = str(client.status().get("serverVersion"))  # /status needs no token
            try:
                user = client.me().get("username") or "?"
            except AbookError as exc:
                exc.version = version  # type: ignore[attr-defined]
                raise
            libs = select_libraries(client.libraries(), settings.abs_library)
        return version, f"user {user}; libraries: {', '.join(lib.name for lib in libs)}"

    probes.append(
        ("Audiobookshelf", settings.configured("ABS_URL"), abs_probe, "set ABS_URL and ABS_TOKEN")
    )

    def qbt_probe() -> tuple[str | None, str]:
        with make_qbt(settings) as client:
            client.login()
            version = client.version()
            api = ".".join(str(p) for p in client.webapi_version())
            has_category = settings.qb_category in client.categories()
        note = "" if has_category else f" (category {settings.qb_category!r} will be created on first add)"
        return version, f"WebAPI {api}{note}"

    probes.append(("qBittorrent", settings.configured("QB_URL"), qbt_probe, "set QB_URL (or QB_HOST + QB_PORT)"))

    def mam_probe() -> tuple[str | None, str]:
        with make_mam(settings, state) as client:
            user, klass = client.whoami()
        return None, f"user {user}, class {klass}"

    probes.append(("MyAnonamouse", settings.configured("MAM_ID"), mam_probe, "set MAM_ID"))

    def prowlarr_probe() -> tuple[str | None, str]:
        with make_prowlarr(settings) as client:
            status = client.system_status()
        return status.version, status.app_name

    probes.append(("Prowlarr", settings.configured("PROWLARR_URL"), prowlarr_probe, "optional: set PROWLARR_URL"))
    return probes
