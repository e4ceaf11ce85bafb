"""What the 1.x dialect uses of a node (app.core.node.NodeCore implements it)."""
from __future__ import annotations

from typing import Protocol

from app.core.clients import ClientRegistry
from app.core.context import Context
from app.core.control import ControlBus
from app.core.directory import Directory
from app.core.fanout import Fanout
from app.core.publisher import Publisher
from app.proxy.hooks import Proxy


class V1xContext(Context, Protocol):
    """The node's basic services and the core objects the 1.x commands and
    API call."""

    @property
    def publisher(self) -> Publisher: ...

    @property
    def fanout(self) -> Fanout:
        """Holds pushes back while a subscribe recovers."""
        ...

    @property
    def clients(self) -> ClientRegistry:
        """Connect and refresh."""
        ...

    @property
    def directory(self) -> Directory:
        """NodeInfo and the other nodes (``stats``, ``node``)."""
        ...

    @property
    def control(self) -> ControlBus:
        """Tells the other nodes (API unsubscribe, disconnect, subscribe)."""
        ...

    @property
    def proxy(self) -> Proxy:
        """The proxy hooks (app.proxy); a hook is on when its endpoint option is set."""
        ...
