"""Publishes per second through the memory and Redis engines (prints figures; not a test).

    .venv/bin/python bench/engine_publish.py [--count 20000] [--concurrency 100]

Each run publishes ``count`` messages (with history) to one subscribed
channel from ``concurrency`` concurrent callers, waits until this node's
handler received them all, and prints publishes/s and the Redis round trips
used.  The Redis runs start their own redis-server on a free port (no
persistence) and compare tick pipelining with one round trip per command.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.engine import Engine, HistoryOptions  # noqa: E402
from app.engines.memory import MemoryEngine  # noqa: E402
from app.engines.redis import RedisEngine  # noqa: E402
from app.core.values import ClientInfo, Message, new_uid  # noqa: E402
from app.options import Options  # noqa: E402
from tests.support.redis import redis_server  # noqa: E402


class Counter:
    """A handler that only counts messages."""

    def __init__(self, expected: int) -> None:
        self.received = 0
        self.expected = expected
        self.done = asyncio.Event()

    def handle_message(self, message: Message) -> None:
        self.received += 1
        if self.received >= self.expected:
            self.done.set()

    def handle_join(self, channel: str, info: ClientInfo) -> None: ...
    def handle_leave(self, channel: str, info: ClientInfo) -> None: ...
    def handle_control(self, data: bytes) -> None: ...
    def handle_admin(self, data: bytes) -> None: ...
    def handle_api(self, data: bytes) -> None: ...
    def handle_lost(self, channels: list[str]) -> None: ...


async def run_once(engine: Engine, count: int, concurrency: int) -> tuple[float, float]:
    """(publishes/s until the last publish returned, deliveries/s until the last arrived)."""
    counter = Counter(count)
    await engine.run(counter)
    try:
        await engine.subscribe("bench")
        history = HistoryOptions(size=100, lifetime=60)
        data = '{"text":"hello","n":12345}'
        per_caller = count // concurrency

        async def caller() -> None:
            for _ in range(per_caller):
                await engine.publish_message(Message(new_uid(), "bench", data), history)

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        published = time.perf_counter() - start
        await asyncio.wait_for(counter.done.wait(), 60)
        delivered = time.perf_counter() - start
        return count / published, count / delivered
    finally:
        await engine.shutdown()


def report(name: str, rates: tuple[float, float], extra: str = "") -> None:
    print(f"{name:<28} {rates[0]:>10,.0f} publishes/s {rates[1]:>10,.0f} deliveries/s {extra}")


async def main(count: int, concurrency: int) -> None:
    count -= count % concurrency
    print(f"{count} publishes with history, {concurrency} concurrent callers, one subscribed channel")
    report("memory", await run_once(MemoryEngine(Options()), count, concurrency))
    with redis_server() as server:
        for pipelined in (True, False):
            options = Options(engine="redis", redis_url=server.url, redis_prefix="bench" + new_uid()[:6])
            engine = RedisEngine(options, pipelined=pipelined)
            rates = await run_once(engine, count, concurrency)
            trips = engine.batchers[0].round_trips
            label = "redis, tick pipelining" if pipelined else "redis, one trip per command"
            report(label, rates, f"({trips} round trips, {count / trips:.1f} commands each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.concurrency))
