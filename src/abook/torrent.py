"""Torrent files and magnet links, without any dependency.

Why abook needs its own: every add to qBittorrent must be confirmed by info-hash (the WebUI's
"Ok." proves nothing, see ``clients/qbittorrent.py``), so we compute the hash locally from the bytes
the tracker sent us; and a tracker that answers a download with an HTML login page or a JSON error
must be caught *before* qBittorrent sees it. ``make_torrent`` exists for tests and the end-to-end
download test: it writes a real, v1 torrent that qBittorrent accepts.

The v1 info-hash is the SHA-1 of the ``info`` dictionary's bytes *exactly as they appear in the
file*; re-encoding a decoded dict would change the hash of any torrent that is not perfectly
canonical (unsorted keys, extra fields), so the decoder remembers the raw span of ``info``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

NOT_A_TORRENT = "not a bencoded torrent"

__all__ = [
    "TorrentFile",
    "TorrentMeta",
    "bdecode",
    "bencode",
    "magnet_info_hash",
    "make_torrent",
    "parse_torrent",
]


# ------------------------------------------------------------------- bencode
class _Decoder:
    """A strict recursive-descent bencode decoder over one bytes object."""

    def __init__(self, data: bytes, max_depth: int = 64) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.info_span: tuple[int, int] | None = None

    def fail(self, why: str) -> ValueError:
        return ValueError(f"{NOT_A_TORRENT} ({why} at byte {self.pos})")

    def value(self, depth: int = 0) -> Any:
        if depth > self.max_depth:
            raise self.fail("nested too deeply")
        if self.pos >= len(self.data):
            raise self.fail("truncated")
        c = self.data[self.pos]
        if c == 0x69:  # i
            return self.integer()
        if c == 0x6C:  # l
            self.pos += 1
            items = []
            while True:
                if self.pos >= len(self.data):
                    raise self.fail("truncated list")
                if self.data[self.pos] == 0x65:  # e
                    self.pos += 1
                    return items
                items.append(self.value(depth + 1))
        if c == 0x64:  # d
            self.pos += 1
            result: dict[bytes, Any] = {}
            while True:
                if self.pos >= len(self.data):
                    raise self.fail("truncated dict")
                if self.data[self.pos] == 0x65:
                    self.pos += 1
                    return result
                if not 0x30 <= self.data[self.pos] <= 0x39:
                    raise self.fail("dict key is not a string")
                key = self.string()
                start = self.pos
                result[key] = self.value(depth + 1)
                if depth == 0 and key == b"info":
                    self.info_span = (start, self.pos)
        if 0x30 <= c <= 0x39:
            return self.string()
        raise self.fail(f"unexpected byte {c:#04x}")

    def integer(self) -> int:
        end = self.data.find(b"e", self.pos + 1)
        if end < 0:
            raise self.fail("truncated integer")
        raw = self.data[self.pos + 1 : end]
        # Canonical form only: no empty, no leading zeros, no "-0".
        if not raw or raw == b"-" or raw.startswith(b"-0") or (raw.startswith(b"0") and raw != b"0"):
            raise self.fail("malformed integer")
        try:
            value = int(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise self.fail("malformed integer") from None
        self.pos = end + 1
        return value

    def string(self) -> bytes:
        colon = self.data.find(b":", self.pos, self.pos + 21)
        if colon < 0:
            raise self.fail("malformed string length")
        raw = self.data[self.pos : colon]
        if not raw.isdigit():
            raise self.fail("malformed string length")
        length = int(raw)
        start = colon + 1
        if start + length > len(self.data):
            raise self.fail("truncated string")
        self.pos = start + length
        return self.data[start : self.pos]


def bdecode(data: bytes) -> Any:
    """Decode one bencoded value (dict keys and strings stay ``bytes``); ValueError if malformed."""
    value, _ = _bdecode_with_info(data)
    return value


def _bdecode_with_info(data: bytes) -> tuple[Any, tuple[int, int] | None]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError(NOT_A_TORRENT)
    data = bytes(data)
    decoder = _Decoder(data)
    value = decoder.value()
    # Some sites append a newline; anything else after the value means it is not a torrent.
    if data[decoder.pos :].strip():
        raise decoder.fail("trailing data")
    return value, decoder.info_span


def bencode(value: Any) -> bytes:
    """Encode ints, str/bytes, lists/tuples and dicts (keys sorted as raw bytes, as the spec wants)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, bool):  # bool is an int subclass; bencode has no booleans
        raise TypeError("bencode has no booleans; use 0/1")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str):
        _encode(value.encode("utf-8"), out)
    elif isinstance(value, bytes | bytearray):
        out.append(b"%d:" % len(value))
        out.append(bytes(value))
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        keys = {(k.encode("utf-8") if isinstance(k, str) else bytes(k)): v for k, v in value.items()}
        out.append(b"d")
        for key in sorted(keys):
            _encode(key, out)
            _encode(keys[key], out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


# ------------------------------------------------------------------ metadata
@dataclass(frozen=True)
class TorrentFile:
    path: str  # relative, "/"-separated, including the torrent's root folder for multi-file
    size: int


@dataclass(frozen=True)
class TorrentMeta:
    """What abook needs from a .torrent: identity, size, content and trackers."""

    name: str
    info_hash: str  # the id qBittorrent reports: v1 SHA-1 hex, or truncated v2 for pure-v2 torrents
    total_size: int
    files: tuple[TorrentFile, ...]
    trackers: tuple[str, ...]
    piece_length: int = 0
    private: bool = False
    info_hash_v2: str = ""  # full SHA-256 hex when the torrent has v2 metadata
    comment: str = ""

    @property
    def is_multi_file(self) -> bool:
        return len(self.files) != 1 or "/" in self.files[0].path


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value) if value is not None else ""


def parse_torrent(data: bytes) -> TorrentMeta:
    """Parse .torrent bytes; ``ValueError("not a bencoded torrent")`` for anything else.

    Catches the usual impostors a tracker may send instead of a torrent: an HTML login page, a JSON
    error, a truncated download, a bencoded value that is not a torrent dict.
    """
    try:
        top, span = _bdecode_with_info(data)
    except ValueError as exc:
        raise ValueError(NOT_A_TORRENT) from exc
    if not isinstance(top, dict) or span is None or not isinstance(top.get(b"info"), dict):
        raise ValueError(NOT_A_TORRENT)
    info: dict[bytes, Any] = top[b"info"]
    raw_info = bytes(data)[span[0] : span[1]]

    name = _text(info.get(b"name.utf-8") or info.get(b"name") or b"")
    meta_version = info.get(b"meta version")
    has_v1 = b"pieces" in info
    has_v2 = meta_version == 2 and isinstance(info.get(b"file tree"), dict)
    if not has_v1 and not has_v2:
        raise ValueError(NOT_A_TORRENT)

    files: list[TorrentFile] = []
    if has_v1:
        if isinstance(info.get(b"files"), list):
            for entry in info[b"files"]:
                if not isinstance(entry, dict):
                    raise ValueError(NOT_A_TORRENT)
                parts = entry.get(b"path.utf-8") or entry.get(b"path") or []
                attr = _text(entry.get(b"attr", b""))
                if "p" in attr:  # BEP 47 padding files are not content
                    continue
                length = entry.get(b"length")
                if not isinstance(length, int) or not isinstance(parts, list):
                    raise ValueError(NOT_A_TORRENT)
                files.append(TorrentFile("/".join([name, *(_text(p) for p in parts)]), length))
        elif isinstance(info.get(b"length"), int):
            files.append(TorrentFile(name, info[b"length"]))
        else:
            raise ValueError(NOT_A_TORRENT)
    else:
        for parts, length in _walk_file_tree(info[b"file tree"], []):
            files.append(TorrentFile("/".join([name, *parts]) if parts else name, length))

    trackers: list[str] = []
    announce = top.get(b"announce")
    if isinstance(announce, bytes) and announce:
        trackers.append(_text(announce))
    for tier in top.get(b"announce-list") or []:
        for url in tier if isinstance(tier, list) else [tier]:
            text = _text(url)
            if text and text not in trackers:
                trackers.append(text)

    v1 = hashlib.sha1(raw_info).hexdigest()
    v2 = hashlib.sha256(raw_info).hexdigest() if has_v2 else ""
    piece_length = info.get(b"piece length")
    return TorrentMeta(
        name=name,
        # qBittorrent keys a hybrid torrent by its v1 hash and a pure-v2 one by its truncated v2 hash.
        info_hash=v1 if has_v1 else v2[:40],
        total_size=sum(f.size for f in files),
        files=tuple(files),
        trackers=tuple(trackers),
        piece_length=piece_length if isinstance(piece_length, int) else 0,
        private=info.get(b"private") == 1,
        info_hash_v2=v2,
        comment=_text(top.get(b"comment", b"")),
    )


def _walk_file_tree(tree: dict[bytes, Any], prefix: list[str]) -> Iterator[tuple[list[str], int]]:
    for key, node in tree.items():
        if not isinstance(node, dict):
            raise ValueError(NOT_A_TORRENT)
        if key == b"" and isinstance(node.get(b"length"), int):
            yield prefix, node[b"length"]
        else:
            yield from _walk_file_tree(node, [*prefix, _text(key)])


# -------------------------------------------------------------------- magnet
def magnet_info_hash(uri: str) -> str:
    """The info-hash of a magnet link as lowercase hex (40 chars).

    Accepts ``xt=urn:btih:`` in hex or base32 (qBittorrent reports base32 magnets as hex) and, for
    pure-v2 magnets, ``urn:btmh:1220<sha256>`` truncated to 40 chars as qBittorrent does.
    ``ValueError`` when the link carries no usable hash.
    """
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "magnet":
        raise ValueError("not a magnet link")
    v2 = ""
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if not key.lower().startswith("xt"):
            continue
        lowered = value.lower()
        if lowered.startswith("urn:btih:"):
            return _btih_hex(value[len("urn:btih:") :])
        if lowered.startswith("urn:btmh:") and not v2:
            multihash = lowered[len("urn:btmh:") :]
            if len(multihash) == 68 and multihash.startswith("1220") and _is_hex(multihash):
                v2 = multihash[4:44]
    if v2:
        return v2
    raise ValueError("magnet link has no BitTorrent info-hash (xt=urn:btih:...)")


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _btih_hex(value: str) -> str:
    value = value.strip()
    if len(value) == 40 and _is_hex(value):
        return value.lower()
    if len(value) == 32:
        try:
            return base64.b32decode(value.upper()).hex()
        except ValueError:
            pass
    raise ValueError("magnet link has a malformed info-hash")


# ------------------------------------------------------------------- creator
def make_torrent(
    path: Path,
    tracker: str = "",
    piece_length: int = 32 * 1024,
    *,
    private: bool = False,
    comment: str = "",
    name: str | None = None,
) -> bytes:
    """Build a v1 .torrent for a file or a folder (files in sorted order, hidden ones included).

    Deterministic: no creation date, so the same content always gives the same info-hash.
    ``piece_length`` must be a power of two >= 16 KiB (libtorrent refuses anything else).
    """
    path = Path(path)
    if piece_length < 16 * 1024 or piece_length & (piece_length - 1):
        raise ValueError("piece_length must be a power of two >= 16384")
    if path.is_file():
        entries = [(path, [])]
    elif path.is_dir():
        entries = [
            (p, list(p.relative_to(path).parts))
            for p in sorted(path.rglob("*"), key=lambda p: p.relative_to(path).parts)
            if p.is_file()
        ]
        if not entries:
            raise ValueError(f"{path} holds no files")
    else:
        raise ValueError(f"{path} is neither a file nor a folder")

    pieces = bytearray()
    buffer = bytearray()
    for file_path, _ in entries:
        with open(file_path, "rb") as fh:
            while chunk := fh.read(1024 * 1024):
                buffer += chunk
                while len(buffer) >= piece_length:
                    pieces += hashlib.sha1(buffer[:piece_length]).digest()
                    del buffer[:piece_length]
    if buffer or not pieces:
        pieces += hashlib.sha1(buffer).digest()

    info: dict[str, Any] = {
        "name": name or path.name,
        "piece length": piece_length,
        "pieces": bytes(pieces),
    }
    if path.is_file():
        info["length"] = os.path.getsize(path)
    else:
        info["files"] = [{"length": os.path.getsize(p), "path": parts} for p, parts in entries]
    if private:
        info["private"] = 1
    top: dict[str, Any] = {"info": info, "created by": "abook"}
    if tracker:
        top["announce"] = tracker
        top["announce-list"] = [[tracker]]
    if comment:
        top["comment"] = comment
    return bencode(top)
