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

Behind a proxy (``xheaders=True``, as sockhub serves every port) the door
honours ``X-Real-Ip`` / ``X-Forwarded-For`` and ``X-Scheme`` /
``X-Forwarded-Proto`` with Tornado's rules, for the routes and the
application alike, but only for a request that carries one of them: Tornado's
own ``HTTPServer(xheaders=True)`` checks the address with a ``getaddrinfo``
on every request, ~12 µs of an API publish (bench/run.py api_1k).

With ``idle_timeout`` the door also closes a connection that waits longer
than that for a request's headers, as Tornado's ``header_timeout`` does, for
a dict entry per request instead of Tornado's ``gen.with_timeout`` (a timer,
a future and their callbacks per request; :func:`front_server` turns
Tornado's off).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Sequence

from tornado import httputil, netutil
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer

#: ``(start_line, headers, request_conn) -> delegate``, or None to pass.
FastRoute = Callable[
    [httputil.RequestStartLine, httputil.HTTPHeaders, httputil.HTTPConnection],
    "httputil.HTTPMessageDelegate | None",
]


#: The proxy headers, as HTTPHeaders spells its keys.
PROXY_HEADERS = frozenset(("X-Real-Ip", "X-Forwarded-For", "X-Scheme", "X-Forwarded-Proto"))
#: The old ``(remote_ip, protocol)`` of a connection's context, to restore.
_Saved = tuple[Any, str, str]


class FrontDoor(httputil.HTTPServerConnectionDelegate):
    """Tries ``routes`` in order, then hands the request to ``fallback``;
    with ``xheaders``, applies the proxy headers of a request that has any
    first (so routes, handlers and their requests see the client's address)."""

    def __init__(self, fallback: httputil.HTTPServerConnectionDelegate,
                 routes: Sequence[FastRoute] = (), xheaders: bool = False,
                 idle_timeout: float | None = None) -> None:
        self._fallback = fallback
        self._routes = tuple(routes)
        self._xheaders = xheaders
        self._idle = IdleReaper(idle_timeout) if idle_timeout is not None else None

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        """Called by Tornado when the connection starts waiting for a request."""
        if self._idle is not None:
            if isinstance(request_conn, HTTP1Connection):  # what Tornado's HTTPServer makes
                self._idle.waiting(server_conn, request_conn)
        elif not self._routes and not self._xheaders:
            return self._fallback.start_request(server_conn, request_conn)
        return _Dispatch(self._fallback, self._routes, server_conn, request_conn, self._xheaders, self._idle)

    def on_close(self, server_conn: object) -> None:
        if self._idle is not None:
            self._idle.arrived(server_conn)
        self._fallback.on_close(server_conn)


class IdleReaper:
    """Closes the connections that have waited ``timeout`` seconds or more
    for a request's headers (checked by one timer, armed only while some
    connection waits; a connection is closed between ``timeout`` and about
    twice that)."""

    __slots__ = ("_timeout", "_waiting", "_timer")

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._waiting: dict[object, tuple[HTTP1Connection, float]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self, server_conn: object, request_conn: HTTP1Connection) -> None:
        self._waiting[server_conn] = (request_conn, time.monotonic())
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._timeout, self._sweep)

    def arrived(self, server_conn: object) -> None:
        """The headers are in, or the connection is gone."""
        self._waiting.pop(server_conn, None)

    def _sweep(self) -> None:
        self._timer = None
        limit = time.monotonic() - self._timeout
        for server_conn, (request_conn, since) in list(self._waiting.items()):
            if since <= limit:
                del self._waiting[server_conn]
                request_conn.close()  # as Tornado on header_timeout: the request loop ends
        if self._waiting:
            self._timer = asyncio.get_running_loop().call_later(self._timeout, self._sweep)


class _Dispatch(httputil.HTTPMessageDelegate):
    """Chooses the delegate once the headers are known, then forwards to it."""

    __slots__ = ("_fallback", "_routes", "_server_conn", "_conn", "_xheaders", "_idle", "_target", "_saved")

    def __init__(self, fallback: httputil.HTTPServerConnectionDelegate, routes: tuple[FastRoute, ...],
                 server_conn: object, request_conn: httputil.HTTPConnection, xheaders: bool = False,
                 idle: IdleReaper | None = None) -> None:
        self._idle = idle
        self._fallback = fallback
        self._routes = routes
        self._server_conn = server_conn
        self._conn = request_conn
        self._xheaders = xheaders
        self._target: httputil.HTTPMessageDelegate | None = None
        self._saved: _Saved | None = None

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        if self._idle is not None:
            self._idle.arrived(self._server_conn)
        if self._xheaders and not PROXY_HEADERS.isdisjoint(headers):  # a set probe per header name
            self._saved = apply_proxy_headers(self._conn, headers)
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
        self._restore()

    def on_connection_close(self) -> None:
        if self._target is not None:
            self._target.on_connection_close()
        self._restore()

    def _restore(self) -> None:
        """The next request of the connection starts from the socket's own
        address and scheme again (as Tornado's proxy adapter does)."""
        if self._saved is not None:
            context, remote_ip, protocol = self._saved
            self._saved = None
            context.remote_ip, context.protocol = remote_ip, protocol


def apply_proxy_headers(conn: httputil.HTTPConnection, headers: httputil.HTTPHeaders) -> _Saved | None:
    """Set the connection's ``remote_ip`` and ``protocol`` from the proxy
    headers, by the rules of Tornado's ``HTTPServer(xheaders=True)``:
    ``X-Real-Ip``, else the last ``X-Forwarded-For`` entry that is not a
    trusted downstream, kept only if it is a valid IP; ``X-Scheme``, else
    ``X-Forwarded-Proto`` (its last entry), kept if http or https.  Returns
    what to restore after the request, or None without a context.

    Tornado has no public setter: ``conn.context`` (its _HTTPRequestContext)
    holds the plain ``remote_ip`` and ``protocol`` attributes that
    HTTPServerRequest copies when it is built and that HTTPServer itself
    rewrites the same way for xheaders; this is the one place we write them."""
    context = getattr(conn, "context", None)
    if context is None:
        return None
    saved: _Saved = (context, context.remote_ip, context.protocol)
    trusted = getattr(context, "trusted_downstream", ())
    ip = headers.get("X-Forwarded-For", context.remote_ip)
    for ip in (candidate.strip() for candidate in reversed(ip.split(","))):
        if ip not in trusted:
            break
    ip = headers.get("X-Real-Ip", ip)
    if netutil.is_valid_ip(ip):
        context.remote_ip = ip
    proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", context.protocol))
    if proto:
        proto = proto.split(",")[-1].strip()
    if proto in ("http", "https"):
        context.protocol = proto
    return saved


#: Tornado's default wait for a request's headers (HTTPServer idle_connection_timeout).
IDLE_TIMEOUT = 3600.0


def front_server(fallback: httputil.HTTPServerConnectionDelegate, routes: Sequence[FastRoute] = (),
                 idle_timeout: float = IDLE_TIMEOUT, **options: Any) -> HTTPServer:
    """The HTTPServer of a sockhub port: a FrontDoor that honours the proxy
    headers and closes idle connections itself, so Tornado's per-request
    xheaders pass and header timeout are off (bench/run.py api_1k: see the
    commits for the figures)."""
    server = HTTPServer(FrontDoor(fallback, routes, xheaders=True, idle_timeout=idle_timeout),
                        xheaders=False, **options)
    # HTTPServer offers no "no header timeout" argument (0 and None mean its
    # 3600 s default); its connection parameters are read per connection.
    server.conn_params.header_timeout = None
    return server
