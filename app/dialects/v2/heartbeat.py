"""Protocol v2's server-driven heartbeat and connection expiry
(docs/protocol-v2.md §6, §8.4), as deadlines in the node's one heap
(app.core.clients.ClientRegistry.add_deadline_kind), not a timer per
connection.

* ping: every ``ping_interval`` s the server sends the empty reply (``{}``,
  or the byte 0 in protobuf), the first one at a random moment between half
  the interval and the interval (connections made together do not ping
  together);
* pong: with ``pong_timeout`` > 0 the connect reply asks for pongs, and a
  ping not answered within it closes the connection with 3012 ``no pong``;
  a pong with no ping outstanding is ignored (the reference server closes
  with 3501; the SDKs never send one, and a late pong is no attack);
* expiry: a connection whose token expires and is not refreshed is closed
  with 3005 ``connection expired`` ``expired_connection_close_delay`` s
  after its expiry (the connect and refresh replies told it the ttl); a
  subscription made with an expiring token and not refreshed
  (``sub_refresh``) is left ``expired_subscription_close_delay`` s after
  its expiry (Centrifugo v5's ``client_expired_sub_close_delay``), and the
  client gets the ``unsubscribe`` push 2501 ``subscription expired`` (it
  subscribes again with a new token).
"""
from __future__ import annotations

import random
from typing import Callable

from app.core.client import Client
from app.core.engine import EngineError
from app.core.errors import EXPIRED, Disconnect
from app.core.subscriptions import leave
from app.dialects.v2.codes import NO_PONG
from app.dialects.v2.context import V2Context, V2State
from app.dialects.v2.errors import V2Disconnect

#: The deadline kinds, after the dialect's name (``v2.ping``).
PING, PONG, EXPIRE, SUB_EXPIRE = "ping", "pong", "expire", "sub_expire"


class Heartbeat:
    """The pings, pongs and expiry of the v2 connections of one node.

    ``ping_of(client)`` is the ping item in the client's format (its
    dialect's), ``expired_of(client, channel)`` the ``unsubscribe`` push of
    an expired subscription.  ``dialect`` names its deadline kinds in the
    node's heap; ``pings`` False: expiry only (protocol v1, whose clients
    ping the server)."""

    def __init__(self, ctx: V2Context, ping_of: Callable[[Client], str | bytes],
                 expired_of: Callable[[Client, str], str | bytes], dialect: str = "v2",
                 pings: bool = True) -> None:
        self._ctx = ctx
        self._ping_of = ping_of
        self._expired_of = expired_of
        self._random = random.Random()
        self._pings = pings
        self._kind = {kind: f"{dialect}.{kind}" for kind in (PING, PONG, EXPIRE, SUB_EXPIRE)}
        clients = ctx.clients
        clients.add_deadline_kind(self._kind[PING], self._ping_due)
        clients.add_deadline_kind(self._kind[PONG], self._pong_due)
        clients.add_deadline_kind(self._kind[EXPIRE], self._expire_due)
        clients.add_deadline_kind(self._kind[SUB_EXPIRE], self._subscriptions_due)

    def start(self, client: Client, now: float) -> None:
        """A connection just connected: its first ping."""
        interval = self._ctx.options.ping_interval
        if interval > 0 and self._pings:
            self._ctx.clients.arm(client, self._kind[PING], now + self._random.uniform(interval / 2, interval))

    def pong(self, client: Client) -> None:
        state = client.state
        if isinstance(state, V2State):
            state.awaiting_pong = False

    def expire_at(self, client: Client, expires_at: float) -> None:
        """The connection's token expires at ``expires_at`` (0: never)."""
        state = client.state
        if not isinstance(state, V2State):
            return
        state.expires_at = expires_at
        if expires_at > 0:
            self._ctx.clients.arm(client, self._kind[EXPIRE], expires_at + self._ctx.options.expired_connection_close_delay)

    def subscription_expires_at(self, client: Client, channel: str, expires_at: float) -> None:
        """``client``'s subscription to ``channel`` expires at ``expires_at`` (0: never)."""
        state = client.state
        if not isinstance(state, V2State):
            return
        expiring = state.subscriptions_expire
        for left in [ch for ch in expiring if ch not in client.channels]:
            del expiring[left]  # bounded by the channels held (client_channel_limit)
        if expires_at <= 0:
            expiring.pop(channel, None)
            return
        expiring[channel] = expires_at
        self._arm_subscriptions(client, state)

    def _arm_subscriptions(self, client: Client, state: V2State) -> None:
        if state.subscriptions_expire:
            soonest = min(state.subscriptions_expire.values())
            self._ctx.clients.arm(client, self._kind[SUB_EXPIRE],
                                  soonest + self._ctx.options.expired_subscription_close_delay)

    async def _subscriptions_due(self, client: Client, when: float, now: float) -> None:
        state = client.state
        if not isinstance(state, V2State):
            return
        delay = self._ctx.options.expired_subscription_close_delay
        expired = [ch for ch, at in state.subscriptions_expire.items() if at + delay <= now]
        for channel in expired:
            del state.subscriptions_expire[channel]
            if channel not in client.channels:
                continue  # left meanwhile
            try:
                await leave(self._ctx, client, channel)
            except EngineError:
                pass  # the client is told all the same: it subscribes again
            if not client.closing:
                client.send(self._expired_of(client, channel))
        self._arm_subscriptions(client, state)

    async def _ping_due(self, client: Client, when: float, now: float) -> None:
        state = client.state
        options = self._ctx.options
        if not isinstance(state, V2State) or options.ping_interval <= 0:
            return
        client.send(self._ping_of(client))
        if options.pong_timeout > 0 and not state.awaiting_pong:
            state.awaiting_pong = True
            self._ctx.clients.arm(client, self._kind[PONG], now + options.pong_timeout)
        self._ctx.clients.arm(client, self._kind[PING], now + options.ping_interval)

    async def _pong_due(self, client: Client, when: float, now: float) -> None:
        state = client.state
        if isinstance(state, V2State) and state.awaiting_pong:
            client.disconnect(V2Disconnect(NO_PONG))

    async def _expire_due(self, client: Client, when: float, now: float) -> None:
        state = client.state
        if not isinstance(state, V2State) or state.expires_at <= 0:
            return
        if state.expires_at + self._ctx.options.expired_connection_close_delay <= now:
            client.disconnect(Disconnect(EXPIRED, reconnect=True))
