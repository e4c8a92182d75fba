"""Test isolation: no real settings, no network beyond 127.0.0.1, state in tmp_path."""

from __future__ import annotations

import os
import socket

import pytest

pytest_plugins = ["tests.conftest_qbt"]

_REAL_CONNECT = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and self.family in (socket.AF_INET, socket.AF_INET6)
        and not (host.startswith("127.") or host in ("::1", "localhost"))
    ):
        raise RuntimeError(f"test tried to reach {host}: tests may only talk to 127.0.0.1")
    return _REAL_CONNECT(self, address)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Clear every abook setting and proxy variable; point config and data dirs at tmp."""
    from abook.config import SPECS

    for spec in SPECS:
        monkeypatch.delenv(spec.env, raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "ABOOK_DEBUG", "ABOOK_DEBUG_HTTP"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HTTP_BACKOFF", "0.01")
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
