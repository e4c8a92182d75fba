"""Run a real ``qbittorrent-nox`` on 127.0.0.1 with a throwaway profile, for tests.

Usage::

    with running_qbt(tmp_path) as qbt:          # or the pytest fixtures in tests/conftest_qbt.py
        client = qbt.client()                   # an abook QBittorrent logged in as qbt.username
        ...

Several instances can run at once (a seeder and a downloader for the end-to-end transfer test):
each gets its own WebUI port, BitTorrent listen port, profile and downloads folder. Everything is
loopback-only and quiet: DHT, PeX, local peer discovery, UPnP/NAT-PMP and GeoIP lookups are off,
so two instances only find each other when a test says so (:func:`connect_peers`).

Profile layout and keys follow research/prowlarr-qbittorrent.md part C (verified on 4.5.2; the key
names are the same in 5.x). The password is stored as PBKDF2-SHA512 (100 000 rounds), the only form
qBittorrent >= 4.2 reads; 4.6.1+ would otherwise invent a random one at each start.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abook.clients.qbittorrent import QBittorrent

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "abook-test-pass"  # a throwaway instance's password, not a real credential
_RUNNING: set[subprocess.Popen[bytes]] = set()


def qbittorrent_nox() -> str | None:
    """The binary to run: ``$QBITTORRENT_NOX`` or ``qbittorrent-nox`` on PATH."""
    configured = os.environ.get("QBITTORRENT_NOX")
    if configured:
        return configured if Path(configured).exists() else shutil.which(configured)
    return shutil.which("qbittorrent-nox")


def qbt_pbkdf2(password: str) -> str:
    """``WebUI\\Password_PBKDF2`` for ``password`` (format of src/base/utils/password.cpp)."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (BitTorrent listens on both, for uTP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def write_config(
    profile: Path,
    *,
    webui_port: int,
    listen_port: int,
    downloads_dir: Path,
    username: str,
    password: str,
    localhost_auth: bool,
    max_auth_fails: int = 5,
    extra: dict[str, dict[str, str]] | None = None,
) -> Path:
    """Write ``<profile>/qBittorrent/config/qBittorrent.conf`` and return its path."""
    sections: dict[str, dict[str, str]] = {
        "LegalNotice": {"Accepted": "true"},
        "BitTorrent": {
            "Session\\DHTEnabled": "false",
            "Session\\LSDEnabled": "false",
            "Session\\PeXEnabled": "false",
            "Session\\Interface": "lo",
            "Session\\InterfaceName": "lo",
            "Session\\InterfaceAddress": "127.0.0.1",
            "Session\\Port": str(listen_port),
            "Session\\DefaultSavePath": str(downloads_dir),
            "Session\\TempPathEnabled": "false",
            "Session\\AnonymousModeEnabled": "true",
            # Queueing would park a test's torrent as queuedDL behind others: off.
            "Session\\QueueingSystemEnabled": "false",
            "Session\\AddTorrentPaused": "false",
        },
        "Network": {"PortForwardingEnabled": "false"},
        "Preferences": {
            "Connection\\ResolvePeerCountries": "false",
            "General\\Locale": "en",
            "WebUI\\Enabled": "true",
            "WebUI\\Address": "127.0.0.1",
            "WebUI\\Port": str(webui_port),
            "WebUI\\UseUPnP": "false",
            "WebUI\\LocalHostAuth": "true" if localhost_auth else "false",
            "WebUI\\Username": username,
            "WebUI\\Password_PBKDF2": f'"{qbt_pbkdf2(password)}"',
            "WebUI\\MaxAuthenticationFailCount": str(max_auth_fails),
            "WebUI\\CSRFProtection": "true",
            "WebUI\\HostHeaderValidation": "true",
        },
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    config_dir = profile / "qBittorrent" / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key}={value}" for key, value in values.items())
        lines.append("")
    path = config_dir / "qBittorrent.conf"
    path.write_text("\n".join(lines))
    return path


@dataclass
class QbtInstance:
    """One running qbittorrent-nox."""

    url: str
    username: str
    password: str
    profile: Path
    downloads_dir: Path
    webui_port: int
    listen_port: int
    localhost_auth: bool
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def peer(self) -> str:
        """This instance as a BitTorrent peer address, for ``torrents/addPeers``."""
        return f"127.0.0.1:{self.listen_port}"

    def client(self, **kwargs: object) -> QBittorrent:
        """An abook client for this instance (with the right credentials unless overridden)."""
        from abook.clients.qbittorrent import QBittorrent

        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("retries", 2)
        kwargs.setdefault("backoff", 0.2)
        username = str(kwargs.pop("username", self.username))
        password = str(kwargs.pop("password", self.password))
        return QBittorrent(self.url, username, password, **kwargs)  # type: ignore[arg-type]

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """stdout/stderr and the qBittorrent log, for a failing test's message."""
        parts = []
        with contextlib.suppress(OSError):
            parts.append(self.log_path.read_text(errors="replace"))
        qlog = self.profile / "qBittorrent" / "data" / "logs" / "qbittorrent.log"
        with contextlib.suppress(OSError):
            parts.append(qlog.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (qBittorrent saves its state and exits cleanly), then SIGKILL if it hangs."""
        _terminate(self.process, timeout)


def _terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(5)
    _RUNNING.discard(process)


@atexit.register
def _stop_leftovers() -> None:  # a crashed test session must not leave daemons behind
    for process in list(_RUNNING):
        _terminate(process, 5)


def _webui_answers(url: str) -> bool:
    """True once the WebUI answers at all (403 before login means it is up)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/api/v2/app/version", timeout=1) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)
    except (OSError, ValueError):
        return False


def start_qbt(
    base_dir: Path,
    *,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    localhost_auth: bool = True,
    max_auth_fails: int = 5,
    extra_config: dict[str, dict[str, str]] | None = None,
    startup_timeout: float = 30.0,
    attempts: int = 3,
) -> QbtInstance:
    """Start qbittorrent-nox with a fresh profile under ``base_dir``; wait until the WebUI answers.

    Ports are picked free just before the start; if another process grabs one in between, the start
    is retried with new ports.
    """
    binary = qbittorrent_nox()
    if not binary:
        raise FileNotFoundError("qbittorrent-nox is not installed")
    base_dir = Path(base_dir)
    last_output = ""
    for attempt in range(attempts):
        root = base_dir / f"qbt-{attempt}" if attempt else base_dir
        profile = root / "profile"
        downloads = root / "downloads"
        home = root / "home"
        for directory in (profile, downloads, home):
            directory.mkdir(parents=True, exist_ok=True)
        webui_port, listen_port = free_port(), free_port()
        while listen_port == webui_port:
            listen_port = free_port()
        write_config(
            profile, webui_port=webui_port, listen_port=listen_port, downloads_dir=downloads,
            username=username, password=password, localhost_auth=localhost_auth,
            max_auth_fails=max_auth_fails, extra=extra_config,
        )
        log_path = root / "stdout.log"
        env = {
            **os.environ,
            "HOME": str(home),  # nothing of the real user's profile is read or written
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
        for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.pop(proxy, None)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [binary, f"--profile={profile}", f"--webui-port={webui_port}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )
        _RUNNING.add(process)
        instance = QbtInstance(
            url=f"http://127.0.0.1:{webui_port}", username=username, password=password,
            profile=profile, downloads_dir=downloads, webui_port=webui_port,
            listen_port=listen_port, localhost_auth=localhost_auth, process=process,
            log_path=log_path,
        )
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _webui_answers(instance.url):
                return instance
            time.sleep(0.1)
        last_output = instance.output()
        instance.stop()
    raise RuntimeError(f"qbittorrent-nox did not start (after {attempts} tries):\n{last_output[-3000:]}")


@contextlib.contextmanager
def running_qbt(base_dir: Path, **kwargs: object) -> Iterator[QbtInstance]:
    """:func:`start_qbt` as a context manager that always stops the process."""
    instance = start_qbt(base_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield instance
    finally:
        instance.stop()


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.25,
             what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def connect_peers(client: QBittorrent, info_hash: str, seeder: QbtInstance) -> None:
    """Point ``client``'s torrent at ``seeder`` directly (no tracker, DHT or LSD in tests).

    Uses ``torrents/addPeers`` (WebAPI 2.3.0+). Safe to call repeatedly: a peer already known is
    ignored, and calling again after a failed handshake makes qBittorrent retry it.
    """
    client.add_peers([info_hash], [seeder.peer])


def transfer(
    client: QBittorrent,
    info_hash: str,
    seeder: QbtInstance,
    timeout: float = 60.0,
) -> object:
    """Connect the peers and wait until ``client`` holds the whole torrent; returns the Torrent."""
    state = {"last": 0.0}

    def done() -> object:
        now = time.monotonic()
        if now - state["last"] > 3:  # nudge again every few seconds
            connect_peers(client, info_hash, seeder)
            state["last"] = now
        torrent = client.get(info_hash)
        return torrent if torrent is not None and torrent.is_complete else None

    return wait_for(done, timeout=timeout, interval=0.5, what=f"{info_hash} to download")
