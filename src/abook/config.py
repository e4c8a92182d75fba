"""Settings: one frozen dataclass, resolved once per run.

Precedence, lowest first: the env file (``--env-file``, else ``./.env``, else
``$XDG_CONFIG_HOME/abook/.env``), then real environment variables, then command-line flags.

Loading never fails on a malformed value: a command may not even use it. Each command calls
:meth:`Settings.require` with the settings it needs, which raises one :class:`ConfigError`
naming the first missing or malformed variable and how to fix it (exit 2).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError


@dataclass(frozen=True)
class Spec:
    env: str
    kind: str  # str | secret | url | int | float | bool | list | path
    default: str
    doc: str
    group: str = ""

    @property
    def attr(self) -> str:
        return self.env.lower()


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


# The single list of settings: .env.example, the README table and the tests are checked against it.
SPECS: tuple[Spec, ...] = (
    Spec("ABOOK_DB", "path", "", "State file (SQLite, created 0600). Default: $XDG_DATA_HOME/abook/abook.db", "abook"),
    Spec("HTTP_TIMEOUT", "float", "30", "Seconds to wait for any service to answer", "abook"),
    Spec("HTTP_RETRIES", "int", "3", "Attempts for an idempotent request (transport errors, 429, 5xx)", "abook"),
    Spec("HTTP_BACKOFF", "float", "1", "First retry delay in seconds; doubles each attempt, jittered", "abook"),
    Spec("ABS_URL", "url", "", "Audiobookshelf base URL, e.g. http://localhost:13378", "Audiobookshelf"),
    Spec("ABS_TOKEN", "secret", "", "Audiobookshelf API key (Settings -> API Keys; create it active)", "Audiobookshelf"),
    Spec("ABS_LIBRARY", "str", "", "Library name or id to manage; empty = every book library", "Audiobookshelf"),
    Spec("ABS_LIBRARY_PATH", "path", "", "The library folder as abook sees it; enables hardlink import", "Audiobookshelf"),
    Spec("ABS_SCAN_TIMEOUT", "float", "600", "Seconds to wait for ABS to pick up an imported book", "Audiobookshelf"),
    Spec("QB_URL", "url", "", "qBittorrent WebUI URL, e.g. http://localhost:8080 (or QB_HOST + QB_PORT)", "qBittorrent"),
    Spec("QB_HOST", "str", "", "qBittorrent host, used when QB_URL is empty", "qBittorrent"),
    Spec("QB_PORT", "int", "8080", "qBittorrent WebUI port, used with QB_HOST", "qBittorrent"),
    Spec("QB_USERNAME", "str", "", "WebUI user (may be empty when localhost auth is off)", "qBittorrent"),
    Spec("QB_PASSWORD", "secret", "", "WebUI password", "qBittorrent"),
    Spec("QB_CATEGORY", "str", "audiobooks", "Category abook gives its torrents", "qBittorrent"),
    Spec("QB_TAGS", "list", "abook", "Tags abook gives its torrents (comma separated)", "qBittorrent"),
    Spec("QB_SAVE_PATH", "str", "", "Where downloads land; empty = the category's default", "qBittorrent"),
    Spec("MAM_URL", "url", "https://www.myanonamouse.net", "MyAnonamouse base URL", "MyAnonamouse"),
    Spec("MAM_ID", "secret", "", "MAM session cookie for the API (Preferences -> Security); abook keeps the rotated one", "MyAnonamouse"),
    Spec("MAM_RATE_LIMIT_MIN", "float", "3", "Minimum seconds between tracker calls", "MyAnonamouse"),
    Spec("MAM_RATE_LIMIT_MAX", "float", "10", "Maximum seconds between tracker calls (jittered between min and max)", "MyAnonamouse"),
    Spec("PROWLARR_URL", "url", "", "Prowlarr base URL (optional second search source)", "Prowlarr"),
    Spec("PROWLARR_API_KEY", "secret", "", "Prowlarr API key (Settings -> General)", "Prowlarr"),
    Spec("SEARCH_SOURCE", "str", "mam", "Where to search for torrents: mam or prowlarr", "Search"),
    Spec("LANGUAGES", "list", "English", "Wanted audiobook languages (comma separated)", "Search"),
    Spec("ALLOW_ABRIDGED", "bool", "false", "Accept abridged editions", "Search"),
    Spec("ALLOW_DRAMATIZED", "bool", "false", "Accept dramatized / GraphicAudio / full-cast editions", "Search"),
    Spec("GOOGLE_BOOKS_URL", "url", "https://www.googleapis.com/books/v1", "Google Books API base URL", "Metadata"),
    Spec("GOOGLE_BOOKS_API_KEY", "secret", "", "Google Books API key (optional; raises the quota)", "Metadata"),
    Spec("GOODREADS_URL", "url", "https://www.goodreads.com", "Goodreads base URL (scraped)", "Metadata"),
    Spec("GOODREADS_ENABLED", "bool", "true", "Use Goodreads as a source", "Metadata"),
    Spec("AUDIBLE_URL", "url", "https://api.audible.com", "Audible catalog API base URL (no key)", "Metadata"),
    Spec("HARDCOVER_URL", "url", "https://api.hardcover.app/v1/graphql", "Hardcover GraphQL endpoint", "Metadata"),
    Spec("HARDCOVER_TOKEN", "secret", "", "Hardcover API token (optional; enables the source)", "Metadata"),
    Spec("METADATA_SOURCES", "list", "googlebooks,goodreads,audible,hardcover", "Metadata sources, in order", "Metadata"),
    Spec("BIBLIOGRAPHY_SOURCES", "list", "audible,hardcover,goodreads", "Series / author bibliography sources, in order", "Metadata"),
    Spec("METADATA_DAILY_MAX", "int", "50", "Books per fix-metadata run", "Metadata"),
    Spec("METADATA_RETRIES", "int", "2", "Tries per source and book before that source is skipped", "Metadata"),
    Spec("METADATA_RECHECK_DAYS", "int", "30", "Do not query sources again for a book checked this recently", "Metadata"),
    Spec("TOP10_GENRES", "list", "Science Fiction,Fantasy", "Genres for top10 (comma separated)", "top10"),
    Spec("TOP10_COUNT", "int", "10", "New books to queue per genre", "top10"),
    Spec("TOP10_DAYS", "int", "10", "Only books added to the tracker in the last N days", "top10"),
    Spec("GAP_MAX_DOWNLOADS_PER_RUN", "int", "10", "Books fill-series / fill-authors queue per run", "Gaps"),
    Spec("GAP_RETRY_DAYS", "int", "14", "Search again for a not-found book after N days", "Gaps"),
    Spec("AUTHOR_MIN_OWNED", "int", "1", "fill-authors looks at authors with at least N owned books", "Gaps"),
    Spec("MAX_ACTIVE_DOWNLOADS", "int", "10", "abook's unfinished torrents in qBittorrent at once", "Downloads"),
    Spec("DOWNLOAD_RETRIES", "int", "3", "Attempts per download before it is a permanent failure", "Downloads"),
    Spec("STALL_HOURS", "float", "12", "A download without progress this long is retried", "Downloads"),
    Spec("RATIO_FLOOR", "float", "1.5", "Hold new downloads below this (projected) ratio", "Tracker guard"),
    Spec("RATIO_RESUME", "float", "1.7", "Release the hold at or above this ratio", "Tracker guard"),
    Spec("UNSAT_MARGIN", "int", "5", "Keep this many unsatisfied-torrent slots free", "Tracker guard"),
    Spec("BUFFER_MIN_GB", "float", "10", "Refuse a grab that costs ratio when less upload buffer (GiB: uploaded / RATIO_FLOOR - downloaded - abook's unfinished grabs) would remain", "Tracker guard"),
    Spec("WEDGE_MIN_GB", "float", "0", "Ask for a freeleech wedge with the download of a grab that costs ratio and is at least this big (GiB; 0 = never)", "Tracker guard"),
    Spec("WEDGE_RESERVE", "int", "1", "Freeleech wedges abook always leaves unspent", "Tracker guard"),
    Spec("SEED_MIN_HOURS", "float", "72", "Never remove or stop seeding a torrent before this", "Tracker guard"),
    Spec("VIP_WARN_DAYS", "int", "7", "Warn when VIP ends within N days", "Tracker guard"),
    Spec("AUTO_BUY_VIP", "bool", "false", "Buy VIP with bonus points when they suffice", "Tracker guard"),
    Spec("AUTO_BUY_UPLOAD_GB", "float", "0", "Buy this much upload credit when below the floor (0 = never)", "Tracker guard"),
    Spec("BOOK_VALUE", "float", "0", "Value of one book for the report's estimate (0 = hidden)", "Report"),
    Spec("RETENTION_DAYS", "int", "30", "History kept; failed attempts are kept forever", "Report"),
    Spec("METRICS_FILE", "path", "", "Prometheus textfile (node_exporter) rewritten after every run; empty = none", "Report"),
    Spec("NOTIFY_URLS", "secret", "", "Apprise URLs to notify (comma separated), e.g. ntfys://ntfy.sh/TOPIC", "Notifications"),
    Spec("NOTIFY_ON", "list", "failure,hold,vip,import,weekly", "Events to notify: failure, hold, vip, import, weekly", "Notifications"),
)

#: What NOTIFY_ON may name (README "Notifications" explains each one).
NOTIFY_EVENTS = ("failure", "hold", "vip", "import", "weekly")

SPEC_BY_ENV = {s.env: s for s in SPECS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(spec: Spec, raw: str) -> Any:
    raw = raw.strip()
    if spec.kind in ("str", "secret"):
        return raw
    if spec.kind == "url":
        if not raw:
            return ""
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("is not an http(s) URL; write it like http://host:port")
        return raw.rstrip("/")
    if spec.kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if spec.kind == "float":
        try:
            fvalue = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if fvalue < 0 or fvalue != fvalue:
            raise ValueError("must not be negative")
        return fvalue
    if spec.kind == "bool":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("must be true or false")
    if spec.kind == "list":
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if spec.kind == "path":
        return Path(raw).expanduser() if raw else None
    raise AssertionError(spec.kind)


@dataclass(frozen=True)
class Settings:
    abook_db: Path
    http_timeout: float
    http_retries: int
    http_backoff: float
    abs_url: str
    abs_token: str
    abs_library: str
    abs_library_path: Path | None
    abs_scan_timeout: float
    qb_url: str
    qb_host: str
    qb_port: int
    qb_username: str
    qb_password: str
    qb_category: str
    qb_tags: tuple[str, ...]
    qb_save_path: str
    mam_url: str
    mam_id: str
    mam_rate_limit_min: float
    mam_rate_limit_max: float
    prowlarr_url: str
    prowlarr_api_key: str
    search_source: str
    languages: tuple[str, ...]
    allow_abridged: bool
    allow_dramatized: bool
    google_books_url: str
    google_books_api_key: str
    goodreads_url: str
    goodreads_enabled: bool
    audible_url: str
    hardcover_url: str
    hardcover_token: str
    metadata_sources: tuple[str, ...]
    bibliography_sources: tuple[str, ...]
    metadata_daily_max: int
    metadata_retries: int
    metadata_recheck_days: int
    top10_genres: tuple[str, ...]
    top10_count: int
    top10_days: int
    gap_max_downloads_per_run: int
    gap_retry_days: int
    author_min_owned: int
    max_active_downloads: int
    download_retries: int
    stall_hours: float
    ratio_floor: float
    ratio_resume: float
    unsat_margin: int
    buffer_min_gb: float
    wedge_min_gb: float
    wedge_reserve: int
    seed_min_hours: float
    vip_warn_days: int
    auto_buy_vip: bool
    auto_buy_upload_gb: float
    book_value: float
    retention_days: int
    metrics_file: Path | None
    notify_urls: str
    notify_on: tuple[str, ...]
    # Variable name -> why it is malformed; reported only when a command requires it.
    problems: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    env_file: Path | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        env_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Resolve settings: env file < environment < ``overrides`` (CLI flags, by env name)."""
        environ = os.environ if environ is None else environ
        chosen = _find_env_file(env_file, environ, cwd or Path.cwd())
        raw: dict[str, str] = {}
        if chosen is not None:
            from dotenv import dotenv_values

            for key, value in dotenv_values(chosen).items():
                if key in SPEC_BY_ENV and value is not None:
                    raw[key] = value
        for key in SPEC_BY_ENV:
            if key in environ:
                raw[key] = environ[key]
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for spec in SPECS:
            text = raw.get(spec.env, spec.default)
            try:
                values[spec.attr] = _parse(spec, text)
            except ValueError as exc:
                problems[spec.env] = f"{spec.env}={_shown(spec, text)} {exc}"
                values[spec.attr] = _parse(spec, spec.default)
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            spec = SPEC_BY_ENV[key]
            values[spec.attr] = value
            problems.pop(key, None)
        if values["abook_db"] is None:
            values["abook_db"] = _xdg("XDG_DATA_HOME", ".local/share") / "abook" / "abook.db"
        if not values["qb_url"] and values["qb_host"]:
            host = values["qb_host"]
            base = host if "://" in host else f"http://{host}"
            values["qb_url"] = f"{base.rstrip('/')}:{values['qb_port']}"
        _cross_checks(values, problems)
        return cls(**values, problems=problems, env_file=chosen)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- validation
    def require(self, *envs: str) -> None:
        """Raise ConfigError for the first of ``envs`` that is malformed or missing."""
        for env in envs:
            if env in self.problems:
                raise ConfigError(f"{self.problems[env]}: fix it in your .env or environment")
        for env in envs:
            spec = SPEC_BY_ENV[env]
            value = getattr(self, spec.attr)
            if value in ("", None, ()):
                where = f" (read from {self.env_file.name})" if self.env_file else ""
                raise ConfigError(
                    f"{env} is not set{where} ({spec.doc}): set it in .env or the environment "
                    "(see .env.example)"
                )

    def configured(self, *envs: str) -> bool:
        """True when every one of ``envs`` has a value (used for optional services)."""
        return all(getattr(self, SPEC_BY_ENV[e].attr) not in ("", None, ()) for e in envs)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the redactor; each Apprise URL and the tokens inside it too."""
        values = [v for s in SPECS if s.kind == "secret" and (v := getattr(self, s.attr))]
        for url in split_urls(self.notify_urls):
            values += url_secrets(url)
        return tuple(values)


def _shown(spec: Spec, text: str) -> str:
    return "<hidden>" if spec.kind == "secret" else repr(text)


def _cross_checks(values: dict[str, Any], problems: dict[str, str]) -> None:
    if values["mam_rate_limit_max"] < values["mam_rate_limit_min"]:
        problems.setdefault(
            "MAM_RATE_LIMIT_MAX",
            "MAM_RATE_LIMIT_MAX is below MAM_RATE_LIMIT_MIN",
        )
    if values["ratio_resume"] < values["ratio_floor"]:
        problems.setdefault("RATIO_RESUME", "RATIO_RESUME is below RATIO_FLOOR")
    unknown = [e for e in values["notify_on"] if e.lower() not in NOTIFY_EVENTS]
    if unknown:
        problems.setdefault(
            "NOTIFY_ON", f"NOTIFY_ON names {', '.join(map(repr, unknown))}: choose from {', '.join(NOTIFY_EVENTS)}"
        )
    values["notify_on"] = tuple(e.lower() for e in values["notify_on"] if e.lower() in NOTIFY_EVENTS)
    if values["search_source"] not in ("mam", "prowlarr"):
        problems.setdefault(
            "SEARCH_SOURCE", f"SEARCH_SOURCE={values['search_source']!r} must be mam or prowlarr"
        )
        values["search_source"] = "mam"


_URL_START = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_urls(text: str) -> list[str]:
    """NOTIFY_URLS as a list: split at commas or spaces that start a new ``scheme://`` (a comma
    inside one URL, as in ``mailto://...?to=a@x.org,b@y.org``, stays in it)."""
    return [u.strip(" ,") for u in _URL_START.split(text or "") if u.strip(" ,")]


def url_secrets(url: str) -> list[str]:
    """What of an Apprise URL may be a credential: the URL, its password, and each user, host and
    path part that is not a plain host name (Discord's webhook id/token, a Telegram bot token, an
    ntfy topic, a Gotify token), plus long query values. Masking a harmless word is a small cost;
    a leaked token is not."""
    from urllib.parse import parse_qsl, unquote

    out = [url]
    _scheme, sep, rest = url.partition("://")
    if not sep:
        return out
    m = re.match(r"([^/?#]*)([^?#]*)\??([^#]*)", rest)
    netloc, path, query = m.groups() if m else (rest, "", "")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        out += [unquote(password), password, unquote(user), user]
    host = hostport
    if not (host.startswith("[") or re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?|localhost(:\d+)?|"
                                                   r"\d+\.\d+\.\d+\.\d+(:\d+)?", host)):
        out.append(host)
    # A short number (a Telegram chat id) is no secret, and masking it would mask torrent ids.
    out += [unquote(part) for part in path.split("/") if len(part) >= 6 and not (part.isdigit() and len(part) < 10)]
    out += [v for _, v in parse_qsl(query) if len(v) >= 12]
    return [v for v in dict.fromkeys(out) if v and len(v) >= 4]


def _find_env_file(explicit: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"--env-file {explicit} does not exist or is not a file")
        return explicit
    local = cwd / ".env"
    if local.is_file():
        return local
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(config_home) / "abook" / ".env"
    return user if user.is_file() else None


def file_warnings(settings: Settings) -> list[str]:
    """Advice about the settings file: it holds tokens, so nobody else should read it."""
    out: list[str] = []
    path = settings.env_file
    if path is not None and settings.secrets:
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            return out
        if mode & 0o077:
            out.append(f"{path} holds secrets but is readable by others (mode {mode:04o}): chmod 600 {path}")
    return out


def env_example() -> str:
    """The text of .env.example, generated from SPECS (a test keeps the file in step)."""
    lines = [
        "# abook settings. Copy to .env (or $XDG_CONFIG_HOME/abook/.env) and fill in.",
        "# Real environment variables override this file; command-line flags override both.",
        "# Each line shows the default; an empty value means 'not set'.",
    ]
    group = None
    for spec in SPECS:
        if spec.group != group:
            group = spec.group
            lines += ["", f"# --- {group} ---"]
        lines.append(f"# {spec.doc}")
        lines.append(f"{spec.env}={spec.default}")
    return "\n".join(lines) + "\n"


def names(specs: Iterable[Spec] = SPECS) -> list[str]:
    return [s.env for s in specs]
