"""The entry type of the client command table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from app.client import Client


def no_body(params: Any) -> str | None:
    """Error replies of commands whose error carries no body."""
    return None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How to run one client method.

    ``params``: the dataclass its params parse into (app.protocol.parse_params);
    ``handler``: ``await handler(client, params)`` -> body JSON text or None;
    ``error_body``: the body of an error reply, from the params;
    ``needs_auth``: refused with ``unauthorized`` before connect."""

    params: type
    handler: Callable[["Client", Any], Awaitable[str | None]]
    error_body: Callable[[Any], str | None] = no_body
    needs_auth: bool = True
