"""The admin websocket ``/socket`` (docs/protocol-1x.md §11) and the hub of watchers.

An admin socket speaks the HTTP API's command format, ``{"uid","method",
"params"}`` or an array of them, and every reply is an array of
``{"uid"?,"method","error","body"}`` items in command order.  Three methods
are the admin's own (``connect``, ``ping``, ``info``); every other method is
handed, one command at a time, to the node's API runner, so the admin and the
HTTP API share one dispatch table (the executor's) and cannot drift apart.

Before a successful ``connect {token, watch}`` any message closes the socket
(1008), and so does a socket that sent nothing for
``stale_connection_close_delay`` seconds; with ``insecure_admin`` sockets
start authenticated.  Unlike 1.8,
replies are sent whether or not ``watch`` is on; ``watch`` only decides who
receives the live ``{"method":"message","error":null,"body":<Message>}``
pushes that :meth:`AdminHub.broadcast` fans out.

Beyond 1.8: ``connect {..., "events": true}`` also receives the live events
of every node (app.core.events), ``{"method":"events","error":null,"body":
<batch>}``; a socket that has :data:`EVENTS_MAX_PENDING` pushes unwritten
skips batches and is told how many events it missed
(``{"method":"events_lost","error":null,"body":{"lost":n}}``) before the
next batch it gets.  ``series`` answers every node's samples of the last 15
minutes for the charts (app.core.series).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from tornado.web import RedirectHandler, RequestHandler, StaticFileHandler
from tornado.websocket import WebSocketClosedError, WebSocketHandler

import app
from app.admin_auth import AdminGate, AuthHandler
from app.admin_throttle import LoginThrottle, login_policy
from app.core.errors import HttpError
from app.options import Options
from app.resources import admin_folder
from transports.strictjson import loads

logger = logging.getLogger("sockhub.admin")

#: Pushes queued and not yet written to one admin socket before it is closed
#: as too slow (a stuck browser tab must not hold the node's memory).
MAX_PENDING_PUSHES = 1000
#: Pushes unwritten past which a socket skips event batches (counted, not closed).
EVENTS_MAX_PENDING = 50
#: Option names whose values ``info`` never shows.
_HIDDEN = frozenset({"secret", "admin_password", "admin_secret", "redis_password", "redis_url"})

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

JsonObject = dict[str, Any]


class AdminApi(Protocol):
    """The node's API (app.dialects.v1x.api.ApiRunner): one JSON command or array in,
    always a JSON array out; raises HttpError for a request that fails as a
    whole, which an admin socket turns into an error reply item."""

    async def execute(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class AdminContext:
    """What an admin socket needs from the node; built once in admin_urls."""

    api: AdminApi
    gate: AdminGate
    hub: "AdminHub"
    options: Callable[[], Options]
    engine_name: Callable[[], str]
    series: Callable[[], dict[str, Any]]


def reply_item(method: str, uid: Any = "", error: str | None = None, body: Any = None) -> str:
    """One reply item, in the API's own shape (``uid`` left out when empty)."""
    item: dict[str, Any] = {}
    if uid:
        item["uid"] = uid
    item.update(method=method, error=error, body=body)
    return _dumps(item)


def public_config(options: Options) -> dict[str, Any]:
    """The node options as ``info`` shows them: secrets and passwords hidden."""
    config = dataclasses.asdict(options)
    for key in _HIDDEN:
        if config.get(key):
            config[key] = "<hidden>"
    return config


class AdminHub:
    """Every open admin socket that asked to ``watch``; fans out live messages.

    ``broadcast`` never waits on a socket: each push is queued on the socket
    and a socket with more than ``max_pending`` unwritten pushes is closed."""

    def __init__(self, max_pending: int = MAX_PENDING_PUSHES,
                 events_max_pending: int = EVENTS_MAX_PENDING) -> None:
        self._watchers: set[AdminSocket] = set()
        self._event_watchers: set[AdminSocket] = set()
        self._watch_events: Callable[[bool], None] = lambda watching: None
        self.max_pending = max_pending
        self.events_max_pending = events_max_pending

    def __len__(self) -> int:
        return len(self._watchers)

    def bind_events(self, watch: Callable[[bool], None]) -> None:
        """``watch(True)`` when the first socket asks for events, ``watch(False)``
        when the last one is gone (app.core.events.EventFeed.watch)."""
        self._watch_events = watch

    def add(self, sock: "AdminSocket", events: bool = False) -> None:
        self._watchers.add(sock)
        if events and not self._event_watchers:
            self._event_watchers.add(sock)
            self._watch_events(True)
        elif events:
            self._event_watchers.add(sock)

    def discard(self, sock: "AdminSocket") -> None:
        self._watchers.discard(sock)
        if sock in self._event_watchers:
            self._event_watchers.discard(sock)
            if not self._event_watchers:
                self._watch_events(False)

    def events(self, batch: str, count: int) -> None:
        """One batch of live events (JSON made by app.core.events) to every
        socket that asked for them."""
        push = '{"method":"events","error":null,"body":' + batch + "}"
        for sock in list(self._event_watchers):
            sock.push_events(push, count)

    def broadcast(self, data: bytes) -> None:
        """Push one message to every watcher.

        ``data`` is a Message's 1.x JSON (``message_json`` of app.dialects.v1x.wire), as the
        node published it with ``engine.publish_admin``; it is checked once,
        since with the Redis engine anyone with access could have written it,
        and a broken JSON push would break every admin page."""
        if not self._watchers:
            return
        try:
            body = data.decode()
            loads(body)
        except ValueError:
            logger.warning("admin message dropped: not JSON (%d bytes)", len(data))
            return
        push = '{"method":"message","error":null,"body":' + body + "}"
        for sock in list(self._watchers):
            sock.push(push)


class AdminSocket(WebSocketHandler):
    """One admin connection.  Messages are handled in order, one at a time
    (Tornado awaits ``on_message`` before reading the next one)."""

    def initialize(self, context: AdminContext) -> None:
        self._ctx = context
        self._auth_timer: asyncio.TimerHandle | None = None
        self._authenticated = False
        self._watching = False
        self._pending = 0
        self._events_lost = 0
        self._methods: dict[str, Callable[[JsonObject], Awaitable[Any]]] = {
            "connect": self._connect,
            "ping": self._ping,
            "info": self._info,
            "series": self._series,
        }

    @property
    def ping_interval(self) -> float | None:
        return self._ctx.options().ping_interval or None

    @property
    def max_message_size(self) -> int:
        return self._ctx.options().api_max_body_size

    def open(self, *args: str, **kwargs: str) -> None:
        self._authenticated = self._ctx.gate.insecure
        if not self._authenticated:
            # An idle socket that never logs in must not hold a connection forever.
            delay = self._ctx.options().stale_connection_close_delay
            self._auth_timer = asyncio.get_running_loop().call_later(delay, self._login_overdue)

    def _login_overdue(self) -> None:
        if not self._authenticated:
            self.close(1008, "unauthorized")

    def on_close(self) -> None:
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        self._ctx.hub.discard(self)

    async def on_message(self, message: str | bytes) -> None:
        try:
            payload = loads(message)  # bounded depth, no lone surrogates
        except ValueError:
            self.close(1007, "malformed JSON")
            return
        commands = payload if isinstance(payload, list) else [payload]
        if not commands or not all(isinstance(c, dict) for c in commands):
            self.close(1007, "invalid message")
            return
        items: list[str] = []
        try:
            for command in commands:
                item = await self._run(command)
                if item is None:  # the socket was closed
                    return
                items.append(item)
        except Exception:  # the loop boundary of one admin message
            logger.exception("admin command failed")
            self.close(1011, "internal server error")
            return
        self._write("[" + ",".join(items) + "]")

    async def _run(self, command: JsonObject) -> str | None:
        """One command's reply item; None after closing an unauthenticated socket."""
        method = command.get("method")
        uid = command.get("uid") or ""
        if not self._authenticated and method != "connect":
            self.close(1008, "unauthorized")
            return None
        own = self._methods.get(method) if isinstance(method, str) else None
        if own is None or not isinstance(method, str):
            return await self._forward(command)
        params = command.get("params")
        body = await own(params if isinstance(params, dict) else {})
        if not self._authenticated:  # connect was refused
            self.close(1008, "unauthorized")
            return None
        return reply_item(method, uid, None, body)

    async def _forward(self, command: JsonObject) -> str:
        """Hand one API command to the node's executor; its error is a reply item."""
        try:
            reply = await self._ctx.api.execute(_dumps(command).encode())
        except HttpError as exc:
            return reply_item(str(command.get("method") or ""), command.get("uid") or "", exc.message)
        # The executor answers an array; one command in, its one item out.
        item = reply.decode().strip()[1:-1].strip()
        if not item:
            logger.error("API executor gave no reply item for %r", command.get("method"))
            return reply_item(str(command.get("method") or ""), command.get("uid") or "", "internal server error")
        return item

    async def _connect(self, params: JsonObject) -> bool:
        self._authenticated = self._ctx.gate.accepts(params.get("token"))
        if self._authenticated:
            if self._auth_timer is not None:
                self._auth_timer.cancel()
            self._watching = bool(params.get("watch"))
            self._ctx.hub.discard(self)
            if self._watching:
                self._ctx.hub.add(self, events=params.get("events") is True)
        return True

    async def _ping(self, params: JsonObject) -> str:
        return "pong"

    async def _info(self, params: JsonObject) -> JsonObject:
        config = public_config(self._ctx.options())
        return {"data": {"version": app.__version__, "engine": self._ctx.engine_name(), "config": config}}

    async def _series(self, params: JsonObject) -> JsonObject:
        return {"data": self._ctx.series()}

    def push_events(self, text: str, count: int) -> None:
        """Queue a batch of events, or count it as lost while the socket lags."""
        if self._pending >= self._ctx.hub.events_max_pending:
            self._events_lost += count
            return
        if self._events_lost:
            self._write(reply_item("events_lost", body={"lost": self._events_lost}))
            self._events_lost = 0
        self._write(text)

    def push(self, text: str) -> None:
        """Queue a live push; close the socket when it stopped reading."""
        if self._pending >= self._ctx.hub.max_pending:
            logger.warning("admin socket from %s closed: too slow", self.request.remote_ip)
            self._ctx.hub.discard(self)
            self.close(1008, "slow")
            return
        self._write(text)

    def _write(self, text: str) -> None:
        try:
            done = self.write_message(text)
        except WebSocketClosedError:
            self._ctx.hub.discard(self)
            return
        self._pending += 1
        done.add_done_callback(self._written)

    def _written(self, future: Any) -> None:
        self._pending -= 1
        if not future.cancelled():
            future.exception()  # a closed socket: consumed here, handled in on_close


#: The admin page shipped with sockhub (``--web_path`` serves another directory).
ADMIN_PAGE_DIR = admin_folder()

Rules = list[tuple[str, type[RequestHandler], dict[str, Any]]]


class NamedEngine(Protocol):
    @property
    def name(self) -> str:
        """ "Memory" or "Redis" (app.core.engine.Engine.name)."""
        ...


class AdminEvents(Protocol):
    """The node's live events (app.core.events.EventFeed)."""

    def add_listener(self, listener: Callable[[str, int], None]) -> None: ...

    def watch(self, watching: bool) -> None: ...


class AdminNode(Protocol):
    """What the admin needs from app.node.Node."""

    @property
    def api(self) -> AdminApi: ...

    @property
    def engine(self) -> NamedEngine: ...

    @property
    def options(self) -> Options:
        """The current options (Node.reload replaces them on SIGHUP)."""
        ...

    @property
    def events(self) -> AdminEvents: ...

    def add_admin_listener(self, listener: Callable[[bytes], None]) -> None: ...

    def series(self) -> dict[str, Any]:
        """Every node's samples for the charts (app.core.series)."""
        ...


def admin_urls(node: AdminNode, hub: AdminHub | None = None,
               throttle: LoginThrottle | None = None) -> Rules:
    """The admin rules for the node's options at start.  Call once per node:
    it registers a hub (a new one unless given) as the node's admin listener,
    and builds the login throttle of ``/auth/`` unless one is given.

    * ``--admin`` or ``--web``: ``{prefix}/socket``;
    * ``--web`` also: ``{prefix}/auth/`` and the page at ``{prefix}/`` (its
      files ``{prefix}/<name>.{html,css,js,...}``, from ``web_path`` or
      app/static/admin), without a catch-all route that would hide other rules.

    Handlers read ``node.options`` on every use, so a SIGHUP reload of
    admin_password, admin_secret, insecure_admin or admin_login_* applies at once.
    """
    opts = node.options
    if not (opts.admin or opts.web):
        return []
    if hub is None:
        hub = AdminHub()
    node.add_admin_listener(hub.broadcast)
    node.events.add_listener(hub.events)
    hub.bind_events(node.events.watch)
    prefix = opts.http_prefix
    options = lambda: node.options  # noqa: E731 - read at each use (SIGHUP)
    gate = AdminGate(options)
    if throttle is None:
        throttle = LoginThrottle(lambda: login_policy(node.options))
    ctx = AdminContext(api=node.api, gate=gate, hub=hub, options=options,
                       engine_name=lambda: node.engine.name, series=node.series)
    rules: Rules = [(prefix + r"/socket", AdminSocket, {"context": ctx})]
    if opts.web:
        page_dir = opts.web_path or str(ADMIN_PAGE_DIR)
        rules += [
            (prefix + r"/auth/?", AuthHandler, {"gate": gate, "throttle": throttle}),
            (prefix + r"/([\w-]+\.(?:html|css|js|png|svg|ico)|)", StaticFileHandler,
             {"path": page_dir, "default_filename": "index.html"}),
        ]
        if prefix:
            rules.append((prefix, RedirectHandler, {"url": prefix + "/"}))
    return rules
