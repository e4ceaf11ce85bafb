"""Tick pipelining: every command issued in one loop tick goes in one round trip.

Callers ``await batcher.call(*args)`` and each gets its own reply.  The
first call of a tick starts a flush task; because a new task first runs on
the *next* loop iteration, every command queued during the current tick is
already waiting when it sends them all as one non-transactional pipeline.
Batches are sent one at a time, so commands reach Redis in call order (the
order of publishes on a channel is kept); commands queued while a batch is in
flight form the next batch, which under load makes batches grow instead of
round trips multiplying.

Failure is prompt and bounded: a batch that fails or outlives ``timeout``
fails every caller in it with EngineError, and past ``max_pending`` queued
commands new calls fail at once rather than queue while Redis is away.
Each failure says whether the commands were not done (``unknown`` False:
too many waiting, no connection could be made, or Redis answered with an
error) or may have been (``unknown`` True: they may have been written and
no reply came, e.g. Redis stalled).  The timeout is a deadline on waiting:
when it passes, replies already received (in the socket buffer, not yet
parsed because the loop was busy) are still read for up to
:data:`_GRACE` seconds before the batch fails.

One exception: a batch whose connection fails (ConnectionError, not a
timeout) is sent once more, on a fresh connection, after the pool's idle
connections are dropped.  Those idle connections may lead to a Redis that
restarted (or closed them as idle); such a connection fails before anything
ran, and without the retry the first calls after Redis came back would fail
although it is up.  A Redis that is really away fails the retry at once.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from app.core.engine import EngineError
from app.engines.redis.scripts import ALL as ALL_SCRIPTS

logger = logging.getLogger("sockhub.engines.redis")

_Item = tuple[tuple[Any, ...], "asyncio.Future[Any]"]

#: Seconds past the timeout in which replies already received are still read.
_GRACE = 0.05


def _not_sent(exc: BaseException) -> bool:
    """A connection error raised while connecting: nothing was written.
    (redis-py words them "Error N connecting to ..." / "Timeout connecting ...".)"""
    return isinstance(exc, RedisError) and "connecting" in str(exc)


def describe(exc: BaseException) -> str:
    """An exception's message, or its type when the message is empty (a
    TimeoutError has none): no warning ends with an empty cause."""
    return str(exc) or type(exc).__name__


class Batcher:
    """Pipelines the commands of one Redis client (one shard)."""

    def __init__(self, client: Any, *, timeout: float, max_pending: int = 10000, pipelined: bool = True) -> None:
        self._client = client
        self._timeout = timeout
        self._max_pending = max_pending
        self._pipelined = pipelined
        self._pending: list[_Item] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Whether the batch in flight got as far as writing (see _pipeline).
        self._written = False
        #: Round trips made so far (tests and the bench read it).
        self.round_trips = 0

    async def call(self, *args: Any) -> Any:
        """Run one command in the next batch and return its reply.

        Raises EngineError when Redis fails, replies with an error, or is
        too slow."""
        if len(self._pending) >= self._max_pending:
            raise EngineError(f"redis: too many commands waiting (over {self._max_pending}), not sent")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="sockhub-redis-flush")
        return await future

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._fail(self._pending, EngineError("redis engine shut down"))
        self._pending = []

    async def _flush(self) -> None:
        while self._pending:
            if self._pipelined:
                batch, self._pending = self._pending, []
            else:  # one round trip per command: the bench's baseline
                batch, self._pending = self._pending[:1], self._pending[1:]
            try:
                replies = await self._within_deadline([args for args, _ in batch])
            except EngineError as exc:
                self._fail(batch, exc)
                continue
            for (_, future), reply in zip(batch, replies):
                if future.done():  # the caller gave up (cancelled)
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(EngineError(f"redis: {describe(reply)}"))
                else:
                    future.set_result(reply)

    async def _within_deadline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """The batch's replies; EngineError (saying whether the commands may
        have been done) when Redis fails or does not answer within the
        timeout (plus the grace for replies already received)."""
        self._written = False
        task = asyncio.ensure_future(self._execute_once_more_if_stale(commands))
        done, _ = await asyncio.wait({task}, timeout=self._timeout)
        if not done:  # a deadline on waiting: take what has already arrived
            done, _ = await asyncio.wait({task}, timeout=_GRACE)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if not self._written:
                raise EngineError(f"redis: no connection within {self._timeout:g} s, not sent")
            raise EngineError(f"redis: no reply within {self._timeout:g} s, outcome unknown", unknown=True)
        try:
            return task.result()
        except (RedisError, OSError) as exc:
            if not self._written or _not_sent(exc):
                raise EngineError(f"redis: {describe(exc)}, not sent") from None
            raise EngineError(f"redis: {describe(exc)}, outcome unknown", unknown=True) from None

    async def _execute_once_more_if_stale(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        try:
            return await self._execute(commands)
        except RedisConnectionError as first:
            pool = getattr(self._client, "connection_pool", None)  # a Cluster client has none
            if pool is not None:
                await pool.disconnect(inuse_connections=False)
            try:
                return await self._execute(commands)
            except (RedisError, OSError) as again:
                if _not_sent(again) and not _not_sent(first):
                    raise first from None  # the first try may have run them: still unknown
                raise

    async def _execute(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        replies = await self._pipeline(commands)
        retry = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if retry:  # a Redis that restarted (or is new) lost its script cache
            for script in ALL_SCRIPTS:
                await self._client.script_load(script.source)
            again = await self._pipeline([commands[i] for i in retry])
            for i, reply in zip(retry, again):
                replies[i] = reply
        return replies

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """One round trip.  The connection is taken (connected, its handshake
        answered) before anything of the batch is written, so a failure
        before that point is known to have sent nothing (``_written``)."""
        self.round_trips += 1
        pipe = self._client.pipeline(transaction=False)
        for args in commands:
            pipe.execute_command(*args)
        pool = getattr(self._client, "connection_pool", None)  # a Cluster client has none
        if pool is not None:
            pipe.connection = await pool.get_connection()  # execute() gives it back (reset)
        self._written = True
        return list(await pipe.execute(raise_on_error=False))

    @staticmethod
    def _fail(batch: list[_Item], error: EngineError) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)
