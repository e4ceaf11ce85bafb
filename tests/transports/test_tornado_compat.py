"""transports.tornado_compat on real Tornado objects: each accessor does what
its callers rely on, and each Tornado internal behind it is still there with
the type we read.  A failure names the internal and the accessor: after a
Tornado upgrade, adapt transports/tornado_compat.py (its docstring says why
each internal is needed), then the tornado range in setup.cfg."""
from __future__ import annotations

import asyncio
import socket
from contextlib import contextmanager
from typing import Any, Iterator

import tornado
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.iostream import IOStream
from tornado.web import Application, RequestHandler

from tests.support.net import free_port, serving
from transports.tornado_compat import (
    ContentTypeOn204,
    connection_remote_ip,
    disable_header_timeout,
    read_ahead,
    request_context,
    request_socket,
    response_finished,
    write_buffer_size,
)


def internal(owner: object, name: str, kind: type | tuple[type, ...], accessor: str) -> Any:
    """``owner.name``, asserted present and of type ``kind``, with a message
    that says which accessor of transports.tornado_compat depends on it."""
    where = f"{type(owner).__name__}.{name}"
    advice = (f"transports.tornado_compat.{accessor} relies on it; adapt that module "
              "(its docstring says why) and the tornado range in setup.cfg")
    assert hasattr(owner, name), f"Tornado {tornado.version} has no {where}: {advice}"
    value = getattr(owner, name)
    assert isinstance(value, kind), (
        f"Tornado {tornado.version}: {where} is a {type(value).__name__}, not {kind}: {advice}")
    return value


class Checks:
    """Failures of the checks a handler runs, raised by the test after its
    request (raised in a handler, Tornado would log them and answer 500, or
    hang if the internal it lost is its own)."""

    def __init__(self) -> None:
        self.failures: list[AssertionError] = []

    @contextmanager
    def inside(self) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            self.failures.append(exc)

    def raise_first(self) -> None:
        if self.failures:
            raise self.failures[0]


async def fetch(port: int, path: str, checks: Checks | None = None) -> HTTPResponse:
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}{path}", raise_error=False, request_timeout=5)
    finally:
        client.close()
    if checks is not None:
        checks.raise_first()
    return response


async def test_read_ahead_is_what_tornado_read_past_a_detached_request() -> None:
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    checks = Checks()

    class Detach(RequestHandler):
        def get(self) -> None:
            stream = self.detach()
            with checks.inside():
                internal(stream, "_read_buffer", (bytearray, bytes), "read_ahead")
            got.set_result(read_ahead(stream))
            stream.close()

    port = free_port()
    async with serving(Application([(r"/up", Detach)]), port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # One write: Tornado reads the frames behind the request with it.
        writer.write(b"GET /up HTTP/1.1\r\nHost: t\r\n\r\n\x81\x02hi\x81\x02yo")
        leftover = await asyncio.wait_for(got, 5)
        writer.close()
    checks.raise_first()
    assert leftover == b"\x81\x02hi\x81\x02yo", (
        f"Tornado {tornado.version}: read_ahead() lost the bytes read past the request "
        "(IOStream._read_buffer no longer holds them): pipelined websocket frames would be dropped")


async def test_write_buffer_size_is_what_the_stream_still_holds() -> None:
    ours, peer = socket.socketpair()
    stream = IOStream(ours)
    try:
        assert write_buffer_size(stream) == 0
        payload = b"x" * (16 << 20)  # far more than the kernel takes from a peer that reads nothing
        stream.write(payload)
        buffer = internal(stream, "_write_buffer", object, "write_buffer_size")
        assert hasattr(buffer, "__len__"), (
            f"Tornado {tornado.version}: IOStream._write_buffer has no len(): "
            "transports.tornado_compat.write_buffer_size relies on it")
        held = write_buffer_size(stream)
        assert 0 < held < len(payload), (
            f"Tornado {tornado.version}: write_buffer_size() reads {held} with 16 MiB written to a "
            "peer that reads nothing: IOStream._write_buffer no longer holds the unsent bytes")
        stream.close()
        assert write_buffer_size(stream) == 0
    finally:
        stream.close()
        peer.close()


async def test_response_finished_follows_finish() -> None:
    seen: list[bool] = []
    checks = Checks()

    class Handler(RequestHandler):
        def get(self) -> None:
            with checks.inside():
                internal(self, "_finished", bool, "response_finished")
                seen.append(response_finished(self))
            self.finish("ok")
            with checks.inside():
                seen.append(response_finished(self))

    port = free_port()
    async with serving(Application([(r"/", Handler)]), port):
        assert (await fetch(port, "/", checks)).code == 200
    assert seen == [False, True], (
        f"Tornado {tornado.version}: RequestHandler._finished no longer follows finish() "
        "(transports.tornado_compat.response_finished)")


async def test_content_type_on_204_keeps_what_tornado_strips() -> None:
    assert callable(getattr(RequestHandler, "_clear_representation_headers", None)), (
        f"Tornado {tornado.version} has no RequestHandler._clear_representation_headers: "
        "transports.tornado_compat.ContentTypeOn204 overrides it (xhr_send's 204 needs its Content-Type)")

    class Plain(RequestHandler):
        def post(self) -> None:
            self.set_status(204)
            self.set_header("Content-Type", "text/plain;charset=UTF-8")
            self.finish()

        get = post

    class Kept(ContentTypeOn204, Plain):
        pass

    port = free_port()
    async with serving(Application([(r"/plain", Plain), (r"/kept", Kept)]), port):
        plain, kept = await fetch(port, "/plain"), await fetch(port, "/kept")
    assert plain.code == kept.code == 204
    # Tornado still strips it (else the hook is moot) ...
    assert "Content-Type" not in plain.headers
    # ... through the hook the mixin overrides.
    assert kept.headers.get("Content-Type") == "text/plain;charset=UTF-8", (
        f"Tornado {tornado.version} strips Content-Type from a 204 without calling "
        "_clear_representation_headers: transports.tornado_compat.ContentTypeOn204 no longer works")


async def idle_connection_closed(port: int, wait: float) -> bool:
    """Open a connection, send nothing for ``wait`` seconds: closed by then?"""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await asyncio.sleep(wait)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            return await asyncio.wait_for(reader.read(1), 5) == b""
        except ConnectionError:
            return True
    finally:
        writer.close()


async def test_disable_header_timeout_applies_to_a_running_server() -> None:
    class Handler(RequestHandler):
        def get(self) -> None:
            self.finish("ok")

    app = Application([(r"/", Handler)])
    port = free_port()
    async with serving(app, port, idle_connection_timeout=0.3):
        assert await idle_connection_closed(port, 0.8), "control: Tornado's header timeout closes an idle connection"
    port = free_port()
    async with serving(app, port, idle_connection_timeout=0.3) as server:
        params = internal(server, "conn_params", HTTP1ConnectionParameters, "disable_header_timeout")
        internal(params, "header_timeout", (int, float), "disable_header_timeout")
        disable_header_timeout(server)  # after listen: the parameters are read per connection
        assert params.header_timeout is None
        assert not await idle_connection_closed(port, 0.8), (
            f"Tornado {tornado.version} still timed out an idle connection after "
            "disable_header_timeout(): HTTPServer.conn_params.header_timeout is no longer what it reads")


async def test_request_context_is_what_each_request_copies() -> None:
    seen: dict[str, Any] = {}
    checks = Checks()

    class Handler(RequestHandler):
        def get(self) -> None:
            with checks.inside():
                self.check()
            self.finish("ok")

        def check(self) -> None:
            conn = self.request.connection
            assert isinstance(conn, HTTP1Connection)
            context = request_context(conn)
            assert context is not None, (
                f"Tornado {tornado.version}: HTTP1Connection.context is gone "
                "(transports.tornado_compat.request_context)")
            internal(context, "remote_ip", str, "request_context")
            internal(context, "protocol", str, "request_context")
            internal(context, "trusted_downstream", (set, frozenset, list), "request_context")
            seen["remote_ip"] = connection_remote_ip(conn)
            saved = context.remote_ip, context.protocol
            context.remote_ip, context.protocol = "203.0.113.9", "https"
            later = HTTPServerRequest(connection=conn, start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
                                      headers=HTTPHeaders({"Host": "t"}))
            seen["copied"] = later.remote_ip, later.protocol
            context.remote_ip, context.protocol = saved

    port = free_port()
    async with serving(Application([(r"/", Handler)]), port):
        assert (await fetch(port, "/", checks)).code == 200
    assert seen["remote_ip"] == "127.0.0.1"
    assert seen["copied"] == ("203.0.113.9", "https"), (
        f"Tornado {tornado.version}: HTTPServerRequest no longer copies remote_ip/protocol from "
        "its connection's context: the front door's proxy headers would not apply")


async def test_request_socket_is_the_connection_socket() -> None:
    seen: dict[str, Any] = {}
    checks = Checks()

    class Handler(RequestHandler):
        def get(self) -> None:
            with checks.inside():
                internal(self.request.connection, "stream", IOStream, "request_socket")
            sock = request_socket(self.request)
            seen["local"] = sock.getsockname() if sock is not None else None
            self.finish("ok")

    port = free_port()
    async with serving(Application([(r"/", Handler)]), port):
        assert (await fetch(port, "/", checks)).code == 200
    assert seen["local"] == ("127.0.0.1", port), (
        f"Tornado {tornado.version}: request_socket() is not the connection's socket "
        "(HTTP1Connection.stream.socket)")
