"""A decoded protocol v2 command as a typed value (docs/protocol-v2.md §3.1).

A :class:`Request` is what the dialect dispatches: the client's ``id``, the
:class:`Method` (told by which request field is set) and that request
message of :mod:`protocol_pb2`.  :func:`request_of` applies the rules that
need nothing but the command itself; each broken one is a :class:`Close`
with 3501 ``bad request``, as the reference server does.
"""
from __future__ import annotations

from enum import IntEnum
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from google.protobuf.message import Message

from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import BAD_REQUEST, Close


class Method(IntEnum):
    """A command's method: the number of its request field in ``Command``;
    ``PONG`` (0) is the empty command a client answers a ping with."""

    PONG = 0
    CONNECT = 4
    SUBSCRIBE = 5
    UNSUBSCRIBE = 6
    PUBLISH = 7
    PRESENCE = 8
    PRESENCE_STATS = 9
    HISTORY = 10
    PING = 11
    SEND = 12
    RPC = 13
    REFRESH = 14
    SUB_REFRESH = 15

    @property
    def field(self) -> str:
        """The request (and result) field's name: ``presence_stats``."""
        return self.name.lower()


#: When a client sets several request fields, the first of these wins (§3.1).
PRECEDENCE = (Method.CONNECT, Method.PING, Method.SUBSCRIBE, Method.UNSUBSCRIBE, Method.PUBLISH,
              Method.PRESENCE, Method.PRESENCE_STATS, Method.HISTORY, Method.RPC, Method.SEND,
              Method.REFRESH, Method.SUB_REFRESH)
_RANK = MappingProxyType({method.value: rank for rank, method in enumerate(PRECEDENCE)})
_METHODS = MappingProxyType({method.value: method for method in Method})
_ID = pb.Command.ID_FIELD_NUMBER


M = TypeVar("M", bound=Message)


class Request(NamedTuple):
    """One command to dispatch.  ``params`` is the request message of
    ``method`` (``pb.SubscribeRequest`` for SUBSCRIBE, ...); a PONG has an
    empty ``pb.PingRequest``."""

    id: int
    method: Method
    params: Message


def request_of(command: pb.Command) -> Request | Close:
    """The command's request, or the close its shape calls for: a command
    without a known request field, or with ``id`` 0 and anything but
    ``send``, is 3501 (an empty ``{}`` with id 0 is a pong)."""
    # One call for the fields that are set (HasField per method would be
    # twelve for a pong); an unknown field number is not among them.
    found = [(fd.number, value) for fd, value in command.ListFields() if fd.number != _ID]
    if not found:
        return Request(0, Method.PONG, pb.PingRequest()) if command.id == 0 else BAD_REQUEST
    number, params = found[0] if len(found) == 1 else min(found, key=lambda item: _RANK[item[0]])
    method = _METHODS[number]
    if command.id == 0 and method is not Method.SEND:
        return BAD_REQUEST
    return Request(command.id, method, params)


def params_as(request: Request, kind: type[M]) -> M:
    """``request.params`` typed as ``kind`` for a handler of one method
    (``params_as(request, pb.SubscribeRequest).channel``); a handler given
    another method's request is a bug of the dispatch table: TypeError."""
    params = request.params
    if not isinstance(params, kind):
        raise TypeError(f"{request.method.name} carries {type(params).__name__}, not {kind.__name__}")
    return params
