"""Online status and occupancy: the observer the core tells when a client
is authenticated or gone and when a subscription is added or removed, and
the store that decides "first in / last out" (docs/webhooks.md).

Groups.  Every event is about a *group* of connections, spelled as one
string whose first letter is its kind:

* ``u<user>``: the connections of a user (``user_online`` / ``user_offline``);
* ``c<channel>``: the subscribers of a channel (``channel_occupied`` /
  ``channel_vacated``);
* ``m<UTF-8 length of channel>:<channel><user>``: a user's subscriptions of a presence
  channel (``member_added`` / ``member_removed``).

Anonymous connections (user "") count for channels only.

Duties and guarantees:

* :class:`StatusTracker` is the one observer (``ctx.status``); the hooks are
  plain calls (the hot paths read :attr:`StatusTracker.on` first and call
  nothing while it is False).  Each hook queues an operation; ONE worker sends
  the queued operations to the :class:`StatusStore` in order, all of one
  loop tick together (at most :data:`ROUND`), and after a failure sends
  again, in order, from the first failed one on, with back-off (at most
  :data:`MAX_QUEUED` wait; more are dropped and logged);
* the store decides atomically on the state of the whole cluster (Redis) or
  of the process (memory): the first connection entering an empty group
  emits the "on" event, unless the group was waiting out its grace (then
  nothing: a reload inside ``status_grace``); the last one leaving makes the
  group wait ``status_grace`` seconds, after which :meth:`StatusStore.sweep`
  emits the "off" event if it is still empty;
* each connection entered has a lease of ``presence_expire_interval``
  seconds, renewed every ``presence_ping_interval`` by its node; a sweep on
  any node takes the groups of connections whose lease ran out (a node
  killed with -9) out, so their "off" events come from a survivor, once;
* events wait in the store's outbox until a drainer takes and acknowledges
  them (app.status.drain).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from functools import partial
from typing import Awaitable, Callable, Protocol, runtime_checkable

from app.core.engine import EngineError
from app.options import Options

logger = logging.getLogger("sockhub.status")

#: Operations waiting for the store, at most; more are dropped (and logged).
MAX_QUEUED = 100000
#: Retry delays of a failing store: from the first to the longest (seconds).
RETRY_FIRST = 0.1
RETRY_MAX = 5.0
#: Operations sent together (one pipeline), at most: below the Redis
#: batcher's bound of waiting commands.
ROUND = 500
#: Seconds a stopping node keeps sending what is queued, at most.
STOP_TIMEOUT = 5.0
#: Connections refreshed by one store call.
REFRESH_CHUNK = 1000

ON = {"u": "user_online", "c": "channel_occupied", "m": "member_added"}
OFF = {"u": "user_offline", "c": "channel_vacated", "m": "member_removed"}


def user_group(user: str) -> str:
    return "u" + user


def channel_group(channel: str) -> str:
    return "c" + channel


def member_group(channel: str, user: str) -> str:
    """The length is in UTF-8 bytes: the Redis scripts cut the group by bytes."""
    return f"m{len(channel.encode(errors='surrogatepass'))}:{channel}{user}"


def event_fields(group: str) -> dict[str, str]:
    """The ``channel``/``user_id`` fields of an event about ``group``."""
    kind, rest = group[:1], group[1:]
    if kind == "u":
        return {"user_id": rest}
    if kind == "c":
        return {"channel": rest}
    size, _, tail = rest.partition(":")
    raw, length = tail.encode(), int(size)
    return {"channel": raw[:length].decode(), "user_id": raw[length:].decode()}


class StatusStore(Protocol):
    """Where group membership and the outbox live (memory or Redis).  Every
    method may raise EngineError; each is atomic; ``now`` and deadlines are
    wall-clock seconds (nodes compare them)."""

    async def enter(self, client: str, groups: list[str], expire_at: float, now: float) -> None:
        """``client`` joins ``groups`` (its lease runs to ``expire_at``); an
        "on" event per group it made non-empty that was not in its grace."""
        ...

    async def leave(self, client: str, groups: list[str], due: float, now: float) -> None:
        """``client`` leaves ``groups``; a group it left empty waits until
        ``due`` (an "off" event at once when ``due <= now``)."""
        ...

    async def refresh(self, clients: list[str], expire_at: float) -> list[str]:
        """Renew the leases of ``clients``; returns those the store does not
        know (any more): a Redis that lost its data, a lease run out."""
        ...

    async def sweep(self, now: float) -> None:
        """Take connections whose lease ran out out of their groups, and emit
        the "off" events of groups whose grace ended empty."""
        ...

    async def take(self, owner: str, limit: int, lease: float) -> list[bytes] | None:
        """The oldest ``limit`` events of the outbox (JSON objects), or None
        when another drainer holds the outbox (its lease of ``lease`` s)."""
        ...

    async def ack(self, owner: str, count: int) -> bool:
        """Drop the ``count`` oldest events, if ``owner`` still holds the outbox."""
        ...

    async def pending(self) -> int:
        """Events in the outbox."""
        ...


@runtime_checkable
class StatusEngine(Protocol):
    """The capability of an engine that keeps status state (both do; an
    engine wrapped by a test double does not, and gets a memory store)."""

    def status_store(self) -> StatusStore: ...


class Member(Protocol):
    """What the tracker reads of a client."""

    @property
    def id(self) -> str: ...

    @property
    def user(self) -> str: ...


_Op = Callable[[], Awaitable[None]]


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class StatusTracker:
    """The core's status observer; see the module docstring."""

    def __init__(self, store: StatusStore, options: Callable[[], Options], clock: Callable[[], float]) -> None:
        self._store = store
        self._options = options
        self._clock = clock
        #: Read on every hot path: the hooks are called only while True.
        self.on = False
        #: client id -> the groups it entered (what this node renews and leaves)
        self._entered: dict[str, set[str]] = {}
        self._queue: deque[_Op] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._next_refresh = 0.0
        self._busy = False
        self._sweep_queued = False
        self.dropped = 0

    @property
    def store(self) -> StatusStore:
        return self._store

    @property
    def idle(self) -> bool:
        """Nothing entered and nothing queued (churn tests)."""
        return not self._entered and not self._queue

    def start(self, on: bool) -> None:
        self.on = on
        if on and self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="sockhub-status")

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Send what is queued (for at most ``timeout`` s), then stop the worker."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._queue or self._busy) and self._worker is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    # -- hooks ------------------------------------------------------------------------

    def connected(self, client: Member) -> None:
        if client.user:
            self._enter(client.id, user_group(client.user))

    def disconnected(self, client: Member) -> None:
        if client.user:
            self._leave(client.id, user_group(client.user))

    def subscribed(self, client: Member, channel: str, presence: bool) -> None:
        if channel == self._options().status_channel:
            return  # its watchers are not news
        self._enter(client.id, channel_group(channel))
        if presence and client.user:
            self._enter(client.id, member_group(channel, client.user))

    def unsubscribed(self, client: Member, channel: str) -> None:
        self._leave(client.id, channel_group(channel))
        if client.user:
            self._leave(client.id, member_group(channel, client.user))

    def _enter(self, client: str, group: str) -> None:
        if not _encodable(group):
            return  # a lone surrogate in a name: no store can spell it
        groups = self._entered.setdefault(client, set())
        if group in groups:
            return
        groups.add(group)
        now = self._clock()
        expire_at = now + self._options().presence_expire_interval
        self._push(lambda: self._store.enter(client, [group], expire_at, now))

    def _leave(self, client: str, group: str) -> None:
        groups = self._entered.get(client)
        if groups is None or group not in groups:
            return
        groups.discard(group)
        if not groups:
            del self._entered[client]
        now = self._clock()
        due = now + self._options().status_grace
        self._push(lambda: self._store.leave(client, [group], due, now))

    def _push(self, op: _Op) -> None:
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("status store too slow: %d operations dropped", self.dropped)
            return
        self._queue.append(op)
        self._wake.set()

    # -- the tick -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Renew this node's leases when due; sweep (every tick)."""
        if not self.on:
            return
        options = self._options()
        if now >= self._next_refresh and self._entered:
            self._next_refresh = now + max(0.05, min(options.presence_ping_interval,
                                                     options.presence_expire_interval / 3))
            clients = list(self._entered)
            expire_at = now + options.presence_expire_interval
            for start in range(0, len(clients), REFRESH_CHUNK):
                self._push(partial(self._refresh, clients[start:start + REFRESH_CHUNK], expire_at, now))
        if not self._sweep_queued:  # one at a time: a failing store does not pile sweeps up
            self._sweep_queued = True
            self._push(partial(self._sweep, now))

    async def _refresh(self, clients: list[str], expire_at: float, now: float) -> None:
        for client in await self._store.refresh(clients, expire_at):
            groups = self._entered.get(client)
            if groups:  # still here: enter again (the store's "on" events are news again)
                logger.info("status of client %s lost by the store: entered again", client)
                await self._store.enter(client, sorted(groups), expire_at, now)

    async def _sweep(self, now: float) -> None:
        self._sweep_queued = False
        await self._store.sweep(now)

    # -- the worker ---------------------------------------------------------------------

    async def _work(self) -> None:
        delay = RETRY_FIRST
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            queue = self._queue
            batch = [queue.popleft() for _ in range(min(ROUND, len(queue)))]
            self._busy = True
            try:
                results = await asyncio.gather(*(op() for op in batch), return_exceptions=True)
            finally:
                self._busy = False
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, EngineError):
                    logger.error("status operation failed", exc_info=result)
            failed = next((i for i, r in enumerate(results) if isinstance(r, EngineError)), None)
            if failed is None:
                delay = RETRY_FIRST
                continue
            # From the first failure on, again and in order (a repeated
            # operation changes nothing twice: the stores are idempotent).
            queue.extendleft(reversed(batch[failed:]))
            logger.warning("status store failing (%d operations waiting); retrying in %.1f s", len(queue), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
