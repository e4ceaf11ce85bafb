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
on every request, a large share of an API publish (bench/run.py api_1k).

With ``idle_timeout`` the door also closes a connection that waits longer
than that for its first request's headers (``keepalive_timeout``: for the
next request's, after a response), as Tornado's ``header_timeout`` does, for
a dict entry per request instead of Tornado's ``gen.with_timeout`` (a timer,
a future and their callbacks per request; :func:`front_server` turns
Tornado's off).

With ``body_limits`` the door bounds the body of every request the
application serves (the fast routes bound their own): over the limit by its
``Content-Length``, the request is answered 413 before a byte of its body is
read and without the application; a chunked body is counted as it arrives
and answered 413 past the limit; either way the connection then closes, so
nothing more is read.  Requests without a rule may carry no body at all.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from tornado import httputil, netutil
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer

from transports.tornado_compat import connection_remote_ip, disable_header_timeout, request_context

#: ``(start_line, headers, request_conn) -> delegate``, or None to pass.
FastRoute = Callable[
    [httputil.RequestStartLine, httputil.HTTPHeaders, httputil.HTTPConnection],
    "httputil.HTTPMessageDelegate | None",
]


#: The proxy headers, as HTTPHeaders spells its keys.
PROXY_HEADERS = frozenset(("X-Real-Ip", "X-Forwarded-For", "X-Scheme", "X-Forwarded-Proto"))
#: The old ``(remote_ip, protocol)`` of a connection's context, to restore.
_Saved = tuple[Any, str, str]
TOO_LARGE = httputil.ResponseStartLine("HTTP/1.1", 413, "Payload Too Large")
TOO_LARGE_BODY = b"Payload Too Large\n"

logger = logging.getLogger("sockhub.front")


@dataclass(frozen=True, slots=True)
class BodyRule:
    """Requests with one of ``methods`` to a path that ``path`` (a regex)
    matches in full, query excluded (as Tornado's rules match), may carry up
    to ``limit()`` bytes of body; ``limit`` is called per request, so a
    reloaded option applies at once."""

    path: str
    limit: Callable[[], int]
    methods: frozenset[str] = frozenset(("POST",))


class BodyLimits:
    """The body a request may carry: the limit of the first rule that
    matches it, else none at all (GET, HEAD, OPTIONS, unknown paths...)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[BodyRule]) -> None:
        self._rules = tuple((rule.methods, re.compile(rule.path), rule.limit) for rule in rules)

    def __call__(self, start_line: httputil.RequestStartLine) -> int:
        path = start_line.path.partition("?")[0]
        for methods, pattern, limit in self._rules:
            if start_line.method in methods and pattern.fullmatch(path):
                return limit()
        return 0


class FrontDoor(httputil.HTTPServerConnectionDelegate):
    """Tries ``routes`` in order, then hands the request to ``fallback``;
    with ``xheaders``, applies the proxy headers of a request that has any
    first (so routes, handlers and their requests see the client's address).
    ``idle_timeout``, ``keepalive_timeout`` and ``body_limits``: see the
    module docstring (None: no limit)."""

    def __init__(self, fallback: httputil.HTTPServerConnectionDelegate,
                 routes: Sequence[FastRoute] = (), xheaders: bool = False,
                 idle_timeout: float | None = None, keepalive_timeout: float | None = None,
                 body_limits: BodyLimits | None = None) -> None:
        self._fallback = fallback
        self._routes = tuple(routes)
        self._xheaders = xheaders
        self._limits = body_limits
        waits = (idle_timeout, idle_timeout if keepalive_timeout is None else keepalive_timeout)
        self._idle = IdleReaper(*waits) if idle_timeout is not None else None

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        """Called by Tornado when the connection starts waiting for a request."""
        if self._idle is not None:
            if isinstance(request_conn, HTTP1Connection):  # what Tornado's HTTPServer makes
                self._idle.waiting(server_conn, request_conn)
        elif not self._routes and not self._xheaders and self._limits is None:
            return self._fallback.start_request(server_conn, request_conn)
        return _Dispatch(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        if self._idle is not None:
            self._idle.gone(server_conn)
        self._fallback.on_close(server_conn)


class IdleReaper:
    """Closes the connections that wait too long for a request's headers:
    ``header_timeout`` seconds from the connection's start for its first
    request, ``keepalive_timeout`` seconds from the end of a response for
    the next one (None or 0: no limit).

    Each kind of wait is a dict in deadline order (insertion order, one
    timeout per dict), so a sweep looks at the expired entries and one more.
    One timer, armed only while some connection waits, fires at the earliest
    deadline but never sooner than ``granularity`` after the previous sweep:
    a connection is closed within its timeout plus that (a tenth of the
    shorter timeout, at most a second).  ``_served`` holds the connections
    past their first request until the door hears they closed."""

    __slots__ = ("_header", "_keepalive", "_new", "_kept", "_served", "_granularity",
                 "_timer", "_timer_at")

    def __init__(self, header_timeout: float | None, keepalive_timeout: float | None = None) -> None:
        self._header = header_timeout or None
        self._keepalive = keepalive_timeout or None
        self._new: dict[object, tuple[HTTP1Connection, float]] = {}
        self._kept: dict[object, tuple[HTTP1Connection, float]] = {}
        self._served: set[object] = set()
        shortest = min((t for t in (self._header, self._keepalive) if t), default=1.0)
        self._granularity = max(0.01, min(1.0, shortest / 10))
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def waiting(self, server_conn: object, request_conn: HTTP1Connection) -> None:
        """The connection starts waiting for a request's headers."""
        if server_conn in self._served:
            queue, timeout = self._kept, self._keepalive
        else:
            queue, timeout = self._new, self._header
        if timeout is None:
            return
        deadline = time.monotonic() + timeout
        queue[server_conn] = (request_conn, deadline)
        if deadline < self._timer_at:
            self._arm(deadline)

    def arrived(self, server_conn: object) -> None:
        """The headers are in."""
        if server_conn in self._served:
            self._kept.pop(server_conn, None)
        else:
            self._new.pop(server_conn, None)
            self._served.add(server_conn)

    def gone(self, server_conn: object) -> None:
        """The connection closed (or left HTTP: a websocket)."""
        self._new.pop(server_conn, None)
        self._kept.pop(server_conn, None)
        self._served.discard(server_conn)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        delay = max(0.0, when - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._sweep)

    def _sweep(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = time.monotonic()
        heads: list[float] = []
        for queue in (self._new, self._kept):
            while queue:
                server_conn, (request_conn, deadline) = next(iter(queue.items()))
                if deadline > now:
                    heads.append(deadline)
                    break
                del queue[server_conn]
                request_conn.close()  # as Tornado on header_timeout: the request loop ends
        if heads:
            self._arm(max(min(heads), now + self._granularity))


class _Dispatch(httputil.HTTPMessageDelegate):
    """Chooses the delegate once the headers are known, then forwards to it;
    counts a chunked body the application would get against its limit."""

    # _start is only set with _left (a chunked body to count), for the log line.
    __slots__ = ("_door", "_server_conn", "_conn", "_target", "_saved", "_left", "_start")

    def __init__(self, door: FrontDoor, server_conn: object, request_conn: httputil.HTTPConnection) -> None:
        self._door = door
        self._server_conn = server_conn
        self._conn = request_conn
        self._target: httputil.HTTPMessageDelegate | None = None
        self._saved: _Saved | None = None
        self._left: int | None = None  # bytes of chunked body still allowed

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        door = self._door
        if door._idle is not None:
            door._idle.arrived(self._server_conn)
        if door._xheaders and not PROXY_HEADERS.isdisjoint(headers):  # a set probe per header name
            self._saved = apply_proxy_headers(self._conn, headers)
        target = None
        for route in door._routes:
            target = route(start_line, headers, self._conn)
            if target is not None:
                break
        if target is None:
            if door._limits is not None and not self._body_allowed(door._limits, start_line, headers):
                return None
            target = door._fallback.start_request(self._server_conn, self._conn)
        self._target = target
        return target.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._left is not None:
            self._left -= len(chunk)
            if self._left < 0:
                self._too_large()
                return None
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

    def _body_allowed(self, limits: BodyLimits, start_line: httputil.RequestStartLine,
                      headers: httputil.HTTPHeaders) -> bool:
        """False (413 sent) for a body declared over the limit of its rule;
        a chunked one is counted in :meth:`data_received`.  A request
        without a body costs two header probes."""
        length = headers.get("Content-Length")
        chunked = "Transfer-Encoding" in headers
        if length is None and not chunked:
            return True
        limit = limits(start_line)
        declared = declared_length(length)
        if declared is not None and declared > limit:
            self._refuse(start_line, limit)
            return False
        if chunked:
            self._left, self._start = limit, start_line
        return True

    def _too_large(self) -> None:
        """The chunked body went past its limit: the application forgets the
        request, and the client gets the 413."""
        target, self._target, self._left = self._target, None, None
        if target is not None:
            target.on_connection_close()  # drops what it buffered
        self._refuse(self._start, None)

    def _refuse(self, start_line: httputil.RequestStartLine, limit: int | None) -> None:
        """413 with ``Connection: close``; Tornado closes the connection once
        it is written, as the body was not read (nothing more is)."""
        remote_ip = connection_remote_ip(self._conn)
        logger.info("413 %s %s (%s): body over its limit%s", start_line.method, start_line.path, remote_ip,
                    "" if limit is None else f" of {limit} bytes")
        body = b"" if start_line.method == "HEAD" else TOO_LARGE_BODY
        headers = httputil.HTTPHeaders()
        headers["Content-Type"] = "text/plain; charset=utf-8"
        headers["Content-Length"] = str(len(TOO_LARGE_BODY))
        headers["Connection"] = "close"
        self._conn.write_headers(TOO_LARGE, headers, body)
        self._conn.finish()

    def _restore(self) -> None:
        """The next request of the connection starts from the socket's own
        address and scheme again (as Tornado's proxy adapter does)."""
        if self._saved is not None:
            context, remote_ip, protocol = self._saved
            self._saved = None
            context.remote_ip, context.protocol = remote_ip, protocol


def declared_length(value: str | None) -> int | None:
    """A Content-Length value as Tornado reads it (repeated equal values
    joined by commas count once), or None when absent or not a number
    (Tornado answers that 400 itself)."""
    if value is None:
        return None
    try:
        return int(value.partition(",")[0].strip())
    except ValueError:
        return None


def apply_proxy_headers(conn: httputil.HTTPConnection, headers: httputil.HTTPHeaders) -> _Saved | None:
    """Set the connection's ``remote_ip`` and ``protocol`` from the proxy
    headers, by the rules of Tornado's ``HTTPServer(xheaders=True)``:
    ``X-Real-Ip``, else the last ``X-Forwarded-For`` entry that is not a
    trusted downstream, kept only if it is a valid IP; ``X-Scheme``, else
    ``X-Forwarded-Proto`` (its last entry), kept if http or https.  Returns
    what to restore after the request, or None without a context.

    Tornado has no public setter: the connection's request context
    (:func:`transports.tornado_compat.request_context`) holds the plain
    ``remote_ip`` and ``protocol`` attributes that HTTPServerRequest copies
    when it is built and that HTTPServer itself rewrites the same way for
    xheaders; this is the one place we write them."""
    context = request_context(conn)
    if context is None:
        return None
    saved: _Saved = (context, context.remote_ip, context.protocol)
    trusted = getattr(context, "trusted_downstream", ())
    ip = context.remote_ip
    # the right-most address of X-Forwarded-For that is not a trusted proxy
    for candidate in reversed(headers.get("X-Forwarded-For", ip).split(",")):
        ip = candidate.strip()
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


#: The default wait for a request's headers (sockhub's http_header_timeout;
#: Tornado's own default, its idle_connection_timeout, is an hour).
IDLE_TIMEOUT = 30.0


class FrontServer(HTTPServer):
    """Tornado's HTTPServer, which tells its own delegate (the FrontDoor)
    when a connection ends: ``HTTPServer.on_close`` only forgets the
    connection, so without this the door never heard of a connection that
    closed while it waited for a request, and the idle reaper kept its entry
    (the connection, its stream and request context) until the timeout."""

    def on_close(self, server_conn: object) -> None:
        super().on_close(server_conn)
        if isinstance(self.request_callback, httputil.HTTPServerConnectionDelegate):
            self.request_callback.on_close(server_conn)


def front_server(fallback: httputil.HTTPServerConnectionDelegate, routes: Sequence[FastRoute] = (),
                 idle_timeout: float = IDLE_TIMEOUT, keepalive_timeout: float | None = None,
                 body_limits: BodyLimits | None = None, **options: Any) -> HTTPServer:
    """The HTTPServer of a sockhub port: a FrontDoor that honours the proxy
    headers, closes idle connections and bounds bodies itself (see
    :class:`FrontDoor`), so Tornado's per-request xheaders pass and header
    timeout are off (bench/run.py api_1k: see the commits for the figures)."""
    door = FrontDoor(fallback, routes, xheaders=True, idle_timeout=idle_timeout,
                     keepalive_timeout=keepalive_timeout, body_limits=body_limits)
    server = FrontServer(door, xheaders=False, **options)
    # HTTPServer offers no "no header timeout" argument (0 and None mean its
    # 3600 s default): the door has its own.
    disable_header_timeout(server)
    return server
