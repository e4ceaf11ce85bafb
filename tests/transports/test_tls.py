"""Websockets over TLS keep Tornado's SSL stream (the socket cannot change hands)."""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator, cast

from tornado.httpserver import HTTPServer
from tornado.web import Application

from tests.support.net import free_port
from tests.transports.clients import WsClient, collect
from tests.transports.conftest import FAST, Recorder
from tests.transports.test_behaviour import wait_for
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.session import Session as SessionImpl


def make_cert(tmp: Path) -> tuple[str, str]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return str(cert), str(key)


@contextlib.asynccontextmanager
async def tls_echo(tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext, list[Recorder]]]:
    """An echo router served over TLS: its port, a client context that
    trusts it, and the connections it made."""
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    connections: list[Recorder] = []

    def factory(session: SessionHandle) -> Connection:
        return Recorder(session, connections)

    router = SockJSRouter(factory, "/echo", replace(FAST, heartbeat_delay=5, ping_interval=5))
    port = free_port()
    server = HTTPServer(Application(router.urls), ssl_options=server_ctx)
    server.listen(port, "127.0.0.1")
    try:
        yield port, ssl.create_default_context(cafile=cert), connections
    finally:
        server.stop()
        await router.stop()
        await server.close_all_connections()


async def test_websockets_over_tls(tmp_path: Path) -> None:
    async with tls_echo(tmp_path) as (port, client_ctx, connections):
        sockjs = WsClient(port, "/echo/0/tls/websocket", ssl=client_ctx)
        assert await sockjs.connect() == "o"
        await sockjs.send("secure", "twice")
        got = await collect(sockjs, 2)
        assert got == ["secure", "twice"]
        raw = WsClient(port, "/echo/websocket", ssl=client_ctx)
        await raw.start()
        await raw.send_text("raw over tls")
        assert await raw.next_frame() == "raw over tls"
        connections[1].session.close(3000, "Go away!")
        await asyncio.wait_for(raw.closed.wait(), 5)
        assert raw.close_event is not None and raw.close_event.code == 3000
        await sockjs.close()
        await wait_for(lambda: [c.closed for c in connections] == [1, 1])


async def test_a_tls_websocket_counts_what_tornado_still_holds(tmp_path: Path) -> None:
    """A TLS websocket's output waits in Tornado's SSL stream, not in the
    session's queue: pending_bytes (the application's slow-client bound)
    and graceful shutdown's undelivered must count it."""
    async with tls_echo(tmp_path) as (port, client_ctx, connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                                       server_hostname="localhost")
        writer.write(b"GET /echo/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        await wait_for(lambda: len(connections) == 1)
        session = connections[0].session
        chunk = "x" * (256 << 10)
        held = 0
        for _ in range(64):  # 16 MiB at most: far past what the kernel buffers
            session.send(chunk)
            await asyncio.sleep(0.01)  # flushed into the stream; the client reads nothing
            held = session.pending_bytes
            if held:
                break
        assert held > 0
        assert cast(SessionImpl, session).undelivered >= held
        writer.close()
