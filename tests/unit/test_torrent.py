"""Bencode, torrent parsing, magnet hashes and the torrent maker."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from abook.torrent import (
    bdecode,
    bencode,
    magnet_info_hash,
    make_torrent,
    parse_torrent,
)

# ------------------------------------------------------------------ bencode


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"i0e"),
        (-42, b"i-42e"),
        (b"spam", b"4:spam"),
        ("", b"0:"),
        ([1, b"a"], b"li1e1:ae"),
        ({"b": 1, "a": [b"x"]}, b"d1:al1:xe1:bi1ee"),
    ],
)
def test_bencode_round_trip(value, encoded):
    assert bencode(value) == encoded
    decoded = bdecode(encoded)
    assert bencode(decoded) == encoded


def test_bencode_sorts_keys_as_raw_bytes():
    assert bencode({"b": 1, "B": 2, "a": 3}) == b"d1:Bi2e1:ai3e1:bi1ee"


def test_bencode_unicode_strings_are_utf8():
    assert bencode("é") == b"2:\xc3\xa9"


def test_bencode_rejects_bool_and_floats():
    with pytest.raises(TypeError):
        bencode(True)
    with pytest.raises(TypeError):
        bencode(1.5)


@pytest.mark.parametrize(
    "bad",
    [b"", b"i12", b"i-0e", b"i03e", b"ie", b"5:abc", b"l1:a", b"d1:ai1e", b"di1ei2ee", b"x", b"i1eJUNK", b"i1x2e"],
)
def test_bdecode_rejects_malformed(bad):
    with pytest.raises(ValueError):
        bdecode(bad)


def test_bdecode_tolerates_trailing_newline():
    assert bdecode(b"i7e\n") == 7


# ------------------------------------------------------------ parse_torrent


def _write(tmp: Path, rel: str, data: bytes) -> Path:
    target = tmp / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def test_make_and_parse_single_file(tmp_path):
    src = _write(tmp_path, "book.m4b", b"x" * 70_000)
    data = make_torrent(src, "http://127.0.0.1:1/announce")
    meta = parse_torrent(data)
    assert meta.name == "book.m4b"
    assert meta.total_size == 70_000
    assert [(f.path, f.size) for f in meta.files] == [("book.m4b", 70_000)]
    assert meta.trackers == ("http://127.0.0.1:1/announce",)
    assert meta.piece_length == 32 * 1024
    assert not meta.private
    assert not meta.is_multi_file
    # info-hash = sha1 of the bencoded info dict
    info = bdecode(data)[b"info"]
    assert meta.info_hash == hashlib.sha1(bencode(info)).hexdigest()
    assert len(info[b"pieces"]) == 20 * 3  # 70 000 bytes in 32 KiB pieces


def test_make_and_parse_folder(tmp_path):
    root = tmp_path / "Some Author - Some Book"
    _write(root, "02 - Two.mp3", b"b" * 5000)
    _write(root, "01 - One.mp3", b"a" * 40_000)
    _write(root, "art/cover.jpg", b"c" * 10)
    data = make_torrent(root, "", piece_length=16384, private=True, comment="made in a test")
    meta = parse_torrent(data)
    assert meta.name == "Some Author - Some Book"
    assert [f.path for f in meta.files] == [
        "Some Author - Some Book/01 - One.mp3",
        "Some Author - Some Book/02 - Two.mp3",
        "Some Author - Some Book/art/cover.jpg",
    ]
    assert meta.total_size == 45_010
    assert meta.trackers == ()
    assert meta.private
    assert meta.comment == "made in a test"
    assert meta.is_multi_file
    # the pieces span file boundaries: ceil(45010 / 16384) = 3
    assert len(bdecode(data)[b"info"][b"pieces"]) == 60


def test_make_torrent_is_deterministic(tmp_path):
    src = _write(tmp_path, "a.bin", b"1234" * 10_000)
    assert make_torrent(src, "http://t/a") == make_torrent(src, "http://t/a")


def test_make_torrent_validation(tmp_path):
    with pytest.raises(ValueError):
        make_torrent(tmp_path / "missing", "")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        make_torrent(tmp_path / "empty", "")
    src = _write(tmp_path, "a.bin", b"x")
    with pytest.raises(ValueError):
        make_torrent(src, "", piece_length=20_000)


def test_info_hash_uses_raw_bytes_of_non_canonical_info():
    """Keys out of order inside info: re-encoding would change the hash, the file's bytes rule."""
    # "name" before "length": not sorted, so not canonical
    info_raw = b"d4:name3:abc6:lengthi5e12:piece lengthi16384e6:pieces20:" + b"\x01" * 20 + b"e"
    data = b"d8:announce14:http://x/annou4:info" + info_raw + b"e"
    meta = parse_torrent(data)
    assert meta.info_hash == hashlib.sha1(info_raw).hexdigest()
    assert meta.info_hash != hashlib.sha1(bencode(bdecode(info_raw))).hexdigest()
    assert meta.total_size == 5


def test_announce_list_merged_and_deduplicated():
    info = {"name": "x", "length": 1, "piece length": 16384, "pieces": b"\0" * 20}
    data = bencode(
        {
            "announce": "http://a/announce",
            "announce-list": [["http://a/announce", "http://b/announce"], ["udp://c:80"]],
            "info": info,
        }
    )
    assert parse_torrent(data).trackers == ("http://a/announce", "http://b/announce", "udp://c:80")


def test_utf8_names_and_padding_files_skipped():
    info = {
        "name": "Livre",
        "name.utf-8": "Livré",
        "piece length": 16384,
        "pieces": b"\0" * 20,
        "files": [
            {"length": 3, "path": ["ch1.mp3"]},
            {"length": 9, "path": [".pad", "9"], "attr": "p"},
            {"length": 4, "path": ["sub", "ch2.mp3"]},
        ],
    }
    meta = parse_torrent(bencode({"info": info}))
    assert meta.name == "Livré"
    assert [f.path for f in meta.files] == ["Livré/ch1.mp3", "Livré/sub/ch2.mp3"]
    assert meta.total_size == 7


def test_pure_v2_torrent_uses_truncated_sha256():
    tree = {"a.mp3": {"": {"length": 10, "pieces root": b"\0" * 32}}}
    info = {"name": "v2", "meta version": 2, "piece length": 16384, "file tree": tree}
    data = bencode({"info": info})
    meta = parse_torrent(data)
    full = hashlib.sha256(bencode(info)).hexdigest()
    assert meta.info_hash_v2 == full
    assert meta.info_hash == full[:40]
    assert [(f.path, f.size) for f in meta.files] == [("v2/a.mp3", 10)]


@pytest.mark.parametrize(
    "impostor",
    [
        b"<!DOCTYPE html><html><body>Please log in</body></html>",
        json.dumps({"error": "Invalid session"}).encode(),
        b"",
        b"i42e",
        b"le",
        b"d3:foo3:bare",  # a dict without info
        bencode({"info": "not a dict"}),
        bencode({"info": {"name": "x"}}),  # no pieces, no file tree
    ],
)
def test_parse_torrent_rejects_impostors(impostor):
    with pytest.raises(ValueError, match="not a bencoded torrent"):
        parse_torrent(impostor)


def test_parse_torrent_rejects_truncated(tmp_path):
    src = _write(tmp_path, "a.bin", b"z" * 50_000)
    data = make_torrent(src, "http://127.0.0.1:1/announce")
    for cut in (1, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(ValueError, match="not a bencoded torrent"):
            parse_torrent(data[:cut])


def test_parse_torrent_rejects_non_bytes():
    with pytest.raises(ValueError, match="not a bencoded torrent"):
        parse_torrent("d4:infode")  # type: ignore[arg-type]


# ------------------------------------------------------------------- magnet

HEX = "2f8ab8c6ad056ff1158364dd8f0432089e9da016"


def test_magnet_hex_is_lowercased():
    assert magnet_info_hash(f"magnet:?xt=urn:btih:{HEX.upper()}&dn=Test") == HEX


def test_magnet_base32_to_hex():
    # the pair qBittorrent 4.5.2 reported for a base32 magnet
    assert (
        magnet_info_hash("magnet:?xt=urn:btih:CEVKXGYKVXZBPHTPVDMEKHPR4VPPZ3KY&dn=b32")
        == "112aab9b0aadf2179e6fa8d8451df1e55efced58"
    )
    lower = base64.b32encode(bytes.fromhex(HEX)).decode().lower()
    assert magnet_info_hash(f"magnet:?xt=urn:btih:{lower}") == HEX


def test_magnet_xt_not_first_and_encoded():
    uri = f"magnet:?dn=A%20Book&tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce&xt=urn%3Abtih%3A{HEX}"
    assert magnet_info_hash(uri) == HEX


def test_magnet_hybrid_prefers_btih_and_pure_v2_is_truncated():
    v2 = "ab" * 32
    assert magnet_info_hash(f"magnet:?xt=urn:btmh:1220{v2}&xt=urn:btih:{HEX}") == HEX
    assert magnet_info_hash(f"magnet:?xt=urn:btmh:1220{v2}") == v2[:40]


@pytest.mark.parametrize(
    "bad",
    [
        "http://example.invalid/file.torrent",
        "magnet:?dn=nothing",
        "magnet:?xt=urn:btih:1234",
        "magnet:?xt=urn:btih:" + "z" * 40,
        "magnet:?xt=urn:btih:" + "1" * 32,  # "1" is not base32
    ],
)
def test_magnet_rejects_bad(bad):
    with pytest.raises(ValueError):
        magnet_info_hash(bad)
