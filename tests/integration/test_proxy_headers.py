"""Behind nginx, the client's address reaches the sessions: sockhub's own
Server (make_app, start: the production FrontDoor, which applies the proxy
headers itself) gives a websocket, a raw websocket and an xhr-streaming
session the X-Real-Ip / X-Forwarded-For address of the request that made it."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import contextlib

from app.options import Options
from app.server import Server, make_app
from tests.support.net import free_port
from tests.transports.test_behaviour import wait_for

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
           "Sec-WebSocket-Version": "13"}


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[tuple[Server, int]]:
    port = free_port()
    server = make_app(Options(port=port, address="127.0.0.1", secret="proxy-secret"))
    await server.start()
    try:
        yield server, port
    finally:
        await server.shutdown()


async def open_with(port: int, method: str, path: str, headers: dict[str, str]) -> asyncio.StreamWriter:
    """Send one request and wait for its response head; the connection stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", "Host: x", "Content-Length: 0" if method == "POST" else "",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith((b"HTTP/1.1 101", b"HTTP/1.1 200")), head
    return writer


CASES = [
    ("GET", "/connection/0/wsid/websocket", dict(UPGRADE, **{"X-Real-Ip": "203.0.113.7"}), "203.0.113.7"),
    ("GET", "/connection/websocket", dict(UPGRADE, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}),
     "203.0.113.9"),
    ("POST", "/connection/0/xsid/xhr_streaming", {"X-Real-Ip": "2001:db8::5", "X-Scheme": "https"},
     "2001:db8::5"),
    ("POST", "/connection/0/plain/xhr_streaming", {}, "127.0.0.1"),
]


async def test_sessions_get_the_proxied_address() -> None:
    async with running() as (server, port):
        writers = []
        try:
            for method, path, headers, _ in CASES:
                writers.append(await open_with(port, method, path, headers))
            await wait_for(lambda: len(server.routers) == len(CASES))
            seen = {(s.transport, s.remote_ip) for s in server.routers.sessions()}
            assert seen == {("websocket", "203.0.113.7"), ("raw_websocket", "203.0.113.9"),
                            ("xhr_streaming", "2001:db8::5"), ("xhr_streaming", "127.0.0.1")}
        finally:
            for writer in writers:
                writer.close()
