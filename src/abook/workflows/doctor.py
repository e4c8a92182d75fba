"""``abook doctor``: can abook reach and log in to every configured service?

Each probe asks one service who it is and who abook is to it, in as few requests as possible
(Audiobookshelf's ``/status`` needs no token, so its version shows even when the token is
refused). The wiring hands over one :class:`~abook.services.Connector`-like record per service:
``service``, ``configured``, ``connect()`` (a new client; the probe closes it) and ``hint``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..errors import AbookError, AuthError, ConfigError, ServiceError


class Connector(Protocol):
    service: str
    configured: bool
    hint: str

    def connect(self) -> Any: ...


@dataclass
class ServiceCheck:
    service: str
    configured: bool
    reachable: bool | None = None
    authenticated: bool | None = None
    version: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.configured or bool(self.reachable and self.authenticated is not False)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class DoctorResult:
    checks: list[ServiceCheck]
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"ok": sum(c.ok for c in self.checks if c.configured), "failed": sum(not c.ok for c in self.checks)}

    def error(self) -> AbookError | None:
        """What the command's exit code must say (None: every configured service answered)."""
        if not any(c.configured for c in self.checks):
            return ConfigError("no service is configured: copy .env.example to .env and set at least "
                               "ABS_URL and ABS_TOKEN (see README, Configuration)")
        failed = [c for c in self.checks if not c.ok]
        if failed:
            return ServiceError(f"{', '.join(c.service for c in failed)} failed the check: {failed[0].detail}")
        return None


# A probe returns (version, detail) or raises an AbookError.
Probe = Callable[[], tuple[str | None, str]]


def check(service: str, configured: bool, probe: Probe | None, missing: str = "") -> ServiceCheck:
    """Run one probe and classify the outcome."""
    if not configured or probe is None:
        return ServiceCheck(service, False, detail=missing or "not configured")
    try:
        version, detail = probe()
    except AuthError as exc:
        return ServiceCheck(service, True, reachable=True, authenticated=False,
                            version=getattr(exc, "version", None), detail=str(exc))
    except ConfigError as exc:
        return ServiceCheck(service, True, reachable=None, authenticated=None, detail=str(exc))
    except AbookError as exc:
        return ServiceCheck(service, True, reachable=False, detail=str(exc))
    return ServiceCheck(service, True, reachable=True, authenticated=True, version=version, detail=detail)


def _abs(client: Any, library: str, _category: str) -> tuple[str | None, str]:
    from ..library import select_libraries

    version = str(client.status().get("serverVersion"))  # /status needs no token
    try:
        user = client.me().get("username") or "?"
    except AbookError as exc:
        exc.version = version  # type: ignore[attr-defined]
        raise
    libs = select_libraries(client.libraries(), library)
    return version, f"user {user}; libraries: {', '.join(lib.name for lib in libs)}"


def _qbt(client: Any, _library: str, category: str) -> tuple[str | None, str]:
    client.login()
    version = client.version()
    api = ".".join(str(p) for p in client.webapi_version())
    note = "" if category in client.categories() else f" (category {category!r} will be created on first add)"
    return version, f"WebAPI {api}{note}"


def _mam(client: Any, _library: str, _category: str) -> tuple[str | None, str]:
    user, klass = client.whoami()
    return None, f"user {user}, class {klass}"


def _prowlarr(client: Any, _library: str, _category: str) -> tuple[str | None, str]:
    from ..clients.prowlarrdata import category_genre

    status = client.system_status()
    books = [ix for ix in client.indexers() if ix.audiobooks]
    if not books:
        return status.version, (f"{status.app_name}; no enabled torrent indexer with audiobooks (category 3030): "
                                "top10 and search find nothing until one is added in Prowlarr")
    shown = []
    for ix in books:
        genres = sum(1 for c in ix.categories if c.custom and category_genre(c.name))
        shown.append(f"{ix.name} ({genres} genres)" if genres else f"{ix.name} (no genre categories)")
    return status.version, f"{status.app_name}; audiobook indexers: {', '.join(shown)}"


PROBES: dict[str, Callable[[Any, str, str], tuple[str | None, str]]] = {
    "Audiobookshelf": _abs, "qBittorrent": _qbt, "MyAnonamouse": _mam, "Prowlarr": _prowlarr,
}


def run(
    connectors: Sequence[Connector], *, library: str = "", category: str = "audiobooks",
    warnings: Sequence[str] = (),
) -> DoctorResult:
    """Probe every service (``library``: ABS_LIBRARY to check; ``category``: QB_CATEGORY)."""
    checks = []
    for c in connectors:
        probe = PROBES[c.service]

        def call(c: Connector = c, probe: Callable[..., tuple[str | None, str]] = probe) -> tuple[str | None, str]:
            with c.connect() as client:
                return probe(client, library, category)

        checks.append(check(c.service, c.configured, call, c.hint))
    return DoctorResult(checks, list(warnings))
