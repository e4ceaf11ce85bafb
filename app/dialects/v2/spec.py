"""The entry type of the v2 command table and what its handlers get."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from google.protobuf.message import Message

from app.core.client import Client
from app.dialects.v2.context import V2Context
from app.dialects.v2.heartbeat import Heartbeat


@dataclass(frozen=True, slots=True)
class Services:
    """What a v2 handler uses: the node and the heartbeat of its connections."""

    ctx: V2Context
    heartbeat: Heartbeat


#: ``await handler(services, client, request message)`` -> the result message
#: (the reply's field of the same name), or None for no reply (``send``).
Handler = Callable[[Services, Client, Any], Awaitable[Message | None]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How to run one v2 method; ``needs_auth``: before a successful connect
    the command closes the connection with 3501 (docs/protocol-v2.md §3.1)."""

    handler: Handler
    needs_auth: bool = True
