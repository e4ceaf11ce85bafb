"""What the current-style API uses of a node (app.core.node.NodeCore implements it)."""
from __future__ import annotations

from typing import Protocol

from app.core.context import Context
from app.core.control import ControlBus
from app.core.directory import Directory
from app.core.publisher import Publisher


class ServerApiContext(Context, Protocol):
    """The node's basic services and the core objects the API commands call."""

    @property
    def publisher(self) -> Publisher: ...

    @property
    def directory(self) -> Directory:
        """NodeInfo of every node (``info``)."""
        ...

    @property
    def control(self) -> ControlBus:
        """Tells the other nodes (subscribe, unsubscribe, disconnect)."""
        ...
