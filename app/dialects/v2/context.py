"""What the protocol v2 dialect uses of a node, and what it keeps per
connection (app.core.node.NodeCore implements the context)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from app.core.clients import ClientRegistry
from app.core.context import Context
from app.core.fanout import Fanout
from app.core.publisher import Publisher


class V2Context(Context, Protocol):
    """The node's basic services and the core objects the v2 commands call."""

    @property
    def publisher(self) -> Publisher: ...

    @property
    def fanout(self) -> Fanout: ...

    @property
    def uid(self) -> str:
        """This node's id (the ``node`` of an emulation session)."""
        ...

    @property
    def clients(self) -> ClientRegistry:
        """Connect, refresh and the dialect's own deadlines (pings, expiry)."""
        ...


@dataclass(slots=True)
class V2State:
    """One v2 connection's state beside the core's (``Client.state``):
    when its token expires (Unix seconds, 0: never), whether a ping awaits
    its pong, and when the subscriptions made with an expiring token expire
    (channel -> Unix seconds)."""

    expires_at: float = 0.0
    awaiting_pong: bool = False
    subscriptions_expire: dict[str, float] = field(default_factory=dict)
