"""The one exception tree of abook.

Every expected fault is an :class:`AbookError` carrying its exit code; the CLI turns it into one
line on stderr (see ``cli.main``). Messages must never contain a secret: they are built from a
service name, a method and a path without its query string, never from headers or cookies.

    AbookError (1)                 finished, but something failed
    ├── ConfigError (2)            a setting is missing or malformed; bad usage
    ├── ServiceError (3)           a required service is unreachable or misbehaved
    │   ├── AuthError (3)          ... or refused our credentials
    │   └── BadResponse (3)        ... or answered with something that is not what it should be
    ├── HeldError (4)              the ratio guard forbids new downloads
    └── LockedError (75)           another run of the same command holds the lock
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_CONFIG = 2
EXIT_SERVICE = 3
EXIT_HELD = 4
EXIT_LOCKED = 75


class AbookError(Exception):
    """An expected fault: one readable line and an exit code, never a traceback."""

    exit_code = EXIT_PARTIAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AbookError):
    """A setting is missing or malformed, or the command line is wrong."""

    exit_code = EXIT_CONFIG


class ServiceError(AbookError):
    """A service is unreachable, timed out or answered with a server error."""

    exit_code = EXIT_SERVICE

    def __init__(self, message: str, *, service: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.status = status


class AuthError(ServiceError):
    """A service refused the configured credentials."""


class BadResponse(ServiceError):
    """A service answered with malformed JSON, an HTML page or an unexpected shape."""


class HeldError(AbookError):
    """The ratio guard holds new downloads."""

    exit_code = EXIT_HELD


class LockedError(AbookError):
    """Another run of the same command is still going."""

    exit_code = EXIT_LOCKED


class PartialFailure(AbookError):
    """The run finished but some items failed; each one is recorded with its reason."""

    exit_code = EXIT_PARTIAL
