"""The Redis API queue: backends RPUSH API commands; every node consumes.

Queues ``P.api`` and ``P.api.0`` … ``P.api.(N-1)`` are each consumed by one
task per node: a blocking ``BLPOP`` (timeout ``read_timeout/2``, below the
socket timeout) for the first item, then the batch-pop script for up to 64
more, so a burst costs few round trips.  LPOP-style consumption means each
item is handed to exactly one node's ``handle_api``.  Failures back off
(50 ms doubling to 2 s); nothing is lost while Redis is away, items wait in
the list.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from app.engines.redis.scripts import API_BATCH_POP

logger = logging.getLogger("sockhub.engines.redis")

_BATCH = 64


class ApiQueueConsumer:
    """One consuming task per queue; see the module docstring."""

    def __init__(self, client: Any, queues: list[str], deliver: Callable[[bytes], None], block: float) -> None:
        self._client = client
        self._queues = queues
        self._deliver = deliver
        self._block = block
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._consume(q), name=f"sockhub-redis-api-{q}") for q in self._queues]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _consume(self, queue: str) -> None:
        backoff = 0.05
        while True:
            try:
                reply = await self._client.execute_command("BLPOP", queue, self._block)
                if reply:
                    self._hand(reply[1])
                    for item in await self._pop_batch(queue):
                        self._hand(item)
                backoff = 0.05
            except (RedisError, OSError, TimeoutError) as exc:
                logger.debug("redis api queue %s: %s", queue, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _pop_batch(self, queue: str) -> list[bytes]:
        items: list[bytes]
        try:
            items = await self._client.evalsha(API_BATCH_POP.sha, 1, queue, _BATCH)
        except NoScriptError:
            await self._client.script_load(API_BATCH_POP.source)
            items = await self._client.evalsha(API_BATCH_POP.sha, 1, queue, _BATCH)
        return items

    def _hand(self, item: bytes) -> None:
        try:
            self._deliver(item)
        except Exception:  # loop boundary: one bad command must not stop the queue
            logger.exception("api queue item failed")
