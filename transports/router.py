"""SockJSRouter: every SockJS URL under a prefix, as Tornado rules.

Usage::

    router = SockJSRouter(connection_factory, "/connection", SockJSSettings())
    app = tornado.web.Application(router.urls + other_rules)

The router owns the session registry (one flush callback, one tick; both
start lazily on the running loop, so a router may be built before the loop).
Its handlers see it only as a :class:`~transports.host.SessionHost`.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from typing import Any, Callable

from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.web import StaticFileHandler

from transports.front import BodyRule, FastRoute
from transports.headers import origin_allowed, sockjs_origin_refused
from transports.interfaces import NO_REQUEST, ConnectionFactory, OpenRequest, kept_headers
from transports.rawws import RawWebSocket, RawWebSocketHandler
from transports.receive import SendHandler
from transports.registry import SessionRegistry
from transports.session import Session
from transports.settings import SockJSSettings
from transports.static import GreetingHandler, IframeHandler, InfoHandler
from transports.streaming import FRAMINGS, ReceiverHandler
from transports.tornado_compat import connection_remote_ip
from transports.websocket import SockJSWebSocket, SockJSWebSocketHandler
from transports.wsbase import PeerFactory, UpgradeDelegate, choose_subprotocol, upgrade_error

HTTP_TRANSPORTS = frozenset(FRAMINGS)
#: how often a graceful shutdown's drain looks at what is still undelivered
DRAIN_POLL = 0.02
#: closing handshakes stay held this much past a drain's deadline (hold_closing)
DRAIN_HOLD_MARGIN = 1.0

Rule = tuple[str, Any, dict[str, Any]]
#: ``() -> None``, or why a new session must be refused now (503 on HTTP).
Admission = Callable[[], "str | None"]


def admit_all() -> str | None:
    return None


class SockJSRouter:
    """A SockJS service at ``prefix`` (see the module docstring); the
    :class:`~transports.host.SessionHost` of its handlers."""

    def __init__(
        self,
        connection_factory: ConnectionFactory,
        prefix: str = "/connection",
        settings: SockJSSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        admission: Admission = admit_all,
    ) -> None:
        self.connection_factory = connection_factory
        #: asked before an HTTP transport makes a new session (the
        #: application's limits; a websocket is refused by the application
        #: itself once open, with a close frame)
        self.admission = admission
        self.prefix = prefix.rstrip("/")
        self.settings = settings if settings is not None else SockJSSettings()
        self.sockjs_url = self.settings.sockjs_url or self.prefix + "/static/sockjs.min.js"
        self.registry = SessionRegistry(self.settings.tick_interval, clock)
        #: the registry's (SessionHost): read per websocket flush, so a plain
        #: attribute; neither is ever rebound
        self.batches = self.registry.batches
        self.finishing = self.registry.finishing
        self.urls: list[Rule] = self._rules()
        # What the fast route claims: a subset of the websocket rules' paths.
        # No "%" (Tornado would unescape it in the session id): such paths go
        # to the application.
        base = re.escape(self.prefix)
        self._upgrade_path = re.compile(base + r"/(?:[^/.%]+/([^/.%]+)/)?websocket")

    def _rules(self) -> list[Rule]:
        base = re.escape(self.prefix)
        session = base + r"/([^/.]+)/([^/.]+)/"
        kw: dict[str, Any] = {"host": self}
        client_js = self.settings.client_js_path
        rules: list[Rule] = [
            (base + r"/?", GreetingHandler, kw),
            (base + r"/info", InfoHandler, kw),
            (base + r"/iframe(?:-[^/]*)?\.html", IframeHandler, kw),
            (base + r"/static/(" + re.escape(os.path.basename(client_js)) + r"(?:\.map)?)",
             StaticFileHandler, {"path": os.path.dirname(client_js)}),
            (session + "websocket", SockJSWebSocketHandler, kw),
            (session + "xhr_send", SendHandler, {"host": self, "jsonp": False}),
            (session + "jsonp_send", SendHandler, {"host": self, "jsonp": True}),
        ]
        for name, framing in FRAMINGS.items():
            rules.append((session + name, ReceiverHandler, {"host": self, "framing": framing}))
        if self.settings.raw_websocket:
            rules.append((base + r"/websocket", RawWebSocketHandler, kw))
        return rules

    def body_rules(self) -> list[BodyRule]:
        """What this service's requests may carry (transports.front): an
        xhr_send or jsonp_send POST up to ``max_body_size``; nothing else."""
        send = re.escape(self.prefix) + r"/[^/.]+/[^/.]+/(?:xhr_send|jsonp_send)"
        return [BodyRule(send, lambda: self.settings.max_body_size)]

    def fast_routes(self) -> list[FastRoute]:
        """The requests of this service that skip Tornado's Application
        (transports.front): valid websocket upgrades (the connect storm)."""
        return [self._upgrade_route]

    def _upgrade_route(self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders,
                       conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate | None:
        """Claim a GET to an enabled websocket URL whose headers are a valid
        upgrade; everything else (other methods, 400/404/426 answers, paths
        with escapes) is left to the application's handlers, which answer it
        as they always did."""
        if start_line.method != "GET" or not isinstance(conn, HTTP1Connection):
            return None
        match = self._upgrade_path.fullmatch(start_line.path.partition("?")[0])
        if match is None or upgrade_error(headers) is not None:
            return None
        session_id = match.group(1)
        # the address Tornado's request would report (X-Real-Ip /
        # X-Forwarded-For already applied when the server trusts them)
        remote_ip = connection_remote_ip(conn)
        make_peer: PeerFactory
        if session_id is not None:
            if not self.settings.websocket_enabled or sockjs_origin_refused(self.settings, headers.get("Origin")):
                return None  # the handler answers (404, 403)

            path, _, query = start_line.path.partition("?")
            sockjs_request = OpenRequest(path, query, "", kept_headers(headers.get_all(), self.settings.kept_headers))

            def make_peer(handshake: bytes, leftover: bytes) -> SockJSWebSocket:
                return SockJSWebSocket(self, session_id, remote_ip, sockjs_request, handshake, leftover)
        else:
            if not self.settings.raw_websocket:
                return None
            if not origin_allowed(self.settings.allowed_origins, headers.get("Origin")):
                return None  # the handler answers 403
            path, _, query = start_line.path.partition("?")
            subprotocol = choose_subprotocol(headers, self.settings.subprotocols)
            request = OpenRequest(path, query, subprotocol, kept_headers(headers.get_all(), self.settings.kept_headers))

            def make_peer(handshake: bytes, leftover: bytes) -> RawWebSocket:
                return RawWebSocket(self, remote_ip, request, handshake, leftover)
            return UpgradeDelegate(conn, make_peer, subprotocol)
        return UpgradeDelegate(conn, make_peer)

    def get_session(self, session_id: str) -> Session | None:
        """The live HTTP session with this id, if any."""
        return self.registry.get(session_id)

    def new_session(self, session_id: str, transport: str, remote_ip: str,
                    request: OpenRequest = NO_REQUEST) -> Session:
        """Create and register a session (the caller starts it)."""
        settings = self.settings
        detachable = transport in HTTP_TRANSPORTS
        heartbeat = settings.ping_interval if transport == "raw_websocket" else settings.heartbeat_delay
        session = Session(session_id, transport, remote_ip, self.registry, heartbeat,
                          settings.disconnect_delay, detachable, request)
        session.batching = settings.batching
        self.registry.add(session)
        return session

    def sessions_by_transport(self) -> dict[str, int]:
        """Open sessions per transport name."""
        return self.registry.by_transport()

    def close_all(self, code: int = 3001, reason: str = "Server shutdown") -> None:
        """Close every session (close frame after what is queued)."""
        for session in self.registry.sessions():
            session.close(code, reason)

    def hold_closing(self, timeout: float) -> None:
        """For ``timeout`` seconds no closing handshake is timed out (those
        closed with a grace period excepted): a graceful shutdown gives its
        clients that long to take their output, then :meth:`drain` ends it
        (held a little longer, so that the drain, not a timer racing it,
        decides at its deadline)."""
        self.registry.closing_held_until = self.registry.clock() + timeout + DRAIN_HOLD_MARGIN

    async def drain(self, timeout: float) -> int:
        """Graceful shutdown, after :meth:`close_all`: wait up to ``timeout``
        seconds until every session's output (queue, close frame, ending HTTP
        response) has reached its client, i.e. is acknowledged by the
        client's TCP stack, not merely handed to our socket.  Closing
        handshakes are not timed out meanwhile.  Sessions still holding
        output then are aborted; returns how many sessions and responses
        had output left.  Clients that leave on their own are not counted."""
        self.registry.flush_now()
        self.hold_closing(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delivered: set[Any] = set()
        waiting = self._undelivered(delivered)
        while waiting and loop.time() < deadline:
            await asyncio.sleep(DRAIN_POLL)
            waiting = self._undelivered(delivered)
        for item in waiting:
            if isinstance(item, Session):
                item.abort()
        return len(waiting)

    def _undelivered(self, delivered: set[Any]) -> list[Any]:
        """Sessions and ending responses that still hold output; those found
        delivered join ``delivered`` and are not asked again (a closed
        session gets no new output)."""
        waiting: list[Any] = []
        for item in [*self.registry.sessions(), *self.registry.finishing]:
            if item in delivered:
                continue
            if item.undelivered:
                waiting.append(item)
            else:
                delivered.add(item)
        return waiting

    async def stop(self) -> None:
        """Stop the tick and drop every remaining connection.  Call after
        :meth:`close_all` and :meth:`drain` for a graceful shutdown."""
        self.registry.stop()
        for session in self.registry.sessions():
            session.abort()
