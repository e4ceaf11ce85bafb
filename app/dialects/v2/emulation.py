"""The body of ``POST /emulation`` (docs/protocol-v2.md §1.5): how the
HTTP-streaming and SSE transports send commands after their first frame.

* JSON (any content type but ``application/octet-stream``):
  ``{"node":..,"session":..,"data":"<frame>"}`` where ``data`` is a JSON
  *string* holding a §2.1 JSON frame (centrifuge-js does
  ``JSON.stringify({session, node, data: encodeCommands(cmds)})``);
* protobuf: an ``EmulationRequest`` message whose ``data`` is a
  varint-delimited command frame.

:func:`decode_emulation` gives the node, the session and the frame to hand
to that session's codec, or None when the body does not decode (the
endpoint answers 400).  Body size limits are the endpoint's.
"""
from __future__ import annotations

from typing import NamedTuple

from google.protobuf.message import DecodeError

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from transports.strictjson import JSONInputError
from transports.strictjson import loads as strict_loads


class Emulated(NamedTuple):
    """Where a frame goes (``node``, ``session``) and the frame itself."""

    node: str
    session: str
    frame: str | bytes


def decode_emulation(body: bytes, protobuf: bool) -> Emulated | None:
    """The emulation request in ``body``, or None when it does not decode."""
    request = pb.EmulationRequest()
    if protobuf:
        try:
            request.ParseFromString(body)
        except DecodeError:
            return None
        return Emulated(request.node, request.session, request.data)
    try:
        jsoncodec.decode(request, body)
        frame = strict_loads(request.data) if request.data else None
    except (jsoncodec.ShapeError, JSONInputError):
        return None
    if not isinstance(frame, str):  # data must be the frame as a JSON string
        return None
    return Emulated(request.node, request.session, frame)
