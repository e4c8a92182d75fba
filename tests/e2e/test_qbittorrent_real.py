"""abook's qBittorrent client against a real qbittorrent-nox on 127.0.0.1.

Fixtures come from tests/conftest_qbt.py. Each test uses its own category/tag so the shared
session instance can serve them all in any order.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abook.errors import AuthError
from abook.torrent import magnet_info_hash, make_torrent, parse_torrent
from tests.conftest_qbt import require_qbittorrent_nox
from tests.qbt import QbtInstance, running_qbt, transfer, wait_for

pytestmark = pytest.mark.qbittorrent
TRACKER = "http://127.0.0.1:1/announce"  # nothing listens there: no traffic leaves the machine


def make_content(root: Path, name: str, size: int = 100_000) -> Path:
    """A small "audiobook" folder with two files of distinct, non-repeating bytes."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "01 - Chapter.mp3").write_bytes(os.urandom(size))
    (folder / "cover.jpg").write_bytes(os.urandom(5_000))
    return folder


def test_login_and_versions(qbt_session: QbtInstance):
    client = qbt_session.client()
    version = client.version()
    assert version[0].isdigit() and "." in version
    assert client.webapi_version() >= (2, 0)
    assert client.login_attempts == 1  # LocalHostAuth is on: a real login happened
    assert client.uses_stop_start == (client.webapi_version() >= (2, 11))
    assert client.transfer_info()["connection_status"] in {"connected", "firewalled", "disconnected"}


def test_add_confirm_list_pause_resume(qbt_session: QbtInstance, tmp_path: Path):
    client = qbt_session.client()
    category, tag = f"cat-{tmp_path.name}", f"tag-{tmp_path.name}"
    client.ensure_category(category)
    client.ensure_category(category)  # exists: 409 is fine
    assert category in client.categories()

    content = make_content(tmp_path / "src", "Some Author - A Book")
    data = make_torrent(content, TRACKER)
    meta = parse_torrent(data)
    torrent = client.add_torrent(data, category=category, tags=["abook", tag], paused=True)
    assert torrent.hash == meta.info_hash
    assert torrent.name == "Some Author - A Book"
    assert torrent.category == category
    assert set(torrent.tags) >= {"abook", tag}

    assert [t.hash for t in client.torrents(category=category)] == [meta.info_hash]
    assert [t.hash for t in client.torrents(tag=tag)] == [meta.info_hash]
    assert client.get(meta.info_hash.upper()) is not None

    paused_name = "stoppedDL" if client.uses_stop_start else "pausedDL"
    got = wait_for(lambda: (t := client.get(meta.info_hash)) and t.state == paused_name and t,
                   timeout=20, what="the paused state")
    assert got.is_paused  # type: ignore[union-attr]

    client.resume([meta.info_hash])
    wait_for(lambda: not client.get(meta.info_hash).is_paused, timeout=20,  # type: ignore[union-attr]
             what="the torrent to resume")
    client.pause([meta.info_hash])
    wait_for(lambda: client.get(meta.info_hash).is_paused, timeout=20,  # type: ignore[union-attr]
             what="the torrent to pause")

    again = client.add_torrent(data, category=category, tags=["abook", tag])
    assert again.hash == meta.info_hash
    assert len(client.torrents(category=category)) == 1  # no duplicate

    files = client.files(meta.info_hash)
    assert sorted(f.name for f in files) == sorted(f.path for f in meta.files)
    props = client.properties(meta.info_hash)
    assert props is not None and props["total_size"] == meta.total_size
    assert client.properties("f" * 40) is None


def test_add_magnet(qbt_session: QbtInstance, tmp_path: Path):
    client = qbt_session.client()
    category = f"mag-{tmp_path.name}"
    info_hash = os.urandom(20).hex()
    magnet = f"magnet:?xt=urn:btih:{info_hash.upper()}&dn=A%20Magnet%20Book"
    torrent = client.add_torrent(magnet=magnet, category=category, tags=["abook"], paused=True)
    assert torrent.hash == magnet_info_hash(magnet) == info_hash
    assert torrent.name == "A Magnet Book"
    assert not torrent.has_metadata and not torrent.is_complete
    assert torrent.is_paused


def test_content_already_present_is_complete(qbt_session: QbtInstance, tmp_path: Path):
    client = qbt_session.client()
    content = make_content(tmp_path / "library", "Present Book")
    data = make_torrent(content, TRACKER)
    torrent = client.add_torrent(
        data, category=f"seed-{tmp_path.name}", save_path=str(content.parent)
    )
    done = wait_for(lambda: (t := client.get(torrent.hash)) and t.is_complete and t,
                    timeout=30, what="the recheck to find the data")
    assert done.progress == 1  # type: ignore[union-attr]
    assert Path(done.content_path) == content  # type: ignore[union-attr]
    assert done.completed_at is not None  # type: ignore[union-attr]


def test_wrong_password_is_a_single_attempt(tmp_path: Path):
    """qBittorrent bans an IP once it has seen ``max_auth_fails`` failures: with 2, a second attempt
    by the wrong client would lock out the right password too."""
    require_qbittorrent_nox()
    with running_qbt(tmp_path, max_auth_fails=2) as qbt:
        wrong = qbt.client(password="not-the-password")
        with pytest.raises(AuthError, match="QB_USERNAME/QB_PASSWORD"):
            wrong.login()
        for call in (wrong.login, wrong.torrents, wrong.version):
            with pytest.raises(AuthError):
                call()
        assert wrong.login_attempts == 1

        right = qbt.client()
        assert right.version()  # not banned: the wrong client sent exactly one login
        assert right.login_attempts == 1


def test_ban_gives_a_clear_message(tmp_path: Path):
    require_qbittorrent_nox()
    with running_qbt(tmp_path, max_auth_fails=1) as qbt:
        with pytest.raises(AuthError):
            qbt.client(password="wrong-1").login()
        with pytest.raises(AuthError, match="banned"):
            qbt.client(password="wrong-2").login()


def test_localhost_auth_off_needs_no_login(tmp_path: Path):
    require_qbittorrent_nox()
    with running_qbt(tmp_path, localhost_auth=False) as qbt:
        client = qbt.client(username="", password="")
        assert client.version()
        assert client.torrents() == []
        assert client.login_attempts == 0


def test_transfer_between_two_instances(qbt_pair: tuple[QbtInstance, QbtInstance], tmp_path: Path):
    """A seeder holding the files and a downloader that finds it through addPeers, no tracker."""
    seeder, downloader = qbt_pair
    content = make_content(tmp_path / "seed", "Transfer Book", size=600_000)
    data = make_torrent(content, TRACKER)
    seed_client, down_client = seeder.client(), downloader.client()

    seeded = seed_client.add_torrent(data, category="audiobooks", save_path=str(content.parent))
    wait_for(lambda: seed_client.get(seeded.hash).is_complete, timeout=30,  # type: ignore[union-attr]
             what="the seeder to check its data")

    added = down_client.add_torrent(data, category="audiobooks", tags=["abook"])
    assert not added.is_complete
    done = transfer(down_client, added.hash, seeder, timeout=90)
    got = Path(done.content_path)  # type: ignore[attr-defined]
    assert got.parent.is_relative_to(downloader.downloads_dir)
    for original in content.iterdir():
        assert (got / original.name).read_bytes() == original.read_bytes()
