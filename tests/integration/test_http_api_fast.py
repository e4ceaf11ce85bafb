"""The API's fast route (app.http_api.api_fast_routes in a FrontDoor in front
of the application, as app.server wires them) over a real socket: every
status of docs/protocol-1x.md §10, each answered exactly as the application alone
answers it; keep-alive with several requests on one connection, HTTP/1.0, a
streamed oversized body (413 at the limit, connection closed); requests it does not claim reach the application."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable

import pytest
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.web import Application

from app.core.errors import HttpError
from app.dialects.v1x.auth import api_sign
from app.engines.memory import MemoryEngine
from app.http_api import api_fast_routes, api_urls
from app.node import Node
from app.options import Options
from tests.support.net import free_port
from transports.front import front_server

SECRET = "fast-secret"
PUBLISH = b'{"method":"publish","params":{"channel":"news","data":{"text":"hi"}}}'
OK_ITEMS = [{"method": "publish", "error": None, "body": None}]
LIMIT = 2000


class ScriptedApi:
    """The node's real executor, except for a few data values that script
    what the HTTP layer must cope with: a crash, an answer that waits, and a
    request that fails while waiting."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def submit(self, data: bytes) -> bytes | Awaitable[bytes]:
        if data == b'"boom"':
            raise RuntimeError("boom")
        if data == b'"later"':
            return self._later(data)
        if data == b'"later-503"':
            return self._later(data, HttpError(503, "Service Unavailable: engine error"))
        return self._real.submit(data)

    async def _later(self, data: bytes, error: Exception | None = None) -> bytes:
        await asyncio.sleep(0.01)
        if error is not None:
            raise error
        return await self._real.execute(PUBLISH)


@dataclass
class Context:
    """What app.http_api reads from the server (ApiContext)."""

    options: Options
    api: Any
    shutting_down: bool = False
    server_api: Any = None


class CountingApplication(httputil.HTTPServerConnectionDelegate):
    """The application, counting the requests that reach it (not the fast route)."""

    def __init__(self, app: Application) -> None:
        self._app = app
        self.requests = 0

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> Any:
        return _Counted(self, self._app.start_request(server_conn, request_conn))

    def on_close(self, server_conn: object) -> None:
        self._app.on_close(server_conn)


class _Counted(httputil.HTTPMessageDelegate):
    """A request of the application: counted once its headers are in."""

    def __init__(self, owner: CountingApplication, inner: httputil.HTTPMessageDelegate) -> None:
        self._owner = owner
        self._inner = inner

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> Any:
        self._owner.requests += 1
        return self._inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        return self._inner.data_received(chunk)

    def finish(self) -> None:
        self._inner.finish()

    def on_connection_close(self) -> None:
        self._inner.on_connection_close()


@dataclass
class Served:
    port: int
    app: CountingApplication
    context: Context
    server: HTTPServer = field(repr=False)


def make_context(**overrides: Any) -> Context:
    options = Options(**{"secret": SECRET, "api_max_body_size": LIMIT, **overrides})
    node = Node(options, MemoryEngine(options))
    return Context(options, ScriptedApi(node.api), server_api=node.server_api)


def serve(context: Context, fast: bool = True, prefix: str = "") -> Served:
    """The API port as app.server builds it; ``fast`` False: the application alone."""
    app = CountingApplication(Application(api_urls(context, prefix)))
    server = front_server(app, api_fast_routes(context, prefix) if fast else (),
                          max_body_size=100 * 1024 * 1024)
    port = free_port()
    server.listen(port, "127.0.0.1")
    return Served(port, app, context, server)


@pytest.fixture
def servers() -> list[Served]:
    return []


async def stop(served: list[Served]) -> None:
    for s in served:
        s.server.stop()
        await s.server.close_all_connections()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def comparable(self) -> tuple[int, str, bytes]:
        return self.status, self.headers.get("content-type", ""), self.body


@contextlib.asynccontextmanager
async def connected(fast: bool = True) -> AsyncIterator[tuple[Served, "Connection"]]:
    """A fresh API port (see :func:`serve`) and one raw connection to it,
    both closed afterwards."""
    served = serve(make_context(), fast=fast)
    conn = await Connection.open(served.port)
    try:
        yield served, conn
    finally:
        conn.close()
        await stop([served])


def request(path: str, body: bytes, headers: dict[str, str] | None = None, version: str = "HTTP/1.1",
            method: str = "POST") -> bytes:
    lines = [f"{method} {path} {version}", "Host: test", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(path: str, body: bytes, headers: dict[str, str], size: int = 500) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode()
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def signed_json(body: bytes, path: str = "/api/", sign: str | None = "auto") -> bytes:
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["X-API-Sign"] = api_sign(SECRET, body) if sign == "auto" else sign
    return request(path, body, headers)


def form(fields: dict[str, bytes | str], query: dict[str, bytes | str] | None = None,
         content_type: str = "application/x-www-form-urlencoded") -> bytes:
    path = "/api/" + ("?" + urllib.parse.urlencode(query) if query else "")
    return request(path, urllib.parse.urlencode(fields).encode(), {"Content-Type": content_type})


class Connection:
    """One raw HTTP/1.x connection: write requests, read replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, raw: bytes) -> Reply:
        self.writer.write(raw)
        return await self.reply()

    async def reply(self) -> Reply:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin1").rstrip("\r\n").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers["content-length"]))
        return Reply(int(status_line.split()[1]), headers, body)

    async def closed_by_server(self) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(1), 2) == b""
        except (ConnectionError, asyncio.TimeoutError):
            return False

    def close(self) -> None:
        self.writer.close()


async def one(port: int, raw: bytes) -> Reply:
    conn = await Connection.open(port)
    try:
        return await conn.send(raw)
    finally:
        conn.close()


OVERSIZED = json.dumps({"method": "publish", "params": {"channel": "c", "data": "x" * 3000}}).encode()
#: (name, context overrides, shutting down, request, status, text in the body)
CASES: list[tuple[str, dict[str, Any], bool, bytes, int, str]] = [
    ("json", {}, False, signed_json(PUBLISH), 200, '"method":"publish"'),
    ("json suffix", {}, False, signed_json(PUBLISH, path="/api/project"), 200, '"method":"publish"'),
    ("form body", {}, False, form({"data": PUBLISH, "sign": api_sign(SECRET, PUBLISH)}), 200, "publish"),
    ("form query", {}, False, form({}, {"data": PUBLISH, "sign": api_sign(SECRET, PUBLISH)}), 200, "publish"),
    ("form body and query", {}, False, form({"data": PUBLISH}, {"sign": api_sign(SECRET, PUBLISH)}), 200, "publish"),
    ("shutting down", {}, True, signed_json(PUBLISH), 503, "shutting down"),
    ("413 by length", {}, False, signed_json(OVERSIZED), 413, "limit 2000 bytes"),
    ("413 streamed", {}, False,
     chunked("/api/", OVERSIZED, {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, OVERSIZED)}),
     413, "limit 2000 bytes"),
    ("missing sign", {}, False, signed_json(PUBLISH, sign=None), 400, "missing sign"),
    ("empty data", {}, False, signed_json(b""), 400, "empty data"),
    ("no secret", {"secret": ""}, False, signed_json(PUBLISH, sign="a" * 64), 400, "no secret configured"),
    ("bad form", {}, False, form({"data": "x"}, content_type="multipart/form-data"), 400, "Invalid multipart"),
    ("wrong sign", {}, False, signed_json(PUBLISH, sign="0" * 64), 401, "wrong sign"),
    ("insecure api", {"insecure_api": True}, False, signed_json(PUBLISH, sign=None), 200, "publish"),
    ("insecure empty", {"insecure_api": True}, False, form({}), 400, "empty data"),
    ("executor 400", {}, False, signed_json(b"{not json"), 400, "malformed JSON"),
    ("crash", {}, False, signed_json(b'"boom"'), 500, "Internal Server Error"),
    ("waits", {}, False, signed_json(b'"later"'), 200, "publish"),
    ("fails waiting", {}, False, signed_json(b'"later-503"'), 503, "engine error"),
]


@pytest.mark.parametrize("name, overrides, shutting_down, raw, status, text", CASES, ids=[c[0] for c in CASES])
async def test_every_status_as_the_application_answers_it(name: str, overrides: dict[str, Any], shutting_down: bool,
                                                          raw: bytes, status: int, text: str) -> None:
    context = make_context(**overrides)
    context.shutting_down = shutting_down
    fast, alone = serve(context), serve(context, fast=False)
    try:
        reply, expected = await one(fast.port, raw), await one(alone.port, raw)
        assert reply.status == status and text in reply.body.decode(), (reply, expected)
        assert reply.comparable == expected.comparable
        wanted_type = "application/json" if status == 200 else "text/plain; charset=utf-8"
        assert reply.headers["content-type"] == wanted_type
        assert set(reply.headers) == set(expected.headers)  # Server, Date, Content-Length too
        assert fast.app.requests == 0 and alone.app.requests == 1
        if status == 200:
            assert json.loads(reply.body) == OK_ITEMS
    finally:
        await stop([fast, alone])


async def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    async with connected() as (served, conn):
        answers = []
        for raw in (signed_json(PUBLISH), signed_json(PUBLISH, sign="0" * 64), signed_json(b'"later"'),
                    signed_json(b"[]"), form({"data": PUBLISH, "sign": api_sign(SECRET, PUBLISH)}),
                    chunked("/api/", PUBLISH, {"Content-Type": "application/json",
                                               "X-API-Sign": api_sign(SECRET, PUBLISH)}),
                    signed_json(b'"boom"'), signed_json(PUBLISH)):
            reply = await conn.send(raw)
            assert "connection" not in reply.headers
            answers.append(reply.status)
        assert answers == [200, 401, 200, 400, 200, 200, 500, 200]
        assert served.app.requests == 0


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with connected() as (_, conn):
        conn.writer.write(signed_json(b'"later"') + signed_json(PUBLISH, sign="0" * 64) + signed_json(PUBLISH))
        assert [(await conn.reply()).status for _ in range(3)] == [200, 401, 200]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "application"])
async def test_http_10(fast: bool) -> None:
    served = serve(make_context(), fast=fast)
    try:
        plain = await Connection.open(served.port)
        reply = await plain.send(request("/api/", PUBLISH, {"Content-Type": "application/json",
                                                           "X-API-Sign": api_sign(SECRET, PUBLISH)}, "HTTP/1.0"))
        assert reply.status == 200 and json.loads(reply.body) == OK_ITEMS
        assert await plain.closed_by_server()
        plain.close()
        kept = await Connection.open(served.port)
        raw = request("/api/", PUBLISH, {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, PUBLISH),
                                         "Connection": "keep-alive"}, "HTTP/1.0")
        for _ in range(2):
            reply = await kept.send(raw)
            assert reply.status == 200 and reply.headers["connection"] == "Keep-Alive"
        kept.close()
        assert served.app.requests == (0 if fast else 3)
    finally:
        await stop([served])


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "application"])
async def test_413_before_the_body_closes_the_connection(fast: bool) -> None:
    """Answered before the body is read: Tornado's connection drops the rest
    of the body and then the connection, whoever answered."""
    async with connected(fast) as (_, conn):
        reply = await conn.send(signed_json(OVERSIZED))
        assert reply.status == 413
        assert await conn.closed_by_server()


async def test_streamed_413_is_answered_at_the_limit_and_closes_the_connection() -> None:
    """A chunked body past the limit is answered 413 as soon as it is, the
    rest not read (issue 11): the body's end is never sent here."""
    async with connected() as (_, conn):
        headers = {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, OVERSIZED)}
        unfinished = chunked("/api/", OVERSIZED, headers)[:-len(b"0\r\n\r\n")]
        assert (await conn.send(unfinished)).status == 413
        assert await conn.closed_by_server()


async def test_requests_it_does_not_claim_reach_the_application() -> None:
    context = make_context()
    plain, prefixed = serve(context), serve(context, prefix="/rt")
    try:
        for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
            reply = await one(plain.port, request("/api/", b"", method=method))
            assert reply.status == 405 and reply.headers["allow"] == "POST", method
            assert reply.body == b"Method Not Allowed: use POST\n"
        redirect = await one(plain.port, request("/api", b"", method="GET"))
        assert redirect.status == 301 and redirect.headers["location"] == "/api/"
        # POST /api is claimed: the Centrifugo 2 API, which wants its key
        assert (await one(plain.port, signed_json(PUBLISH, path="/api"))).status == 401
        assert (await one(plain.port, signed_json(PUBLISH, path="/apix/"))).status == 404
        assert plain.app.requests == 7
        assert (await one(prefixed.port, signed_json(PUBLISH))).status == 404
        assert (await one(prefixed.port, signed_json(PUBLISH, path="/rt/api/x?y=1"))).status == 200
        assert prefixed.app.requests == 1
    finally:
        await stop([plain, prefixed])


@pytest.fixture
def records() -> AsyncIterator[list[logging.LogRecord]]:
    """What sockhub.http_api and tornado.access log (whatever app.logs did to them)."""
    found: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = found.append  # type: ignore[method-assign]
    loggers = [logging.getLogger("sockhub.http_api"), logging.getLogger("tornado.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
    yield found  # type: ignore[misc]
    for logger, level in zip(loggers, levels):
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_a_crash_is_logged_and_errors_reach_the_access_log(records: list[logging.LogRecord]) -> None:
    served = serve(make_context())
    try:
        assert (await one(served.port, signed_json(b'"boom"'))).status == 500
        assert (await one(served.port, signed_json(PUBLISH, sign="0" * 64))).status == 401
        assert (await one(served.port, signed_json(PUBLISH))).status == 200
        crash = [r for r in records if r.name == "sockhub.http_api"]
        assert len(crash) == 1 and crash[0].exc_info is not None and "boom" in str(crash[0].exc_info[1])
        access = [(r.levelno, r.getMessage().split(" (")[0]) for r in records if r.name == "tornado.access"]
        assert access == [(logging.ERROR, "500 POST /api/"), (logging.WARNING, "401 POST /api/")]
    finally:
        await stop([served])


async def test_a_client_gone_before_a_waiting_answer_harms_nothing(records: list[logging.LogRecord]) -> None:
    served = serve(make_context())
    try:
        conn = await Connection.open(served.port)
        conn.writer.write(signed_json(b'"later"'))
        await conn.writer.drain()
        conn.close()
        await asyncio.sleep(0.1)  # the answer comes after the connection closed
        assert (await one(served.port, signed_json(PUBLISH))).status == 200
        assert [r for r in records if r.name == "sockhub.http_api" or r.levelno >= logging.ERROR] == []
    finally:
        await stop([served])


def current(route: str, body: bytes, **headers: str) -> bytes:
    """A POST to the current-style API (``/api/<route>``)."""
    fields = {"X-API-Key": "k", **headers}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value)
    return (f"POST /api/{route} HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n").encode() + body


CURRENT_PUBLISH = b'{"channel":"news","data":{"text":"hi"}}'
#: (name, context overrides, shutting down, request, status, body, content type)
CURRENT: list[tuple[str, dict[str, Any], bool, bytes, int, bytes, str]] = [
    ("publish", {}, False, current("publish", CURRENT_PUBLISH), 200, b'{"result":{}}', "application/json"),
    ("query key", {}, False, current("publish?api_key=k", CURRENT_PUBLISH, **{"X-API-Key": ""}), 200,
     b'{"result":{}}', "application/json"),
    ("batch", {}, False, current("batch", b'{"commands":[{"publish":' + CURRENT_PUBLISH + b"}]}"), 200,
     b'{"replies":[{"publish":{}}]}', "application/json"),
    ("command error", {}, False, current("publish", b'{"channel":"news"}'), 200,
     b'{"error":{"code":107,"message":"bad request"}}', "application/json"),
    ("transport mode", {}, False, current("publish", b'{"channel":"x:y","data":1}', **{
        "X-Centrifugo-Error-Mode": "transport"}), 404, b'{"code":102,"message":"unknown channel"}',
     "application/json"),
    ("wrong key", {}, False, current("publish", CURRENT_PUBLISH, **{"X-API-Key": "nope"}), 401, b"",
     "text/plain; charset=utf-8"),
    ("no key set", {"api_key": ""}, False, current("info", b"{}"), 401, b"", "text/plain; charset=utf-8"),
    ("bad body", {}, False, current("info", b"[]"), 400,
     b'{"error":{"code":107,"message":"bad request: a JSON object expected"}}', "application/json"),
    ("bad batch", {}, False, current("batch", b'{"commands":5}'), 400,
     b'{"error":{"code":107,"message":"bad request: commands: list expected"}}', "application/json"),
    ("shutting down", {}, True, current("publish", CURRENT_PUBLISH), 503,
     b"Service Unavailable: shutting down\n", "text/plain; charset=utf-8"),
    ("413 by length", {}, False, current("publish", b" " * (LIMIT + 1)), 413,
     b"Request Entity Too Large: limit 2000 bytes\n", "text/plain; charset=utf-8"),
]


@pytest.mark.parametrize("name, overrides, shutting_down, raw, status, body, content_type", CURRENT,
                         ids=[c[0] for c in CURRENT])
async def test_current_style_as_the_application_answers_it(name: str, overrides: dict[str, Any],
                                                           shutting_down: bool, raw: bytes, status: int,
                                                           body: bytes, content_type: str) -> None:
    context = make_context(**{"api_key": "k", **overrides})
    context.shutting_down = shutting_down
    fast, alone = serve(context), serve(context, fast=False)
    try:
        reply, expected = await one(fast.port, raw), await one(alone.port, raw)
        assert (reply.status, reply.body) == (status, body), reply
        assert reply.comparable == expected.comparable
        assert reply.headers["content-type"] == content_type
        assert fast.app.requests == 0 and alone.app.requests == 1
    finally:
        await stop([fast, alone])
