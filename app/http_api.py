"""The HTTP server API endpoints: the 1.x API ``POST {http_prefix}/api/``
(docs/protocol-1x.md §10) and the current-style ``POST {http_prefix}/api/<method>``
(app.dialects.v2api, docs/protocol-v2.md §9.1).

A path ``{prefix}/api/<name>`` whose name is a route of the current style
(app.dialects.v2api.runner.ROUTES: ``publish``, ``batch``, ...) is that API;
every other path under ``{prefix}/api/``, ``/api/`` itself included, is the
1.x API as before (Centrifugo 1.x served any suffix; its clients post to
``/api/``).  Both share the body limit and the checks before the envelope.

Checks, in order: body larger than ``api_max_body_size`` by its
Content-Length (413, before the body is read); a streamed (chunked) body
past the limit (413 as soon as it is, by the fast route, which then closes
the connection rather than read the rest); then, once the body is in:
shutting down (503), body larger than the limit while streamed (413), then
the 1.x request envelope, its two forms and its sign
(app.dialects.v1x.envelope: 400 or 401).  Then the node's API runs the
commands: 200 with its JSON array, or the status and message of its HttpError.
A current-style request has its own envelope after the shared checks
(app.dialects.v2api.envelope: 401, 400 or 200).

:class:`ApiRequest` holds those checks, ONE copy.  Every POST to the API path
is served by the fast route of :func:`api_fast_routes`, which skips Tornado's
Application (transports.front): on the API port, Tornado's per-request
RequestHandler, routing and Date formatting cost more than a publish.  The
application keeps the rest: other methods (405; on ``{prefix}/api`` a 301 to
``{prefix}/api/``).  ``POST {prefix}/api``, without the slash, is the
Centrifugo 2 API (app.dialects.v1api: cent 3.0.1), after the same shared
checks.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from http.client import responses
from typing import Any, Awaitable, Protocol

import tornado
from tornado import httputil
from tornado.log import access_log
from tornado.web import RequestHandler, stream_request_body

from app.core.errors import HttpError
from app.dialects.v1x.envelope import command_data
from app.dialects.v1api import lines as v1api
from app.dialects.v2api import envelope as v2api
from app.dialects.v2api.runner import ROUTES, ServerApi
from app.options import Options
from transports.front import FastRoute
from transports.tornado_compat import connection_remote_ip, response_finished

logger = logging.getLogger("sockhub.http_api")

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
#: What Tornado's RequestHandler sends in every response.
SERVER_HEADER = "TornadoServer/" + tornado.version
_OK = httputil.ResponseStartLine("HTTP/1.1", 200, "OK")


class ApiBackend(Protocol):
    """The node's API (app.dialects.v1x.api.ApiRunner): a JSON command or array in, a JSON
    array out, at once or as an awaitable when a command has to wait; raises
    (or the awaitable raises) :class:`HttpError` for a request that must fail
    as a whole."""

    def submit(self, data: bytes) -> bytes | Awaitable[bytes]: ...


class ApiContext(Protocol):
    """What the endpoint reads from the server, on every request (options can
    change with SIGHUP)."""

    @property
    def options(self) -> Options: ...

    @property
    def shutting_down(self) -> bool: ...

    @property
    def api(self) -> ApiBackend: ...

    @property
    def server_api(self) -> ServerApi:
        """The current-style API (``/api/<method>``)."""
        ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete response: status, body and its content type."""

    status: int
    body: bytes
    content_type: str = TEXT_TYPE


def text_answer(status: int, text: str) -> Answer:
    return Answer(status, (text + "\n").encode())


#: The route of ``POST {prefix}/api`` (no slash): the Centrifugo 2 API
#: (app.dialects.v1api); never a method name.
CENTRIFUGO2_ROUTE = "/"


def api_route(path: str, api_path: str) -> str | None:
    """The route of a path: under ``api_path`` (``{prefix}/api/``) a
    current-style method, or None for the 1.x API; ``api_path`` without its
    slash the Centrifugo 2 API (:data:`CENTRIFUGO2_ROUTE`)."""
    if path == api_path[:-1]:
        return CENTRIFUGO2_ROUTE
    name = path[len(api_path):]
    return name if name in ROUTES else None


def _header_length(headers: httputil.HTTPHeaders) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class ApiRequest:
    """One API POST, whatever serves it: its body as it streams in (an
    oversized one is dropped, not kept), then the checks in the order of the
    module docstring and the executor's answer."""

    __slots__ = ("_context", "_headers", "_query", "_route", "_limit", "_chunks", "_size", "_too_big")

    def __init__(self, context: ApiContext, headers: httputil.HTTPHeaders, query: str,
                 route: str | None = None) -> None:
        self._context = context
        self._route = route  # api_route(): None for the 1.x API
        self._headers = headers
        self._query = query
        self._limit = context.options.api_max_body_size
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_big = False

    def refused_by_length(self) -> Answer | None:
        """413 when the declared Content-Length is over the limit (before reading)."""
        length = _header_length(self._headers)
        if length is not None and length > self._limit:
            return self._too_large()
        return None

    def feed(self, chunk: bytes) -> Answer | None:
        """One piece of the body; past the limit, everything is dropped and
        the 413 is returned (once), for a server that answers at once."""
        if self._too_big:
            return None
        self._size += len(chunk)
        if self._size > self._limit:
            self._too_big = True
            self._chunks.clear()
            return self._too_large()
        self._chunks.append(chunk)
        return None

    def answer(self) -> Answer | Awaitable[Answer]:
        """The response, once the whole body is in: at once when the executor
        answers at once (no task needed), else an awaitable.  Never raises,
        nor does the awaitable: an unexpected executor failure is logged and
        answered 500."""
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        if self._route is not None:
            return self._current_style(body)
        try:
            data = self._checked_data(body)
        except HttpError as exc:
            return text_answer(exc.status, exc.message)
        try:
            result = self._context.api.submit(data)
        except Exception as exc:  # the loop boundary of one API request
            return _failure(exc)
        if isinstance(result, bytes):
            return Answer(200, result, JSON_TYPE)
        return _answer_later(result)

    def _current_style(self, body: bytes) -> Answer | Awaitable[Answer]:
        """``/api/<method>``: the shared checks, then its envelope."""
        context = self._context
        if context.shutting_down:
            return text_answer(503, "Service Unavailable: shutting down")
        if self._too_big:
            return self._too_large()
        assert self._route is not None
        respond = v1api.respond if self._route == CENTRIFUGO2_ROUTE else v2api.respond
        try:
            response = respond(context.server_api, context.options, self._headers, self._query, self._route, body)
        except Exception as exc:  # the loop boundary of one API request
            return _failure(exc)
        if isinstance(response, v2api.Response):
            return Answer(response.status, response.body, response.content_type)
        return _response_later(response)

    def _too_large(self) -> Answer:
        return text_answer(413, f"Request Entity Too Large: limit {self._limit} bytes")

    def _checked_data(self, body: bytes) -> bytes:
        """The command bytes of an accepted request, or HttpError."""
        if self._context.shutting_down:
            raise HttpError(503, "Service Unavailable: shutting down")
        if self._too_big:
            raise HttpError(413, f"Request Entity Too Large: limit {self._limit} bytes")
        return command_data(self._context.options, self._headers, self._query, body)


async def _answer_later(result: Awaitable[bytes]) -> Answer:
    try:
        return Answer(200, await result, JSON_TYPE)
    except Exception as exc:  # the loop boundary of one API request
        return _failure(exc)


async def _response_later(response: Awaitable[v2api.Response]) -> Answer:
    try:
        done = await response
    except Exception as exc:  # the loop boundary of one API request
        return _failure(exc)
    return Answer(done.status, done.body, done.content_type)


def _failure(exc: Exception) -> Answer:
    """The executor's HttpError as its status and message; anything else is a
    500, logged."""
    if isinstance(exc, HttpError):
        return text_answer(exc.status, exc.message)
    logger.error("API request failed", exc_info=exc)
    return text_answer(500, "Internal Server Error")


class DateHeader:
    """The HTTP Date header, formatted once per second (email.utils costs
    more than the rest of a response's headers)."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def value(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._value = httputil.format_timestamp(now)
        return self._value


class _FastApi(httputil.HTTPMessageDelegate):
    """One claimed POST, answered straight on Tornado's HTTP/1.1 connection
    (which still owns keep-alive, HTTP/1.0 and ``Expect: 100-continue``)."""

    __slots__ = ("_conn", "_request", "_date", "_start_line", "_started", "_answered", "_task")

    def __init__(self, conn: httputil.HTTPConnection, request: ApiRequest, date: DateHeader,
                 start_line: httputil.RequestStartLine) -> None:
        self._conn = conn
        self._request = request
        self._date = date
        self._start_line = start_line
        self._started = time.time()
        self._answered = False
        self._task: asyncio.Task[None] | None = None  # held: the loop only keeps weak references

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> None:
        early = self._request.refused_by_length()
        if early is not None:
            self._respond(early)  # the connection drops the body, then closes

    def data_received(self, chunk: bytes) -> None:
        if not self._answered:
            too_large = self._request.feed(chunk)
            if too_large is not None:
                self._respond(too_large)  # the rest is not read: the connection closes

    def finish(self) -> None:
        """Answer now if the executor can; only a command that waits (the
        Redis engine) costs a task, and Tornado a close callback meanwhile."""
        if self._answered:
            return
        answer = self._request.answer()
        if isinstance(answer, Answer):
            self._respond(answer)
        else:
            self._task = asyncio.get_running_loop().create_task(self._answer_later(answer))

    def on_connection_close(self) -> None:
        """Nothing to undo: a command already running completes, its answer
        is dropped by the closed connection, as with a RequestHandler."""

    async def _answer_later(self, answer: Awaitable[Answer]) -> None:
        self._respond(await answer)

    def _respond(self, answer: Answer) -> None:
        self._answered = True
        status = answer.status
        start = _OK if status == 200 else httputil.ResponseStartLine(
            "HTTP/1.1", status, responses.get(status, "Unknown"))
        headers = httputil.HTTPHeaders()  # item by item: update() costs more than the four
        headers["Server"] = SERVER_HEADER
        headers["Content-Type"] = answer.content_type
        headers["Date"] = self._date.value()
        headers["Content-Length"] = str(len(answer.body))
        self._conn.write_headers(start, headers, answer.body)
        self._conn.finish()
        self._log(status)

    def _log(self, status: int) -> None:
        """Tornado's access log line, at its levels (only 4xx/5xx are on by
        default, see app.logs)."""
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        if access_log.isEnabledFor(level):
            remote_ip = connection_remote_ip(self._conn)
            summary = f"{self._start_line.method} {self._start_line.path} ({remote_ip})"
            access_log.log(level, "%d %s %.2fms", status, summary, 1000.0 * (time.time() - self._started))


class _ApiRoute:
    """The FastRoute of the API path: claims every POST to ``{prefix}/api/...``
    (the application's rule ``{prefix}/api/.*``, matched on the path without
    the query string, as Tornado does) and to ``{prefix}/api``."""

    __slots__ = ("_context", "_path", "_date")

    def __init__(self, context: ApiContext, prefix: str) -> None:
        self._context = context
        self._path = prefix + "/api/"
        self._date = DateHeader()

    def __call__(self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders,
                 conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate | None:
        if start_line.method != "POST":
            return None
        path, _, query = start_line.path.partition("?")
        if not path.startswith(self._path) and path != self._path[:-1]:
            return None
        request = ApiRequest(self._context, headers, query, api_route(path, self._path))
        return _FastApi(conn, request, self._date, start_line)


@stream_request_body
class ApiHandler(RequestHandler):
    """The API path in the application: every method but POST is answered
    405.  POST is served by the fast route in front of the application; when
    no FrontDoor is there, it is served here through the same
    :class:`ApiRequest`."""

    SUPPORTED_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, context: ApiContext, api_path: str) -> None:
        self._context = context
        self._api_path = api_path
        self._api: ApiRequest | None = None

    def prepare(self) -> None:
        if self.request.method != "POST" and self.request.path == self._api_path[:-1]:
            self.redirect(self._api_path, permanent=True)  # as Go's mux answers
            return
        if self.request.method != "POST":
            self.set_header("Allow", "POST")
            self._send(text_answer(405, "Method Not Allowed: use POST"))
            return
        self._api = ApiRequest(self._context, self.request.headers, self.request.query,
                               api_route(self.request.path, self._api_path))
        early = self._api.refused_by_length()
        if early is not None:
            self._send(early)

    def data_received(self, chunk: bytes) -> None:
        if self._api is not None and not response_finished(self):
            self._api.feed(chunk)

    async def post(self) -> None:
        assert self._api is not None
        answer = self._api.answer()
        self._send(answer if isinstance(answer, Answer) else await answer)

    def _send(self, answer: Answer) -> None:
        self.set_status(answer.status)
        self.set_header("Content-Type", answer.content_type)
        self.finish(answer.body)

    # Every other method was answered 405 in prepare(); these only exist so
    # Tornado routes them there instead of answering itself.
    def get(self) -> None:
        pass

    head = put = delete = patch = options = get


def api_fast_routes(context: ApiContext, prefix: str = "") -> list[FastRoute]:
    """The API requests served without Tornado's Application
    (transports.front): every POST to ``{prefix}/api/...``.  bench/run.py
    api_1k: see the commit for the figures."""
    return [_ApiRoute(context, prefix)]


def api_urls(context: ApiContext, prefix: str = "") -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The rules for ``{prefix}/api/...`` and ``{prefix}/api`` (the
    Centrifugo 2 API for POST, else a 301 to ``{prefix}/api/``)."""
    return [(prefix + r"/api(?:/.*)?", ApiHandler, {"context": context, "api_path": prefix + "/api/"})]
