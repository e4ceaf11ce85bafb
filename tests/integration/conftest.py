"""Fixtures of the integration suite: real sockhub processes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.support.server import SockhubProcess

SECRET = "integration-secret"


@pytest.fixture
def sockhub(tmp_path: Path) -> Iterator[Callable[..., SockhubProcess]]:
    """A factory: ``sockhub(config, *args)`` starts a server, stopped at the end."""
    started: list[SockhubProcess] = []

    def start(config: dict[str, Any] | None = None, *args: str, **kwargs: Any) -> SockhubProcess:
        config = {"secret": SECRET, **(config or {})}
        process = SockhubProcess(tmp_path, config, args, name=f"sockhub{len(started)}", **kwargs)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
