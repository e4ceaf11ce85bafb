"""The engine fixture: every contract test runs against each engine."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.engines.memory import MemoryEngine
from app.options import Options
from tests.engines.harness import FakeClock, Harness, RecordingHandler


@pytest.fixture(params=["memory"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def harness_factory(engine_kind: str):
    """An async context manager factory: ``async with harness_factory() as h``."""
    import contextlib

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Harness]:
        clock = FakeClock()
        handler = RecordingHandler()
        engine = MemoryEngine(Options(), clock=clock)
        await engine.run(handler)
        try:
            yield Harness(engine, handler, clock, sleep_for_server=False)
        finally:
            await engine.shutdown()

    return make
