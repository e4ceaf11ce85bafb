"""Protocol v1 frames (docs/protocol-v1.md §2): commands in, replies
and pushes out, in JSON or protobuf.

* A command is ``{"id", "method", "params"}``: ``method`` an integer or a
  case-insensitive name of :class:`MethodType` (absent: connect, 0),
  ``params`` the method's request object (absent: empty).  In protobuf a
  varint-delimited ``Command`` whose ``params`` are the request's bytes.
  JSON commands come one per line.
* A reply is ``{"id":N,"result":{…}}`` or ``{"id":N,"error":{…}}`` (the
  ping's is ``{"id":N}``); a push is a reply without id whose result is a
  ``Push`` ``{"type":T,"channel":…,"data":{…}}`` (``type`` left out for a
  publication, 0).  Fields marked ``!`` in §3 are written even when
  empty (:data:`V1_JSON`).

``decode(frame)`` -> :class:`V1Decoded`: the requests in order, then the
close the rest of the frame calls for (§2: an empty frame, a command
that does not decode, ``id`` 0 on anything but ``send``: 3003).  An
unknown method is not a close: its :class:`V1Request` has ``params`` None
and the dialect answers error 104.  Nothing raises.
"""
from __future__ import annotations

from json.encoder import encode_basestring
from enum import IntEnum
from types import MappingProxyType
from typing import Mapping, NamedTuple, Sequence

from google.protobuf.message import DecodeError, Message

from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v1.codes import BAD_REQUEST, V1Close
from app.dialects.v2.framing import MAX_COMMANDS, MAX_FRAME, read_uvarint, uvarint
from app.dialects.v2.jsoncodec import JsonMapping, NotJson, ShapeError
from transports.strictjson import JSONInputError
from transports.strictjson import loads as strict_loads

#: The ``!`` fields of §3: written even at their zero value.
ALWAYS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Error": ("code", "message"),
    "ClientInfo": ("user", "client"),
    "Publication": ("data",),
    "Join": ("info",),
    "Leave": ("info",),
    "Message": ("data",),
    "ConnectResult": ("client", "version"),
    "RefreshResult": ("client", "version"),
    "PresenceResult": ("presence",),
    "PresenceStatsResult": ("num_clients", "num_users"),
    "HistoryResult": ("publications",),
})
V1_JSON = JsonMapping(pb.DESCRIPTOR, ALWAYS)

class V1Method(IntEnum):
    """``MethodType`` of the schema (tests/dialects/v1 checks they agree)."""

    CONNECT = 0
    SUBSCRIBE = 1
    UNSUBSCRIBE = 2
    PUBLISH = 3
    PRESENCE = 4
    PRESENCE_STATS = 5
    HISTORY = 6
    PING = 7
    SEND = 8
    RPC = 9
    REFRESH = 10
    SUB_REFRESH = 11


M = V1Method
#: Each method's request message.
REQUESTS: Mapping[int, type[Message]] = MappingProxyType({
    M.CONNECT: pb.ConnectRequest, M.SUBSCRIBE: pb.SubscribeRequest, M.UNSUBSCRIBE: pb.UnsubscribeRequest,
    M.PUBLISH: pb.PublishRequest, M.PRESENCE: pb.PresenceRequest, M.PRESENCE_STATS: pb.PresenceStatsRequest,
    M.HISTORY: pb.HistoryRequest, M.PING: pb.PingRequest, M.SEND: pb.SendRequest, M.RPC: pb.RPCRequest,
    M.REFRESH: pb.RefreshRequest, M.SUB_REFRESH: pb.SubRefreshRequest,
})
_BY_NAME = MappingProxyType({method.name: int(method) for method in V1Method})
_MAX_ID = 2**32 - 1
#: The method of a command whose method is no known one.
UNKNOWN = -1


class V1Request(NamedTuple):
    """One command: ``params`` is the request message of ``method``, None
    for an unknown method (error 104)."""

    id: int
    method: int
    params: Message | None


class V1Decoded(NamedTuple):
    """A frame's ``requests``, then ``close`` if set (``detail``: why)."""

    requests: list[V1Request]
    close: V1Close | None = None
    detail: str = ""


def _method(value: object) -> int | None:
    """The method of a JSON ``method`` value (UNKNOWN for none known), or
    None when it is of no allowed type."""
    if value is None:
        return int(M.CONNECT)
    if type(value) is int:
        return value if value in REQUESTS else UNKNOWN
    if type(value) is str:
        return _BY_NAME.get(value.upper(), UNKNOWN)
    return None


def _request(number: int, method: int, params: Message | None) -> V1Request | str:
    if number == 0 and method != M.SEND:
        return "id 0 on a command other than send"
    return V1Request(number, method, params)


def json_request(line: str | bytes) -> V1Request | str:
    """One JSON command, or why it is refused."""
    try:
        obj = strict_loads(line)
    except JSONInputError as exc:
        return str(exc)
    if type(obj) is not dict:
        return "a command must be an object"
    number, method, params = obj.get("id", 0), _method(obj.get("method")), obj.get("params")
    if type(number) is not int or not 0 <= number <= _MAX_ID or method is None:
        return "bad id or method"
    if method == UNKNOWN:
        return _request(number, method, None)
    request = REQUESTS[method]()
    if params is not None:
        try:
            V1_JSON.fill_checked(request, params)
        except ShapeError as exc:
            return str(exc)
    return _request(number, method, request)


def protobuf_request(data: bytes) -> V1Request | str:
    """One protobuf command (without its length), or why it is refused."""
    command = pb.Command()
    try:
        command.ParseFromString(data)
        if command.method not in REQUESTS:
            return _request(command.id, UNKNOWN, None)
        request = REQUESTS[command.method]()
        request.ParseFromString(command.params)
    except DecodeError:
        return "message does not decode"
    return _request(command.id, command.method, request)


def _refused(requests: list[V1Request], detail: str) -> V1Decoded:
    return V1Decoded(requests, BAD_REQUEST, detail)


def _too_big(frame: str | bytes, max_frame: int) -> V1Decoded | None:
    if not frame:
        return _refused([], "empty frame")
    if len(frame) > max_frame:
        return _refused([], f"frame over {max_frame} bytes")
    return None


class V1JsonFrames:
    """Newline-delimited JSON commands, replies and pushes."""

    name = "json"

    def __init__(self, max_frame: int = MAX_FRAME, max_commands: int = MAX_COMMANDS) -> None:
        self.max_frame = max_frame
        self.max_commands = max_commands

    def decode(self, frame: str | bytes) -> V1Decoded:
        refused = _too_big(frame, self.max_frame)
        if refused is not None:
            return refused
        if isinstance(frame, bytes):
            try:
                frame = frame.decode("utf-8")
            except UnicodeDecodeError:
                return _refused([], "not UTF-8")
        requests: list[V1Request] = []
        for number, line in enumerate(frame.split("\n"), 1):
            if not line.strip():
                continue  # JS 2.x and the reference decoder skip empty lines
            if len(requests) >= self.max_commands:
                return _refused(requests, f"more than {self.max_commands} commands in a frame")
            request = json_request(line)
            if isinstance(request, str):
                return _refused(requests, f"command {number}: {request}")
            requests.append(request)
        return V1Decoded(requests) if requests else _refused([], "no command")

    def reply(self, number: int, result: Message | None) -> str:
        """A result's reply (None: the ping's, ``{"id":N}``); NotJson when
        a raw field is not JSON."""
        if result is None:
            return f'{{"id":{number}}}'
        return f'{{"id":{number},"result":{V1_JSON.encode(result)}}}'

    def error(self, number: int, code: int, message: str) -> str:
        return f'{{"id":{number},"error":{{"code":{code},"message":{encode_basestring(message)}}}}}'

    def push(self, kind: int, channel: str, data: Message, checked: bool = True) -> str:
        """A push; ``checked``: every raw field of ``data`` is known JSON."""
        body = V1_JSON.encode_checked_raw(data) if checked else V1_JSON.encode(data)
        head = f'{{"result":{{"type":{kind},' if kind else '{"result":{'
        return f'{head}"channel":{encode_basestring(channel)},"data":{body}}}}}'

    def join(self, items: Sequence[str]) -> str:
        return "\n".join(items)


class V1ProtobufFrames:
    """Varint-length-delimited protobuf commands, replies and pushes."""

    name = "protobuf"

    def __init__(self, max_frame: int = MAX_FRAME, max_commands: int = MAX_COMMANDS) -> None:
        self.max_frame = max_frame
        self.max_commands = max_commands

    def decode(self, frame: str | bytes) -> V1Decoded:
        if isinstance(frame, str):
            return _refused([], "text frame on a protobuf connection")
        refused = _too_big(frame, self.max_frame)
        if refused is not None:
            return refused
        requests: list[V1Request] = []
        pos, end = 0, len(frame)
        while pos < end:
            if len(requests) >= self.max_commands:
                return _refused(requests, f"more than {self.max_commands} commands in a frame")
            head = read_uvarint(frame, pos)
            if head is None or head[0] > end - head[1]:
                return _refused(requests, f"bad or truncated length at byte {pos}")
            size, pos = head
            request = protobuf_request(frame[pos:pos + size])
            pos += size
            if isinstance(request, str):
                return _refused(requests, request)
            requests.append(request)
        return V1Decoded(requests)

    @staticmethod
    def _framed(reply: pb.Reply) -> bytes:
        body = reply.SerializeToString()
        return uvarint(len(body)) + body

    def reply(self, number: int, result: Message | None) -> bytes:
        reply = pb.Reply(id=number)
        if result is not None:
            reply.result = result.SerializeToString()
        return self._framed(reply)

    def error(self, number: int, code: int, message: str) -> bytes:
        return self._framed(pb.Reply(id=number, error=pb.Error(code=code, message=message)))

    def push(self, kind: int, channel: str, data: Message, checked: bool = True) -> bytes:
        push = pb.Push(type=kind, channel=channel, data=data.SerializeToString())  # type: ignore[arg-type]
        return self._framed(pb.Reply(result=push.SerializeToString()))

    def join(self, items: Sequence[bytes]) -> bytes:
        return b"".join(items)


__all__ = ["V1Decoded", "V1Method", "V1JsonFrames", "NotJson", "V1ProtobufFrames", "V1Request", "UNKNOWN", "V1_JSON"]
