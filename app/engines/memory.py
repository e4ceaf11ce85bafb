"""The memory engine: broker, history and presence inside one process (the default).

Delivery
    Everything published is handed to this node's :class:`EngineHandler`
    **synchronously**, inside the ``publish_*`` call, exactly once, and only
    for channels this node has subscribed (``subscribe``/``unsubscribe``), like
    the Redis engine, which only receives channels it subscribed.  History is
    written *before* delivery, so a client that sees a message can already
    find it in history.  The handler must not block (it enqueues to sessions);
    an exception it raises is logged and does not fail the publish, as a
    failing subscriber on another node would not either.  Control and admin
    data always reach the handler (they are node-wide, not per channel).

History
    One stream per channel: its publications oldest first, exactly
    ``history.size`` kept (a ``deque`` with ``maxlen``), beside the offset
    of the newest and the epoch.  Since offsets are consecutive, the kept
    ones are ``offset - len + 1 .. offset`` and a read ``since`` an offset
    is index arithmetic.  Trimming keeps the counter and the epoch; the
    whole stream (publications, counter, epoch) expires ``history.lifetime``
    seconds after its last publish, so the next one starts a new epoch at
    offset 1.  With ``drop_inactive``, no *new* history
    is started for a channel that has no subscriber on this node, unless its
    last subscriber left less than ``lifetime`` seconds ago (the "touch"
    mark set by ``unsubscribe(channel, history)``, as the Redis engine's
    touch key); an existing history keeps growing.

Expiry
    One heap of deadlines for history, touch marks and presence entries; no
    timer per channel.  Each live item has at most one *current* heap entry
    (``_scheduled``); renewing an item's lifetime only updates the item, and
    when its old heap entry comes due it is pushed back with the new deadline.
    Due entries are processed at the start of every engine call (so an
    injected clock needs no sleeping) and by one periodic sweep task that
    frees memory of channels nobody reads.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.engine import EngineHandler, HistoryOptions
from app.engines.idempotency import IdempotentResults
from app.core.status_memory import MemoryStatusStore
from app.core.values import NO_POSITION, ClientInfo, HistoryPage, Message, StreamPosition, new_epoch
from app.options import Options

logger = logging.getLogger("sockhub.engines.memory")

_HISTORY, _TOUCH, _PRESENCE = 0, 1, 2

#: (kind, channel, uid); uid is "" except for presence.
_Key = tuple[int, str, str]


@dataclass(slots=True)
class _History:
    messages: deque[Message]  # oldest first
    deadline: float
    offset: int  # of the newest publication ever appended (0: none yet)
    epoch: str


@dataclass(slots=True)
class _Expiry:
    """The one heap of deadlines, with lazy deletion and lazy renewal."""

    heap: list[tuple[float, _Key]] = field(default_factory=list)
    scheduled: dict[_Key, float] = field(default_factory=dict)

    def schedule(self, key: _Key, deadline: float) -> None:
        """Make sure ``key`` is looked at no later than ``deadline``."""
        current = self.scheduled.get(key)
        if current is not None and current <= deadline:
            return  # its entry comes due first; it will be pushed back then
        self.scheduled[key] = deadline
        heapq.heappush(self.heap, (deadline, key))

    def due(self, now: float) -> list[_Key]:
        """Pop the keys whose current entry is due; superseded entries are skipped."""
        keys = []
        heap = self.heap
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            if self.scheduled.get(key) == deadline:
                del self.scheduled[key]
                keys.append(key)
        return keys


def _select(entry: _History, limit: int, since: StreamPosition | None, reverse: bool) -> list[Message]:
    """The publications of an Engine.history read (``limit`` not 0)."""
    messages = entry.messages
    if not reverse:  # offsets after since.offset, oldest first
        first = entry.offset - len(messages) + 1
        # clamped: a client's offset may be any uint64, past what islice takes
        start = 0 if since is None else min(max(since.offset + 1 - first, 0), len(messages))
        return list(itertools.islice(messages, start, None if limit < 0 else start + limit))
    skip = 0 if since is None else max(entry.offset - since.offset + 1, 0)  # offsets >= since.offset
    return list(itertools.islice(reversed(messages), skip, None if limit < 0 else skip + limit))


class MemoryEngine:
    """The in-process engine; see the module docstring for its guarantees."""

    name = "Memory"

    def __init__(
        self,
        options: Options,
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = 1.0,
    ) -> None:
        self._options = options
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._handler: EngineHandler | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()
        self._history: dict[str, _History] = {}
        self._touched: dict[str, float] = {}
        self._presence: dict[str, dict[str, tuple[ClientInfo, float]]] = {}
        self._expiry = _Expiry()
        self._idempotent = IdempotentResults(clock)

    def status_store(self) -> MemoryStatusStore:
        """Online status and occupancy in this process (app.core.status)."""
        return MemoryStatusStore()

    # -- life cycle ---------------------------------------------------------

    async def run(self, handler: EngineHandler) -> None:
        self._handler = handler
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="sockhub-memory-sweep")

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                self._expire()
            except Exception:  # loop boundary: keep sweeping
                logger.exception("memory engine sweep failed")

    # -- broker ---------------------------------------------------------------

    async def publish_message(self, message: Message, history: HistoryOptions, idempotency_key: str = "") -> None:
        self.publish_message_now(message, history, idempotency_key)

    def publish_message_now(self, message: Message, history: HistoryOptions, idempotency_key: str = "") -> None:
        """:meth:`publish_message` without a coroutine
        (app.core.engine.ImmediateEngine)."""
        if self._expiry.heap:  # else nothing can be due: no clock read per message
            self._expire()
        if idempotency_key:
            first = self._idempotent.seen(message.channel, idempotency_key)
            if first is not None:  # published already: nothing now, the first one's result
                message.offset, message.epoch = first.offset, first.epoch
                return
        if history.enabled:
            self._save(message, history)
        if idempotency_key:
            self._idempotent.remember(message.channel, idempotency_key,
                                      StreamPosition(message.offset, message.epoch),
                                      self._options.idempotent_result_ttl)
        handler = self._handler
        if handler is not None and message.channel in self._subscribed:
            try:
                handler.handle_message(message)
            except Exception:  # the subscriber side failing must not fail the publisher
                logger.exception("engine handler failed")

    async def publish_join(self, channel: str, info: ClientInfo) -> None:
        if channel in self._subscribed:
            self._deliver(lambda h: h.handle_join(channel, info))

    async def publish_leave(self, channel: str, info: ClientInfo) -> None:
        if channel in self._subscribed:
            self._deliver(lambda h: h.handle_leave(channel, info))

    async def publish_control(self, data: bytes) -> None:
        self._deliver(lambda h: h.handle_control(data))

    async def publish_admin(self, data: bytes) -> None:
        self.publish_admin_now(data)

    def publish_admin_now(self, data: bytes) -> None:
        self._deliver(lambda h: h.handle_admin(data))

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str, history: HistoryOptions | None = None) -> None:
        """Forget the channel; with drop_inactive ``history``, keep starting
        history for it during ``history.lifetime`` (the touch mark)."""
        self._subscribed.discard(channel)
        if history is not None and history.enabled and history.drop_inactive:
            deadline = self._clock() + history.lifetime
            self._touched[channel] = deadline
            self._expiry.schedule((_TOUCH, channel, ""), deadline)

    async def channels(self) -> list[str]:
        return sorted(self._subscribed)

    def _deliver(self, call: Callable[[EngineHandler], None]) -> None:
        if self._handler is None:
            return
        try:
            call(self._handler)
        except Exception:  # the subscriber side failing must not fail the publisher
            logger.exception("engine handler failed")

    # -- history --------------------------------------------------------------

    def _save(self, message: Message, opts: HistoryOptions) -> None:
        channel = message.channel
        entry = self._history.get(channel)
        if entry is None:
            if opts.drop_inactive and not self._active(channel):
                return
            entry = self._history[channel] = _History(deque(maxlen=opts.size), 0.0, 0, new_epoch())
        elif entry.messages.maxlen != opts.size:  # size changed by a config reload (or a read started it)
            entry.messages = deque(entry.messages, maxlen=opts.size)
        entry.offset = message.offset = entry.offset + 1
        message.epoch = entry.epoch
        entry.messages.append(message)
        entry.deadline = self._clock() + opts.lifetime
        self._expiry.schedule((_HISTORY, channel, ""), entry.deadline)

    def _active(self, channel: str) -> bool:
        return channel in self._subscribed or channel in self._touched

    async def history(self, channel: str, limit: int = -1, since: StreamPosition | None = None,
                      reverse: bool = False, lifetime: int = 0) -> HistoryPage:
        self._expire()
        entry = self._history.get(channel)
        if entry is None:
            if lifetime <= 0:
                return HistoryPage([], NO_POSITION)
            # a stream without publications yet; its size is set by the first publish
            deadline = self._clock() + lifetime
            entry = self._history[channel] = _History(deque(), deadline, 0, new_epoch())
            self._expiry.schedule((_HISTORY, channel, ""), deadline)
        position = StreamPosition(entry.offset, entry.epoch)
        if limit == 0:
            return HistoryPage([], position)
        return HistoryPage(_select(entry, limit, since, reverse), position)

    async def remove_history(self, channel: str) -> None:
        entry = self._history.get(channel)
        if entry is not None:
            entry.messages.clear()  # the position stays (Engine.remove_history)

    # -- presence -------------------------------------------------------------

    async def add_presence(self, channel: str, uid: str, info: ClientInfo, expire: int) -> None:
        self._expire()
        deadline = self._clock() + expire
        self._presence.setdefault(channel, {})[uid] = (info, deadline)
        self._expiry.schedule((_PRESENCE, channel, uid), deadline)

    async def remove_presence(self, channel: str, uid: str) -> None:
        entries = self._presence.get(channel)
        if entries is not None:
            entries.pop(uid, None)
            if not entries:
                del self._presence[channel]

    async def presence(self, channel: str) -> dict[str, ClientInfo]:
        self._expire()
        now = self._clock()
        entries = self._presence.get(channel, {})
        return {uid: info for uid, (info, deadline) in entries.items() if deadline > now}

    # -- expiry ---------------------------------------------------------------

    def _expire(self) -> None:
        """Drop every item whose deadline passed; push renewed ones back."""
        now = self._clock()
        heap = self._expiry.heap
        if not heap or heap[0][0] > now:
            return  # nothing due: the common case, on every publish
        for key in self._expiry.due(now):
            deadline = self._deadline(key)
            if deadline is None:
                continue  # removed explicitly meanwhile
            if deadline > now:
                self._expiry.schedule(key, deadline)
            else:
                self._drop(key)

    def _deadline(self, key: _Key) -> float | None:
        kind, channel, uid = key
        if kind == _HISTORY:
            entry = self._history.get(channel)
            return entry.deadline if entry is not None else None
        if kind == _TOUCH:
            return self._touched.get(channel)
        item = self._presence.get(channel, {}).get(uid)
        return item[1] if item is not None else None

    def _drop(self, key: _Key) -> None:
        kind, channel, uid = key
        if kind == _HISTORY:
            del self._history[channel]
        elif kind == _TOUCH:
            del self._touched[channel]
        else:
            entries = self._presence[channel]
            del entries[uid]
            if not entries:
                del self._presence[channel]
