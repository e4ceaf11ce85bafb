"""A steady, numbered publish stream through the HTTP API of several nodes,
and a /health watcher, for the cluster fault tests.

The publisher sends ``{"n": 1}``, ``{"n": 2}`` ... one at a time, rotating
over the given base URLs, and records each number's HTTP status and error
text; it never stops on a failure (that is what the tests provoke).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tests.support.cluster import Cluster
from tests.support.server import SockhubProcess


@dataclass
class Outcome:
    n: int
    status: int
    error: Any  # the reply item's error, or the 5xx body text
    at: float  # loop time when the reply came


@dataclass
class Publisher:
    cluster: Cluster
    urls: list[str]
    channel: str
    pause: float = 0.03
    first: int = 1
    limit: int = 3000  # a bounded loop, whatever happens
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: "asyncio.Task[None] | None" = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        for n in range(self.first, self.first + self.limit):
            if self._stop.is_set():
                return
            url = self.urls[n % len(self.urls)]
            status, reply = await self.cluster.api(url, "publish", {"channel": self.channel, "data": {"n": n}},
                                                   timeout=10)
            error = reply[0]["error"] if status == 200 else reply
            self.outcomes.append(Outcome(n, status, error, loop.time()))
            await asyncio.sleep(self.pause)

    def ok(self, after: float = float("-inf"), before: float = float("inf")) -> list[int]:
        """Numbers published with 200 and no error, replies in (after, before)."""
        return [o.n for o in self.outcomes if o.status == 200 and o.error is None and after < o.at < before]

    async def wait(self, check: Any, timeout: float = 20.0, what: str = "stream condition") -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            assert self._task is not None and not self._task.done(), "the publisher stopped"
            assert asyncio.get_running_loop().time() < deadline, f"{what} not reached: {self.outcomes[-5:]}"
            await asyncio.sleep(0.02)


@dataclass
class HealthWatch:
    """GET /health on every node every ``period`` s; keeps what was not 200."""

    nodes: list[SockhubProcess]
    period: float = 0.1
    checks: int = 0
    bad: list[tuple[str, int | None]] = field(default_factory=list)
    _task: "asyncio.Task[None] | None" = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            for node in self.nodes:
                status = await asyncio.to_thread(node.health)
                self.checks += 1
                if status != 200:
                    self.bad.append((node.name, status))
            await asyncio.sleep(self.period)
