"""The core's values as protocol v2 messages.

The core keeps raw JSON as text (publication data, connection and channel
infos), validated where it entered.  Data is compact (every dialect and API
re-encodes it compactly), but a 1.x connection's info is relayed as its
backend signed it and may hold line breaks, which would split a JSON
frame's lines: :func:`raw` compacts such text once, so every raw field
built here may be written unchecked (``json_checked``).
"""
from __future__ import annotations

import json

from app.core.values import ClientInfo, Message
from app.dialects.v2 import protocol_pb2 as pb
from transports.strictjson import loads

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def raw(text: str) -> bytes:
    """Raw JSON text as the bytes of a v2 raw field, without line breaks."""
    if "\n" in text or "\r" in text:
        text = _dumps(loads(text, surrogates=True))
    return text.encode("utf-8", "replace")


def client_info(info: ClientInfo) -> pb.ClientInfo:
    message = pb.ClientInfo(user=info.user, client=info.client)
    if info.default_info:
        message.conn_info = raw(info.default_info)
    if info.channel_info:
        message.chan_info = raw(info.channel_info)
    return message


def publication(message: Message) -> pb.Publication:
    """A publication with its offset in the channel's stream (0: none kept)."""
    pub = pb.Publication(data=raw(message.data), offset=message.offset)
    if message.info is not None:
        pub.info.CopyFrom(client_info(message.info))
    return pub
