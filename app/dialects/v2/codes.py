"""Protocol v2's code tables (docs/protocol-v2.md §5.1-§5.3) as values.

* :class:`ErrorCode`: the ``error.code`` of a reply; a command failed, the
  connection lives on;
* :class:`Close`: a disconnect, the code and plain-text reason of a
  websocket close frame (or of a ``disconnect`` push on the HTTP
  transports); codes 3000-3499 and 4000-4499 tell the client to reconnect,
  3500-3999 and 4500-4999 are terminal;
* the ``unsubscribe`` push codes: below 2500 terminal, from 2500 the client
  subscribes again.

The core speaks in its own reasons (app/core/errors.py); the v2 dialect maps
them onto these tables where it writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Mapping


class ErrorCode(IntEnum):
    """``Error.code`` values of a reply (§5.1); 400-1999 are the app's."""

    INTERNAL = 100
    UNAUTHORIZED = 101
    UNKNOWN_CHANNEL = 102
    PERMISSION_DENIED = 103
    METHOD_NOT_FOUND = 104
    ALREADY_SUBSCRIBED = 105
    LIMIT_EXCEEDED = 106
    BAD_REQUEST = 107
    NOT_AVAILABLE = 108
    TOKEN_EXPIRED = 109
    EXPIRED = 110
    TOO_MANY_REQUESTS = 111
    UNRECOVERABLE_POSITION = 112


#: The message written with each code, and whether a client may retry it.
ERROR_MESSAGES: Mapping[ErrorCode, str] = MappingProxyType({
    ErrorCode.INTERNAL: "internal server error",
    ErrorCode.UNAUTHORIZED: "unauthorized",
    ErrorCode.UNKNOWN_CHANNEL: "unknown channel",
    ErrorCode.PERMISSION_DENIED: "permission denied",
    ErrorCode.METHOD_NOT_FOUND: "method not found",
    ErrorCode.ALREADY_SUBSCRIBED: "already subscribed",
    ErrorCode.LIMIT_EXCEEDED: "limit exceeded",
    ErrorCode.BAD_REQUEST: "bad request",
    ErrorCode.NOT_AVAILABLE: "not available",
    ErrorCode.TOKEN_EXPIRED: "token expired",
    ErrorCode.EXPIRED: "expired",
    ErrorCode.TOO_MANY_REQUESTS: "too many requests",
    ErrorCode.UNRECOVERABLE_POSITION: "unrecoverable position",
})
TEMPORARY_ERRORS = frozenset({ErrorCode.INTERNAL, ErrorCode.TOO_MANY_REQUESTS})


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code`` and the plain-text ``reason``
    (kept under 32 bytes: every close frame and proxy can carry it)."""

    code: int
    reason: str

    @property
    def reconnect(self) -> bool:
        """What the SDKs read from the code: 3000-3499 and 4000-4499 (and
        everything from 5000) reconnect; 3500-3999 and 4500-4999 do not."""
        return not (3500 <= self.code < 4000 or 4500 <= self.code < 5000)


# The disconnect table (§5.3).
CONNECTION_CLOSED = Close(3000, "connection closed")
SHUTDOWN = Close(3001, "shutdown")
INTERNAL_SERVER_ERROR = Close(3004, "internal server error")
CONNECTION_EXPIRED = Close(3005, "connection expired")
SUBSCRIPTION_EXPIRED = Close(3006, "subscription expired")
SLOW = Close(3008, "slow")
WRITE_ERROR = Close(3009, "write error")
INSUFFICIENT_STATE = Close(3010, "insufficient state")
FORCE_RECONNECT = Close(3011, "force reconnect")
NO_PONG = Close(3012, "no pong")
TOO_MANY_REQUESTS = Close(3013, "too many requests")
INVALID_TOKEN = Close(3500, "invalid token")
BAD_REQUEST = Close(3501, "bad request")
STALE = Close(3502, "stale")
FORCE_DISCONNECT = Close(3503, "force disconnect")
CONNECTION_LIMIT = Close(3504, "connection limit")
CHANNEL_LIMIT = Close(3505, "channel limit")
INAPPROPRIATE_PROTOCOL = Close(3506, "inappropriate protocol")
PERMISSION_DENIED = Close(3507, "permission denied")
NOT_AVAILABLE = Close(3508, "not available")
TOO_MANY_ERRORS = Close(3509, "too many errors")


class UnsubscribeCode(IntEnum):
    """``unsubscribe`` push codes (§5.2): below 2500 the client stays
    unsubscribed, from 2500 it subscribes again."""

    SERVER = 2000
    INSUFFICIENT_STATE = 2500
    EXPIRED = 2501


UNSUBSCRIBE_REASONS: Mapping[UnsubscribeCode, str] = MappingProxyType({
    UnsubscribeCode.SERVER: "server unsubscribe",
    UnsubscribeCode.INSUFFICIENT_STATE: "insufficient state",
    UnsubscribeCode.EXPIRED: "subscription expired",
})
