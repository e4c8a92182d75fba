"""The downloads state machine with an in-memory qBittorrent and a fixed clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from abook.acquisition import Policy
from abook.clients.qbittorrent import Torrent
from abook.state import State, iso
from abook.workflows.downloads import Downloads, Options

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HASH = "a" * 40


@dataclass
class FakeQbt:
    torrents_: dict[str, Torrent] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def torrents(self, **_: object) -> list[Torrent]:
        return list(self.torrents_.values())

    def get(self, h: str) -> Torrent | None:
        return self.torrents_.get(h)

    def recheck(self, h: str) -> None:
        self.calls.append(("recheck", h))

    def reannounce(self, h: str) -> None:
        self.calls.append(("reannounce", h))

    def ensure_category(self, *a: object) -> None:
        pass

    def add_torrent(self, data=None, *, magnet=None, expected_hash="", **_: object) -> Torrent:
        self.calls.append(("add", expected_hash))
        t = Torrent(hash=expected_hash or HASH, name="x", state="downloading")
        self.torrents_[t.hash] = t
        return t

    def pause(self, *_: object) -> None:  # abook must never call these here
        raise AssertionError("downloads must not pause")

    def set(self, **kw: object) -> None:
        self.torrents_[HASH] = Torrent(hash=HASH, name="x", **kw)


@pytest.fixture
def state(tmp_path):
    st = State.open(tmp_path / "abook.db")
    st.add_download({"source": "mam", "torrent_id": "1", "info_hash": HASH, "qb_hash": HASH, "title": "Book",
                     "status": "queued", "reason": "top10", "size": 1000, "payload": json.dumps({})})
    return st


def run(state: State, qbt: FakeQbt, now: datetime, retries: int = 2, fetch=None) -> Downloads:
    d = Downloads(state, qbt, None, Policy(), Options(retries=retries, stall_hours=12), now=lambda: now,
                  fetch=fetch or (lambda row: (None, f"magnet:?xt=urn:btih:{HASH}")))
    d.run()
    return d


def status(state: State) -> dict:
    return state.downloads()[0]


def test_progress_then_completion(state):
    qbt = FakeQbt()
    qbt.set(state="downloading", progress=0.4, size=1000, total_size=1000)
    run(state, qbt, T0)
    assert status(state)["status"] == "downloading" and status(state)["progress"] == pytest.approx(0.4)
    qbt.set(state="uploading", progress=1.0, size=1000, total_size=1000, content_path="/data/Book")
    run(state, qbt, T0 + timedelta(hours=1))
    row = status(state)
    assert row["status"] == "completed" and row["content_path"] == "/data/Book"


def test_stall_is_retried_then_failed_permanently(state):
    qbt = FakeQbt()
    qbt.set(state="stalledDL", progress=0.1, size=1000, total_size=1000)
    run(state, qbt, T0)  # first sight: progress recorded
    run(state, qbt, T0 + timedelta(hours=13))
    assert ("reannounce", HASH) in qbt.calls and status(state)["retries"] == 1
    run(state, qbt, T0 + timedelta(hours=14))  # not 12 h since the retry yet
    assert status(state)["retries"] == 1
    run(state, qbt, T0 + timedelta(hours=26))
    assert status(state)["retries"] == 2
    d = run(state, qbt, T0 + timedelta(hours=39))
    assert status(state)["status"] == "failed" and d.result.failed
    failure = state.failures()[0]
    assert failure["reason_code"] == "stalled" and "gave up after 2 retries" in failure["reason"]


def test_paused_torrent_is_not_a_stall(state):
    qbt = FakeQbt()
    qbt.set(state="pausedDL", progress=0.1, size=1000, total_size=1000)
    state.update_download(1, progress=0.1, last_progress_at=iso(T0))
    run(state, qbt, T0 + timedelta(days=3))
    assert status(state)["retries"] == 0 and qbt.calls == []


def test_error_state_is_rechecked(state):
    qbt = FakeQbt()
    qbt.set(state="missingFiles", progress=0.5, size=1000, total_size=1000)
    run(state, qbt, T0)
    assert ("recheck", HASH) in qbt.calls and status(state)["retries"] == 1


def test_vanished_torrent_is_readded_from_a_fresh_fetch(state):
    qbt = FakeQbt()
    fetched = []

    def fetch(row):
        fetched.append(row["id"])
        return None, f"magnet:?xt=urn:btih:{HASH}"

    run(state, qbt, T0, fetch=fetch)
    assert fetched == [1] and ("add", HASH) in qbt.calls
    assert status(state)["status"] == "queued" and status(state)["retries"] == 1


def test_dry_run_changes_nothing(state):
    qbt = FakeQbt()
    d = Downloads(state, qbt, None, Policy(), Options(), now=lambda: T0, dry_run=True,
                  fetch=lambda row: (None, None))
    d.run()
    assert qbt.calls == [] and status(state)["retries"] == 0 and status(state)["status"] == "queued"


# ------------------------------------------------------------ finding the imported item in ABS
def test_the_imported_item_is_found_by_the_folder_of_a_one_file_torrent():
    """qBittorrent gives a torrent of exactly one file as that file's path, inside its folder;
    ABS names the item after the folder. Matching is only the last resort (and, since issue #14,
    a title without an author is never "the same" as a tracker's book)."""
    from abook.library import AbsItem
    from abook.workflows.downloads import _find_item

    items = [AbsItem(id="li-other", rel_path="Other Book", title="Other Book"),
             AbsItem(id="li-gs", rel_path="Golden Son", title="Golden Son")]  # title only: no author
    row = {"title": "Golden Son", "author": "Pierce Brown",
           "content_path": "/srv/library/Golden Son/Golden Son.m4b"}
    assert _find_item(items, row, None).id == "li-gs"
    assert _find_item(items, {**row, "content_path": "/srv/library/Golden Son"}, None).id == "li-gs"
    nested = [AbsItem(id="li-n", rel_path="Pierce Brown/Golden Son", title="Golden Son")]
    assert _find_item(nested, row, None).id == "li-n"
    # no path to go by: a title alone, without an author, is not enough to claim the item
    assert _find_item(items, {"title": "Golden Son", "author": "Pierce Brown"}, None) is None
    authored = [AbsItem(id="li-a", rel_path="x", title="Golden Son", author_name="Pierce Brown")]
    assert _find_item(authored, {"title": "Golden Son", "author": "Pierce Brown"}, None).id == "li-a"


def test_a_pick_the_guard_holds_does_not_block_the_free_ones_behind_it(tmp_path):
    st = State.open(tmp_path / "pending.db")
    big, small = "b" * 40, "c" * 40
    st.add_download({"source": "mam", "torrent_id": "10", "info_hash": big, "title": "Big Paid", "status": "pending",
                     "reason": "top10", "size": 40 * 2**30, "freeleech": 0, "payload": json.dumps({})})
    st.add_download({"source": "mam", "torrent_id": "11", "info_hash": small, "title": "Small Free", "status": "pending",
                     "reason": "top10", "size": 2**28, "freeleech": 1, "payload": json.dumps({})})
    qbt = FakeQbt()
    hashes = {"10": big, "11": small}

    def guard(release):
        return None if release.freeleech else "upload buffer after this grab would be too small"

    d = Downloads(st, qbt, None, Policy(), Options(), now=lambda: T0, guard=guard,
                  fetch=lambda row: (None, f"magnet:?xt=urn:btih:{hashes[row['torrent_id']]}"))
    d.run()
    rows = {r["torrent_id"]: r for r in st.downloads()}
    assert rows["10"]["status"] == "pending" and "buffer" in rows["10"]["status_reason"]
    assert rows["11"]["status"] == "queued"
    assert qbt.calls == [("add", small)]


def test_a_tracker_in_trouble_stops_the_fetches_and_says_it_was_the_fetch(tmp_path):
    from abook.errors import ServiceError

    st = State.open(tmp_path / "trouble.db")
    for tid in ("20", "21"):
        st.add_download({"source": "mam", "torrent_id": tid, "title": f"Pick {tid}", "status": "pending",
                         "reason": "top10", "size": 2**28, "freeleech": 1, "payload": json.dumps({})})
    asked: list[str] = []

    def fetch(row):
        asked.append(row["torrent_id"])
        raise ServiceError("MAM: 503 Service Unavailable", service="MAM", status=503)

    Downloads(st, FakeQbt(), None, Policy(), Options(), now=lambda: T0, fetch=fetch).run()
    rows = {r["torrent_id"]: r for r in st.downloads()}
    assert asked == ["20"]  # not hammered: the second pick waits for the next run
    assert rows["20"]["status"] == "pending" and rows["20"]["status_reason"].startswith("fetching the .torrent failed")
    assert rows["21"]["status"] == "pending"
