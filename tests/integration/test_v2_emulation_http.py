"""Protocol v2's HTTP streaming, SSE and ``/emulation`` at the HTTP level,
against a real sockhub process (transports/httpstream.py, app/emulation_http.py;
docs/protocol-v2.md §1.3-§1.5): exact headers, every status code and
bound, the session and node of the connect reply, commands through
``/emulation`` answered down the stream, publications, pings answered with
pongs through ``/emulation``, a disconnect push then the end of the
response, JSON and protobuf."""
from __future__ import annotations

import asyncio
import json
import signal
import urllib.parse
from typing import Any, Callable

import pytest

from app.dialects.v2 import protocol_pb2 as pb
from tests.integration.test_v2_python_client import token
from tests.support.emulation import Stream, emulation_json, post, protobuf_frame
from tests.support.server import SockhubProcess

KEY = "emulation-api-key"
CONFIG: dict[str, Any] = {"api_key": KEY, "presence": True, "history_size": 10, "history_lifetime": 60,
                          "publish": True}
JSON = {"Content-Type": "application/json", "Origin": "http://page.example"}
BINARY = {"Content-Type": "application/octet-stream"}
STREAM_HEADERS = {
    "cache-control": "private, no-cache, no-store, must-revalidate, max-age=0",
    "pragma": "no-cache",
    "expire": "0",
    "x-accel-buffering": "no",
    "connection": "keep-alive",
}

pytestmark = pytest.mark.async_timeout(60)


def connect_frame(user: str = "42", **extra: Any) -> bytes:
    lines = [json.dumps({"id": 1, "connect": {"token": token(user)}})]
    lines += [json.dumps(c) for c in extra.get("commands", [])]
    return "\n".join(lines).encode()


async def api(hub: SockhubProcess, method: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, raw = await post(hub.port, "/api/" + method, json.dumps(body).encode(),
                                {"X-API-Key": KEY, "Content-Type": "application/json"})
    assert status == 200, raw
    result: dict[str, Any] = json.loads(raw)
    assert "error" not in result, result
    return result


async def opened(hub: SockhubProcess, path: str = "/connection/http_stream") -> tuple[Stream, dict[str, Any]]:
    stream = await Stream.open(hub.port, "POST", path, connect_frame(), "sse" if path.endswith("sse") else "json",
                               JSON)
    reply = await stream.next_item()
    return stream, reply["connect"]


async def test_http_stream_json_session(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    stream, connect = await opened(hub)
    try:
        assert stream.status == 200
        assert {k: stream.headers.get(k) for k in STREAM_HEADERS} == STREAM_HEADERS
        assert "content-type" not in stream.headers  # the reference server sets none
        assert stream.headers["access-control-allow-origin"] == "http://page.example"
        session, node = connect["session"], connect["node"]
        assert session and node and connect["client"]
        status, headers, _ = await post(hub.port, "/emulation", emulation_json(
            session, node, {"id": 2, "subscribe": {"channel": "news"}}, {"id": 3, "presence": {"channel": "news"}}),
            JSON)
        assert status == 204 and headers["access-control-allow-origin"] == "http://page.example"
        assert await stream.next_item() == {"id": 2, "subscribe": {}}
        presence = await stream.next_item()
        assert [c["user"] for c in presence["presence"]["presence"].values()] == ["42"]
        await api(hub, "publish", {"channel": "news", "data": {"n": 1}})
        push = await stream.next_item()
        assert push["push"]["channel"] == "news" and push["push"]["pub"]["data"] == {"n": 1}
        await api(hub, "disconnect", {"user": "42"})
        rest = await stream.end()
        assert rest == [{"push": {"disconnect": {"code": 3503, "reason": "force disconnect"}}}], rest
    finally:
        stream.close()


async def test_api_disconnect_with_its_own_code(sockhub: Callable[..., SockhubProcess]) -> None:
    """The server API's ``disconnect`` object reaches the client as it was
    asked: its code and reason (reconnect read from the code by the SDK)."""
    hub = sockhub(CONFIG)
    for asked, seen in (({"code": 4001, "reason": "custom"}, {"code": 4001, "reason": "custom"}),
                        ({"code": 3011}, {"code": 3011, "reason": "force reconnect"}),
                        ({"code": 4100}, {"code": 4100, "reason": "force disconnect"})):
        stream, _ = await opened(hub)
        try:
            await api(hub, "disconnect", {"user": "42", "disconnect": asked})
            assert await stream.end() == [{"push": {"disconnect": seen}}]
        finally:
            stream.close()


async def test_pings_are_answered_through_emulation(sockhub: Callable[..., SockhubProcess]) -> None:
    """A ping ``{}`` every second; the pongs go through /emulation and keep
    the session past several pong timeouts; without them it is closed."""
    hub = sockhub({**CONFIG, "ping_interval": 1, "pong_timeout": 1})
    stream, connect = await opened(hub)
    try:
        for _ in range(4):
            assert await stream.next_item(5) == {}
            status, _, _ = await post(hub.port, "/emulation", emulation_json(connect["session"], connect["node"], {}),
                                      JSON)
            assert status == 204
        assert not stream.ended
        rest = await stream.end(10)  # no pongs any more
        assert rest[-1] == {"push": {"disconnect": {"code": 3012, "reason": "no pong"}}}, rest
    finally:
        stream.close()


async def test_sse_get_and_post(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    query = urllib.parse.urlencode({"cf_connect": connect_frame().decode()})
    get = await Stream.open(hub.port, "GET", "/connection/sse?" + query, kind="sse")
    posted, connect = await opened(hub, "/connection/sse")
    try:
        assert get.status == 200 and get.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert {k: get.headers.get(k) for k in STREAM_HEADERS} == STREAM_HEADERS
        first = await get.next_item()
        assert get.raw.startswith(b"\r\ndata: {")  # the prelude, then one reply per event
        session, node = first["connect"]["session"], first["connect"]["node"]
        await post(hub.port, "/emulation", emulation_json(session, node, {"id": 2, "subscribe": {"channel": "news"}},
                                                          {"id": 3, "history": {"channel": "news", "limit": 5}}),
                   JSON)
        assert await get.next_item() == {"id": 2, "subscribe": {}}
        assert (await get.next_item())["id"] == 3
        await post(hub.port, "/emulation", emulation_json(connect["session"], connect["node"],
                                                          {"id": 2, "subscribe": {"channel": "news"}},
                                                          {"id": 3, "publish": {"channel": "news", "data": {"a": 1}}}),
                   JSON)
        assert await posted.next_item() == {"id": 2, "subscribe": {}}
        assert await posted.next_item() == {"id": 3, "publish": {}}
        push = await get.next_item()
        assert push["push"]["pub"]["data"] == {"a": 1}
        assert get.raw.endswith(b"\n\n")
    finally:
        get.close()
        posted.close()


async def test_http_stream_protobuf(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    frame = protobuf_frame(pb.Command(id=1, connect=pb.ConnectRequest(token=token("7"))),
                           pb.Command(id=2, subscribe=pb.SubscribeRequest(channel="news")))
    stream = await Stream.open(hub.port, "POST", "/connection/http_stream", frame, "protobuf", BINARY)
    try:
        connect = (await stream.next_item()).connect
        assert connect.session and connect.node
        assert (await stream.next_item()).id == 2
        body = pb.EmulationRequest(session=connect.session, node=connect.node, data=protobuf_frame(
            pb.Command(id=3, publish=pb.PublishRequest(channel="news", data=b'{"p":1}')))).SerializeToString()
        status, _, _ = await post(hub.port, "/emulation", body, BINARY)
        assert status == 204
        replies = [await stream.next_item(), await stream.next_item()]
        assert {r.id for r in replies} == {0, 3}
        push = next(r for r in replies if r.id == 0)
        assert push.push.pub.data == b'{"p":1}'
    finally:
        stream.close()


async def test_status_codes_and_bounds(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    port = hub.port
    for path, methods in (("/connection/http_stream", "POST, OPTIONS"), ("/connection/sse", "GET, POST, OPTIONS"),
                          ("/emulation", "POST, OPTIONS")):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://page.example\r\n"
                     "Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n".encode())
        head = (await asyncio.wait_for(reader.read(), 10)).decode()
        writer.close()
        assert head.startswith("HTTP/1.1 204"), head
        for line in ("Access-Control-Max-Age: 300", f"Access-Control-Allow-Methods: {methods}",
                     "Access-Control-Allow-Origin: http://page.example", "Access-Control-Allow-Headers: content-type"):
            assert line in head, (path, head)
        # past 64 KiB by its Content-Length: 413 before a byte of the body is read
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {64 * 1024 + 1}\r\n\r\n".encode())
        head = (await asyncio.wait_for(reader.readline(), 10)).decode()
        writer.close()
        assert head.startswith("HTTP/1.1 413"), (path, head)
        if path == "/emulation":  # at the bound: read, then refused as malformed
            assert (await post(port, path, b"x" * 64 * 1024, JSON))[0] == 400
    for method, path in (("GET", "/connection/http_stream"), ("PUT", "/connection/sse"), ("GET", "/emulation")):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = (await asyncio.wait_for(reader.read(), 10)).decode()
        writer.close()
        assert head.startswith("HTTP/1.1 405"), (method, path, head)
    assert (await post(port, "/connection/http_stream", b"", JSON))[0] == 400
    assert (await post(port, "/connection/http_stream", b"\xff\xfe", JSON))[0] == 400
    no_connect = await Stream.open(port, "GET", "/connection/sse", kind="sse")
    assert no_connect.status == 400
    no_connect.close()
    for body in (b"not json", b'{"session":"s","node":"n","data":{"id":1}}', b'{"node":"n","data":"{}"}', b"[]"):
        assert (await post(port, "/emulation", body, JSON))[0] == 400, body
    assert (await post(port, "/emulation", b"\xff\xff\xff", BINARY))[0] == 400
    # a node this node does not know (the memory engine knows only itself)
    assert (await post(port, "/emulation", emulation_json("s", "elsewhere", {}), JSON))[0] == 404
    # this node, a session it does not hold (any more): 204, its stream has ended
    stream, connect = await opened(hub)
    stream.close()
    assert (await post(port, "/emulation", emulation_json("gone", connect["node"], {}), JSON))[0] == 204


async def test_bad_first_frames_close_with_a_push(sockhub: Callable[..., SockhubProcess]) -> None:
    """A first frame that is not a connect, or a bad token: the v2 close
    as a disconnect push, then the end of the response."""
    hub = sockhub(CONFIG)
    for body, code in ((b'{"id":1,"subscribe":{"channel":"x"}}', 3501), (b"{nonsense", 3501),
                       (b'{"id":1,"connect":{"token":"bad"}}', 3500)):
        stream = await Stream.open(hub.port, "POST", "/connection/http_stream", body, "json", JSON)
        try:
            items = await stream.end()
        finally:
            stream.close()
        assert items and items[-1]["push"]["disconnect"]["code"] == code, (body, items)


async def test_the_switches_turn_the_routes_off(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub({**CONFIG, "http_stream": False, "sse": False})
    assert (await post(hub.port, "/connection/http_stream", connect_frame(), JSON))[0] == 404
    assert (await post(hub.port, "/emulation", emulation_json("s", "n", {}), JSON))[0] == 404
    only_sse = sockhub({**CONFIG, "http_stream": False})
    assert (await post(only_sse.port, "/connection/http_stream", connect_frame(), JSON))[0] == 404
    stream, connect = await opened(only_sse, "/connection/sse")
    stream.close()
    assert connect["session"]


async def test_allowed_origins_guard_the_streams_and_emulation(sockhub: Callable[..., SockhubProcess]) -> None:
    """``allowed_origins``: a page of another origin gets 403 on both
    transports and on ``/emulation``; an allowed one, and a client that
    sends no Origin (not a browser), are served."""
    hub = sockhub({**CONFIG, "allowed_origins": ["http://page.example"]})
    stranger = dict(JSON, Origin="http://evil.example")
    for path in ("/connection/http_stream", "/connection/sse"):
        status, _, body = await post(hub.port, path, connect_frame(), stranger)
        assert (status, body) == (403, b"origin not allowed"), path
    assert (await post(hub.port, "/emulation", emulation_json("s", "n", {}), stranger))[0] == 403
    stream, connect = await opened(hub)  # Origin http://page.example
    stream.close()
    assert connect["session"]
    no_origin = {"Content-Type": "application/json"}
    stream = await Stream.open(hub.port, "POST", "/connection/http_stream", connect_frame(), "json", no_origin)
    assert (await stream.next_item())["connect"]["client"]
    stream.close()


async def test_limits_refuse_new_streams_with_503(sockhub: Callable[..., SockhubProcess]) -> None:
    """The node's connection limit (the transports' admission) turns a new
    stream away before it opens; the header wait is bounded too."""
    hub = sockhub({**CONFIG, "client_connection_limit": 1, "http_header_timeout": 1})
    stream, connect = await opened(hub)
    try:
        assert connect["session"]
        status, headers, body = await post(hub.port, "/connection/http_stream", connect_frame("7"), JSON)
        assert status == 503 and b"connection limit" in body, body
        assert headers["access-control-allow-origin"] == "http://page.example"
        # a request whose headers never end is dropped after http_header_timeout
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(b"POST /connection/http_stream HTTP/1.1\r\nHost: x\r\n")
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        stream.close()


async def test_a_ticks_pushes_leave_in_one_write(sockhub: Callable[..., SockhubProcess]) -> None:
    """Publications queued in one loop iteration (one API batch) reach the
    stream as one chunk: the registry's flush writes a session's queue at once."""
    hub = sockhub(CONFIG)
    stream, connect = await opened(hub)
    try:
        await post(hub.port, "/emulation", emulation_json(connect["session"], connect["node"],
                                                          {"id": 2, "subscribe": {"channel": "news"}}), JSON)
        assert await stream.next_item() == {"id": 2, "subscribe": {}}
        before = len(stream.chunks)
        await api(hub, "batch", {"commands": [{"publish": {"channel": "news", "data": {"n": n}}} for n in range(5)]})
        pushes = [await stream.next_item() for _ in range(5)]
        assert [p["push"]["pub"]["data"] for p in pushes] == [{"n": n} for n in range(5)]
        written = stream.chunks[before:]
        assert len(written) < 5 and max(chunk.count(b"\n") for chunk in written) >= 2, written
    finally:
        stream.close()


async def test_shutdown_ends_streams_with_a_disconnect_push(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    stream, _ = await opened(hub)
    sse, _ = await opened(hub, "/connection/sse")
    try:
        hub.signal(signal.SIGTERM)
        for each in (stream, sse):
            rest = await each.end(15)
            assert rest[-1] == {"push": {"disconnect": {"code": 3001, "reason": "shutdown"}}}, rest
        assert await asyncio.to_thread(hub.wait, 20) == 0
    finally:
        stream.close()
        sse.close()


async def test_under_http_prefix_and_over_http_1_0(sockhub: Callable[..., SockhubProcess]) -> None:
    """With ``http_prefix`` the three routes move under it; an HTTP/1.0
    stream has no ``Connection: keep-alive`` and ends with the connection."""
    hub = sockhub({**CONFIG, "http_prefix": "/rt"})
    stream = await Stream.open(hub.port, "POST", "/rt/connection/http_stream", connect_frame(), "json", JSON)
    try:
        connect = (await stream.next_item())["connect"]
        status, _, _ = await post(hub.port, "/rt/emulation", emulation_json(
            connect["session"], connect["node"], {"id": 2, "subscribe": {"channel": "news"}}), JSON)
        assert status == 204 and await stream.next_item() == {"id": 2, "subscribe": {}}
        # outside the prefix no route takes a body: the front door's 413
        assert (await post(hub.port, "/emulation", emulation_json("s", "n", {}), JSON))[0] == 413
    finally:
        stream.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
    body = connect_frame("10")
    writer.write(b"POST /rt/connection/http_stream HTTP/1.0\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    assert head.split("\r\n")[0].endswith(" 200 OK") and "Connection: keep-alive" not in head, head
    first = json.loads(await asyncio.wait_for(reader.readline(), 10))
    status, _, _ = await post(hub.port, "/rt/api/disconnect", b'{"user":"10"}', {"X-API-Key": KEY})
    assert status == 200
    rest = await asyncio.wait_for(reader.read(), 10)  # EOF: the end of an HTTP/1.0 stream
    writer.close()
    assert first["connect"]["session"] and json.loads(rest) == {
        "push": {"disconnect": {"code": 3503, "reason": "force disconnect"}}}
