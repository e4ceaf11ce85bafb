"""The ``/emulation`` body (app/dialects/v2/emulation.py): JSON as
centrifuge-js 5.x writes it (the frame as a JSON string), protobuf as an
EmulationRequest, and what does not decode as None."""
from __future__ import annotations

import json

import pytest

from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.commands import Method
from app.dialects.v2.emulation import Emulated, decode_emulation
from app.dialects.v2.framing import JsonFrames, ProtobufFrames, uvarint


def test_a_json_body_carries_a_json_frame_as_a_string() -> None:
    frame = '{"subscribe":{"channel":"news","flag":1},"id":2}\n{}'
    body = json.dumps({"session": "s-1", "node": "n-1", "data": frame}).encode()  # JSON.stringify's shape
    emulated = decode_emulation(body, protobuf=False)
    assert emulated == Emulated("n-1", "s-1", frame)
    decoded = JsonFrames().decode(emulated.frame)
    assert [r.method for r in decoded.requests] == [Method.SUBSCRIBE, Method.PONG]


def test_a_protobuf_body_is_an_emulation_request() -> None:
    command = pb.Command(id=3, publish=pb.PublishRequest(channel="news", data=b"\x00\x01")).SerializeToString()
    frame = uvarint(len(command)) + command + b"\x00"
    body = pb.EmulationRequest(node="n-1", session="s-1", data=frame).SerializeToString()
    emulated = decode_emulation(body, protobuf=True)
    assert emulated == Emulated("n-1", "s-1", frame)
    decoded = ProtobufFrames().decode(emulated.frame)
    assert [r.method for r in decoded.requests] == [Method.PUBLISH, Method.PONG]


@pytest.mark.parametrize("body", [
    b"", b"{", b"[]", b'{"session":1}', b'{"session":"s","node":"n","data":{"id":1}}',
    b'{"session":"s","node":"n"}', b'{"session":"s","data":"\\ud800"}', b"\xff",
])
def test_a_json_body_that_does_not_decode(body: bytes) -> None:
    assert decode_emulation(body, protobuf=False) is None


def test_a_protobuf_body_that_does_not_decode() -> None:
    assert decode_emulation(b"\x0a\x05ab", protobuf=True) is None
    assert decode_emulation(b"\x0a\x02\xff\xff", protobuf=True) is None  # node: not UTF-8
