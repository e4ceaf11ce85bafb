"""The front door of a port: a few hot requests skip Tornado's Application.

Tornado's ``Application`` builds a ``RequestHandler`` per request, matches
every rule's regex, formats a Date header and logs each request; for the two
requests that come by the thousand (a websocket upgrade in a connect storm, an
API publish) that bookkeeping costs more than the work itself.  A
:class:`FrontDoor` sits between Tornado's ``HTTPServer`` (which still parses
HTTP/1.1) and the application: once a request's start line and headers are in,
each fast route may claim it by returning its own ``HTTPMessageDelegate``;
every request nobody claims goes to the application unchanged.

A route must answer exactly what the application would have answered for the
requests it claims (same status codes, headers that matter, bodies); it may
claim only the ones it fully handles and leave the rest (odd methods, odd
content types) to the application.
"""
from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from tornado import httputil

#: ``(start_line, headers, request_conn) -> delegate``, or None to pass.
FastRoute = Callable[
    [httputil.RequestStartLine, httputil.HTTPHeaders, httputil.HTTPConnection],
    "httputil.HTTPMessageDelegate | None",
]


class FrontDoor(httputil.HTTPServerConnectionDelegate):
    """Tries ``routes`` in order, then hands the request to ``fallback``."""

    def __init__(self, fallback: httputil.HTTPServerConnectionDelegate,
                 routes: Sequence[FastRoute] = ()) -> None:
        self._fallback = fallback
        self._routes = tuple(routes)

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        if not self._routes:
            return self._fallback.start_request(server_conn, request_conn)
        return _Dispatch(self._fallback, self._routes, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self._fallback.on_close(server_conn)


class _Dispatch(httputil.HTTPMessageDelegate):
    """Chooses the delegate once the headers are known, then forwards to it."""

    __slots__ = ("_fallback", "_routes", "_server_conn", "_conn", "_target")

    def __init__(self, fallback: httputil.HTTPServerConnectionDelegate, routes: tuple[FastRoute, ...],
                 server_conn: object, request_conn: httputil.HTTPConnection) -> None:
        self._fallback = fallback
        self._routes = routes
        self._server_conn = server_conn
        self._conn = request_conn
        self._target: httputil.HTTPMessageDelegate | None = None

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        target = None
        for route in self._routes:
            target = route(start_line, headers, self._conn)
            if target is not None:
                break
        if target is None:
            target = self._fallback.start_request(self._server_conn, self._conn)
        self._target = target
        return target.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        assert self._target is not None
        return self._target.data_received(chunk)

    def finish(self) -> None:
        if self._target is not None:
            self._target.finish()

    def on_connection_close(self) -> None:
        if self._target is not None:
            self._target.on_connection_close()
