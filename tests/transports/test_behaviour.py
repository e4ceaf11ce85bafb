"""One behaviour suite run over every SockJS transport against a real server."""
from __future__ import annotations

import asyncio
import json
from typing import cast

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application

from tests.support.net import free_port
from tests.transports.clients import (FrameParser, HttpClient, WsClient, collect, fetch, messages,
                                      request, sockjs_client)
from tests.transports.conftest import POLLING, serve
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.session import Session as SessionImpl
from transports.settings import SockJSSettings


async def wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition on the server side (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def next_data_frame(client: HttpClient | WsClient) -> str:
    """The next frame that is not a heartbeat."""
    while (frame := await client.next_frame()) == "h":
        pass
    return frame


async def test_open_echo_and_close(transport: str) -> None:
    async with serve() as srv:
        client = sockjs_client(srv.port, transport)
        assert await client.connect() == "o"
        conn = srv.only()
        assert conn.opened == 1 and conn.session.transport == transport
        assert await client.send("hello", "wörld") in (200, 204)
        got = await collect(client, 2)
        assert got == ["hello", "wörld"]
        assert conn.received == ["hello", "wörld"]
        await client.send("close")
        assert await next_data_frame(client) == 'c[3000,"Go away!"]'
        await wait_for(lambda: conn.closed == 1)
        assert conn.session.closed
        await client.close()
        await asyncio.sleep(0.5)  # past disconnect_delay: still exactly once
        assert conn.opened == 1 and conn.closed == 1


async def test_heartbeat_on_idle_session(transport: str) -> None:
    async with serve(heartbeat_delay=0.1) as srv:
        client = sockjs_client(srv.port, transport)
        assert await client.connect() == "o"
        assert await client.next_frame(timeout=2) == "h"
        assert await client.next_frame(timeout=2) == "h"
        await client.close()


async def test_response_limit_recycles_without_gap_or_duplicate(transport: str) -> None:
    async with serve(response_limit=1024) as srv:
        client = sockjs_client(srv.port, transport)
        assert await client.connect() == "o"
        await client.send("burst:600")
        got = await collect(client, 600)
        assert got == [str(i) for i in range(600)]
        if transport != "websocket":
            assert client.requests > 2, "the stream was never recycled"
        assert srv.only().closed == 0
        await client.close()


@pytest.mark.parametrize("transport_name", ["xhr", "jsonp", "xhr_streaming", "eventsource", "htmlfile"])
async def test_state_kept_across_reconnects(transport_name: str) -> None:
    # response_limit=1: a stream ends after its first frame, like a poll.
    async with serve(response_limit=1) as srv:
        client = HttpClient(srv.port, transport_name)
        resp = await client.open_receiver()
        first = await resp.body()
        resp.close()
        assert FrameParser(transport_name).feed(first) == ["o"]
        conn = srv.only()
        # Nobody is receiving: messages wait in the session, in order, once.
        for i in range(3):
            conn.session.send(f"m{i}")
        await asyncio.sleep(0.05)
        assert await client.connect() == 'a["m0","m1","m2"]'
        conn.session.send("m3")
        assert messages(await next_data_frame(client)) == ["m3"]
        assert conn.opened == 1 and conn.closed == 0
        await client.close()


async def test_disconnect_delay_expires_once(transport: str) -> None:
    async with serve(disconnect_delay=0.3) as srv:
        client = sockjs_client(srv.port, transport)
        if isinstance(client, HttpClient) and transport in POLLING:
            # One poll and no next one: the session waits disconnect_delay.
            resp = await client.open_receiver()
            assert FrameParser(transport).feed(await resp.body()) == ["o"]
            resp.close()
            await asyncio.sleep(0.1)
            assert srv.only().closed == 0
        else:
            # A dropped websocket or stream ends the session at once.
            assert await client.connect() == "o"
            await client.close()
        conn = srv.only()
        await wait_for(lambda: conn.closed == 1)
        await asyncio.sleep(0.5)
        assert conn.closed == 1
        assert len(srv.router.registry) == 0
        # The id is free again: a new session opens.
        again = sockjs_client(srv.port, transport, session_id=getattr(client, "session_id", None))
        assert await again.connect() == "o"
        assert len(srv.connections) == 2
        await again.close()


@pytest.mark.parametrize("transport_name", ["xhr", "jsonp", "xhr_streaming", "eventsource", "htmlfile"])
async def test_second_receiver_gets_2010(transport_name: str) -> None:
    async with serve() as srv:
        first = HttpClient(srv.port, transport_name)
        assert await first.connect() == "o"
        # its receiver (for polling: the next poll) is attached and waiting
        await wait_for(lambda: cast(SessionImpl, srv.only().session).receiving)
        second = HttpClient(srv.port, transport_name, session_id=first.session_id)
        resp = await second.open_receiver()
        body = await resp.body()
        resp.close()
        assert b"2010" in body and b"Another connection still open" in body
        conn = srv.only()
        assert conn.closed == 0
        await first.send("still")
        assert messages(await next_data_frame(first)) == ["still"]
        await first.close()


@pytest.mark.parametrize("path,methods", [
    ("/echo/info", "OPTIONS, GET"),
    ("/echo/a/b/xhr", "OPTIONS, POST"),
    ("/echo/a/b/xhr_send", "OPTIONS, POST"),
    ("/echo/a/b/xhr_streaming", "OPTIONS, POST"),
])
async def test_cors_preflight(path: str, methods: str) -> None:
    async with serve() as srv:
        resp, body = await fetch(srv.port, "OPTIONS", path, headers={
            "Origin": "https://site.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-a, x-b"})
        assert resp.status == 204 and body == b""
        assert resp.header("access-control-allow-origin") == "https://site.example"
        assert resp.header("access-control-allow-credentials") == "true"
        assert resp.header("access-control-allow-methods") == methods
        assert resp.header("access-control-allow-headers") == "x-a, x-b"
        assert int(resp.header("access-control-max-age") or 0) >= 31536000
        assert "public" in (resp.header("cache-control") or "") and resp.header("expires")


async def test_cors_and_no_cache_on_transports(http_transport: str) -> None:
    async with serve() as srv:
        client = HttpClient(srv.port, http_transport)
        resp = await request(srv.port, client.receive_method(), client.receive_path(),
                             headers={"Origin": "null"})
        assert resp.status == 200
        assert resp.header("access-control-allow-origin") == "null"
        assert resp.header("access-control-allow-credentials") == "true"
        assert resp.header("cache-control") == "no-store, no-cache, no-transform, must-revalidate, max-age=0"
        assert resp.header("set-cookie") is None
        resp.close()
        resp, _ = await fetch(srv.port, "GET", "/echo/info")
        assert resp.header("access-control-allow-origin") == "*"
        assert resp.header("access-control-allow-credentials") is None


async def test_jsessionid_cookie(http_transport: str) -> None:
    async with serve(cookie_needed=True) as srv:
        _, info = await fetch(srv.port, "GET", "/echo/info")
        assert json.loads(info)["cookie_needed"] is True
        client = HttpClient(srv.port, http_transport)
        resp = await request(srv.port, client.receive_method(), client.receive_path(),
                             headers={"Cookie": "JSESSIONID=abc123"})
        assert (resp.header("set-cookie") or "").split(";")[0] == "JSESSIONID=abc123"
        resp.close()
        other = HttpClient(srv.port, http_transport)
        resp = await request(srv.port, other.receive_method(), other.receive_path())
        assert (resp.header("set-cookie") or "").lower().startswith("jsessionid=dummy; path=/")
        resp.close()


@pytest.mark.parametrize("transport_name", ["jsonp", "htmlfile"])
async def test_jsonp_callback_validation(transport_name: str) -> None:
    async with serve() as srv:
        for n, bad in enumerate(["%20", "*", "abc(", "alert(1)//", "a%3Bb", "x" * 200]):
            resp, body = await fetch(srv.port, "GET", f"/echo/a/s{n}/{transport_name}?c={bad}")
            assert resp.status == 500 and b'invalid "callback" parameter' in body
            assert b"alert" not in body
        resp, body = await fetch(srv.port, "GET", f"/echo/a/b/{transport_name}")
        assert resp.status == 500 and b'"callback" parameter required' in body
        if transport_name == "jsonp":
            resp, body = await fetch(srv.port, "GET", "/echo/a/ok/jsonp?c=_jp.a1-b_c")
            assert body == b'/**/_jp.a1-b_c("o");\r\n'


@pytest.mark.parametrize("transport_name", ["xhr_streaming", "eventsource", "htmlfile"])
async def test_http10_streaming_ends_with_connection_close(transport_name: str) -> None:
    async with serve() as srv:
        client = HttpClient(srv.port, transport_name, version="HTTP/1.0")
        resp = await request(srv.port, client.receive_method(), client.receive_path(),
                             headers={"Connection": "Keep-Alive"}, version="HTTP/1.0")
        assert resp.header("transfer-encoding") is None and resp.header("content-length") is None
        srv.only().session.close(3000, "Go away!")
        body = await asyncio.wait_for(resp.body(), 5)  # ends only at EOF
        assert body.rstrip().endswith(b'c[3000,\\"Go away!\\"]");\n</script>') or \
            b'c[3000,"Go away!"]' in body
        resp.close()


async def test_http10_polling_and_keepalive() -> None:
    async with serve() as srv:
        conn = await __import__("asyncio").open_connection("127.0.0.1", srv.port)
        for _ in range(2):
            resp = await request(srv.port, "GET", "/echo", headers={"Connection": "Keep-Alive"},
                                 version="HTTP/1.0", conn=conn)
            assert resp.header("content-length") == "19"
            assert await resp.body() == b"Welcome to SockJS!\n"
        conn[1].close()
        resp, body = await fetch(srv.port, "POST", "/echo/a/p10/xhr")
        assert body == b"o\n" and resp.header("content-length") == "2"


async def test_raw_websocket_echo_ping_and_close() -> None:
    async with serve() as srv:
        client = WsClient(srv.port, "/echo/websocket")
        await client.start()
        await client.send_text("plain text, no framing \uffff")
        assert await client.next_frame() == "plain text, no framing \uffff"
        conn = srv.only()
        assert conn.session.transport == "raw_websocket"
        assert await client.next_frame(timeout=2) == "<ping>"
        for i in range(3):
            conn.session.send(f"m{i}")
        assert [await client.next_frame() for _ in range(3)] == ["m0", "m1", "m2"]
        conn.session.close(3001, "bye")
        await asyncio.wait_for(client.closed.wait(), 5)
        assert client.close_event is not None
        assert (client.close_event.code, client.close_event.reason) == (3001, "bye")
        await wait_for(lambda: conn.closed == 1)


async def test_websocket_handshake_errors() -> None:
    async with serve(websocket_enabled=False) as srv:
        resp, _ = await fetch(srv.port, "GET", "/echo/a/b/websocket")
        assert resp.status == 404
        _, info = await fetch(srv.port, "GET", "/echo/info")
        assert json.loads(info)["websocket"] is False
    async with serve() as srv:
        resp, _ = await fetch(srv.port, "GET", "/echo/a/b/websocket")
        assert resp.status == 400
        resp, body = await fetch(srv.port, "POST", "/echo/a/b/websocket")
        assert resp.status == 405 and resp.header("allow") == "GET" and body == b""
        assert resp.header("content-type") is None


async def test_websocket_broken_json_drops_connection() -> None:
    async with serve() as srv:
        client = WsClient(srv.port, "/echo/0/b/websocket")
        assert await client.connect() == "o"
        # Broken JSON, then a valid frame in the same TCP segment: the
        # connection is dropped and the second one never reaches the app.
        await client.send_frames(['["a', '["b"]'])
        await asyncio.wait_for(client.closed.wait(), 5)
        await wait_for(lambda: srv.only().closed == 1)
        assert srv.only().received == []


async def test_websocket_message_size_limit() -> None:
    async with serve(max_message_size=1000, max_body_size=1000) as srv:
        client = WsClient(srv.port, "/echo/0/big/websocket")
        assert await client.connect() == "o"
        await client.send_text(json.dumps(["x" * 2000]))
        await asyncio.wait_for(client.closed.wait(), 5)
        assert client.close_event is None or client.close_event.code == 1009
        assert srv.only().received == []
        resp, body = await fetch(srv.port, "POST", "/echo/0/nope/xhr")
        resp, body = await fetch(srv.port, "POST", "/echo/0/nope/xhr_send",
                                 json.dumps(["x" * 2000]).encode())
        assert resp.status == 413


async def test_static_urls() -> None:
    async with serve() as srv:
        resp, body = await fetch(srv.port, "GET", "/echo/iframe-1.6.1.html")
        assert resp.status == 200 and b'<script src="/echo/static/sockjs.min.js">' in body
        etag = resp.header("etag")
        assert etag
        resp, body = await fetch(srv.port, "GET", "/echo/iframe.html", headers={"If-None-Match": etag})
        assert resp.status == 304 and body == b""
        resp, body = await fetch(srv.port, "GET", "/echo/static/sockjs.min.js")
        assert resp.status == 200 and b"SockJS" in body
        resp, body = await fetch(srv.port, "GET", "/echo/info")
        info = json.loads(body)
        assert info["websocket"] is True and info["origins"] == ["*:*"]
        assert 0 <= info["entropy"] < 2**32


async def test_slow_application_pauses_a_flooding_websocket() -> None:
    gate = asyncio.Event()
    received: list[str] = []

    class Slow:
        def __init__(self, session: SessionHandle) -> None:
            self.session = session

        def on_open(self) -> None: ...

        async def on_message(self, text: str) -> None:
            await gate.wait()
            received.append(text)

        def on_close(self) -> None: ...

    sessions: list[SessionHandle] = []

    def factory(session: SessionHandle) -> Connection:
        sessions.append(session)
        return Slow(session)

    router = SockJSRouter(factory, "/slow", SockJSSettings())
    port = free_port()
    server = HTTPServer(Application(router.urls))
    server.listen(port, "127.0.0.1")
    client = WsClient(port, "/slow/websocket")
    try:
        await client.start()
        for i in range(2000):
            await client.send_text(str(i))
        peer = sessions[0]._sink  # type: ignore[attr-defined]
        await wait_for(lambda: not peer._transport.is_reading())
        gate.set()
        await wait_for(lambda: len(received) == 2000, timeout=10)
        assert received == [str(i) for i in range(2000)]
        await wait_for(lambda: peer._transport.is_reading())
    finally:
        await client.close()
        server.stop()
        await router.stop()
        await server.close_all_connections()


async def test_raw_websocket_close_codes_are_valid_on_the_wire() -> None:
    async with serve() as srv:
        for code, expected in ((2010, 1000), (3000, 3000), (5000, 1000)):
            client = WsClient(srv.port, "/echo/websocket")
            await client.start()
            await wait_for(lambda: len(srv.connections) and srv.connections[-1].opened == 1)
            srv.connections[-1].session.close(code, "r" * 300)
            await asyncio.wait_for(client.closed.wait(), 5)
            assert client.close_event is not None and client.close_event.code == expected
            assert client.close_event.reason == "r" * 123
            await client.close()


async def test_graceful_shutdown_delivers_queue_and_close_frame() -> None:
    async with serve() as srv:
        ws = WsClient(srv.port, "/echo/0/shut/websocket")
        assert await ws.connect() == "o"
        stream = HttpClient(srv.port, "xhr_streaming")
        assert await stream.connect() == "o"
        between_polls = HttpClient(srv.port, "xhr")
        first_poll = await between_polls.open_receiver()
        assert await first_poll.body() == b"o\n"
        first_poll.close()
        for conn in srv.connections:
            conn.session.send("bye" * 20000)
        assert srv.router.sessions_by_transport() == {"websocket": 1, "xhr_streaming": 1, "xhr": 1}
        srv.router.close_all(3001, "Server shutdown")
        # Delivered: the websocket and the stream (their clients' TCP stacks
        # took it, though they read later).  The xhr client never polls again:
        # its session expires after disconnect_delay, a client that left is
        # not counted as dropped.
        assert await asyncio.wait_for(srv.router.drain(2.0), 3) == 0
        assert srv.router.sessions_by_transport() == {}
        for client in (ws, stream):
            assert messages(await next_data_frame(client)) == ["bye" * 20000]
            assert await next_data_frame(client) == 'c[3001,"Server shutdown"]'
        assert [c.closed for c in srv.connections] == [1, 1, 1]
        await ws.close()
        await stream.close()


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    key = b"\x01\x02\x03\x04"
    return bytes((0x81, 0x80 | len(payload))) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def test_frames_pipelined_with_the_upgrade_are_kept() -> None:
    async with serve() as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        upgrade = ("GET /echo/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        # The first frame travels in the same segment as the request, so
        # Tornado has read it before the socket changes hands.
        writer.write(upgrade.encode() + masked_text_frame("early bird"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101") and b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
        frame = await asyncio.wait_for(reader.readexactly(2 + len("early bird")), 5)
        assert frame == bytes((0x81, len("early bird"))) + b"early bird"
        writer.close()
        await wait_for(lambda: srv.only().closed == 1)


async def test_pending_bytes_count_what_a_slow_reader_has_not_taken() -> None:
    async with serve() as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(("GET /echo/0/slow/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        await reader.readuntil(b"\r\n\r\n")
        session = srv.only().session
        chunk = "x" * 100_000
        for _ in range(300):  # 30 MB the client never reads
            session.send(chunk)
            await asyncio.sleep(0)
        # Beyond what the kernel buffers take, the rest waits in our buffer,
        # where the application can see it and apply its bound.
        assert session.pending_bytes > 5_000_000
        writer.close()
        await wait_for(lambda: srv.only().closed == 1)
