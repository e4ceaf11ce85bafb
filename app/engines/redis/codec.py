"""Payload encoding of what the Redis engine stores and publishes: JSON.

Raw JSON fields (``data``, ``default_info``, ``channel_info``) travel as JSON
*strings* holding the text exactly as it entered the server, so they come out
byte for byte (re-encoding decoded JSON would change spacing and escapes).

- Message (``P.message.<ch>`` payload and history list item)::

    {"uid":"..","channel":"..","data":"<raw JSON text>","client":"..","info":<info>}

  ``client`` and ``info`` are left out when empty.  A message published
  into a channel with history is sent by the publish script with
  ``"offset":N,"epoch":".."`` in front (scripts.py); its stream entry keeps
  the payload without them (the entry id is the offset).
- ClientInfo (``info`` above, ``P.join/leave.<ch>`` payload, presence hash value)::

    {"user":"..","client":"..","default_info":"<raw JSON or empty>","channel_info":"<raw JSON or empty>"}

- Control, admin and API items: opaque bytes, passed through untouched.

This is not Centrifugo 1.5+'s protobuf: sockhub nodes and Centrifugo nodes
cannot share one Redis (they could not across 1.4/1.5 either).
"""
from __future__ import annotations

import json
from typing import Any

from app.core.values import ClientInfo, Message

# ensure_ascii: lone surrogates a client smuggled in as \ud800 still round-trip.
_dumps = json.JSONEncoder(separators=(",", ":")).encode


class CodecError(ValueError):
    """A payload that is not what a sockhub node writes."""


def info_to_obj(info: ClientInfo) -> dict[str, str]:
    return {
        "user": info.user,
        "client": info.client,
        "default_info": info.default_info,
        "channel_info": info.channel_info,
    }


def info_from_obj(obj: Any) -> ClientInfo:
    if not isinstance(obj, dict):
        raise CodecError("client info is not an object")
    return ClientInfo(
        user=str(obj.get("user", "")),
        client=str(obj.get("client", "")),
        default_info=str(obj.get("default_info", "")),
        channel_info=str(obj.get("channel_info", "")),
    )


def encode_message(message: Message) -> bytes:
    obj: dict[str, Any] = {"uid": message.uid, "channel": message.channel, "data": message.data}
    if message.client:
        obj["client"] = message.client
    if message.info is not None:
        obj["info"] = info_to_obj(message.info)
    return _dumps(obj).encode()


def decode_message(payload: bytes) -> Message:
    obj = _loads(payload)
    offset = obj.get("offset", 0)
    if type(offset) is not int or offset < 0:
        raise CodecError("bad offset")
    try:
        info = obj.get("info")
        return Message(
            uid=str(obj["uid"]),
            channel=str(obj["channel"]),
            data=str(obj["data"]),
            client=str(obj.get("client", "")),
            info=info_from_obj(info) if info is not None else None,
            offset=offset,
            epoch=str(obj.get("epoch", "")),
        )
    except KeyError as exc:
        raise CodecError(f"message without {exc}") from None


def decode_entry(entry: Any, epoch: str) -> Message:
    """A stream entry ``[b"<offset>-0", [b"d", payload]]`` of ``epoch``."""
    try:
        ident, fields = entry
        message = decode_message(fields[1])
        message.offset = int(ident.split(b"-", 1)[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise CodecError(f"bad stream entry: {exc}") from None
    message.epoch = epoch
    return message


def encode_info(info: ClientInfo) -> bytes:
    return _dumps(info_to_obj(info)).encode()


def decode_info(payload: bytes) -> ClientInfo:
    return info_from_obj(_loads(payload))


def _loads(payload: bytes) -> Any:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CodecError("not a JSON object")
    return obj
