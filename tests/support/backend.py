"""A real HTTP backend for the proxy hooks: records what it receives and
answers per path as a test says.

    with ProxyBackend() as backend:
        backend.answer("/connect", result={"user": "42"})
        ... sockhub with proxy_connect_endpoint=backend.url("/connect") ...
        assert backend.requests("/connect")[0].body["client"]

It is a ``ThreadingHTTPServer`` in a thread (blocking answers such as a slow
one never hold the test's loop).  An answer is JSON of a ``result``,
``error`` or ``disconnect``, raw bytes (garbage), another status, a delay
before it, or a body of a given size.  :meth:`down` closes the listening
socket (calls are refused) and :meth:`up` opens it again on the same port.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.net import free_port


@dataclass
class Seen:
    """One request the backend received."""

    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (None when not JSON)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"result":{}}'
    delay: float = 0.0


@dataclass
class _State:
    answers: dict[str, Answer] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    conns: set[socket.socket] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real backend

        def setup(self) -> None:
            super().setup()
            with state.lock:
                state.conns.add(self.connection)

        def finish(self) -> None:
            with state.lock:
                state.conns.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with state.lock:
                state.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = state.answers.get(self.path, Answer())
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the server gave up waiting (timeout) and closed

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 drops bursts of new connections
    daemon_threads = True


class ProxyBackend:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, result: Any = None, *, error: Any = None, disconnect: Any = None,
               raw: bytes | None = None, status: int = 200, delay: float = 0.0) -> None:
        """How ``path`` answers from now on."""
        if raw is None:
            key, value = ("error", error) if error is not None else \
                ("disconnect", disconnect) if disconnect is not None else ("result", result or {})
            raw = json.dumps({key: value}).encode()
        with self._state.lock:
            self._state.answers[path] = Answer(status, raw, delay)

    def requests(self, path: str | None = None) -> list[Seen]:
        with self._state.lock:
            return [s for s in self._state.seen if path is None or s.path == path]

    def up(self) -> "ProxyBackend":
        server = _Server(("127.0.0.1", self.port), _handler(self._state))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._state.lock:
                for conn in self._state.conns:  # kept-alive connections die too
                    try:
                        conn.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "ProxyBackend":
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
