"""``abook doctor``: can abook reach and log in to every configured service?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import AbookError, AuthError, ConfigError


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


def run(probes: Sequence[tuple[str, bool, Probe | None, str]]) -> list[ServiceCheck]:
    return [check(name, configured, probe, missing) for name, configured, probe, missing in probes]
