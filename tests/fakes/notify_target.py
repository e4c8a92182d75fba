"""A notification receiver on 127.0.0.1, standing in for what an Apprise URL points at.

Two real shapes, as Apprise sends them (read from its plugins ``custom_json.py`` and ``ntfy.py``):

- ``json://127.0.0.1:PORT/PATH``: ``POST /PATH`` with ``Content-Type: application/json`` and
  ``{"version": "1.0", "title", "message", "attachments": [], "type": "info|success|warning|failure"}``;
  any 2xx is success. A webhook receiver answers ``200`` with a small body;
- ``ntfy://127.0.0.1:PORT/TOPIC`` (a self-hosted ntfy): ``POST /`` with JSON ``{"topic", "title",
  "message", ...}`` and the priority / tags in ``X-`` headers; ntfy answers ``200`` with the stored
  message (``{"id", "time", "expires", "event": "message", "topic", "title", "message"}``), or
  ``{"code": 40101, "http": 401, "error": "unauthorized", "link": ...}`` when the topic needs a
  login it did not get (``require_auth``).

``fail_next(status, times)`` answers the next requests with an error (a target that is down for a
while); ``messages`` holds what arrived.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.mam import LoopbackServer


@dataclass
class Message:
    path: str
    kind: str  # "json" | "ntfy"
    title: str
    message: str
    type: str
    headers: dict[str, str] = field(default_factory=dict)
    raw: Any = None


class FakeNotifyTarget(LoopbackServer):
    def __init__(self, *, require_auth: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.messages: list[Message] = []
        self.require_auth = require_auth
        self._fail: list[int] = []

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def json_url(self, path: str = "abook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        with self.lock:
            self._fail += [status] * times

    def titles(self) -> list[str]:
        with self.lock:
            return [m.title for m in self.messages]

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k: v for k, v in h.headers.items()}
        with self.lock:
            failing = self._fail.pop(0) if self._fail else None
        if h.command != "POST":
            self.send(h, 405, {"code": 40500, "http": 405, "error": "method not allowed"})
            return
        if failing is not None:
            self.send(h, failing, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send(h, 400, {"code": 40024, "http": 400, "error": "invalid request: body must be JSON"})
            return
        if "topic" in body:  # ntfy's "publish as JSON"
            if self.require_auth is not None and not self._authorized(headers):
                self.send(h, 401, {"code": 40101, "http": 401, "error": "unauthorized",
                                   "link": "https://ntfy.sh/docs/publish/#authentication"})
                return
            msg = Message(h.path, "ntfy", body.get("title", ""), body.get("message", ""),
                          headers.get("X-Priority", "default"), headers, body)
            with self.lock:
                self.messages.append(msg)
            now = int(time.time())
            self.send(h, 200, {"id": secrets.token_urlsafe(9)[:12], "time": now, "expires": now + 43200,
                               "event": "message", "topic": body["topic"], "title": msg.title,
                               "message": msg.message})
            return
        msg = Message(h.path, "json", body.get("title", ""), body.get("message", ""), body.get("type", ""),
                      headers, body)
        with self.lock:
            self.messages.append(msg)
        self.send(h, 200, {"ok": True})

    def _authorized(self, headers: dict[str, str]) -> bool:
        user, password = self.require_auth or ("", "")
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers.get("Authorization") == expected
