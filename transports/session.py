"""One logical client connection: outbound queue, inbound order, lifecycle.

A :class:`Session` is what the application sees (it implements
:class:`transports.interfaces.SessionHandle`).  Frames leave through a
:class:`Sink`: the websocket of a websocket session, or whichever HTTP
response is attached right now for the HTTP transports (none between two
polls).

Guarantees kept here, whatever the transport:

* ``send``/``send_frame`` only append to a list; the registry flushes every
  session with pending output in one loop callback, and a session writes its
  whole queue as one frame.  No Task or Future per message.
* ``on_open`` once, before any ``on_message``; ``on_message`` awaited in
  order by one worker task that lives only while inbound messages wait;
  ``on_close`` once, after which sends are dropped.
* Heartbeats and expiry are driven by the registry's single tick through
  :meth:`Session.on_tick` and :meth:`Session.next_due`.
* While a websocket's socket holds unsent bytes (asyncio flow control), what
  follows waits in the queue as whole messages, not as byte copies in the
  transport: :meth:`Session.drop_queued` can then drop it (a ``slow``
  client) and the close frame still follows a whole frame.
* A close with a ``grace`` half-closes after the close frame and aborts the
  sink ``grace`` seconds later; other closes wait ``linger`` for the closing
  handshake, or until a graceful shutdown's drain decides
  (:attr:`Scheduler.closing_held_until`).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Iterable, Protocol

from transports.frames import SEPARATE, Prepared
from transports.interfaces import NO_REQUEST, Connection, ConnectionFactory, OpenRequest

logger = logging.getLogger("sockhub.transports.session")

INTERRUPTED = (1002, "Connection interrupted")
CONFLICT = (2010, "Another connection still open")
#: Transports that carry binary messages (the others carry text only).
BINARY_TRANSPORTS = frozenset({"raw_websocket", "http_stream"})
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

    @property
    def undelivered(self) -> int:
        """Bytes written and not yet acknowledged by the peer: the socket
        layer's buffer and the kernel's send queue (graceful shutdown reads
        it; a system call, never read per message)."""
        ...

    def half_close(self, grace: float) -> None:
        """No more output: the peer gets EOF once what was written has left
        (websocket: TCP half-close); reading goes on.  An HTTP response
        (which has ended and let go of its session) is dropped if its end is
        still not written ``grace`` seconds later; a websocket is aborted by
        the session's tick instead."""
        ...


class Scheduler(Protocol):
    """What a session needs of whoever drives it (the router's
    :class:`~transports.registry.SessionRegistry`): a clock, the one flush
    callback, the deadline heap and a graceful shutdown's hold on closing
    handshakes.  A session is one scheduler's from its creation to its
    :meth:`forget`."""

    def clock(self) -> float:
        """Now, on the clock every deadline of the session is measured by."""
        ...

    @property
    def closing_held_until(self) -> float:
        """A closing handshake under way is not aborted before this time
        (clock time; -inf when no shutdown holds them)."""
        ...

    def want_flush(self, session: Session) -> None:
        """``session`` has queued output: call its :meth:`Session.flush`
        soon, once per loop iteration however many sends asked."""
        ...

    def reschedule(self, session: Session) -> None:
        """``session``'s deadline (:meth:`Session.next_due`) may have moved
        earlier: make sure its :meth:`Session.on_tick` runs by then."""
        ...

    def forget(self, session: Session) -> None:
        """``session`` is gone: drop it and its deadline now."""
        ...


class Session:
    """A SockJS (or raw websocket) session; see the module docstring.

    ``detachable`` sessions (HTTP transports) outlive their receivers for
    ``linger`` seconds; the others (websockets) end with their connection.
    """

    __slots__ = (
        "id", "transport", "remote_ip", "request", "batching", "detachable", "heap_due", "heap_handle",
        "_scheduler", "_conn", "_queue", "_queued", "_sink", "_closed",
        "_close_code", "_close_reason", "_inbound", "_worker", "_beat_at",
        "_detached_at", "_closed_at", "_dirty", "_gone", "_notified",
        "_heartbeat", "_linger", "_blocked", "_close_wait", "_cut", "_close_after",
    )

    def __init__(
        self,
        session_id: str,
        transport: str,
        remote_ip: str,
        scheduler: Scheduler,
        heartbeat: float,
        linger: float,
        detachable: bool,
        request: OpenRequest = NO_REQUEST,
    ) -> None:
        self.id = session_id
        self.transport = transport
        self.remote_ip = remote_ip
        self.request = request
        #: how a raw websocket writes several queued messages (transports.frames)
        self.batching = SEPARATE
        self.detachable = detachable
        #: deadline of this session's live entry in the registry's heap
        self.heap_due = float("inf")
        #: its handle there (-1: none)
        self.heap_handle = -1
        self._scheduler = scheduler
        self._conn: Connection | None = None
        self._queue: list[Prepared] = []
        self._queued = 0
        self._sink: Sink | None = None
        self._closed = False
        self._close_code = 0
        self._close_reason = ""
        self._inbound: deque[str | bytes] = deque()
        self._worker: asyncio.Task[None] | None = None
        #: a close waiting for the messages received before it (close_after_inbound)
        self._close_after: tuple[int, str] | None = None
        now = scheduler.clock()
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
        #: the sink's socket takes no more for now: the queue waits here, as
        #: messages, rather than as copies in the socket layer's buffer
        self._blocked = False
        #: how long a closing handshake may take before the sink is aborted
        self._close_wait = linger
        #: closed with a grace period: output half-closed, not held by a drain
        self._cut = False

    # -- the application's side (interfaces.SessionHandle) ------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_bytes(self) -> int:
        sink = self._sink
        return self._queued + (sink.buffered if sink is not None else 0)

    @property
    def undelivered(self) -> int:
        """Bytes queued, or written and not acknowledged by the peer yet (0
        once everything reached the client's TCP stack).  For graceful
        shutdown: costs a system call while a sink is attached."""
        sink = self._sink
        return self._queued + (sink.undelivered if sink is not None else 0)

    @property
    def receiving(self) -> bool:
        """A connection is attached right now (websocket, or an HTTP poll or
        stream); an HTTP session between two polls has none."""
        return self._sink is not None

    def send(self, text: str) -> None:
        self.send_frame(Prepared(text))

    def send_binary(self, data: bytes) -> None:
        """A binary message: raw websocket and HTTP-streaming sessions only
        (the SockJS transports and SSE carry text); elsewhere it is dropped
        and logged."""
        if self.transport not in BINARY_TRANSPORTS:
            logger.error("session %s: a binary message on %s dropped", self.id, self.transport)
            return
        self.send_frame(Prepared.binary(data))

    def send_frame(self, frame: Prepared) -> None:
        """Queue ``frame``; the first one of a loop iteration asks the
        scheduler for the flush (once per session per iteration)."""
        if self._closed:
            return
        self._queue.append(frame)
        # Characters, not UTF-8 bytes: cheap, and the bound is a coarse one.
        self._queued += frame.size
        if not self._dirty and self._sink is not None:
            self._dirty = True
            self._scheduler.want_flush(self)

    def close(self, code: int = 3000, reason: str = "Go away!", grace: float | None = None) -> None:
        """Flush the queue, send the close frame, then tell the application.

        ``grace`` (seconds): for a peer that is not taking its output; the
        sink half-closes after the close frame and is aborted if still there
        ``grace`` seconds later, instead of after the usual closing-handshake
        wait (``linger``)."""
        if self._closed:
            return
        self._closed = True
        self._close_code, self._close_reason = code, reason
        self._closed_at = self._scheduler.clock()
        self._inbound.clear()
        if grace is not None:
            self._close_wait, self._cut = grace, True
        sink = self._sink
        if sink is not None:
            if self._queue:
                self._write_queue(sink)
            if self._sink is sink:
                sink.write_close(code, reason)
                if grace is not None:
                    sink.half_close(grace)
        self._notify_close()
        self._scheduler.reschedule(self)

    def close_after_inbound(self, code: int, reason: str) -> None:
        """Close once the messages already received are handled: a peer that
        sent bad input after good messages still has those acted on."""
        if self._worker is None:
            self.close(code, reason)
        else:
            self._close_after = (code, reason)

    def drop_queued(self) -> int:
        """Forget the messages queued and not yet handed to the socket (for
        a peer too slow to take them, before its close); how many."""
        dropped = len(self._queue)
        self._queue = []
        self._queued = 0
        return dropped

    # -- the transports' side ------------------------------------------------

    def start(self, factory: ConnectionFactory, sink: Sink) -> None:
        """Open the session on its first sink: open frame, then ``on_open``."""
        self._sink = sink
        self._beat_at = self._scheduler.clock()
        sink.write_open()
        try:
            self._conn = factory(self)
            self._conn.on_open()
        except Exception:
            logger.exception("connection set-up failed for session %s", self.id)
            self.close(*INTERNAL_ERROR)
        self._scheduler.reschedule(self)

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
        self._beat_at = self._scheduler.clock()
        if self._queue:
            self.flush()
        if self._closed and self._sink is sink:
            sink.write_close(self._close_code, self._close_reason)
        self._scheduler.reschedule(self)

    def detach(self, sink: Sink, aborted: bool) -> None:
        """``sink`` has ended.  ``aborted``: the peer dropped it (network)."""
        if self._sink is not sink:
            return
        self._sink = None
        self._detached_at = self._scheduler.clock()
        if not self.detachable:
            self._expire(*INTERRUPTED)
            return
        if aborted:
            # The client went away mid-response: what it received is unknown,
            # so the session ends (sockjs-protocol's "Connection interrupted").
            self.close(*INTERRUPTED)
        self._scheduler.reschedule(self)

    def flush(self) -> None:
        """Write the whole queue as one frame (called by the registry); while
        the sink is blocked the queue waits (see :meth:`writing_paused`)."""
        self._dirty = False
        sink = self._sink
        if sink is None or not self._queue:
            return
        if self._blocked:
            self._dirty = True  # writing_resumed() asks for the flush
            return
        self._write_queue(sink)

    def _write_queue(self, sink: Sink) -> None:
        items = self._queue
        self._queue = []
        self._queued = 0
        sink.write_messages(items)

    def writing_paused(self) -> None:
        """The sink's socket holds unsent bytes: keep what follows queued
        here (whole messages, which a ``slow`` close can drop) until
        :meth:`writing_resumed`."""
        self._blocked = True

    def writing_resumed(self) -> None:
        """The sink's socket took everything: write what waited."""
        self._blocked = False
        if self._queue and self._sink is not None and not self._closed:
            self._dirty = True
            self._scheduler.want_flush(self)

    def receive(self, messages: Iterable[str | bytes]) -> Awaitable[None] | None:
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
                message = self._inbound.popleft()
                try:
                    await conn.on_message(message)
                except Exception:
                    # Loop boundary: one failing message ends this session only.
                    logger.exception("on_message failed for session %s", self.id)
                    self.close(*INTERNAL_ERROR)
        finally:
            self._worker = None
            if self._close_after is not None:
                self.close(*self._close_after)
            elif self._sink is not None:
                self._sink.resume()

    # -- driven by the registry's tick --------------------------------------

    def next_due(self) -> float | None:
        """When this session next needs the tick, or None once it is gone."""
        if self._gone:
            return None
        if self._sink is None:
            return self._detached_at + self._linger
        if self._closed:
            return self._abort_at()
        return self._beat_at + self._heartbeat

    def _abort_at(self) -> float:
        """When a closing handshake still under way is given up:
        ``close_wait`` after the close, and not before the registry's
        ``closing_held_until`` (a graceful shutdown's deadline) unless the
        close had a grace period of its own."""
        due = self._closed_at + self._close_wait
        return due if self._cut else max(due, self._scheduler.closing_held_until)

    def on_tick(self, now: float) -> None:
        """Heartbeat the sink, abort a stuck closing handshake, expire a
        session left without a receiver."""
        sink = self._sink
        if sink is None:
            if now >= self._detached_at + self._linger:
                self._expire(*INTERRUPTED)
        elif self._closed:
            if now >= self._abort_at():
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
        # The session and its connection point at each other: dropping our
        # side lets reference counting free both as soon as the transport
        # lets go, without waiting for a full cyclic collection.
        self._conn = None
        self._scheduler.forget(self)

    def _notify_close(self) -> None:
        if self._notified or self._conn is None:
            return
        self._notified = True
        try:
            self._conn.on_close()
        except Exception:
            logger.exception("on_close failed for session %s", self.id)

