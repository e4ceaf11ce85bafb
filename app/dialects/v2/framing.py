"""Protocol v2 frames (docs/protocol-v2.md §2): many commands in one
frame in, many replies and pushes in one frame out, in JSON or protobuf.

* :class:`JsonFrames`: commands are JSON objects one per line (``\\n``
  between them, at most one after the last); replies and pushes are joined
  by ``\\n`` with none at the end.  Text in, text out.
* :class:`ProtobufFrames`: every message is prefixed by its length as an
  unsigned varint, single ones included, and concatenated.  Bytes in, bytes out.

Both have the same four duties, so a dialect holds one of them per
connection and never looks at the format again:

* ``decode(frame)`` -> :class:`Decoded`: the frame's requests in order and,
  when part of the frame was refused, the :class:`Close` that must follow
  them (the reference server dispatches the commands before a bad one, then
  disconnects with 3501): an empty frame, a line or message that does not
  decode, a command of no known method, more than ``max_commands``, a frame
  over ``max_frame``.  Nothing raises.
* ``encode(reply)``: one ``pb.Reply`` (a result, a push or the ping) as a
  frame item; ``join(items)`` makes one frame of several, in order.  A JSON
  reply whose raw field holds bytes that are not JSON (a binary publication)
  cannot be written: ``encode`` returns :data:`INAPPROPRIATE_PROTOCOL`
  instead, and the dialect closes the client with it.
* ``ping``: the server's ping item (``{}``, or the single byte 0).

Pushes shared by every subscriber of a broadcast are prepared once per
format in :mod:`app.dialects.v2.pushes`.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol, Sequence, TypeVar

from google.protobuf.message import DecodeError

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import BAD_REQUEST, INAPPROPRIATE_PROTOCOL, Close
from app.dialects.v2.commands import Request, request_of

#: The reference server's read limit (a websocket message, an emulation body).
MAX_FRAME = 65536
#: Commands in one frame: a connect plus a subscribe per channel of a client
#: at the channel limit (128 in Centrifugo) fits many times over.
MAX_COMMANDS = 1024

W = TypeVar("W", str, bytes)


class Decoded(NamedTuple):
    """A decoded frame: ``requests`` to dispatch in order, then ``close``
    if set (``detail`` says why, in our words, for the log)."""

    requests: list[Request]
    close: Close | None = None
    detail: str = ""


class FrameCodec(Protocol[W]):
    """What a dialect needs of a format (JSON: ``str``, protobuf: ``bytes``)."""

    name: str
    ping: W

    def decode(self, frame: str | bytes) -> Decoded: ...

    def encode(self, reply: pb.Reply) -> W | Close: ...

    def join(self, items: Sequence[W]) -> W: ...


class _Collector:
    """Gathers a frame's requests; stops at the first refusal or past the count."""

    __slots__ = ("requests", "max_commands")

    def __init__(self, max_commands: int) -> None:
        self.requests: list[Request] = []
        self.max_commands = max_commands

    def add(self, command: pb.Command) -> Decoded | None:
        """None to go on, or the final Decoded when ``command`` ends the frame."""
        if len(self.requests) >= self.max_commands:
            return self.refuse(f"more than {self.max_commands} commands in a frame")
        request = request_of(command)
        if isinstance(request, Close):
            return Decoded(self.requests, request, "no known method, or id 0 on a command other than send")
        self.requests.append(request)
        return None

    def refuse(self, detail: str) -> Decoded:
        return Decoded(self.requests, BAD_REQUEST, detail)

    def done(self) -> Decoded:
        return Decoded(self.requests)


def _too_big(frame: str | bytes, max_frame: int) -> Decoded | None:
    if not frame:
        return Decoded([], BAD_REQUEST, "empty frame")
    if len(frame) > max_frame:
        return Decoded([], BAD_REQUEST, f"frame over {max_frame} bytes")
    return None


class JsonFrames:
    """Newline-delimited JSON commands and replies."""

    name = "json"
    ping = "{}"

    def __init__(self, max_frame: int = MAX_FRAME, max_commands: int = MAX_COMMANDS) -> None:
        self.max_frame = max_frame
        self.max_commands = max_commands

    def decode(self, frame: str | bytes) -> Decoded:
        refused = _too_big(frame, self.max_frame)
        if refused is not None:
            return refused
        lines: list[str | bytes]
        if isinstance(frame, str):
            lines = [*(frame[:-1] if frame.endswith("\n") else frame).split("\n")]
        else:
            lines = [*(frame[:-1] if frame.endswith(b"\n") else frame).split(b"\n")]
        collector = _Collector(self.max_commands)
        for number, line in enumerate(lines, 1):
            command = pb.Command()
            try:
                jsoncodec.decode(command, line)
            except jsoncodec.ShapeError as exc:
                return collector.refuse(f"command {number}: {exc}")
            ended = collector.add(command)
            if ended is not None:
                return ended
        return collector.done()

    def encode(self, reply: pb.Reply) -> str | Close:
        try:
            return jsoncodec.encode(reply)
        except jsoncodec.NotJson:
            return INAPPROPRIATE_PROTOCOL

    def join(self, items: Sequence[str]) -> str:
        return "\n".join(items)


def uvarint(value: int) -> bytes:
    """``value`` (>= 0) as an unsigned LEB128 varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_uvarint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it) of the varint at ``pos``, or None when it
    is truncated or longer than 10 bytes (more than 64 bits)."""
    value = shift = 0
    for index in range(pos, min(pos + 10, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index + 1
        shift += 7
    return None


class ProtobufFrames:
    """Varint-length-delimited protobuf commands and replies."""

    name = "protobuf"
    ping = b"\x00"  # an empty Reply encodes to nothing: its length, 0

    def __init__(self, max_frame: int = MAX_FRAME, max_commands: int = MAX_COMMANDS) -> None:
        self.max_frame = max_frame
        self.max_commands = max_commands

    def decode(self, frame: str | bytes) -> Decoded:
        if isinstance(frame, str):
            return Decoded([], BAD_REQUEST, "text frame on a protobuf connection")
        refused = _too_big(frame, self.max_frame)
        if refused is not None:
            return refused
        collector = _Collector(self.max_commands)
        pos, end = 0, len(frame)
        while pos < end:
            head = read_uvarint(frame, pos)
            if head is None:
                return collector.refuse(f"bad length at byte {pos}")
            size, pos = head
            if size > end - pos:
                return collector.refuse(f"message of {size} bytes truncated at byte {end}")
            command = pb.Command()
            try:
                command.ParseFromString(frame[pos:pos + size])
            except DecodeError:
                return collector.refuse(f"message at byte {pos} does not decode")
            pos += size
            ended = collector.add(command)
            if ended is not None:
                return ended
        return collector.done()

    def encode(self, reply: pb.Reply) -> bytes:
        body = reply.SerializeToString()
        return uvarint(len(body)) + body

    def join(self, items: Sequence[bytes]) -> bytes:
        return b"".join(items)
