"""The entry type of the 1.x client command table."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from app.core.client import Client
from app.dialects.v1x.context import V1xContext
from app.dialects.v1x.wire import Plan, plan


def no_body(params: Any) -> str | None:
    """Error replies of commands whose error carries no body."""
    return None


@dataclass(frozen=True, slots=True)
class V1xCommandSpec:
    """How to run one client method.

    ``params``: the dataclass its params parse into (wire.parse_planned, with
    ``plan`` made once here);
    ``handler``: ``await handler(ctx, client, params)`` -> body JSON text or None;
    ``error_body``: the body of an error reply, from the params;
    ``needs_auth``: refused with ``unauthorized`` before connect."""

    params: type
    handler: Callable[[V1xContext, Client, Any], Awaitable[str | None]]
    error_body: Callable[[Any], str | None] = no_body
    needs_auth: bool = True
    plan: Plan = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", plan(self.params))
