"""Pushes prepared once for every subscriber of a broadcast (the v2 side of
what transports.frames.Prepared is for 1.x): each format is encoded at most
once, on first use, so a publication with only JSON subscribers on this
node never builds its protobuf bytes and the other way round.

* :class:`PreparedPublication`: the ``pub`` push, the one every publication
  pays for.  Its JSON item is written directly from the values (no
  protobuf message is built for it), its protobuf item from ``pb.Reply``.
* :class:`PreparedPush`: any other push (join, leave, unsubscribe, message,
  subscribe, disconnect, refresh) from its ``pb.Reply``.

A JSON item is a ``str`` (a line of a JSON frame), a protobuf item
``bytes`` with its varint length (framing.JsonFrames/ProtobufFrames.join
makes frames of them).  When a raw field is not JSON (binary data
published by a protobuf client) the JSON item is
:data:`codes.INAPPROPRIATE_PROTOCOL`: a JSON subscriber is then closed with
it, as the reference server does.

``json_checked``: the caller knows every raw field is compact JSON without
a line break (data that came through jsoncodec.decode, or that it checked
once already), so the JSON item skips the check.
"""
from __future__ import annotations

from json.encoder import encode_basestring
from typing import Mapping

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import INAPPROPRIATE_PROTOCOL, Close
from app.dialects.v2.framing import uvarint


def _raw(data: bytes, checked: bool) -> str:
    return data.decode("utf-8", "replace") if checked else jsoncodec.raw_text(data)


class PreparedPublication:
    """The ``pub`` push of one publication in ``channel``."""

    __slots__ = ("channel", "data", "offset", "info", "tags", "json_checked", "_json", "_protobuf")

    def __init__(self, channel: str, data: bytes, offset: int = 0, info: pb.ClientInfo | None = None,
                 tags: Mapping[str, str] | None = None, json_checked: bool = False) -> None:
        self.channel = channel
        self.data = data
        self.offset = offset
        self.info = info
        self.tags = tags
        self.json_checked = json_checked
        self._json: str | Close | None = None
        self._protobuf: bytes | None = None

    @property
    def json(self) -> str | Close:
        """``{"push":{"channel":..,"pub":{..}}}``, or INAPPROPRIATE_PROTOCOL."""
        if self._json is None:
            try:
                self._json = self._write_json()
            except jsoncodec.NotJson:
                self._json = INAPPROPRIATE_PROTOCOL
        return self._json

    def _write_json(self) -> str:
        # Field-number order and zero values left out, as jsoncodec.encode
        # writes the same Reply (tests/dialects/v2/test_pushes.py compares).
        checked = self.json_checked
        parts = ['"data":' + _raw(self.data, checked)] if self.data else []
        info = self.info
        if info is not None:
            parts.append('"info":' + (jsoncodec.encode_checked_raw(info) if checked else jsoncodec.encode(info)))
        if self.offset:
            parts.append('"offset":' + str(self.offset))
        if self.tags:
            parts.append('"tags":{' + ",".join([encode_basestring(k) + ":" + encode_basestring(v)
                                                for k, v in self.tags.items()]) + "}")
        channel = '"channel":' + encode_basestring(self.channel) + "," if self.channel else ""
        return '{"push":{' + channel + '"pub":{' + ",".join(parts) + "}}}"

    @property
    def protobuf(self) -> bytes:
        """The length-prefixed protobuf Reply."""
        if self._protobuf is None:
            # Built from the messages: writing the bytes directly measured no
            # faster (bench/v2codec.py), the message walk is C.
            body = self.reply().SerializeToString()
            self._protobuf = uvarint(len(body)) + body
        return self._protobuf

    def reply(self) -> pb.Reply:
        """The push as a message (built anew at each call)."""
        publication = pb.Publication(data=self.data, offset=self.offset, tags=self.tags)
        if self.info is not None:
            publication.info.CopyFrom(self.info)
        return pb.Reply(push=pb.Push(channel=self.channel, pub=publication))


class PreparedPush:
    """Any push, from its ``pb.Reply``."""

    __slots__ = ("reply", "json_checked", "_json", "_protobuf")

    def __init__(self, reply: pb.Reply, json_checked: bool = False) -> None:
        self.reply = reply
        self.json_checked = json_checked
        self._json: str | Close | None = None
        self._protobuf: bytes | None = None

    @property
    def json(self) -> str | Close:
        """The JSON item, or INAPPROPRIATE_PROTOCOL when a raw field is not JSON."""
        if self._json is None:
            try:
                write = jsoncodec.encode_checked_raw if self.json_checked else jsoncodec.encode
                self._json = write(self.reply)
            except jsoncodec.NotJson:
                self._json = INAPPROPRIATE_PROTOCOL
        return self._json

    @property
    def protobuf(self) -> bytes:
        """The length-prefixed protobuf item."""
        if self._protobuf is None:
            body = self.reply.SerializeToString()
            self._protobuf = uvarint(len(body)) + body
        return self._protobuf

