"""The node: clients, hub, engine handler, periodic tick, API executor.

Duties and guarantees:

* :meth:`Node.connection_factory` gives every transport session a
  :class:`~app.client.Client`;
* as the engine's :class:`~app.core.engine.EngineHandler`, it fans every
  message, join and leave out to the local subscribers: the push is encoded
  ONCE into one :class:`~transports.frames.Prepared` shared by every session,
  each send is followed by that client's queue-bound check (``slow``), and
  nothing here awaits a peer;
* a new client past ``client_connection_limit`` clients, or while
  ``client_unauthenticated_limit`` of them have not connected yet, is closed
  at once with 1013 and ``{"reason":..,"reconnect":true}`` (the HTTP
  transports ask :meth:`Node.admission` first and answer 503);
* ONE periodic tick (not a timer per client) closes stale connections
  (``stale_connection_close_delay``), expired ones (``connection_lifetime`` +
  ``expired_connection_close_delay``), re-adds presence every
  ``presence_ping_interval``, pings the other nodes every
  ``node_ping_interval`` (forgetting those silent for 2*interval+1 s) and
  rolls the interval metrics every ``node_metrics_interval``;
* control messages (app.commands.control) act on this node's clients;
* when the engine reports that channels lost messages (Redis PUB/SUB was
  down), the local subscribers of those with ``recover`` are closed with
  ``insufficient state`` and reconnect advice, so they resubscribe and
  recover from history (their own last uid) rather than carry on with a gap;
* :meth:`Node.shutdown` closes every client with ``shutting down`` and
  reconnect advice, waits for their cleanup, then shuts the engine down.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from typing import Any, Awaitable, Callable, Coroutine

import app
from app.api import ApiRunner
from app.core.channels import ChannelRules
from app.client import Client
from app.commands import control
from app.commands.channel_ops import Publisher, leave
from app.core.engine import Engine, EngineError
from app.core.hub import Hub
from app.core.metrics import Metrics
from app.core.values import ClientInfo, Message
from app.options import Options
from app.core.errors import EXPIRED, INSUFFICIENT_STATE, SHUTTING_DOWN, STALE, Disconnect, ProtocolError
from app.protocol import dumps, push
from transports.deadlines import Deadlines
from transports.frames import Prepared
from transports.interfaces import Session

logger = logging.getLogger("sockhub.node")

#: A tick never sleeps longer than this, nor shorter than _MIN_TICK.
_MAX_TICK = 1.0
_MIN_TICK = 0.01

_Deadline = tuple[str, Client, float]

#: The reasons a new client connection is turned away (closed 1013 with
#: reconnect advice, or 503 before an HTTP session is made: see admission()).
CONNECTION_LIMIT = "connection limit"
UNAUTHENTICATED_LIMIT = "too many unauthenticated connections"
#: A refusal is logged at most once per this many seconds.
_REFUSAL_LOG_INTERVAL = 10.0

#: push("message", body) is _MESSAGE_OPEN + body + _MESSAGE_CLOSE (one
#: concatenation per message instead of a call that also JSON-encodes "message").
_MESSAGE_OPEN, _MESSAGE_CLOSE = push("message", "\0").split("\0")


class Node:
    """One sockhub node; see the module docstring."""

    def __init__(self, options: Options, engine: Engine, clock: Callable[[], float] = time.time,
                 tick_interval: float | None = None) -> None:
        self.options = options
        self.engine = engine
        self.clock = clock
        self.rules = ChannelRules(options)
        self.hub: Hub[Client] = Hub(engine)
        self.metrics = Metrics()
        self.publisher = Publisher(engine, self.metrics)
        self.uid = str(uuid.uuid4())
        self.started_at = clock()
        self.api = ApiRunner(self)
        self.shutting_down = False
        self._tick_interval = tick_interval
        self._open: set[Client] = set()
        #: the open clients that have not connected yet (client_unauthenticated_limit)
        self._unauthenticated: set[Client] = set()
        self._refusal_logged_at = -_REFUSAL_LOG_INTERVAL
        self._deadlines: Deadlines[_Deadline] = Deadlines()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._nodes: dict[str, tuple[dict[str, Any], float]] = {}
        self._next_ping = 0.0
        self._next_metrics = self.started_at + options.node_metrics_interval
        self._metrics_base: dict[str, int] = {}
        self._interval_metrics: dict[str, int] = {}
        self._admin_listeners: list[Callable[[bytes], None]] = []
        #: channel -> client -> pushes held back while its subscribe recovers (see hold()).
        self._held: dict[str, dict[Client, list[tuple[str, Prepared]]]] = {}
        self._on_deadline: dict[str, Callable[[Client, float, float], Awaitable[None]]] = {
            "stale": self._stale_due, "expire": self._expire_due, "presence": self._presence_due,
        }
        self.metrics.bind_gauges(lambda: self.hub.num_clients, lambda: self.hub.num_users,
                                 lambda: self.hub.num_channels, lambda: self.hub.num_subscriptions,
                                 lambda: self.clock() - self.started_at)

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Start the engine (this node as its handler) and the periodic tick."""
        await self.engine.run(self)
        await self.tick()
        self._ticker = asyncio.create_task(self._tick_forever(), name="sockhub-node-tick")

    async def shutdown(self) -> None:
        """Close every client (``shutting down``, reconnect), finish their
        cleanup, stop the tick, shut the engine down."""
        self.shutting_down = True
        for client in list(self._open):
            client.disconnect(Disconnect(SHUTTING_DOWN, reconnect=True))
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.options.shutdown_timeout)
        await self.engine.shutdown()

    def connection_factory(self, session: Session) -> Client:
        """What the transports router calls for every new session."""
        return Client(self, session)

    def reload(self, options: Options) -> None:
        """New secret, channel options, namespaces and limits (SIGHUP);
        connections stay, and every later check reads the new values."""
        self.options = options
        self.rules = ChannelRules(options)

    def add_admin_listener(self, listener: Callable[[bytes], None]) -> None:
        """``listener(data)`` for every admin message (Message JSON bytes)."""
        self._admin_listeners.append(listener)

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` in a task kept until done; its failure is logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what))

    def _task_done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s failed", what, exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until every spawned task is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    # -- clients --------------------------------------------------------------------

    def admission(self) -> str | None:
        """Why a new client connection is refused now, or None: this node
        holds ``client_connection_limit`` clients already, or
        ``client_unauthenticated_limit`` of them have not connected yet
        (0: no limit).  The transports ask before making an HTTP session."""
        options = self.options
        if 0 < options.client_connection_limit <= len(self._open):
            return self._refusing(CONNECTION_LIMIT)
        if 0 < options.client_unauthenticated_limit <= len(self._unauthenticated):
            return self._refusing(UNAUTHENTICATED_LIMIT)
        return None

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
        self.metrics.child(self.metrics.connections, client.session.transport).inc()
        client.opened_at = now = self.clock()
        if self.shutting_down:
            client.disconnect(Disconnect(SHUTTING_DOWN, reconnect=True))
            return
        if refusal is not None:
            client.refuse(refusal)
            return
        self._unauthenticated.add(client)
        delay = self.options.stale_connection_close_delay
        if delay > 0:  # 0 turns the stale check off
            self._arm(client, "stale", now + delay, 0.0)

    def client_authenticated(self, client: Client) -> None:
        self._unauthenticated.discard(client)
        self.hub.add_client(client)
        self.schedule_expiry(client)
        self._schedule_presence(client)

    def schedule_expiry(self, client: Client) -> None:
        """Check the connection's lifetime ``expired_connection_close_delay``
        after its token's time runs out (re-armed by every refresh)."""
        lifetime = self.options.connection_lifetime
        if lifetime <= 0:
            return
        client.expire_at = client.timestamp + lifetime + self.options.expired_connection_close_delay
        self._arm(client, "expire", client.expire_at, client.expire_at)

    def _schedule_presence(self, client: Client) -> None:
        if self.options.presence_ping_interval <= 0:
            return  # presence is only added at subscribe
        client.presence_at = self.clock() + self.options.presence_ping_interval
        self._arm(client, "presence", client.presence_at, client.presence_at)

    def _arm(self, client: Client, kind: str, due: float, when: float) -> None:
        """One heap entry per client and kind: a new one replaces the last."""
        old = client.timers.get(kind)
        if old is not None:
            self._deadlines.cancel(old)
        client.timers[kind] = self._deadlines.push(due, (kind, client, when))

    def client_closed(self, client: Client) -> None:
        """Unregister now; unsubscribe its channels in a task."""
        for handle in client.timers.values():
            self._deadlines.cancel(handle)  # the heap lets go of the client now
        client.timers.clear()
        for channel in [ch for ch, held in self._held.items() if client in held]:
            self.release(channel, client, set())
        self._unauthenticated.discard(client)
        if client in self._open:
            self._open.discard(client)
            self.metrics.child(self.metrics.connections, client.session.transport).dec()
        if client.authenticated:
            self.hub.remove_client(client)
        if client.channels:
            self.spawn(self._cleanup(client), f"cleanup of {client}")

    async def _cleanup(self, client: Client) -> None:
        for channel in list(client.channels):
            try:
                await leave(client, channel)
            except EngineError:
                logger.warning("engine failed to unsubscribe closed %s from %r", client, channel)

    # -- the periodic tick ------------------------------------------------------------

    def _tick_period(self) -> float:
        if self._tick_interval is not None:
            return self._tick_interval
        o = self.options
        shortest = min(o.stale_connection_close_delay, o.presence_ping_interval,
                       o.node_ping_interval, o.expired_connection_close_delay)
        return max(_MIN_TICK, min(_MAX_TICK, shortest / 4))

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_period())
            try:
                await self.tick()
            except Exception:  # loop boundary: the tick must go on
                logger.exception("node tick failed")

    async def tick(self) -> None:
        """Everything due at ``clock()``: client deadlines, node ping, metrics."""
        now = self.clock()
        for kind, client, when in self._deadlines.pop_due(now):
            if not client.closing:
                await self._on_deadline[kind](client, when, now)
        if now >= self._next_ping:
            self._next_ping = now + self.options.node_ping_interval
            await self._ping_nodes(now)
        if now >= self._next_metrics:
            self._next_metrics = now + self.options.node_metrics_interval
            self._roll_metrics()

    async def _stale_due(self, client: Client, when: float, now: float) -> None:
        if not client.authenticated:
            client.disconnect(Disconnect(STALE, reconnect=False))

    async def _expire_due(self, client: Client, when: float, now: float) -> None:
        if when != client.expire_at:
            return  # refreshed since: a newer entry exists
        lifetime = self.options.connection_lifetime
        if lifetime > 0 and client.timestamp + lifetime <= now:
            client.disconnect(Disconnect(EXPIRED, reconnect=True))

    async def _presence_due(self, client: Client, when: float, now: float) -> None:
        if when != client.presence_at:
            return
        for channel in list(client.channels):
            try:
                if self.rules.options(channel).presence:
                    await self.engine.add_presence(channel, client.id, client.info(channel),
                                                   self.options.presence_expire_interval)
            except (ProtocolError, EngineError) as exc:
                logger.warning("presence refresh of %s in %r failed: %s", client, channel, exc)
        self._schedule_presence(client)

    # -- nodes and stats ----------------------------------------------------------------

    def node_info(self, raw: bool = True) -> dict[str, Any]:
        """NodeInfo (1.8 shape): raw totals, or the last interval's deltas."""
        metrics = self.metrics.values() if raw else self._current_interval()
        name = self.options.name or f"{socket.gethostname()}_{self.options.port}"
        return {"uid": self.uid, "version": app.PROTOCOL_VERSION, "name": name,
                "started_at": int(self.started_at), "metrics": metrics}

    def _current_interval(self) -> dict[str, int]:
        return self._interval_metrics or self.metrics.values()

    def _roll_metrics(self) -> None:
        counters, gauges = self.metrics.split_values()
        base = self._metrics_base
        self._interval_metrics = {k: v - base.get(k, 0) for k, v in counters.items()} | gauges
        self._metrics_base = counters

    def node_seen(self, uid: str, info: dict[str, Any]) -> None:
        self._nodes[uid] = (info, self.clock())

    def nodes(self) -> list[dict[str, Any]]:
        """Every live node, this one first (interval metrics, as 1.8 stats)."""
        horizon = self.clock() - (2 * self.options.node_ping_interval + 1)
        for uid in [u for u, (_, seen) in self._nodes.items() if seen < horizon]:
            del self._nodes[uid]
        return [self.node_info(raw=False)] + [info for info, _ in self._nodes.values()]

    async def _ping_nodes(self, now: float) -> None:
        data = control.encode(self.uid, "ping", {"info": self.node_info(raw=False)})
        try:
            await self.engine.publish_control(data)
        except EngineError as exc:
            self.metrics.engine_errors.inc()
            logger.warning("node ping failed: %s", exc)

    async def send_control(self, method: str, params: dict[str, Any]) -> None:
        """Tell the other nodes (raises EngineError)."""
        await self.engine.publish_control(control.encode(self.uid, method, params))

    # -- EngineHandler ----------------------------------------------------------------------

    def handle_message(self, message: Message) -> None:
        """The ``message`` push to every local subscriber (see :meth:`_deliver`).

        Built inline rather than through :meth:`_fan_out`'s closure: this is
        the path of every published message (bench/run.py batch_1k)."""
        tally = self.metrics.tally
        tally.received += 1
        clients = self.hub.channel_clients(message.channel)
        if clients:
            text = _MESSAGE_OPEN + message.to_json() + _MESSAGE_CLOSE
            self._deliver(message.channel, clients, Prepared(text), "", message.uid)

    # -- pushes held back during a recovering subscribe -------------------------------

    def hold(self, channel: str, client: Client) -> None:
        """Keep ``client``'s pushes of ``channel`` back until :meth:`release`.

        A subscribe with recover registers the subscription, then reads the
        history; a message published in between would reach the client live
        BEFORE the subscribe reply that also recovers it (a duplicate, out of
        order).  Held pushes go out after the reply instead, without those
        the reply recovered."""
        self._held.setdefault(channel, {})[client] = []

    def release(self, channel: str, client: Client, recovered: set[str]) -> None:
        """Send what was held for ``client`` in ``channel`` (in arrival order)
        but the messages whose uid is in ``recovered``; stop holding."""
        held = self._held.get(channel)
        pushes = held.pop(client, []) if held is not None else []
        if held is not None and not held:
            del self._held[channel]
        sent = 0
        for uid, prepared in pushes:
            if client.closing:
                return
            if uid and uid in recovered:
                continue
            client.session.send_frame(prepared)
            client.check_queue()
            sent += 1
        self.metrics.delivered.inc(sent)

    def handle_join(self, channel: str, info: ClientInfo) -> None:
        """Every local subscriber but the joiner itself (1.8 sent the joiner
        its own join, even before its subscribe reply)."""
        self.metrics.join_leave.inc()
        self._fan_out(channel, lambda: push("join", _membership_body(channel, info)), info.client)

    def handle_leave(self, channel: str, info: ClientInfo) -> None:
        self.metrics.join_leave.inc()
        self._fan_out(channel, lambda: push("leave", _membership_body(channel, info)), info.client)

    def _fan_out(self, channel: str, encode: Callable[[], str], skip: str = "") -> None:
        """One Prepared, encoded only when the channel has local subscribers,
        for every one of them but client id ``skip`` (see :meth:`_deliver`)."""
        clients = self.hub.channel_clients(channel)
        if clients:
            self._deliver(channel, clients, Prepared(encode()), skip, "")

    def _deliver(self, channel: str, clients: tuple[Client, ...], prepared: Prepared, skip: str,
                 uid: str) -> None:
        """``prepared`` to each of ``clients`` (a snapshot of the channel's,
        in the hub's order) but client id ``skip``; held back for those in
        :meth:`hold`; each client's queue bound is checked right after its
        own send.

        The loop binds per publication what every delivery reads (the
        bound, the held table); metrics are tallied once per publication.
        Only the receiving client's own state decides its bound check, so
        a ``slow`` close here never affects the sends to the others."""
        held = self._held.get(channel) if self._held else None
        limit = self.options.client_queue_max_size
        sent = 0
        for client in clients:
            if client.closing or (skip and client.id == skip):
                continue
            if held is not None and client in held:
                held[client].append((uid, prepared))
                continue
            session = client.session
            session.send_frame(prepared)
            sent += 1
            if limit > 0 and session.pending_bytes > limit:
                client.close_slow()
        tally = self.metrics.tally
        tally.delivered += sent
        tally.bytes_out += sent * len(prepared)

    def handle_control(self, data: bytes) -> None:
        self.metrics.control.inc()
        try:
            sender, method, params = control.decode(data)
        except ValueError:
            logger.warning("malformed control message dropped (%d bytes)", len(data))
            return
        if sender == self.uid:
            return  # acted on locally before it was sent
        handler = control.CONTROL.get(method)
        if handler is None:
            logger.warning("unknown control method %r", method)
            return
        self.spawn(handler(self, sender, params), f"control {method}")

    def handle_admin(self, data: bytes) -> None:
        for listener in self._admin_listeners:
            listener(data)

    def handle_lost(self, channels: list[str]) -> None:
        """Close the local subscribers of the ``recover`` channels among
        ``channels`` (see the module docstring); called before any message
        of the restored subscription is delivered.  Clients of channels
        without recover keep their connection: reconnecting gains them nothing."""
        victims: set[Client] = set()
        for channel in channels:
            try:
                recover = self.rules.options(channel).recover
            except ProtocolError:  # its namespace went away in a reload
                continue
            if recover:
                victims.update(self.hub.channel_clients(channel))
        if victims:
            logger.warning("messages of %d channels lost while the engine was away: closing %d clients "
                           "so they recover", len(channels), len(victims))
        for client in victims:
            client.disconnect(Disconnect(INSUFFICIENT_STATE, reconnect=True))

    def handle_api(self, data: bytes) -> None:
        """One Redis API queue item: publish/broadcast/unsubscribe/disconnect."""
        self.spawn(self.api.execute_queued(data), "API queue item")


def _membership_body(channel: str, info: ClientInfo) -> str:
    return '{"channel":' + dumps(channel) + ',"data":' + info.to_json() + "}"
