"""One logical client connection: outbound queue, inbound order, lifecycle.

A :class:`Session` is what the application sees (it implements
:class:`transports.interfaces.Session`).  Frames leave through a :class:`Sink`:
the websocket of a websocket session, or whichever HTTP response is attached
right now for the HTTP transports (none between two polls).

Guarantees kept here, whatever the transport:

* ``send``/``send_frame`` only append to a list; the registry flushes every
  session with pending output in one loop callback, and a session writes its
  whole queue as one frame.  No Task or Future per message.
* ``on_open`` once, before any ``on_message``; ``on_message`` awaited in
  order by one worker task that lives only while inbound messages wait;
  ``on_close`` once, after which sends are dropped.
* Heartbeats and expiry are driven by the registry's single tick through
  :meth:`Session.on_tick` and :meth:`Session.next_due`.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Awaitable, Iterable, Protocol

from transports.frames import Prepared
from transports.interfaces import Connection, ConnectionFactory

if TYPE_CHECKING:
    from transports.registry import SessionRegistry

logger = logging.getLogger("sockhub.transports.session")

INTERRUPTED = (1002, "Connection interrupted")
CONFLICT = (2010, "Another connection still open")
INTERNAL_ERROR = (3000, "Internal error")


class Sink(Protocol):
    """Where a session's frames are written.  No method raises on a dead peer."""

    def write_open(self) -> None: ...

    def write_messages(self, items: list[Prepared]) -> None:
        """Write ``items`` (non-empty, in order) as one frame (or, for the raw
        websocket, one write of consecutive frames)."""
        ...

    def write_heartbeat(self) -> None: ...

    def write_close(self, code: int, reason: str) -> None:
        """Write the close frame and end this sink (it detaches itself)."""
        ...

    def abort(self) -> None:
        """Drop the underlying connection now (closing handshake timed out)."""
        ...

    def resume(self) -> None:
        """The inbound backlog was handled: read from the peer again."""
        ...

    @property
    def buffered(self) -> int:
        """Bytes handed to the socket layer and not yet sent."""
        ...


class Session:
    """A SockJS (or raw websocket) session; see the module docstring.

    ``detachable`` sessions (HTTP transports) outlive their receivers for
    ``linger`` seconds; the others (websockets) end with their connection.
    """

    __slots__ = (
        "id", "transport", "remote_ip", "detachable", "heap_due",
        "_registry", "_conn", "_queue", "_queued", "_sink", "_closed",
        "_close_code", "_close_reason", "_inbound", "_worker", "_beat_at",
        "_detached_at", "_closed_at", "_dirty", "_gone", "_notified",
        "_heartbeat", "_linger",
    )

    def __init__(
        self,
        session_id: str,
        transport: str,
        remote_ip: str,
        registry: SessionRegistry,
        heartbeat: float,
        linger: float,
        detachable: bool,
    ) -> None:
        self.id = session_id
        self.transport = transport
        self.remote_ip = remote_ip
        self.detachable = detachable
        #: deadline of this session's live entry in the registry's heap
        self.heap_due = float("inf")
        self._registry = registry
        self._conn: Connection | None = None
        self._queue: list[Prepared] = []
        self._queued = 0
        self._sink: Sink | None = None
        self._closed = False
        self._close_code = 0
        self._close_reason = ""
        self._inbound: deque[str] = deque()
        self._worker: asyncio.Task[None] | None = None
        now = registry.clock()
        #: last heartbeat, or when the current sink attached: heartbeats go
        #: every ``heartbeat`` seconds whatever the traffic (a poll waits at
        #: most that long; the raw websocket gets its ping every interval)
        self._beat_at = now
        self._detached_at = now
        self._closed_at = now
        self._dirty = False
        self._gone = False
        self._notified = False
        self._heartbeat = heartbeat
        self._linger = linger

    # -- the application's side (interfaces.Session) ------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_bytes(self) -> int:
        sink = self._sink
        return self._queued + (sink.buffered if sink is not None else 0)

    @property
    def receiving(self) -> bool:
        """A connection is attached right now (websocket, or an HTTP poll or
        stream); an HTTP session between two polls has none."""
        return self._sink is not None

    def send(self, text: str) -> None:
        self.send_frame(Prepared(text))

    def send_frame(self, frame: Prepared) -> None:
        """Queue ``frame``; the first one of a loop iteration asks the
        registry for the flush (once per session per iteration)."""
        if self._closed:
            return
        self._queue.append(frame)
        # Characters, not UTF-8 bytes: cheap, and the bound is a coarse one.
        self._queued += len(frame.text)
        if not self._dirty and self._sink is not None:
            self._dirty = True
            self._registry.want_flush(self)

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """Flush the queue, send the close frame, then tell the application."""
        if self._closed:
            return
        self._closed = True
        self._close_code, self._close_reason = code, reason
        self._closed_at = self._registry.clock()
        self._inbound.clear()
        sink = self._sink
        if sink is not None:
            if self._queue:
                self.flush()
            if self._sink is sink:
                sink.write_close(code, reason)
        self._notify_close()
        self._registry.reschedule(self)

    # -- the transports' side ------------------------------------------------

    def start(self, factory: ConnectionFactory, sink: Sink) -> None:
        """Open the session on its first sink: open frame, then ``on_open``."""
        self._sink = sink
        self._beat_at = self._registry.clock()
        sink.write_open()
        try:
            self._conn = factory(self)
            self._conn.on_open()
        except Exception:
            logger.exception("connection set-up failed for session %s", self.id)
            self.close(*INTERNAL_ERROR)
        self._registry.reschedule(self)

    def attach(self, sink: Sink) -> None:
        """A new HTTP receiver for an existing session.

        A second concurrent receiver gets the 2010 close frame and the first
        one keeps the session.  Otherwise the receiver gets what was queued
        while no receiver was attached, then the close frame if the session
        has been closed meanwhile."""
        if self._sink is not None:
            sink.write_close(*CONFLICT)
            return
        self._sink = sink
        self._beat_at = self._registry.clock()
        if self._queue:
            self.flush()
        if self._closed and self._sink is sink:
            sink.write_close(self._close_code, self._close_reason)
        self._registry.reschedule(self)

    def detach(self, sink: Sink, aborted: bool) -> None:
        """``sink`` has ended.  ``aborted``: the peer dropped it (network)."""
        if self._sink is not sink:
            return
        self._sink = None
        self._detached_at = self._registry.clock()
        if not self.detachable:
            self._expire(*INTERRUPTED)
            return
        if aborted:
            # The client went away mid-response: what it received is unknown,
            # so the session ends (sockjs-protocol's "Connection interrupted").
            self.close(*INTERRUPTED)
        self._registry.reschedule(self)

    def flush(self) -> None:
        """Write the whole queue as one frame (called by the registry)."""
        self._dirty = False
        sink = self._sink
        if sink is None or not self._queue:
            return
        items = self._queue
        self._queue = []
        self._queued = 0
        sink.write_messages(items)

    def receive(self, messages: Iterable[str]) -> Awaitable[None] | None:
        """Queue inbound messages for ``on_message``; returns the worker that
        delivers them (await it to know they were handled), or None."""
        if self._closed:
            return None
        self._inbound.extend(messages)
        if self._worker is None and self._inbound:
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        return self._worker

    @property
    def inbound_backlog(self) -> int:
        return len(self._inbound)

    async def _drain(self) -> None:
        conn = self._conn
        try:
            while self._inbound and not self._closed and conn is not None:
                text = self._inbound.popleft()
                try:
                    await conn.on_message(text)
                except Exception:
                    # Loop boundary: one failing message ends this session only.
                    logger.exception("on_message failed for session %s", self.id)
                    self.close(*INTERNAL_ERROR)
        finally:
            self._worker = None
            if self._sink is not None:
                self._sink.resume()

    # -- driven by the registry's tick --------------------------------------

    def next_due(self) -> float | None:
        """When this session next needs the tick, or None once it is gone."""
        if self._gone:
            return None
        if self._sink is None:
            return self._detached_at + self._linger
        if self._closed:
            return self._closed_at + self._linger
        return self._beat_at + self._heartbeat

    def on_tick(self, now: float) -> None:
        """Heartbeat the sink, abort a stuck closing handshake, expire a
        session left without a receiver."""
        sink = self._sink
        if sink is None:
            if now >= self._detached_at + self._linger:
                self._expire(*INTERRUPTED)
        elif self._closed:
            if now >= self._closed_at + self._linger:
                self._closed_at = now  # if the abort is slow to land, retry later
                sink.abort()
        elif now >= self._beat_at + self._heartbeat:
            self._beat_at = now
            sink.write_heartbeat()

    def abort(self) -> None:
        """Drop the connection now, without close frame (server shutdown)."""
        sink = self._sink
        if sink is not None:
            sink.abort()
        if not self._gone:
            self._expire(*INTERRUPTED)

    def _expire(self, code: int, reason: str) -> None:
        self._sink = None
        if not self._closed:
            self._closed = True
            self._close_code, self._close_reason = code, reason
            self._inbound.clear()
        self._queue = []
        self._queued = 0
        self._gone = True
        self._notify_close()
        self._registry.forget(self)

    def _notify_close(self) -> None:
        if self._notified or self._conn is None:
            return
        self._notified = True
        try:
            self._conn.on_close()
        except Exception:
            logger.exception("on_close failed for session %s", self.id)

