"""What the protocol v2 dialect uses of a node, and what it keeps per
connection (app.core.node.NodeCore implements the context)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from app.core.clients import ClientRegistry
from app.core.context import Context
from app.core.fanout import Fanout
from app.core.publisher import Publisher
from app.proxy.hooks import ConnState, Proxy


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

    @property
    def proxy(self) -> Proxy:
        """The proxy hooks (app.proxy); a hook is on when its endpoint option is set."""
        ...


@dataclass(slots=True)
class V2State:
    """One v2 connection's state beside the core's (``Client.state``):
    when its token expires (Unix seconds, 0: never), whether a ping awaits
    its pong, and when the subscriptions made with an expiring token (or
    by the subscribe proxy hook) expire (channel -> Unix seconds)."""

    expires_at: float = 0.0
    awaiting_pong: bool = False
    subscriptions_expire: dict[str, float] = field(default_factory=dict)
    #: subscriptions the subscribe proxy hook made with an expiry that the
    #: sub_refresh hook extends (channel -> Unix seconds; app.dialects.v2.proxied)
    proxied_expire: dict[str, float] = field(default_factory=dict)
    #: the connection's meta and emulated headers for its hook calls (app.dialects.v2.proxied)
    proxy: ConnState = field(default_factory=ConnState)
