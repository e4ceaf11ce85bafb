"""The websocket fast route (SockJSRouter.fast_routes through a FrontDoor),
over real sockets: valid upgrades skip the application, every other request
to a websocket URL gets exactly the application's answer."""
from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import pytest
from tornado import httputil
from tornado.web import Application

from tests.support.net import free_port, serving
from tests.transports.clients import WsClient, collect, messages
from tests.transports.conftest import FAST, Recorder
from tests.transports.test_behaviour import masked_text_frame, wait_for
from tests.transports.test_tls import make_cert
from transports.front import front_server
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": KEY,
           "Sec-WebSocket-Version": "13"}


class Front:
    """A SockJS echo service behind a FrontDoor that counts the fast route's claims."""

    def __init__(self, tls: ssl.SSLContext | None = None, **overrides: object) -> None:
        self.connections: list[Recorder] = []

        def factory(session: SessionHandle) -> Connection:
            return Recorder(session, self.connections)

        self.router = SockJSRouter(factory, "/echo", replace(FAST, **overrides))  # type: ignore[arg-type]
        self.claimed = 0
        (route,) = self.router.fast_routes()

        def counting(start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders,
                     conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate | None:
            target = route(start_line, headers, conn)
            self.claimed += target is not None
            return target

        self.port = free_port()
        self.server = front_server(Application(self.router.urls), [counting], ssl_options=tls)
        self.server.listen(self.port, "127.0.0.1")

    async def close(self) -> None:
        self.server.stop()
        await self.router.stop()
        await self.server.close_all_connections()


@contextlib.asynccontextmanager
async def front(**overrides: object) -> AsyncIterator[Front]:
    srv = Front(**overrides)
    try:
        yield srv
    finally:
        await srv.close()


@contextlib.asynccontextmanager
async def application_only(**overrides: object) -> AsyncIterator[int]:
    """The same service without a FrontDoor: the answers we must keep."""
    router = SockJSRouter(lambda s: Recorder(s, []), "/echo", replace(FAST, **overrides))  # type: ignore[arg-type]
    port = free_port()
    async with serving(Application(router.urls), port, xheaders=True):
        try:
            yield port
        finally:
            await router.stop()


async def exchange(port: int, raw: bytes, whole: bool = True) -> bytes:
    """Send ``raw``, return the response (head and Content-Length body), or
    only its head (an upgrade)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if not whole:
            return head
        length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                  if line.startswith(b"content-length:")]
        return head + await asyncio.wait_for(reader.readexactly(length[0] if length else 0), 5)
    finally:
        writer.close()


def http_request(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def comparable(response: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Status line, headers without Date, body."""
    head, _, body = response.partition(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    return status, sorted(h for h in headers if not h.lower().startswith(b"date:")), body


async def test_sockjs_websocket_handshake_open_frame_and_echo() -> None:
    async with front() as srv:
        head = await exchange(srv.port, http_request("GET", "/echo/000/fast/websocket", UPGRADE), False)
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n") and ACCEPT in head
        assert b"Upgrade: websocket\r\n" in head and b"Connection: Upgrade\r\n" in head
        client = WsClient(srv.port, "/echo/000/abc/websocket?t=1")
        assert await client.connect() == "o"
        await client.send("hello", "wörld")
        got = await collect(client, 2)
        assert got == ["hello", "wörld"]
        assert srv.claimed == 2
        conn = srv.connections[-1]
        assert conn.session.transport == "websocket" and conn.received == ["hello", "wörld"]
        await client.close()
        await wait_for(lambda: [c.closed for c in srv.connections] == [1, 1])


async def test_raw_websocket_through_the_fast_route() -> None:
    async with front() as srv:
        client = WsClient(srv.port, "/echo/websocket")
        await client.start()
        await client.send_text("plain")
        assert await client.next_frame() == "plain"
        assert srv.claimed == 1 and srv.connections[0].session.transport == "raw_websocket"
        srv.connections[0].session.close(3001, "bye")
        await asyncio.wait_for(client.closed.wait(), 5)
        assert client.close_event is not None and client.close_event.code == 3001


async def test_frames_pipelined_with_the_upgrade_are_kept() -> None:
    async with front() as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(http_request("GET", "/echo/websocket", UPGRADE) + masked_text_frame("early bird"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101") and ACCEPT in head
        frame = await asyncio.wait_for(reader.readexactly(2 + len("early bird")), 5)
        assert frame == bytes((0x81, len("early bird"))) + b"early bird"
        writer.close()
        await wait_for(lambda: srv.connections[0].closed == 1)
        assert srv.claimed == 1


async def test_remote_ip_from_trusted_headers() -> None:
    async with front() as srv:
        headers = dict(UPGRADE, **{"X-Real-Ip": "203.0.113.7"})
        await exchange(srv.port, http_request("GET", "/echo/0/ip/websocket", headers), False)
        await wait_for(lambda: len(srv.connections) == 1)
        assert srv.connections[0].session.remote_ip == "203.0.113.7"


NOT_CLAIMED = [
    ("GET", "/echo/a/b/websocket", {}),
    ("GET", "/echo/a/b/websocket", dict(UPGRADE, Upgrade="h2c")),
    ("GET", "/echo/a/b/websocket", dict(UPGRADE, Connection="keep-alive")),
    ("GET", "/echo/a/b/websocket", dict(UPGRADE, **{"Sec-WebSocket-Version": "8"})),
    ("GET", "/echo/a/b/websocket", {k: v for k, v in UPGRADE.items() if k != "Sec-WebSocket-Version"}),
    ("GET", "/echo/a/b/websocket", {k: v for k, v in UPGRADE.items() if k != "Sec-WebSocket-Key"}),
    ("POST", "/echo/a/b/websocket", dict(UPGRADE, **{"Content-Length": "0"})),
    ("PUT", "/echo/a/b/websocket", dict(UPGRADE, **{"Content-Length": "0"})),
    ("POST", "/echo/websocket", {"Content-Length": "0"}),
    ("GET", "/echo/websocket", {}),
    ("GET", "/echo/a.b/c/websocket", UPGRADE),
    ("GET", "/echo/a/b/c/websocket", UPGRADE),
    ("GET", "/echo/a/b/websocket/", UPGRADE),
]


@pytest.mark.parametrize("method,path,headers", NOT_CLAIMED)
async def test_other_requests_get_the_applications_answer(method: str, path: str,
                                                          headers: dict[str, str]) -> None:
    raw = http_request(method, path, headers)
    async with front() as srv:
        fast = await exchange(srv.port, raw)
        assert srv.claimed == 0 and srv.connections == []
    async with application_only() as port:
        slow = await exchange(port, raw)
    assert comparable(fast) == comparable(slow)


async def test_the_answers_the_sockjs_protocol_checks() -> None:
    async with front() as srv:
        answer = comparable(await exchange(srv.port, http_request("GET", "/echo/a/b/websocket", {})))
        assert answer[0] == b"HTTP/1.1 400 Bad Request" and answer[2] == b'Can "Upgrade" only to "WebSocket".'
        answer = comparable(await exchange(srv.port, http_request("POST", "/echo/a/b/websocket",
                                                                   {"Content-Length": "0"})))
        assert answer[0] == b"HTTP/1.1 405 Method Not Allowed" and b"Allow: GET" in answer[1]
        bad_version = dict(UPGRADE, **{"Sec-WebSocket-Version": "7"})
        answer = comparable(await exchange(srv.port, http_request("GET", "/echo/a/b/websocket", bad_version)))
        assert answer[0].startswith(b"HTTP/1.1 426") and b"Sec-Websocket-Version: 13" in answer[1]
        assert srv.claimed == 0


@pytest.mark.parametrize("overrides,path", [({"websocket_enabled": False}, "/echo/a/b/websocket"),
                                            ({"raw_websocket": False}, "/echo/websocket")])
async def test_disabled_websockets_are_left_to_the_application(overrides: dict[str, bool], path: str) -> None:
    raw = http_request("GET", path, UPGRADE)
    async with front(**overrides) as srv:
        fast = await exchange(srv.port, raw)
        assert srv.claimed == 0
    async with application_only(**overrides) as port:
        slow = await exchange(port, raw)
    assert comparable(fast) == comparable(slow) and fast.startswith(b"HTTP/1.1 404")


async def test_tls_upgrades_through_the_fast_route(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=cert)
    srv = Front(tls=server_ctx, heartbeat_delay=5, ping_interval=5)
    try:
        sockjs = WsClient(srv.port, "/echo/0/tls/websocket", ssl=client_ctx)
        assert await sockjs.connect() == "o"
        await sockjs.send("secure")
        assert messages(await sockjs.next_frame()) == ["secure"]
        raw = WsClient(srv.port, "/echo/websocket", ssl=client_ctx)
        await raw.start()
        await raw.send_text("raw over tls")
        assert await raw.next_frame() == "raw over tls"
        assert srv.claimed == 2
        await sockjs.close()
        await raw.close()
        await wait_for(lambda: [c.closed for c in srv.connections] == [1, 1])
    finally:
        await srv.close()
