"""A real HTTP backend for the webhook tests: a Tornado server in the
test's event loop that checks each POST's signature and records it.

    backend = WebhookBackend(secret)
    backend.start()
    ... backend.events("user_online") ...
    backend.answer = 500   # answers (and records) errors
    await backend.down()   # stops listening; backend.start() again: same port

Each request is recorded as a :class:`Hit`: the status it was answered,
the node header, whether the signature matched, and the events it carried.
``connections`` counts the TCP connections the server accepted (keep-alive
shows as fewer connections than hits).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.web import Application, RequestHandler

from tests.support.net import free_port


@dataclass
class Hit:
    status: int
    node: str
    signed: bool
    time_ms: int
    events: list[dict[str, Any]] = field(default_factory=list)


class _Hook(RequestHandler):
    def initialize(self, backend: "WebhookBackend") -> None:
        self.backend = backend

    def post(self) -> None:
        backend = self.backend
        body = self.request.body
        expected = hmac.new(backend.secret.encode(), body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, self.request.headers.get("X-Sockhub-Signature", ""))
        document = json.loads(body)
        status = backend.answer if signed else 401
        backend.hits.append(Hit(status, self.request.headers.get("X-Sockhub-Node", ""), signed,
                                document["time_ms"], document["events"]))
        self.set_status(status)
        self.finish("ok" if status < 300 else "no")


class _CountingServer(HTTPServer):
    def initialize(self, *args: Any, backend: "WebhookBackend", **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self._backend = backend

    def handle_stream(self, stream: IOStream, address: tuple[str, int]) -> None:
        self._backend.connections += 1
        super().handle_stream(stream, address)


class WebhookBackend:
    """See the module docstring."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.answer = 200
        self.hits: list[Hit] = []
        self.connections = 0
        self._server: HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self._server = _CountingServer(Application([("/hook", _Hook, {"backend": self})]), backend=self)
        self._server.listen(self.port, "127.0.0.1")

    def close(self) -> None:
        """Stop listening (the end of a test)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def down(self) -> None:
        assert self._server is not None
        self._server.stop()
        await self._server.close_all_connections()
        self._server = None

    def accepted(self) -> list[dict[str, Any]]:
        """The events of every 2xx-answered request, in arrival order."""
        return [event for hit in self.hits if 200 <= hit.status < 300 for event in hit.events]

    def events(self, name: str, who: str | None = None) -> list[dict[str, Any]]:
        """Accepted events named ``name`` (about user or channel ``who``)."""
        return [e for e in self.accepted() if e["name"] == name
                and (who is None or who in (e.get("user_id"), e.get("channel")))]
