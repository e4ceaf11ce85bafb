"""Engine fixtures: every contract test runs against the memory and the Redis engine.

Async fixtures are not available (our runner), so tests get a factory and
write ``async with harness_factory() as h``; the engine lives in the test's
own event loop.  The redis-server is shared by the session; each harness
uses a fresh key prefix, so tests never see each other's data and nothing
is flushed.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from app.core.engine import Engine
from app.engines.memory import MemoryEngine
from app.engines.redis import RedisEngine
from app.options import Options
from tests.engines.harness import FakeClock, Harness, HarnessFactory, RecordingHandler, redis_options, running
from tests.support.redis import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def harness_factory(request: pytest.FixtureRequest) -> HarnessFactory:
    kind = request.param
    server = request.getfixturevalue("redis") if kind == "redis" else None

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Harness]:
        clock = FakeClock()
        handler = RecordingHandler()
        if server is None:
            engine: Engine = MemoryEngine(Options(), clock=clock)
        else:
            engine = RedisEngine(redis_options(server.url), clock=clock)
        async with running(engine, handler):
            yield Harness(engine, handler, clock, sleep_for_server=server is not None)

    return make
