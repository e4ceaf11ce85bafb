"""Import smoke test: every module of the two packages imports cleanly."""
from __future__ import annotations

import importlib
import pkgutil

import app
import transports


def test_every_module_imports() -> None:
    names = []
    for pkg in (app, transports):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            importlib.import_module(info.name)
            names.append(info.name)
    assert "transports.frames" in names and "app.core.values" in names


async def test_async_runner_runs_coroutines() -> None:
    import asyncio

    done = asyncio.Event()
    asyncio.get_running_loop().call_soon(done.set)
    await asyncio.wait_for(done.wait(), 1)
    assert done.is_set()
