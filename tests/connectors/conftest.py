"""Fixtures for connector tests: a tiny scripted HTTP server on 127.0.0.1.

The API emulator (written separately) will replace this server for source tests; these tests
only need exact control over status codes, headers, broken bodies and dropped connections.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Reply:
    """One scripted response.

    ``fault``: ``None``; ``"drop"`` closes the connection without answering; ``"short"``
    announces more bytes than it sends and then closes (a body cut off mid-transfer).
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    delay: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Serves queued replies per (method, path); the last reply of a queue repeats.

    ``Reply`` is exposed as an attribute so test modules need not import this conftest (another
    directory's ``conftest`` module could shadow it on ``sys.path``).
    """

    Reply = Reply

    def __init__(self) -> None:
        self._replies: dict[tuple[str, str], deque[Reply]] = {}
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies.setdefault((method, path), deque()).extend(replies)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            queue = self._replies.get((method, path))
            if not queue:
                return Reply(404, [{"errorCode": "NOT_FOUND", "message": f"no script for {path}"}])
            return queue.popleft() if len(queue) > 1 else queue[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; without this, Nagle plus delayed ACKs
        # add ~40 ms to every response.
        disable_nagle_algorithm = True
        scripted_date: str | None = None

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.seen.append(
                Seen(method, parts.path, parse_qs(parts.query), dict(self.headers), body)
            )
            reply = server.next_reply(method, parts.path)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.fault == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._write(reply)

        def _write(self, reply: Reply) -> None:
            payload = reply.payload()
            headers = dict(reply.headers)
            self.scripted_date = headers.pop("Date", None)
            self.send_response(reply.status)
            headers.setdefault("Content-Type", "application/json")
            announced = len(payload) + (64 if reply.fault == "short" else 0)
            headers["Content-Length"] = str(announced)
            for name, value in headers.items():
                self.send_header(name, value)
            if reply.fault == "short":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def date_time_string(self, timestamp: float | None = None) -> str:
            return self.scripted_date or super().date_time_string(timestamp)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def api_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class FakeSleep:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()
