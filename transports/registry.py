"""Every live session of a router, the one flush callback and the one tick.

Output: sessions with queued messages ask :meth:`SessionRegistry.want_flush`;
the first such request of a loop iteration schedules ONE ``call_soon`` that
flushes all of them, so whatever was queued during an iteration leaves as one
frame per session, without a Task or Future per message.

Time: one periodic ``call_later`` chain (started lazily on the running loop,
when the first session arrives) pops the sessions whose deadline passed off a
heap.  Entries go stale when a session's deadline moves; a stale entry is
recognised (its time differs from ``session.heap_due``) and dropped, and a
session whose deadline moved later is pushed again, so the cost is
O(log n) per session per heartbeat period, not a scan of all sessions.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Callable, Protocol

from transports.deadlines import Deadlines
from transports.frames import BatchMemo
from transports.session import Session

logger = logging.getLogger("sockhub.transports.registry")


class Outgoing(Protocol):
    """Output that outlives its session's sink (an ending HTTP response,
    closed with the other HTTP connections at the end of a shutdown)."""

    @property
    def undelivered(self) -> int: ...


class SessionRegistry:
    """Owns the sessions of one router (see the module docstring); each
    session's :class:`~transports.session.Scheduler`."""

    def __init__(self, tick_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tick_interval = tick_interval
        self._by_id: dict[str, Session] = {}
        self._all: set[Session] = set()
        self._dirty: list[Session] = []
        self._flush_handle: asyncio.Handle | None = None
        self._deadlines: Deadlines[Session] = Deadlines()
        self._tick_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        #: merged frames shared by the sessions of one flush (see BatchMemo)
        self.batches = BatchMemo()
        #: a closing handshake under way is not aborted before this time
        #: (registry clock): a graceful shutdown waits for it (Session._abort_at)
        self.closing_held_until = float("-inf")
        #: HTTP responses that left their session and are still being
        #: written (streaming.ReceiverHandler); graceful shutdown waits for them
        self.finishing: set[Outgoing] = set()

    # -- membership ------------------------------------------------------------

    def add(self, session: Session) -> None:
        """Register a new session; detachable ones become findable by id."""
        self._ensure_started()
        self._all.add(session)
        if session.detachable:
            self._by_id[session.id] = session

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def forget(self, session: Session) -> None:
        self._unschedule(session)  # the heap lets go of it now, not at its deadline
        self._all.discard(session)
        if self._by_id.get(session.id) is session:
            del self._by_id[session.id]

    def __len__(self) -> int:
        return len(self._all)

    def sessions(self) -> list[Session]:
        return list(self._all)

    def by_transport(self) -> dict[str, int]:
        return dict(Counter(s.transport for s in self._all if not s.closed))

    # -- output ------------------------------------------------------------------

    def want_flush(self, session: Session) -> None:
        self._dirty.append(session)
        if self._flush_handle is None and not self._stopped:
            self._flush_handle = self._running_loop().call_soon(self.flush_now)

    def flush_now(self) -> None:
        """Flush every session with pending output, each one isolated."""
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            try:
                session.flush()
            except Exception:
                # Loop boundary: a failing session never stops the others.
                logger.exception("flush failed for session %s", session.id)
        self.batches.clear()

    # -- time ----------------------------------------------------------------------

    def reschedule(self, session: Session) -> None:
        """Make sure the heap holds an entry no later than the session's
        current deadline."""
        due = session.next_due()
        if due is not None and due < session.heap_due:
            self._schedule(session, due)

    def _schedule(self, session: Session, due: float) -> None:
        """The session's one heap entry, at ``due``."""
        self._unschedule(session)
        session.heap_due = due
        session.heap_handle = self._deadlines.push(due, session)

    def _unschedule(self, session: Session) -> None:
        if session.heap_handle >= 0:
            self._deadlines.cancel(session.heap_handle)
            session.heap_handle = -1
        session.heap_due = float("inf")

    def tick(self) -> None:
        """Run every due heartbeat, expiry and close timeout (one pass)."""
        now = self.clock()
        due = self._deadlines.pop_due(now)
        for session in due:
            session.heap_due, session.heap_handle = float("inf"), -1
        for session in due:
            try:
                session.on_tick(now)
            except Exception:
                logger.exception("tick failed for session %s", session.id)
            following = session.next_due()
            if following is not None:
                # Never due again within this pass (an aborted transport
                # reports its loss only later): no busy loop.
                self._schedule(session, max(following, now + self._tick_interval))

    def scheduled(self) -> int:
        """Live entries of the deadline heap (tests: one per session at most)."""
        return len(self._deadlines)

    def _on_timer(self) -> None:
        self._tick_handle = None
        try:
            self.tick()
        finally:
            if not self._stopped and self._loop is not None:
                self._tick_handle = self._loop.call_later(self._tick_interval, self._on_timer)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _ensure_started(self) -> None:
        """Start the periodic tick on the running loop (not at construction:
        a router may be built before its loop runs)."""
        if self._tick_handle is None and not self._stopped:
            loop = self._running_loop()
            self._tick_handle = loop.call_later(self._tick_interval, self._on_timer)

    def stop(self) -> None:
        """Stop the tick and the flush callback (after a final flush)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self.flush_now()
        self._stopped = True
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
