"""pytest fixtures that run a real qbittorrent-nox (see tests/qbt.py).

Registered from tests/conftest.py with ``pytest_plugins = ["tests.conftest_qbt"]``.

- ``qbt``: a fresh instance per test (use it when the test changes global state: bans, settings);
- ``qbt_session``: one instance shared by the whole session (cheaper; use distinct categories/tags);
- ``qbt_pair``: two fresh instances, ``(seeder, downloader)``, for transfer tests.

Without qbittorrent-nox the tests are skipped locally, but fail under ``CI=true``: CI installs it,
so its absence there is a broken pipeline, not a reason to go green.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.qbt import QbtInstance, qbittorrent_nox, running_qbt


def require_qbittorrent_nox() -> None:
    """Skip (locally) or fail (CI=true) when qbittorrent-nox is not installed."""
    if qbittorrent_nox():
        return
    message = "qbittorrent-nox is not installed (apt-get install qbittorrent-nox)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture
def qbt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QbtInstance]:
    require_qbittorrent_nox()
    with running_qbt(tmp_path_factory.mktemp("qbt")) as instance:
        yield instance


@pytest.fixture(scope="session")
def qbt_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QbtInstance]:
    require_qbittorrent_nox()
    with running_qbt(tmp_path_factory.mktemp("qbt-session")) as instance:
        yield instance


@pytest.fixture
def qbt_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[QbtInstance, QbtInstance]]:
    require_qbittorrent_nox()
    with (
        running_qbt(tmp_path_factory.mktemp("qbt-seeder")) as seeder,
        running_qbt(tmp_path_factory.mktemp("qbt-downloader")) as downloader,
    ):
        yield seeder, downloader
