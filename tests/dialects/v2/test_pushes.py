"""Pushes prepared once per format (app/dialects/v2/pushes.py): the JSON item
written from the values is exactly what the schema walk writes for the same
Reply, the protobuf item is what centrifuge-python 0.7.0 reads, each is
built once, and binary data becomes a close for JSON subscribers only."""
from __future__ import annotations

import json

import pytest
from centrifuge.protocol import client_pb2 as theirs
from google.protobuf.json_format import MessageToDict

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import INAPPROPRIATE_PROTOCOL
from app.dialects.v2.framing import ProtobufFrames, read_uvarint
from app.dialects.v2.pushes import PreparedPublication, PreparedPush

INFO = pb.ClientInfo(user="42", client="c-1", conn_info=b'{"name":"Alex"}', chan_info=b"[1]")
PUBLICATIONS = [
    PreparedPublication("news", b'{"x":1}'),
    PreparedPublication("news", b'{"x":1}', offset=4),
    PreparedPublication("chat:\u00e9\"q", b'"text \\u00e9"', offset=2 ** 64 - 1, info=INFO, tags={"k": "v", "\u00e9": "\n"}),
    PreparedPublication("news", b"", info=pb.ClientInfo(user="", client="c")),
    PreparedPublication("news", b'{"a":\n 1}', offset=1),  # a line break in the data: re-encoded
    PreparedPublication("news", b'{"x":1}', info=INFO, json_checked=True),
    PreparedPublication("", b"\"" + b"x" * 300 + b"\"", offset=127, info=pb.ClientInfo()),  # long data, empty info
    PreparedPublication("news", b""),  # nothing in the pub: still a set, empty message
]


@pytest.mark.parametrize("prepared", PUBLICATIONS)
def test_the_json_item_is_the_schema_walks(prepared: PreparedPublication) -> None:
    item, walked = prepared.json, jsoncodec.encode(prepared.reply())
    assert isinstance(item, str) and "\n" not in item
    if prepared.tags:  # a protobuf map iterates in no set order: same object, maybe not same text
        assert json.loads(item) == json.loads(walked)
    else:
        assert item == walked


@pytest.mark.parametrize("prepared", PUBLICATIONS)
def test_the_protobuf_item_is_what_centrifuge_python_reads(prepared: PreparedPublication) -> None:
    item = prepared.protobuf
    if not prepared.tags:  # a protobuf map iterates in no set order
        assert item == ProtobufFrames().encode(prepared.reply())
    size, start = read_uvarint(item, 0) or (0, 0)
    assert start + size == len(item)
    read = theirs.Reply.FromString(item[start:])
    assert MessageToDict(read) == MessageToDict(prepared.reply())
    assert read.push.channel == prepared.channel and read.push.pub.offset == prepared.offset


def test_each_format_is_encoded_once_and_only_when_asked() -> None:
    prepared = PreparedPublication("news", b'{"x":1}', offset=4)
    assert prepared._json is None and prepared._protobuf is None
    first = prepared.json
    assert prepared._protobuf is None  # a node with only JSON subscribers never builds it
    assert prepared.json is first and prepared.protobuf is prepared.protobuf


def test_binary_data_closes_json_subscribers_only() -> None:
    prepared = PreparedPublication("news", b"\x00\x01binary", offset=3)
    assert prepared.json == INAPPROPRIATE_PROTOCOL
    assert prepared.protobuf.endswith(b"\x00\x01binary0\x03")
    bad_info = PreparedPublication("news", b"{}", info=pb.ClientInfo(user="u", conn_info=b"\xff"))
    assert bad_info.json == INAPPROPRIATE_PROTOCOL


@pytest.mark.parametrize("kind, value", [
    ("join", pb.Join(info=INFO)), ("leave", pb.Leave(info=INFO)),
    ("unsubscribe", pb.Unsubscribe(code=2000, reason="server unsubscribe")),
    ("message", pb.Message(data=b'{"m":1}')),
    ("subscribe", pb.Subscribe(recoverable=True, epoch="e", offset=3, positioned=True, data=b"{}")),
    ("connect", pb.Connect(client="c", version="1", ping=25, pong=True, session="s", node="n")),
    ("disconnect", pb.Disconnect(code=3001, reason="shutdown")),
    ("refresh", pb.Refresh(expires=True, ttl=60)),
])
def test_every_other_push(kind: str, value: object) -> None:
    reply = pb.Reply(push=pb.Push(channel="news", **{kind: value}))  # type: ignore[arg-type]
    prepared = PreparedPush(reply)
    json_item = prepared.json
    assert isinstance(json_item, str) and json_item.startswith('{"push":{"channel":"news","' + kind + '":')
    assert theirs.Reply.FromString(prepared.protobuf[1:]) == theirs.Reply.FromString(reply.SerializeToString())
    assert PreparedPush(reply, json_checked=True).json == json_item


def test_the_disconnect_push_of_the_http_transports() -> None:
    reply = pb.Reply(push=pb.Push(disconnect=pb.Disconnect(code=3001, reason="shutdown")))
    assert PreparedPush(reply).json == '{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}'
