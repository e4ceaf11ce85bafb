"""The live events of the admin page: connects, disconnects, subscribes,
unsubscribes and publishes, of this node for admin pages on every node.

Nothing is recorded while nobody watches: the hot paths read one plain
attribute, :attr:`EventFeed.on`, and call nothing while it is False.  It is
True while an admin page on this node watches events (:meth:`watch`), or
while another node's lease runs: a node whose pages watch says so with a
control ``events_wanted`` at once and every ``node_ping_interval``, and a
lease lasts two intervals and one second (a node that went away stops
costing anything then).  The tick (:meth:`tick`) ends leases.

Recorded events wait in ONE batch of at most :data:`MAX_BATCH` (more are
counted as ``dropped``), flushed :data:`FLUSH_DELAY` s after its first event:
to this node's listeners (its admin hub) while a page watches here, and to
the other nodes (a control ``events`` message whose params are the batch)
while a lease runs.  A batch, as JSON::

    {"node": uid, "name": node name, "dropped": n,
     "events": [[t_ms, kind, channel, user, client, data], ...]}

``data`` is a publication's raw JSON cut to :data:`DATA_PREVIEW` characters
("" for the other kinds); ``channel`` is "" for connects and disconnects.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Coroutine

from app.core.engine import EngineError
from app.core.values import Message

logger = logging.getLogger("sockhub.events")

#: Events of one node waiting for a flush, at most; more are dropped and counted.
MAX_BATCH = 300
#: Seconds from a batch's first event to its flush (bounds the batches per second).
FLUSH_DELAY = 0.25
#: Characters of a publication's data kept in its event.
DATA_PREVIEW = 200
#: The kinds of events, as the page shows them.
KINDS = ("connect", "disconnect", "subscribe", "unsubscribe", "publish")

#: ``listener(batch_json, number_of_events)``: a batch for this node's admin pages.
Listener = Callable[[str, int], None]
SendControl = Callable[[str, dict[str, Any]], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, None], str], None]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class EventFeed:
    """See the module docstring.  ``name`` gives this node's name (it may
    change with a reload); ``interval`` the current ``node_ping_interval``."""

    def __init__(self, uid: str, name: Callable[[], str], clock: Callable[[], float],
                 interval: Callable[[], float], send: SendControl, spawn: Spawn) -> None:
        #: Read on every hot path: record only while True.
        self.on = False
        self._uid = uid
        self._name = name
        self._clock = clock
        self._interval = interval
        self._send = send
        self._spawn = spawn
        self._listeners: list[Listener] = []
        self._watching = False
        self._lease_until = 0.0
        self._next_announce = 0.0
        self._batch: list[list[Any]] = []
        self._dropped = 0
        self._flush_timer: asyncio.TimerHandle | None = None

    # -- who watches ------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def watch(self, watching: bool) -> None:
        """An admin page on this node started (True) or the last one stopped
        (False) watching events; the other nodes are told at once."""
        if watching == self._watching:
            return
        self._watching = watching
        if watching:
            self._next_announce = 0.0
            self.tick(self._clock())
        else:
            self._update(self._clock())

    def wanted(self) -> None:
        """Another node's pages watch events (control ``events_wanted``)."""
        self._lease_until = self._clock() + 2 * self._interval() + 1
        self.on = True

    def tick(self, now: float) -> None:
        """Renew this node's request to the others; end leases that ran out."""
        if self._watching and now >= self._next_announce:
            self._next_announce = now + self._interval()
            self._spawn(self._safe_send("events_wanted", {}), "events_wanted")
        self._update(now)

    def _update(self, now: float) -> None:
        self.on = self._watching or now < self._lease_until

    # -- recording (only while ``on``) --------------------------------------------------

    def record(self, kind: str, channel: str, user: str, client: str, data: str = "") -> None:
        """One event; call it only while :attr:`on` (it does not check)."""
        batch = self._batch
        if len(batch) >= MAX_BATCH:
            self._dropped += 1
            return
        batch.append([int(self._clock() * 1000), kind, channel, user, client, data[:DATA_PREVIEW]])
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller in a test): at once
                self.flush()
                return
            self._flush_timer = loop.call_later(FLUSH_DELAY, self.flush)

    def publish(self, message: Message) -> None:
        user = message.info.user if message.info is not None else ""
        self.record("publish", message.channel, user, message.client, message.data)

    # -- delivery -------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand the waiting batch to the listeners and the other nodes."""
        self._flush_timer = None
        if not self._batch and not self._dropped:
            return
        events = self._batch
        batch = {"node": self._uid, "name": self._name(), "dropped": self._dropped, "events": events}
        self._batch, self._dropped = [], 0
        if self._watching:
            self._deliver(_dumps(batch), len(events))
        if self._clock() < self._lease_until:
            self._spawn(self._safe_send("events", batch), "events")

    def received(self, params: dict[str, Any]) -> None:
        """A batch of another node (control ``events``); ValueError when malformed."""
        if not self._watching:
            return
        events, node, name, dropped = (params.get("events"), params.get("node"), params.get("name"),
                                       params.get("dropped"))
        if not (isinstance(events, list) and isinstance(node, str) and isinstance(name, str)
                and isinstance(dropped, int) and not isinstance(dropped, bool)):
            raise ValueError("events batch has the wrong shape")
        kept = [e for e in events[:MAX_BATCH] if _is_event(e)]
        batch = {"node": node, "name": name, "dropped": max(0, dropped) + len(events) - len(kept),
                 "events": kept}
        self._deliver(_dumps(batch), len(kept))

    def _deliver(self, text: str, count: int) -> None:
        for listener in self._listeners:
            listener(text, count)

    async def _safe_send(self, method: str, params: dict[str, Any]) -> None:
        try:
            await self._send(method, params)
        except EngineError as exc:  # the engine is down: the pages miss these, nothing else does
            logger.debug("events control %s not sent: %s", method, exc)


def _is_event(value: Any) -> bool:
    """``[t_ms, kind, channel, user, client, data]`` as :meth:`EventFeed.record` makes it."""
    return (isinstance(value, list) and len(value) == 6 and isinstance(value[0], int)
            and value[1] in KINDS and all(isinstance(v, str) for v in value[2:]))
