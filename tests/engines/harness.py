"""What the engine contract suite drives: a recording handler and a fake clock."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from app.core.engine import Engine, HistoryOptions
from app.core.values import ClientInfo, Message, new_uid
from app.options import Options


@dataclass
class RecordingHandler:
    """An EngineHandler that records every call, in order."""

    events: list[tuple[str, object]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, kind: str, value: object) -> None:
        self.events.append((kind, value))
        self.changed.set()

    def handle_message(self, message: Message) -> None:
        self._record("message", message)

    def handle_join(self, channel: str, info: ClientInfo) -> None:
        self._record("join", (channel, info))

    def handle_leave(self, channel: str, info: ClientInfo) -> None:
        self._record("leave", (channel, info))

    def handle_control(self, data: bytes) -> None:
        self._record("control", data)

    def handle_admin(self, data: bytes) -> None:
        self._record("admin", data)

    def handle_api(self, data: bytes) -> None:
        self._record("api", data)

    def handle_lost(self, channels: list[str]) -> None:
        self._record("lost", channels)

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]

    async def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (without polling) until ``check()`` holds after some event."""

        async def loop() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), timeout)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """One engine under test plus what the suite needs to drive it.

    ``advance(seconds, server=False)`` moves the engine's clock; with
    ``server=True`` the test also needs time to pass where the engine keeps
    its data (a real Redis expires keys by its own clock), so the Redis
    harness sleeps then.  ``barrier`` publishes a marker on a subscribed
    channel and waits for it: since one node receives in publish order,
    everything published before has arrived by then, so "exactly once" and
    "never" can be asserted without sleeping."""

    engine: Engine
    handler: RecordingHandler
    clock: FakeClock
    sleep_for_server: bool

    async def advance(self, seconds: float, server: bool = False) -> None:
        self.clock.now += seconds
        if server and self.sleep_for_server:
            await asyncio.sleep(seconds)

    async def barrier(self, channel: str = "barrier") -> None:
        await self.engine.subscribe(channel)
        marker = Message(uid=new_uid(), channel=channel, data='"barrier"')
        await self.engine.publish_message(marker, HistoryOptions())
        await self.handler.wait_until(lambda: marker in self.handler.of("message"))


#: What the ``harness_factory`` fixture gives a contract test.
HarnessFactory = Callable[[], AbstractAsyncContextManager[Harness]]


def redis_options(url: str, **overrides: Any) -> Options:
    """Options for a Redis engine on ``url`` with a prefix of its own."""
    values: dict[str, Any] = {
        "engine": "redis", "redis_url": url, "redis_prefix": "t" + new_uid()[:10], "redis_read_timeout": 3,
    }
    values.update(overrides)
    return Options(**values)


@contextlib.asynccontextmanager
async def running(engine: Engine, handler: RecordingHandler) -> AsyncIterator[Engine]:
    await engine.run(handler)
    try:
        yield engine
    finally:
        await engine.shutdown()


async def newest(engine: Engine, channel: str, limit: int = -1) -> list[Message]:
    """The channel's kept messages newest first (the 1.x dialect's read)."""
    return (await engine.history(channel, limit, reverse=True)).publications
