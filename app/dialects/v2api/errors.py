"""The API's error values (docs/protocol-v2.md §9.1 and §5.1): a code
and its fixed message, written ``{"code":N,"message":"..."}``.

A command that fails answers HTTP 200 with ``{"error": ...}`` (inside a
batch, the reply's ``error``; inside a broadcast, the channel's response's
``error``).  With the request header ``X-Centrifugo-Error-Mode: transport``
the error of a single command is the status of :data:`TRANSPORT_STATUS`
instead, its body the bare error.

The core names its errors with strings (app.core.errors); :func:`from_core`
is the one table that turns them into API codes.
"""
from __future__ import annotations

import json
from types import MappingProxyType
from typing import Mapping

from app.core.errors import INVALID_MESSAGE, METHOD_NOT_FOUND, NAMESPACE_NOT_FOUND, NOT_AVAILABLE
from app.core.errors import UNRECOVERABLE_POSITION as CORE_UNRECOVERABLE_POSITION

INTERNAL = 100
UNKNOWN_CHANNEL = 102
NOT_FOUND = 104
BAD_REQUEST = 107
NOT_AVAILABLE_CODE = 108
UNRECOVERABLE_POSITION = 112
CONFLICT = 113

MESSAGES: Mapping[int, str] = MappingProxyType({
    INTERNAL: "internal server error",
    UNKNOWN_CHANNEL: "unknown channel",
    NOT_FOUND: "not found",
    BAD_REQUEST: "bad request",
    NOT_AVAILABLE_CODE: "not available",
    UNRECOVERABLE_POSITION: "unrecoverable position",
    CONFLICT: "conflict",
})

#: The HTTP status of an error in the transport error mode (Centrifugo's
#: MapErrorToHTTPCode); a code not listed is a 500.
TRANSPORT_STATUS: Mapping[int, int] = MappingProxyType({
    INTERNAL: 500, UNKNOWN_CHANNEL: 404, NOT_FOUND: 404, BAD_REQUEST: 400,
    NOT_AVAILABLE_CODE: 400, UNRECOVERABLE_POSITION: 416, CONFLICT: 409,
})

#: The core's error names as API codes; any other name is an internal error.
_FROM_CORE: Mapping[str, int] = MappingProxyType({
    NAMESPACE_NOT_FOUND: UNKNOWN_CHANNEL,
    NOT_AVAILABLE: NOT_AVAILABLE_CODE,
    INVALID_MESSAGE: BAD_REQUEST,
    METHOD_NOT_FOUND: NOT_FOUND,
    CORE_UNRECOVERABLE_POSITION: UNRECOVERABLE_POSITION,
})


class ApiError(Exception):
    """A command failed with ``code``; ``message`` is the code's own unless
    given (a whole request refused says why)."""

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, "internal server error")
        super().__init__(f"{self.code}: {self.message}")

    def json(self) -> str:
        """``{"code":N,"message":"..."}``"""
        return '{"code":' + str(self.code) + ',"message":' + json.dumps(self.message) + "}"

    @property
    def http_status(self) -> int:
        return TRANSPORT_STATUS.get(self.code, 500)


#: The message of an internal error whose command may have been done (the
#: engine sent it and got no answer in time): retry with the same
#: idempotency_key.  A plain ``internal server error``: it was not done.
OUTCOME_UNKNOWN = "internal server error: outcome unknown, retry with the same idempotency_key"


def from_engine(unknown: bool) -> ApiError:
    """The API error of an engine failure (EngineError.unknown)."""
    return ApiError(INTERNAL, OUTCOME_UNKNOWN) if unknown else ApiError(INTERNAL)


def from_core(error: str) -> ApiError:
    """The API error of a core error name (ProtocolError.error)."""
    return ApiError(_FROM_CORE.get(error, INTERNAL))


def bad_request(why: str = "") -> ApiError:
    return ApiError(BAD_REQUEST, f"bad request: {why}" if why else "")
