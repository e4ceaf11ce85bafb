"""What core objects and dialects get of a node: small declared Protocols.

:class:`Context` is the node's basic services (options, channel rules,
engine, hub, metrics, admin events, clock, spawn); the node (app.core.node.NodeCore)
implements it, and so may a test.  Options and rules are read at each use:
a reload (SIGHUP) replaces them.
"""
from __future__ import annotations

from typing import Any, Callable, Coroutine, Protocol

from app.core.channels import ChannelRules
from app.core.client import Client
from app.core.engine import Engine
from app.core.events import EventFeed
from app.core.hub import Hub
from app.core.metrics import Metrics
from app.core.status import StatusTracker
from app.options import Options


class Context(Protocol):
    """The basic services of a node."""

    @property
    def options(self) -> Options: ...

    @property
    def rules(self) -> ChannelRules: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def hub(self) -> Hub[Client]: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def events(self) -> EventFeed:
        """The admin page's live events: record only while ``events.on``."""
        ...

    @property
    def status(self) -> StatusTracker:
        """Online status and occupancy: call its hooks only while ``status.on``."""
        ...

    @property
    def clock(self) -> Callable[[], float]:
        """Seconds (wall clock unless a test injects one)."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` in a task the node keeps until done; its failure is logged."""
        ...
