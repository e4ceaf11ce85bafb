"""Frames in and out (app/dialects/v2/framing.py), JSON and protobuf: the
commands centrifuge-js 5.x writes (docs/protocol-v2.md §2, §3), the
frames centrifuge-python 0.7.0's own codecs make, and every refusal as a
Close value, never an exception."""
from __future__ import annotations

import json

import pytest
from centrifuge.codecs import _JsonCodec, _ProtobufCodec
from google.protobuf.json_format import MessageToDict

from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import BAD_REQUEST, INAPPROPRIATE_PROTOCOL
from app.dialects.v2.commands import Method, params_as
from app.dialects.v2.pushes import PreparedPublication
from app.dialects.v2.framing import (
    Decoded,
    JsonFrames,
    ProtobufFrames,
    read_uvarint,
    uvarint,
)

JSON = JsonFrames()
PROTOBUF = ProtobufFrames()

#: What centrifuge-js 5.x sends: connect and the pending subscribes in one
#: frame (JSON.stringify of each command, joined by "\n"), then one command a frame.
JS_FIRST_FRAME = "\n".join([
    '{"connect":{"token":"eyJ.t.s","name":"js"},"id":1}',
    '{"subscribe":{"channel":"news","flag":1},"id":2}',
    '{"subscribe":{"channel":"chat","recover":true,"epoch":"xyz","offset":17,'
    '"positioned":true,"recoverable":true,"join_leave":true,"flag":1},"id":3}',
])
JS_COMMANDS = [
    ('{"publish":{"channel":"news","data":{"text":"hi","n":[1,2.5]}},"id":4}', Method.PUBLISH,
     {"channel": "news", "data": b'{"text":"hi","n":[1,2.5]}'}),
    ('{"presence":{"channel":"news"},"id":5}', Method.PRESENCE, {"channel": "news"}),
    ('{"presence_stats":{"channel":"news"},"id":6}', Method.PRESENCE_STATS, {"channel": "news"}),
    ('{"history":{"channel":"news","limit":10,"since":{"offset":3,"epoch":"xyz"},"reverse":true},"id":7}',
     Method.HISTORY, {"channel": "news", "limit": 10, "since": pb.StreamPosition(offset=3, epoch="xyz"),
                      "reverse": True}),
    ('{"rpc":{"method":"sum","data":[1,2]},"id":8}', Method.RPC, {"method": "sum", "data": b"[1,2]"}),
    ('{"send":{"data":"ping"}}', Method.SEND, {"data": b'"ping"'}),
    ('{"refresh":{"token":"t2"},"id":9}', Method.REFRESH, {"token": "t2"}),
    ('{"sub_refresh":{"channel":"$p","token":"st"},"id":10}', Method.SUB_REFRESH, {"channel": "$p", "token": "st"}),
    ('{"unsubscribe":{"channel":"news"},"id":11}', Method.UNSUBSCRIBE, {"channel": "news"}),
    ("{}", Method.PONG, {}),
    ('{"ping":{},"id":12}', Method.PING, {}),
]


def fields(message: object, **expected: object) -> bool:
    return all(getattr(message, name) == value for name, value in expected.items())


def test_the_js_first_frame_is_connect_then_subscribes() -> None:
    decoded = JSON.decode(JS_FIRST_FRAME)
    assert decoded.close is None
    assert [(r.id, r.method) for r in decoded.requests] == [
        (1, Method.CONNECT), (2, Method.SUBSCRIBE), (3, Method.SUBSCRIBE)]
    connect, news, chat = (r.params for r in decoded.requests)
    assert fields(connect, token="eyJ.t.s", name="js", data=b"")
    assert fields(news, channel="news", flag=1, recover=False)
    assert fields(chat, channel="chat", recover=True, epoch="xyz", offset=17, positioned=True,
                  recoverable=True, join_leave=True)


@pytest.mark.parametrize("line, method, expected", JS_COMMANDS, ids=[m.field for _, m, _ in JS_COMMANDS])
def test_each_js_command(line: str, method: Method, expected: dict[str, object]) -> None:
    for frame in (line, line + "\n", line.encode()):  # text or a body; one trailing newline allowed
        decoded = JSON.decode(frame)
        assert decoded.close is None, decoded.detail
        [request] = decoded.requests
        assert request.method is method
        assert fields(request.params, **expected)


def test_connect_with_subs_data_and_headers() -> None:
    frame = ('{"connect":{"token":"t","data":{"app":1},"subs":{"news":{"recover":true,"offset":5,"epoch":"e"}},'
             '"name":"js","version":"1.0","headers":{"X-A":"b"}},"id":1}')
    [request] = JSON.decode(frame).requests
    assert fields(request.params, data=b'{"app":1}', version="1.0")
    assert dict(request.params.headers) == {"X-A": "b"}
    assert fields(request.params.subs["news"], recover=True, offset=5, epoch="e")


@pytest.mark.parametrize("frame, good, detail", [
    ("", 0, "empty frame"),
    ("\n", 0, "command 1: syntax error"),
    ('{"connect":{},"id":1}\n\n{"id":2}', 1, "command 2: syntax error"),  # an empty line
    ('{"connect":{},"id":1}\n{"id":2', 1, "command 2: syntax error"),
    ('{"connect":{},"id":1}\n{"id":2}', 1, "no known method"),  # nothing but an id
    ('{"subscribe":{"channel":"a"}}', 0, "no known method, or id 0"),  # id 0 on a subscribe
    ('{"connect":{},"id":-1}', 0, "value out of range"),
    ('{"connect":{},"id":4294967296}', 0, "value out of range"),
    ('{"connect":{},"id":"1"}', 0, "id: wrong type"),
    ('{"connect":[],"id":1}', 0, "ConnectRequest must be an object"),
    ("[1]", 0, "Command must be an object"),
    ('{"id":1,"method":0,"params":{}}', 0, "no known method"),  # protocol v1's connect
    (b'{"connect":{"token":"\xff"},"id":1}', 0, "not UTF-8"),
    ('{"connect":{"data":' + "[" * 101 + "]" * 101 + '},"id":1}', 0, "nested deeper than 100"),
])
def test_a_bad_json_frame_is_a_close_after_the_good_commands(frame: str | bytes, good: int, detail: str) -> None:
    decoded = JSON.decode(frame)
    assert (len(decoded.requests), decoded.close) == (good, BAD_REQUEST)
    assert detail in decoded.detail


def test_frames_are_bounded() -> None:
    frames = JsonFrames(max_frame=100, max_commands=3)
    assert frames.decode("{}\n" * 3).close is None
    four = frames.decode("{}\n" * 4)
    assert (len(four.requests), four.close, four.detail) == (3, BAD_REQUEST, "more than 3 commands in a frame")
    assert frames.decode("{}\n" * 40).detail == "frame over 100 bytes"
    binary = ProtobufFrames(max_frame=100, max_commands=3)
    assert binary.decode(b"\x00" * 4).detail == "more than 3 commands in a frame"
    assert binary.decode(b"\x00" * 101).detail == "frame over 100 bytes"


def test_replies_and_pushes_make_one_json_frame() -> None:
    connect = pb.Reply(id=1, connect=pb.ConnectResult(client="c-1", version="0.1", ping=25, pong=True))
    subscribe = pb.Reply(id=2, subscribe=pb.SubscribeResult(recoverable=True, positioned=True, epoch="e", offset=3))
    publish = pb.Reply(id=4, publish=pb.PublishResult())
    push = PreparedPublication("news", b'{"x":1}', offset=4)
    error = pb.Reply(id=5, error=pb.Error(code=103, message="permission denied"))
    items = [JSON.encode(connect), JSON.encode(subscribe), JSON.encode(publish), push.json, JSON.encode(error), JSON.ping]
    assert all(isinstance(item, str) for item in items)
    frame = JSON.join(items)  # type: ignore[arg-type]
    assert frame == "\n".join([
        '{"id":1,"connect":{"client":"c-1","version":"0.1","ping":25,"pong":true}}',
        '{"id":2,"subscribe":{"recoverable":true,"epoch":"e","offset":3,"positioned":true}}',
        '{"id":4,"publish":{}}',
        '{"push":{"channel":"news","pub":{"data":{"x":1},"offset":4}}}',
        '{"id":5,"error":{"code":103,"message":"permission denied"}}',
        "{}",
    ])
    # what centrifuge-python does with a frame: split it, parse each line
    replies = _JsonCodec.decode_replies(frame)
    assert replies[3] == {"push": {"channel": "news", "pub": {"data": {"x": 1}, "offset": 4}}}
    assert len(replies) == 6 and replies[5] == {}


def test_binary_data_cannot_go_to_a_json_client() -> None:
    assert JSON.encode(pb.Reply(id=1, rpc=pb.RPCResult(data=b"\xff"))) == INAPPROPRIATE_PROTOCOL
    assert PROTOBUF.encode(pb.Reply(id=1, rpc=pb.RPCResult(data=b"\xff"))).endswith(b"\xff")


def test_protobuf_frames_are_varint_delimited() -> None:
    assert PROTOBUF.ping == b"\x00" == PROTOBUF.encode(pb.Reply())
    big = pb.Reply(push=pb.Push(channel="news", pub=pb.Publication(data=b"x" * 300)))
    items = [PROTOBUF.encode(pb.Reply(id=1, publish=pb.PublishResult())), PROTOBUF.ping, PROTOBUF.encode(big)]
    frame = PROTOBUF.join(items)
    assert frame[:6] == b"\x04\x08\x01\x42\x00\x00"  # id 1, publish (field 8) empty; the ping
    assert frame[6:8] == uvarint(big.ByteSize()) and len(frame) == 8 + big.ByteSize() > 8 + 300
    # centrifuge-python's own decoder reads every reply of the frame
    replies = _ProtobufCodec.decode_replies(frame)
    assert replies[0] == {"id": 1, "publish": {}} and replies[1] == {}
    assert replies[3 - 1]["push"]["pub"]["data"] == MessageToDict(big)["push"]["pub"]["data"]


def test_commands_from_centrifuge_pythons_protobuf_codec() -> None:
    commands = [{"id": 1, "connect": {"token": "t", "name": "python"}},
                {"id": 2, "subscribe": {"channel": "news", "recover": True, "offset": 5, "epoch": "e"}},
                {"id": 3, "publish": {"channel": "news", "data": "AAEC"}},  # base64 of b"\x00\x01\x02"
                {}]
    decoded = PROTOBUF.decode(_ProtobufCodec.encode_commands(commands))
    assert decoded.close is None
    assert [r.method for r in decoded.requests] == [Method.CONNECT, Method.SUBSCRIBE, Method.PUBLISH, Method.PONG]
    assert decoded.requests[1].params.offset == 5 and decoded.requests[2].params.data == b"\x00\x01\x02"
    json_decoded = JSON.decode(_JsonCodec.encode_commands([{**c, "publish": {"channel": "news", "data": {"a": 1}}}
                                                           if "publish" in c else c for c in commands]))
    assert [r.method for r in json_decoded.requests] == [r.method for r in decoded.requests]
    assert json_decoded.requests[2].params.data == b'{"a":1}'


@pytest.mark.parametrize("frame, good, detail", [
    (b"", 0, "empty frame"),
    ("{}", 0, "text frame on a protobuf connection"),
    (b"\x80", 0, "bad length at byte 0"),
    (b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1, "bad length at byte 1"),  # 11-byte varint
    (b"\x00\x05\x08\x01", 1, "message of 5 bytes truncated"),
    (b"\x00\x02\xff\xff", 1, "does not decode"),
    (b"\x02\x08\x01", 0, "no known method"),  # id 1, nothing else
    (b"\x04\x08\x01\x0a\x00", 0, "no known method"),  # id 1 and field 1 again with another wire type
    (b"\x06\x08\x01\x22\x02\x0a\xff", 0, "does not decode"),  # token: invalid UTF-8
])
def test_a_bad_protobuf_frame_is_a_close(frame: bytes, good: int, detail: str) -> None:
    decoded = PROTOBUF.decode(frame)
    assert (len(decoded.requests), decoded.close) == (good, BAD_REQUEST), decoded
    assert detail in decoded.detail


def test_varints() -> None:
    for value in (0, 1, 127, 128, 300, 2 ** 32 - 1, 2 ** 64 - 1):
        encoded = uvarint(value)
        assert read_uvarint(b"\x07" + encoded + b"\x07", 1) == (value, 1 + len(encoded))
    assert read_uvarint(b"\xff" * 10, 0) is None and read_uvarint(b"\x80\x80", 0) is None


def test_decoded_is_a_plain_value() -> None:
    assert Decoded([]) == ([], None, "")
    assert json.loads(JSON.ping) == {}


def test_each_method_carries_its_own_request_message() -> None:
    for line, method, _ in JS_COMMANDS:
        [request] = JSON.decode(line).requests
        expected = {Method.PONG: "PingRequest", Method.PING: "PingRequest", Method.RPC: "RPCRequest"}.get(
            method, "".join(part.title() for part in method.field.split("_")) + "Request")
        assert type(request.params).__name__ == expected
    [subscribe] = JSON.decode('{"subscribe":{"channel":"news"},"id":2}').requests
    assert params_as(subscribe, pb.SubscribeRequest).channel == "news"
    with pytest.raises(TypeError, match="SUBSCRIBE carries SubscribeRequest, not PublishRequest"):
        params_as(subscribe, pb.PublishRequest)
