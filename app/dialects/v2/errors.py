"""The core's errors and close reasons (app/core/errors.py) as protocol v2
writes them: ONE table each, so the core never knows a v2 code.

* :data:`REPLY_ERRORS`: a :class:`~app.core.errors.ProtocolError`'s name ->
  the reply's :class:`~app.dialects.v2.codes.ErrorCode`;
* :data:`CLOSES`: a :class:`~app.core.errors.Disconnect`'s reason -> the
  :class:`~app.dialects.v2.codes.Close` (code and plain-text reason);
* :class:`CodeError` and :class:`V2Disconnect`: what the v2 commands raise
  for answers only v2 has (``token expired``, ``no pong``, ``bad request``).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from app.core import errors as core
from app.core.clients import CONNECTION_LIMIT as CORE_CONNECTION_LIMIT
from app.core.clients import UNAUTHENTICATED_LIMIT
from app.core.errors import Disconnect, ProtocolError
from app.dialects.v2 import codes
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import ERROR_MESSAGES, TEMPORARY_ERRORS, Close, ErrorCode

REPLY_ERRORS: Mapping[str, ErrorCode] = MappingProxyType({
    core.INVALID_MESSAGE: ErrorCode.BAD_REQUEST,
    core.METHOD_NOT_FOUND: ErrorCode.METHOD_NOT_FOUND,
    core.NAMESPACE_NOT_FOUND: ErrorCode.UNKNOWN_CHANNEL,
    core.INTERNAL_SERVER_ERROR: ErrorCode.INTERNAL,
    core.NOT_AVAILABLE: ErrorCode.NOT_AVAILABLE,
    core.UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
    core.CLIENT_CLOSED: ErrorCode.INTERNAL,
    core.INVALID_TOKEN: ErrorCode.PERMISSION_DENIED,
    core.PERMISSION_DENIED: ErrorCode.PERMISSION_DENIED,
    core.ALREADY_SUBSCRIBED: ErrorCode.ALREADY_SUBSCRIBED,
    core.LIMIT_EXCEEDED: ErrorCode.LIMIT_EXCEEDED,
    core.UNRECOVERABLE_POSITION: ErrorCode.UNRECOVERABLE_POSITION,
})

CLOSES: Mapping[str, Close] = MappingProxyType({
    core.INVALID_MESSAGE: codes.BAD_REQUEST,
    core.METHOD_NOT_FOUND: codes.BAD_REQUEST,
    core.UNAUTHORIZED: codes.BAD_REQUEST,
    core.NAMESPACE_NOT_FOUND: codes.BAD_REQUEST,
    core.ALREADY_SUBSCRIBED: codes.BAD_REQUEST,
    core.INVALID_TOKEN: codes.INVALID_TOKEN,
    core.PERMISSION_DENIED: codes.PERMISSION_DENIED,
    core.NOT_AVAILABLE: codes.NOT_AVAILABLE,
    core.LIMIT_EXCEEDED: codes.CONNECTION_LIMIT,  # the user's connection limit
    core.INTERNAL_SERVER_ERROR: codes.INTERNAL_SERVER_ERROR,
    core.CLIENT_CLOSED: codes.CONNECTION_CLOSED,
    core.STALE: codes.STALE,
    core.EXPIRED: codes.CONNECTION_EXPIRED,
    core.SLOW: codes.SLOW,
    core.SHUTTING_DOWN: codes.SHUTDOWN,
    core.INSUFFICIENT_STATE: codes.INSUFFICIENT_STATE,
    core.UNRECOVERABLE_POSITION: codes.INSUFFICIENT_STATE,  # a reply error; as a close: the stream is lost
})

#: The websocket close code of a connection a node limit turned away: below
#: 3000 the SDKs read "transport closed" and reconnect with backoff (RFC
#: 6455 / IANA 1013 "Try Again Later").
TRY_AGAIN_LATER = 1013
REFUSALS = frozenset({CORE_CONNECTION_LIMIT, UNAUTHENTICATED_LIMIT})


#: The disconnect table by code (an API disconnect with a code and no reason).
BY_CODE: Mapping[int, Close] = MappingProxyType({c.code: c for c in vars(codes).values() if isinstance(c, Close)})


class CodeError(Exception):
    """A command failed with a v2 error code; the connection lives on."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(ERROR_MESSAGES[code])
        self.code = code


class V2Disconnect(Disconnect):
    """Close with a v2 :class:`Close` of its own (not one of the core's reasons)."""

    def __init__(self, close: Close) -> None:
        super().__init__(close.reason, close.reconnect)
        self.close = close


def error_of(exc: ProtocolError | CodeError) -> pb.Error:
    """The reply's ``error`` for a failed command."""
    code = exc.code if isinstance(exc, CodeError) else REPLY_ERRORS.get(exc.error, ErrorCode.INTERNAL)
    return pb.Error(code=code, message=ERROR_MESSAGES[code], temporary=code in TEMPORARY_ERRORS)


def close_of(exc: Disconnect) -> Close:
    """The close of a disconnect: its own for a :class:`V2Disconnect`, the
    table's for a core reason; ``disconnect`` (the API's) is a forced
    disconnect or reconnect by its advice, anything unknown an internal
    error (reconnect) or a forced disconnect."""
    if isinstance(exc, V2Disconnect):
        return exc.close
    if exc.code is not None:  # the server API's own code; without a reason, the table's
        if exc.reason != core.DISCONNECT:
            return Close(exc.code, exc.reason)
        return BY_CODE.get(exc.code) or Close(exc.code, codes.FORCE_DISCONNECT.reason)
    found = CLOSES.get(exc.reason)
    if found is not None:
        return found
    if exc.reason == core.DISCONNECT:
        return codes.FORCE_RECONNECT if exc.reconnect else codes.FORCE_DISCONNECT
    return codes.INTERNAL_SERVER_ERROR if exc.reconnect else codes.FORCE_DISCONNECT
