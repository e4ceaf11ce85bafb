"""The node's clients from open to close: admission, connect and refresh,
and their deadlines.

* a new client past ``client_connection_limit`` clients, or while
  ``client_unauthenticated_limit`` of them have not connected yet, or past
  ``client_connection_rate_limit`` new clients per second (a reconnect
  storm), is refused at once (its dialect's refusal frame; the HTTP transports ask
  :meth:`ClientRegistry.admission` first and answer 503);
* :meth:`ClientRegistry.connect` / :meth:`ClientRegistry.refresh` act on
  credentials a dialect has verified;
* ONE heap of deadlines, popped by the node's periodic tick (not a timer per
  client), closes stale connections (``stale_connection_close_delay``),
  expired ones (``connection_lifetime`` + ``expired_connection_close_delay``)
  and re-adds presence every ``presence_ping_interval``;
* a closed client is unregistered at once and its channels are left in a
  task (presence removed, leaves published, the engine told);
* :meth:`ClientRegistry.close_all` closes every client with ``shutting
  down`` and reconnect advice, and refuses the ones that open after.
"""
from __future__ import annotations

import logging
import time
from typing import Awaitable, Callable

from app.core.client import Client, ClientDialect
from app.core.context import Context
from app.core.engine import EngineError
from app.core.errors import EXPIRED, LIMIT_EXCEEDED, SHUTTING_DOWN, STALE, Disconnect, ProtocolError
from app.core.metrics import Metrics
from app.core.subscriptions import leave
from app.core.values import ConnectOutcome, Credentials
from app.options import Options
from transports.deadlines import Deadlines

logger = logging.getLogger("sockhub.clients")

#: The reasons a new client connection is turned away (its dialect's refusal
#: frame, or 503 before an HTTP session is made: see admission()).
CONNECTION_LIMIT = "connection limit"
UNAUTHENTICATED_LIMIT = "too many unauthenticated connections"
CONNECTION_RATE_LIMIT = "connection rate limit"
#: A refusal is logged at most once per this many seconds.
_REFUSAL_LOG_INTERVAL = 10.0

_Deadline = tuple[str, Client, float]


class ClientRegistry:
    """The clients of one node (a :class:`~app.core.client.ClientHost`);
    see the module docstring."""

    def __init__(self, ctx: Context, forget_holds: Callable[[Client], None]) -> None:
        self._ctx = ctx
        self._forget_holds = forget_holds
        self.shutting_down = False
        self._open: set[Client] = set()
        #: the open clients that have not connected yet (client_unauthenticated_limit)
        self._unauthenticated: set[Client] = set()
        self._refusal_logged_at = -_REFUSAL_LOG_INTERVAL
        #: client_connection_rate_limit: a token bucket of one second's worth
        self._rate_tokens = 0.0
        self._rate_at: float | None = None
        #: dialect -> its authenticated clients (a client's dialect is final by then)
        self._dialects: dict[ClientDialect, int] = {}
        #: The dialect every authenticated (so every subscribed) client
        #: speaks; None when they speak several (or there are none).
        self.only_dialect: ClientDialect | None = None
        self._deadlines: Deadlines[_Deadline] = Deadlines()
        self._on_deadline: dict[str, Callable[[Client, float, float], Awaitable[None]]] = {
            "stale": self._stale_due, "expire": self._expire_due, "presence": self._presence_due,
        }

    # -- ClientHost -----------------------------------------------------------------

    @property
    def options(self) -> Options:
        return self._ctx.options

    @property
    def metrics(self) -> Metrics:
        return self._ctx.metrics

    def admission(self) -> str | None:
        """Why a new client connection is refused now, or None: this node
        holds ``client_connection_limit`` clients already, or
        ``client_unauthenticated_limit`` of them have not connected yet
        (0: no limit).  The transports ask before making an HTTP session."""
        options = self._ctx.options
        if 0 < options.client_connection_limit <= len(self._open):
            return self._refusing(CONNECTION_LIMIT)
        if 0 < options.client_unauthenticated_limit <= len(self._unauthenticated):
            return self._refusing(UNAUTHENTICATED_LIMIT)
        if options.client_connection_rate_limit > 0 and self._rate_left(options.client_connection_rate_limit) < 1:
            return self._refusing(CONNECTION_RATE_LIMIT)
        return None

    def _rate_left(self, rate: float) -> float:
        """The bucket refilled to now: at most ``rate`` connections (one
        second's worth) may open at once, then ``rate`` per second."""
        now = time.monotonic()
        if self._rate_at is None:
            self._rate_tokens = rate
        else:
            self._rate_tokens = min(rate, self._rate_tokens + (now - self._rate_at) * rate)
        self._rate_at = now
        return self._rate_tokens

    def _refusing(self, reason: str) -> str:
        now = time.monotonic()
        if now - self._refusal_logged_at >= _REFUSAL_LOG_INTERVAL:
            self._refusal_logged_at = now
            logger.warning("refusing new connections: %s (%d open, %d not connected yet)",
                           reason, len(self._open), len(self._unauthenticated))
        return reason

    def client_opened(self, client: Client) -> None:
        refusal = self.admission()
        self._open.add(client)
        metrics = self._ctx.metrics
        metrics.child(metrics.connections, client.session.transport).inc()
        client.opened_at = now = self._ctx.clock()
        if self.shutting_down:
            client.disconnect(Disconnect(SHUTTING_DOWN, reconnect=True))
            return
        if refusal is not None:
            client.refuse(refusal)
            return
        if self._ctx.options.client_connection_rate_limit > 0:
            self._rate_tokens -= 1  # admission() refilled it just now
        self._unauthenticated.add(client)
        delay = self._ctx.options.stale_connection_close_delay
        if delay > 0:  # 0 turns the stale check off
            self._arm(client, "stale", now + delay, 0.0)

    def client_authenticated(self, client: Client) -> None:
        self._unauthenticated.discard(client)
        self._dialects[client.dialect] = self._dialects.get(client.dialect, 0) + 1
        self._recount()
        self._ctx.hub.add_client(client)
        if self._ctx.status.on:
            self._ctx.status.connected(client)
        self.schedule_expiry(client)
        self._schedule_presence(client)

    def client_closed(self, client: Client) -> None:
        """Unregister now; unsubscribe its channels in a task."""
        for handle in client.timers.values():
            self._deadlines.cancel(handle)  # the heap lets go of the client now
        client.timers.clear()
        self._forget_holds(client)
        self._unauthenticated.discard(client)
        if client in self._open:
            self._open.discard(client)
            metrics = self._ctx.metrics
            metrics.child(metrics.connections, client.session.transport).dec()
        if client.authenticated:
            if self._ctx.events.on:
                self._ctx.events.record("disconnect", "", client.user, client.id)
            self._ctx.hub.remove_client(client)
            if self._ctx.status.on:
                self._ctx.status.disconnected(client)
            left = self._dialects[client.dialect] - 1
            if left:
                self._dialects[client.dialect] = left
            else:
                del self._dialects[client.dialect]
                self._recount()
        if client.channels:
            self._ctx.spawn(self._cleanup(client), f"cleanup of {client}")

    async def _cleanup(self, client: Client) -> None:
        for channel in list(client.channels):
            try:
                await leave(self._ctx, client, channel)
            except EngineError:
                logger.warning("engine failed to unsubscribe closed %s from %r", client, channel)

    def _recount(self) -> None:
        self.only_dialect = next(iter(self._dialects)) if len(self._dialects) == 1 else None

    def close_all(self) -> None:
        """Close every client with ``shutting down`` (reconnect); refuse new ones the same way."""
        self.shutting_down = True
        for client in list(self._open):
            client.disconnect(Disconnect(SHUTTING_DOWN, reconnect=True))

    # -- connect and refresh ------------------------------------------------------------

    def connect(self, client: Client, credentials: Credentials) -> ConnectOutcome:
        """Authenticate ``client`` (docs/protocol-1x.md §4.1, after the dialect's checks): the
        user's connection limit, then the credentials' lifetime."""
        ctx, options = self._ctx, self._ctx.options
        limit = options.user_connection_limit
        if limit > 0 and credentials.user and len(ctx.hub.user_clients(credentials.user)) >= limit:
            raise Disconnect(LIMIT_EXCEEDED)
        lifetime = options.connection_lifetime
        if lifetime > 0 and not options.insecure and credentials.timestamp + lifetime - ctx.clock() <= 0:
            # A success that leaves the connection unauthenticated: the JS client
            # disconnects, refreshes its credentials and connects again.
            return ConnectOutcome("", True, True, lifetime)
        client.authenticate(credentials.user, credentials.info, credentials.timestamp)
        ctx.metrics.num_connect.inc()
        if ctx.events.on:
            ctx.events.record("connect", "", client.user, client.id)
        return ConnectOutcome(client.id, lifetime > 0, False, lifetime)

    def refresh(self, client: Client, credentials: Credentials) -> ConnectOutcome:
        """Renew the connection's lifetime (§4.2, after the dialect's checks)."""
        lifetime = self._ctx.options.connection_lifetime
        if lifetime <= 0:
            return ConnectOutcome(client.id, False, False, 0)
        if credentials.timestamp + lifetime - self._ctx.clock() <= 0:
            return ConnectOutcome(client.id, True, True, lifetime)
        client.timestamp = credentials.timestamp
        if credentials.info:
            client.default_info = credentials.info
        self.schedule_expiry(client)
        return ConnectOutcome(client.id, True, False, lifetime)

    # -- deadlines ----------------------------------------------------------------------

    def add_deadline_kind(self, kind: str, due: Callable[[Client, float, float], Awaitable[None]]) -> None:
        """Let a dialect keep deadlines of its own in the node's heap (its
        heartbeat, its token expiries): ``await due(client, when, now)``
        runs in the tick once ``when`` has passed, for a client still open.
        A kind is added once (a second dialect object sharing it is a no-op)."""
        self._on_deadline.setdefault(kind, due)

    def arm(self, client: Client, kind: str, when: float) -> None:
        """Run ``kind``'s handler for ``client`` at ``when`` (replacing that
        kind's pending deadline of the client, if any)."""
        self._arm(client, kind, when, when)

    def schedule_expiry(self, client: Client) -> None:
        """Check the connection's lifetime ``expired_connection_close_delay``
        after its token's time runs out (re-armed by every refresh)."""
        options = self._ctx.options
        lifetime = options.connection_lifetime
        if lifetime <= 0:
            return
        client.expire_at = client.timestamp + lifetime + options.expired_connection_close_delay
        self._arm(client, "expire", client.expire_at, client.expire_at)

    def _schedule_presence(self, client: Client) -> None:
        interval = self._ctx.options.presence_ping_interval
        if interval <= 0:
            return  # presence is only added at subscribe
        client.presence_at = self._ctx.clock() + interval
        self._arm(client, "presence", client.presence_at, client.presence_at)

    def _arm(self, client: Client, kind: str, due: float, when: float) -> None:
        """One heap entry per client and kind: a new one replaces the last."""
        old = client.timers.get(kind)
        if old is not None:
            self._deadlines.cancel(old)
        client.timers[kind] = self._deadlines.push(due, (kind, client, when))

    async def tick(self, now: float) -> None:
        """Everything due at ``now``."""
        for kind, client, when in self._deadlines.pop_due(now):
            if not client.closing:
                await self._on_deadline[kind](client, when, now)

    async def _stale_due(self, client: Client, when: float, now: float) -> None:
        if not client.authenticated:
            client.disconnect(Disconnect(STALE, reconnect=False))

    async def _expire_due(self, client: Client, when: float, now: float) -> None:
        if when != client.expire_at:
            return  # refreshed since: a newer entry exists
        lifetime = self._ctx.options.connection_lifetime
        if lifetime > 0 and client.timestamp + lifetime <= now:
            client.disconnect(Disconnect(EXPIRED, reconnect=True))

    async def _presence_due(self, client: Client, when: float, now: float) -> None:
        if when != client.presence_at:
            return
        ctx = self._ctx
        for channel, sub in list(client.channels.items()):
            try:
                if sub.override.options(ctx.rules.options(channel)).presence:
                    await ctx.engine.add_presence(channel, client.id, client.info(channel),
                                                  ctx.options.presence_expire_interval)
            except (ProtocolError, EngineError) as exc:
                logger.warning("presence refresh of %s in %r failed: %s", client, channel, exc)
        self._schedule_presence(client)
