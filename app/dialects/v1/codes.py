"""Protocol v1's close table (docs/protocol-v1.md §4) as values.

A v1 close carries a JSON reason, ``{"reason":"…","reconnect":true|false}``,
which centrifuge-js 2.x parses.  The v1 dialect runs the v2 commands, so
it meets the v2 closes (app.dialects.v2.codes); :data:`FROM_V2` maps each
v2 close code to the v1 close of the same meaning (the numbers of the two
tables mean different things: 3003 is "bad request" here, 3012 "force
disconnect")."""
from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True, slots=True)
class V1Close:
    """A close frame's code, its reason and the reconnect advice."""

    code: int
    reason: str
    reconnect: bool

    @property
    def text(self) -> str:
        """The close frame's reason: JSON advice (under 64 bytes)."""
        return json.dumps({"reason": self.reason, "reconnect": self.reconnect}, separators=(",", ":"))


NORMAL = V1Close(3000, "normal", True)
SHUTDOWN = V1Close(3001, "shutdown", True)
INVALID_TOKEN = V1Close(3002, "invalid token", False)
BAD_REQUEST = V1Close(3003, "bad request", False)
SERVER_ERROR = V1Close(3004, "internal server error", True)
EXPIRED = V1Close(3005, "expired", True)
SUBSCRIPTION_EXPIRED = V1Close(3006, "subscription expired", True)
STALE = V1Close(3007, "stale", False)
SLOW = V1Close(3008, "slow", True)
WRITE_ERROR = V1Close(3009, "write error", True)
INSUFFICIENT_STATE = V1Close(3010, "insufficient state", True)
FORCE_RECONNECT = V1Close(3011, "force reconnect", True)
FORCE_DISCONNECT = V1Close(3012, "force disconnect", False)
CONNECTION_LIMIT = V1Close(3013, "connection limit", False)

#: A v2 close code (app.dialects.v2.codes) -> the v1 close of that meaning.
FROM_V2: Mapping[int, V1Close] = MappingProxyType({
    3000: NORMAL,
    3001: SHUTDOWN,
    3004: SERVER_ERROR,
    3005: EXPIRED,
    3006: SUBSCRIPTION_EXPIRED,
    3008: SLOW,
    3009: WRITE_ERROR,
    3010: INSUFFICIENT_STATE,
    3011: FORCE_RECONNECT,
    3012: BAD_REQUEST,  # "no pong": v1 has no server pings to answer; never sent
    3013: FORCE_RECONNECT,  # too many requests
    3500: INVALID_TOKEN,
    3501: BAD_REQUEST,
    3502: STALE,
    3503: FORCE_DISCONNECT,
    3504: CONNECTION_LIMIT,
    3505: CONNECTION_LIMIT,  # channel limit
    3506: BAD_REQUEST,  # inappropriate protocol
    3507: FORCE_DISCONNECT,  # permission denied
    3508: BAD_REQUEST,  # not available
    3509: BAD_REQUEST,  # too many errors
})


def from_v2(code: int, reconnect: bool) -> V1Close:
    """The v1 close of a v2 close code; an unknown one by its advice."""
    found = FROM_V2.get(code)
    if found is not None:
        return found
    return FORCE_RECONNECT if reconnect else FORCE_DISCONNECT
