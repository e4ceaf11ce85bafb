"""One PUB/SUB connection to one Redis, kept subscribed to what the node holds.

Duties and ordering
- ``topics`` (the set the node wants) is the source of truth.  Every change
  to it and the SUBSCRIBE/UNSUBSCRIBE it causes happen under one lock, and
  so does the full resubscribe after a reconnect; commands therefore reach
  Redis in the order the node asked for them, and a subscribe racing an
  unsubscribe of the same channel cannot be reordered.
- ``subscribe`` returns once Redis confirmed every topic, so a message
  published anywhere after it returns is received.
- One reader task reads the connection and hands ``(topic, payload)`` to the
  dispatch callback, in the order Redis sent them.  Per-channel messages that
  arrive after the node dropped the channel are not dispatched.
- While connected, a PING goes out after ``read_timeout/3`` of silence; no
  reply within ``read_timeout`` means the connection is dead.
- On any connection failure the reader reconnects with exponential backoff
  (50 ms doubling to 2 s, never a busy loop) and resubscribes every topic in
  ``topics`` by itself.  While disconnected ``subscribe`` raises EngineError
  at once; ``unsubscribe`` never fails (there is nothing to undo).
- After such a resubscribe, ``on_restored(topics)`` is called with the topics
  that were held across the failure (their messages of the meantime are
  lost), before the first reply of the new connection is read.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from redis.exceptions import RedisError

from app.core.engine import EngineError

logger = logging.getLogger("sockhub.engines.redis")

_MIN_BACKOFF = 0.05
_MAX_BACKOFF = 2.0
_CHUNK = 500  # topics per SUBSCRIBE command


class Subscriber:
    """Keeps one PUB/SUB connection subscribed; see the module docstring."""

    def __init__(
        self,
        pools: list[Any],
        fixed_topics: Iterable[str],
        dispatch: Callable[[str, bytes], None],
        *,
        read_timeout: float,
        op_timeout: float,
        name: str,
        on_restored: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._pools = pools  # candidates; cluster mode rotates through its nodes
        self._pool_index = 0
        self._fixed = list(fixed_topics)
        self._dispatch = dispatch
        self._on_restored = on_restored
        self._ping_after = max(read_timeout / 3, 0.05)
        self._op_timeout = op_timeout
        self._name = name
        self.topics: set[str] = set()
        self._lock = asyncio.Lock()
        self._conn: Any = None
        self._confirm: dict[str, deque[asyncio.Future[None]]] = {}
        self._ready = asyncio.Event()
        self._last_reply = 0.0
        self._task: asyncio.Task[None] | None = None
        #: Connections established and attempts made; tests and stats read them.
        self.connects = 0
        self.attempts = 0

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def start(self) -> None:
        """Start the reader; wait up to op_timeout for the first connection."""
        self._task = asyncio.create_task(self._run(), name=f"sockhub-redis-sub-{self._name}")
        try:
            await asyncio.wait_for(self._ready.wait(), self._op_timeout)
        except TimeoutError:
            logger.warning("redis %s not reachable yet; will keep trying", self._name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def subscribe(self, topics: list[str]) -> None:
        waiters: list[asyncio.Future[None]] = []
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise EngineError(f"redis {self._name} unavailable")
            loop = asyncio.get_running_loop()
            for topic in topics:
                future: asyncio.Future[None] = loop.create_future()
                self._confirm.setdefault(topic, deque()).append(future)
                waiters.append(future)
            self.topics.update(topics)
            try:
                await self._send(conn, "SUBSCRIBE", topics)
            except (RedisError, OSError) as exc:  # the reader notices too, and reconnects
                self.topics.difference_update(topics)
                raise EngineError(f"redis {self._name}: subscribe failed ({exc})") from None
        try:
            results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), self._op_timeout)
            failed = next((r for r in results if isinstance(r, BaseException)), None)
        except TimeoutError:
            failed = TimeoutError("no confirmation")
        if failed is not None:
            self.topics.difference_update(topics)
            raise EngineError(f"redis {self._name}: subscribe failed ({failed})")

    async def unsubscribe(self, topics: list[str]) -> None:
        async with self._lock:
            self.topics.difference_update(topics)
            if self._conn is not None:
                try:
                    await self._send(self._conn, "UNSUBSCRIBE", topics)
                except (RedisError, OSError):
                    pass  # the reader sees the broken connection and resubscribes without them

    async def _send(self, conn: Any, command: str, topics: list[str]) -> None:
        """``command`` for every topic, _CHUNK topics per command, all in one
        write: a resubscribe of every channel after a blip is one write and
        one stream of confirmations, not a round trip per channel."""
        chunks = [(command, *topics[start : start + _CHUNK]) for start in range(0, len(topics), _CHUNK)]
        if chunks:
            await conn.send_packed_command(conn.pack_commands(chunks))

    # -- the reader -----------------------------------------------------------

    async def _run(self) -> None:
        backoff = _MIN_BACKOFF
        failing = False
        while True:
            pool = self._pools[self._pool_index]
            conn = None
            self.attempts += 1
            try:
                conn = await asyncio.wait_for(pool.get_connection(), self._op_timeout)
                await self._resubscribe(conn)
                if failing:
                    logger.warning("redis %s back: resubscribed %d topics", self._name, len(self.topics))
                    self._restored()
                failing, backoff = False, _MIN_BACKOFF
                await self._read(conn)
            except (RedisError, OSError, TimeoutError) as exc:
                if not failing:
                    logger.warning("redis %s pub/sub connection lost: %s", self._name, str(exc) or type(exc).__name__)
                failing = True
                self._pool_index = (self._pool_index + 1) % len(self._pools)
            except Exception:  # loop boundary: keep the node subscribed whatever happened
                logger.exception("redis %s pub/sub reader failed", self._name)
            finally:
                await self._teardown(pool, conn)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    def _restored(self) -> None:
        """Tell the owner which topics may have missed messages; nothing has
        been read from the new connection yet."""
        if self._on_restored is None or not self.topics:
            return
        try:
            self._on_restored(sorted(self.topics))
        except Exception:  # loop boundary: the reader must go on
            logger.exception("redis %s: restore callback failed", self._name)

    async def _resubscribe(self, conn: Any) -> None:
        async with self._lock:
            await self._send(conn, "SUBSCRIBE", self._fixed + sorted(self.topics))
            self._conn = conn
            self.connects += 1
        self._ready.set()

    async def _read(self, conn: Any) -> None:
        """Read until the connection fails; PING it when it falls silent.

        The reading task blocks without a per-read timeout (cheaper per
        message); this watchdog loop decides when silence means death."""
        loop = asyncio.get_running_loop()
        self._last_reply = loop.time()
        reader = asyncio.create_task(self._read_replies(conn), name=f"sockhub-redis-read-{self._name}")
        try:
            while True:
                await asyncio.wait({reader}, timeout=self._ping_after)
                if reader.done():
                    reader.result()  # its error ends this connection
                    return
                silent = loop.time() - self._last_reply
                if silent > self._ping_after * 3:
                    raise TimeoutError("no reply to PING")
                if silent >= self._ping_after:
                    async with self._lock:
                        await conn.send_command("PING")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read_replies(self, conn: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            reply = await conn.read_response(timeout=math.inf, push_request=True)
            self._last_reply = loop.time()
            self._on_reply(reply)

    def _on_reply(self, reply: Any) -> None:
        kind = reply[0]
        if kind == b"message":
            topic = reply[1].decode()
            if topic in self.topics or topic in self._fixed:
                self._dispatch(topic, reply[2])
        elif kind == b"subscribe":
            waiting = self._confirm.get(reply[1].decode())
            if waiting:
                future = waiting.popleft()
                if not waiting:
                    del self._confirm[reply[1].decode()]
                if not future.done():
                    future.set_result(None)

    async def _teardown(self, pool: Any, conn: Any) -> None:
        self._conn = None
        error = EngineError(f"redis {self._name} connection lost")
        for waiting in self._confirm.values():
            for future in waiting:
                if not future.done():
                    future.set_exception(error)
        self._confirm.clear()
        if conn is not None:
            await conn.disconnect()
            await pool.release(conn)
