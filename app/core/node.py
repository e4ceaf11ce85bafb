"""The node core: composition root of the protocol-neutral objects, the
engine's handler, the periodic tick and the life cycle.

Duties and guarantees:

* it makes the node's objects and gives each what it uses (the
  :class:`~app.core.context.Context` protocol, which it implements, or less):
  the hub, channel rules, metrics, the :class:`~app.core.publisher.Publisher`,
  the :class:`~app.core.fanout.Fanout`, the
  :class:`~app.core.clients.ClientRegistry`, the
  :class:`~app.core.directory.Directory` and the
  :class:`~app.core.control.ControlBus`;
* as the engine's :class:`~app.core.engine.EngineHandler` it hands every
  message, join and leave to the fan-out, control messages to the control
  bus, admin messages to the admin listeners, and lost channels to the
  gap fill (app.core.gaps); the Redis API queue's items to the API consumer a dialect set
  (:attr:`NodeCore.api_queue`);
* it owns online status (:class:`~app.core.status.StatusTracker`, the
  observer the clients and subscriptions tell, with the engine's status
  store) and its delivery (:class:`~app.core.webhooks.WebhookDrain`), both
  on while ``webhook_endpoint`` or ``status_channel`` is set;
* ONE periodic tick (not a timer per client) runs the clients' deadlines,
  the node ping, the metrics interval and the admin events' leases; its period follows the shortest
  of the intervals involved;
* :meth:`NodeCore.shutdown` closes every client with ``shutting down`` and
  reconnect advice, waits for their cleanup, then shuts the engine down.

It never imports a dialect: app.node puts the 1.x dialect over it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Callable, Coroutine

from app.core.channels import ChannelRules
from app.core.client import Client
from app.core.clients import ClientRegistry
from app.core.control import ControlBus
from app.core.directory import Directory
from app.core.engine import Engine
from app.core.errors import ProtocolError
from app.core.events import EventFeed
from app.core.fanout import Fanout
from app.core.gaps import GapFill
from app.core.hub import Hub
from app.core.metrics import Metrics
from app.core.publisher import Publisher
from app.core.status import StatusEngine, StatusTracker
from app.core.status_memory import MemoryStatusStore
from app.core.values import ClientInfo, Message
from app.core.webhooks import WebhookDrain
from app.options import Options

logger = logging.getLogger("sockhub.node")

#: A tick never sleeps longer than this, nor shorter than _MIN_TICK.
_MAX_TICK = 1.0
_MIN_TICK = 0.01


class NodeCore:
    """One sockhub node without a dialect; see the module docstring."""

    def __init__(self, options: Options, engine: Engine, watch_body: Callable[[Message], bytes],
                 clock: Callable[[], float] = time.time, tick_interval: float | None = None) -> None:
        # The Context, as plain attributes (read on every delivery); options
        # and rules are replaced by reload().
        self.options = options
        self.rules = ChannelRules(options)
        self.engine = engine
        self.clock = clock
        self.hub: Hub[Client] = Hub(engine, lambda channel: self.gaps.first_subscriber(channel))
        self.metrics = Metrics()
        self._tick_interval = tick_interval
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._admin_listeners: list[Callable[[bytes], None]] = []
        #: What runs an item of the Redis API queue (set by the dialect that
        #: owns the API body format); None: items are dropped.
        self.api_queue: Callable[[bytes], Coroutine[Any, Any, None]] | None = None
        self.uid = str(uuid.uuid4())
        self.events = EventFeed(self.uid, lambda: self.directory.name(), clock,
                                lambda: self.options.node_ping_interval,
                                lambda method, params: self.control.send(method, params), self.spawn)
        self.publisher = Publisher(engine, self.metrics, watch_body, self.events)
        store = engine.status_store() if isinstance(engine, StatusEngine) else MemoryStatusStore()
        #: Online status and occupancy (app.core.status): on with a webhook or a status channel.
        self.status = StatusTracker(store, lambda: self.options, clock)
        self._status_warned = ""
        self.clients = ClientRegistry(self, lambda client: self.fanout.release_all(client))
        self.fanout = Fanout(self, self.clients)
        # the memory engine delivers inside publish: it never loses a message
        self.gaps = GapFill(self, self.fanout, track=engine.name != "Memory")
        self.control = ControlBus(self, self.uid, self._node_seen)
        self.directory = Directory(self, self.uid, clock(), self.control.send)
        #: Delivers the status events: webhooks and the status channel (app.core.webhooks).
        self.webhooks = WebhookDrain(store, lambda: self.options, self._publish_status, clock,
                                     lambda: self.directory.name())
        hub = self.hub
        self.metrics.bind_gauges(lambda: hub.num_clients, lambda: hub.num_users,
                                 lambda: hub.num_channels, lambda: hub.num_subscriptions)

    # -- Context (with the attributes above) ----------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` in a task kept until done; its failure is logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what))

    def _task_done(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s failed", what, exc_info=task.exception())

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Start the engine (this node as its handler) and the periodic tick."""
        await self.engine.run(self)
        self.status.start(self.status_wanted)
        if self.status_wanted:
            self.webhooks.start()
        await self.tick()
        self._ticker = asyncio.create_task(self._tick_forever(), name="sockhub-node-tick")

    async def shutdown(self) -> None:
        """Close every client (``shutting down``, reconnect), finish their
        cleanup, stop the tick, shut the engine down."""
        self.clients.close_all()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.options.shutdown_timeout)
        await self.status.stop()
        await self.webhooks.stop()  # before the engine it reads
        await self.engine.shutdown()

    def reload(self, options: Options) -> None:
        """New secret, channel options, namespaces and limits (SIGHUP);
        connections stay, and every later check reads the new values."""
        self.options = options
        self.rules = ChannelRules(options)
        self.status.start(self.status_wanted)
        if self.status_wanted:
            self.webhooks.start()

    @property
    def status_wanted(self) -> bool:
        """Whether anyone hears the status events (a webhook or a status channel)."""
        return bool(self.options.webhook_endpoint or self.options.status_channel)

    async def _publish_status(self, channel: str, event: str) -> None:
        """One status event into ``status_channel`` (a namespace missing there is logged once, not retried)."""
        try:
            options = self.rules.options(channel)
        except ProtocolError:
            if self._status_warned != channel:
                self._status_warned = channel
                logger.warning("status_channel %r has no namespace: events not published", channel)
            return
        waiting = self.publisher.publish(Message(uuid.uuid4().hex, channel, event), options)
        if waiting is not None:
            await waiting

    def admission(self) -> str | None:
        """Why a new client connection is refused now, or None (see ClientRegistry)."""
        return self.clients.admission()

    def add_admin_listener(self, listener: Callable[[bytes], None]) -> None:
        """``listener(data)`` for every admin message (the bytes ``watch_body`` made)."""
        self._admin_listeners.append(listener)

    async def idle(self) -> None:
        """Wait until every spawned task is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    # -- the periodic tick ------------------------------------------------------------

    def _tick_period(self) -> float:
        if self._tick_interval is not None:
            return self._tick_interval
        o = self.options
        shortest = min(o.stale_connection_close_delay, o.presence_ping_interval,
                       o.node_ping_interval, o.expired_connection_close_delay,
                       o.ping_interval, o.pong_timeout or o.ping_interval)
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
        await self.clients.tick(now)
        await self.directory.tick(now)
        self.events.tick(now)
        self.status.tick(now)
        self.gaps.prune()

    # -- nodes ------------------------------------------------------------------------

    def node_info(self, raw: bool = True) -> dict[str, Any]:
        return self.directory.node_info(raw)

    def nodes(self) -> list[dict[str, Any]]:
        return self.directory.nodes()

    def series(self) -> dict[str, Any]:
        """Every node's samples for the admin charts (app.core.series)."""
        return self.directory.series()

    def _node_seen(self, uid: str, info: dict[str, Any], sample: Any) -> None:
        self.directory.node_seen(uid, info, sample)

    # -- EngineHandler ----------------------------------------------------------------

    def handle_message(self, message: Message) -> None:
        self.fanout.message(message)

    def handle_join(self, channel: str, info: ClientInfo) -> None:
        self.fanout.join(channel, info)

    def handle_leave(self, channel: str, info: ClientInfo) -> None:
        self.fanout.leave(channel, info)

    def handle_control(self, data: bytes) -> None:
        self.control.handle(data)

    def handle_admin(self, data: bytes) -> None:
        for listener in self._admin_listeners:
            listener(data)

    def handle_lost(self, channels: list[str]) -> None:
        self.gaps.lost(channels)

    def handle_api(self, data: bytes) -> None:
        """One Redis API queue item, run in a task by :attr:`api_queue`."""
        if self.api_queue is None:
            logger.warning("API queue item dropped: no API on this node (%d bytes)", len(data))
            return
        self.spawn(self.api_queue(data), "API queue item")
