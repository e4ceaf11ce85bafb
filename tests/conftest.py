"""Suite-wide pytest set-up.

``async def`` tests run in a fresh asyncio event loop each (our own small
runner, instead of pytest-tornado, whose fixtures break on pytest 10).  Tornado
6 runs on asyncio, so servers started inside the test share that loop.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest


def pytest_sessionstart(session: pytest.Session) -> None:
    """The npm files the server serves, copied into app/ and transports/ as
    ``make js`` does when they are not there yet (a checkout or worktree
    where only ``npm ci`` ran); the server finds them as package data."""
    from pathlib import Path

    from app.jsclients import copy_npm_files, missing_npm_files

    if missing_npm_files():
        root = Path(__file__).resolve().parent.parent
        copy_npm_files(root / "node_modules", root)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Debian's chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    timeout = 60.0
    marker = pyfuncitem.get_closest_marker("async_timeout")
    if marker is not None:
        timeout = float(marker.args[0])

    async def run() -> None:
        await asyncio.wait_for(pyfuncitem.obj(**kwargs), timeout)

    asyncio.run(run())
    return True
