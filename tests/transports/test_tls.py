"""Websockets over TLS keep Tornado's SSL stream (the socket cannot change hands)."""
from __future__ import annotations

import asyncio
import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.web import Application

from tests.support.net import free_port
from tests.transports.clients import WsClient, collect
from tests.transports.conftest import FAST, Recorder
from tests.transports.test_behaviour import wait_for
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter


def make_cert(tmp: Path) -> tuple[str, str]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return str(cert), str(key)


async def test_websockets_over_tls(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=cert)
    connections: list[Recorder] = []

    def factory(session: SessionHandle) -> Connection:
        return Recorder(session, connections)

    router = SockJSRouter(factory, "/echo", replace(FAST, heartbeat_delay=5, ping_interval=5))
    port = free_port()
    server = HTTPServer(Application(router.urls), ssl_options=server_ctx)
    server.listen(port, "127.0.0.1")
    try:
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
    finally:
        server.stop()
        await router.stop()
        await server.close_all_connections()
