"""Fixtures of the transport tests: a real SockJS server on a free port.

Servers run in-process on the test's own loop (``async with serve(...)``),
with short timings (heartbeat 0.2 s, disconnect_delay 0.4 s).
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from typing import AsyncIterator

import pytest
from tornado.web import Application

from tests.support.net import free_port
from transports.front import front_server
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.settings import SockJSSettings

FAST = SockJSSettings(heartbeat_delay=0.2, disconnect_delay=0.4, ping_interval=0.2)

HTTP_TRANSPORTS = ["xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"]
STREAMING = ["xhr_streaming", "eventsource", "htmlfile"]
POLLING = ["xhr", "jsonp"]
ALL_TRANSPORTS = ["websocket"] + HTTP_TRANSPORTS


@dataclass
class Recorder:
    """A Connection that echoes and records; a few messages are commands:
    ``close`` closes the session, ``burst:N`` sends "0".."N-1" over several loop iterations."""

    session: SessionHandle
    log: list[Recorder]
    opened: int = 0
    closed: int = 0
    received: list[str] = field(default_factory=list)
    received_binary: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log.append(self)

    def on_open(self) -> None:
        self.opened += 1

    async def on_message(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            self.binary(text)
            return
        self.received.append(text)
        if text == "close":
            self.session.close(3000, "Go away!")
        elif text.startswith("burst:"):
            for i in range(int(text[6:])):
                self.session.send(str(i))
                if i % 20 == 19:
                    await asyncio.sleep(0)  # let a flush happen: many frames
        else:
            self.session.send(text)

    def binary(self, data: bytes) -> None:
        """A binary message: recorded and echoed; ``batching:<mode>`` sets
        the session's batching, ``bburst:N`` sends N binary messages."""
        self.received_binary.append(data)
        if data.startswith(b"batching:"):
            self.session.batching = data[9:].decode()
        elif data.startswith(b"bburst:"):
            for i in range(int(data[7:])):
                self.session.send_binary(bytes([i]))
        else:
            self.session.send_binary(data)

    def on_close(self) -> None:
        self.closed += 1


@dataclass
class Server:
    port: int
    router: SockJSRouter
    connections: list[Recorder]

    def only(self) -> Recorder:
        assert len(self.connections) == 1, self.connections
        return self.connections[0]


@contextlib.asynccontextmanager
async def serve(prefix: str = "/echo", **overrides: object) -> AsyncIterator[Server]:
    """A SockJS echo service at ``prefix`` on a free port, FAST timings."""
    connections: list[Recorder] = []

    def factory(session: SessionHandle) -> Connection:
        return Recorder(session, connections)

    router = SockJSRouter(factory, prefix, replace(FAST, **overrides))  # type: ignore[arg-type]
    port = free_port()
    server = front_server(Application(router.urls), router.fast_routes())  # as app/server.py serves
    server.listen(port, "127.0.0.1")
    try:
        yield Server(port, router, connections)
    finally:
        server.stop()
        await router.stop()
        await server.close_all_connections()


@pytest.fixture(params=ALL_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=HTTP_TRANSPORTS)
def http_transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=STREAMING)
def streaming_transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
