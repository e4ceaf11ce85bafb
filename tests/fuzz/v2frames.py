"""Seeded generators of protocol v2 client frames, JSON and protobuf, for
tests/fuzz/test_v2codec.py: valid commands as centrifuge-js 5.x and
centrifuge-python write them, then mutated the ways of
tests/fuzz/generators.py (values, text, bytes) plus the protobuf ones
(flipped bytes, broken and huge varint lengths, cut messages)."""
from __future__ import annotations

import copy
import random
from typing import Any

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint
from tests.fuzz import generators as gen

METHODS = ("connect", "subscribe", "unsubscribe", "publish", "presence", "presence_stats", "history",
           "send", "rpc", "refresh", "sub_refresh", "ping")
DATA = ({"text": "hi"}, [1, 2.5, None], "s", 1, True, {"a": {"b": [True, {}]}}, {"\u00e9": "\u2028"})


def body(rng: random.Random, method: str) -> dict[str, Any]:
    """A plausible request of ``method`` (a fresh value: the mutations change it in place)."""
    return copy.deepcopy(_body(rng, method))


def _body(rng: random.Random, method: str) -> dict[str, Any]:
    channel = rng.choice(gen.CHANNELS)
    position = {"offset": rng.choice([0, 1, 17, 2 ** 64 - 1]), "epoch": rng.choice(["", "abcd"])}
    return {
        "connect": lambda: {"token": "eyJ.x.y", "data": rng.choice(DATA), "name": "js", "version": "5.8.0",
                            "subs": {channel: {"recover": True, **position}}, "headers": {"X-A": "b"}},
        "subscribe": lambda: {"channel": channel, "token": "t", "recover": rng.random() < 0.5, **position,
                              "positioned": True, "recoverable": True, "join_leave": True, "flag": 1,
                              "data": rng.choice(DATA),
                              "tf": {"op": "and", "nodes": [{"key": "a", "cmp": "eq", "val": "b"}]}},
        "history": lambda: {"channel": channel, "limit": rng.choice([-1, 0, 10]), "since": position,
                            "reverse": rng.random() < 0.5},
        "publish": lambda: {"channel": channel, "data": rng.choice(DATA)},
        "send": lambda: {"data": rng.choice(DATA)},
        "rpc": lambda: {"method": "m", "data": rng.choice(DATA)},
        "refresh": lambda: {"token": "eyJ.x.y"},
        "sub_refresh": lambda: {"channel": channel, "token": "t"},
        "ping": lambda: {},
    }.get(method, lambda: {"channel": channel})()


def command(rng: random.Random) -> dict[str, Any]:
    """A valid command (the pong ``{}`` among them)."""
    if rng.random() < 0.05:
        return {}
    method = rng.choice(METHODS)
    value: dict[str, Any] = {method: body(rng, method)}
    if method != "send" or rng.random() < 0.3:
        value["id"] = rng.randrange(1, 2 ** 32)
    return value


def json_frame(rng: random.Random) -> bytes:
    """1-6 commands, each mutated (or not) the ways of the 1.x fuzz, one per line."""
    lines = [gen.mutate(rng, command(rng)) if rng.random() < 0.3 else gen.encode(rng, command(rng))
             for _ in range(rng.randint(1, 6))]
    frame = b"\n".join(lines) + rng.choice([b"", b"", b"\n", b"\n\n", b"\r\n"])
    if rng.random() < 0.1:
        frame = rng.choice(gen.BYTE_MUTATIONS)(rng, frame)
    return frame


def protobuf_frame(rng: random.Random) -> bytes:
    """1-6 commands, varint-delimited, then 0-2 byte-level mutations."""
    items = []
    for _ in range(rng.randint(1, 6)):
        message = pb.Command()
        jsoncodec.fill(message, command(rng))
        body_bytes = message.SerializeToString()
        items.append(uvarint(len(body_bytes)) + body_bytes)
    frame = b"".join(items)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        frame = rng.choice(PROTOBUF_MUTATIONS)(rng, frame)
    return frame


def flipped(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]


def huge_length(rng: random.Random, data: bytes) -> bytes:
    return uvarint(rng.choice([2 ** 31, 2 ** 64 - 1, 65537, len(data) + 1])) + data


def broken_varint(rng: random.Random, data: bytes) -> bytes:
    return b"\xff" * rng.choice([1, 9, 10, 11, 30]) + rng.choice([b"", b"\x01", data])


def many_empty(rng: random.Random, data: bytes) -> bytes:
    return data + b"\x00" * rng.choice([10, 1500, 70000])


PROTOBUF_MUTATIONS = (flipped, flipped, huge_length, broken_varint, many_empty,
                      gen.truncated, gen.stray_bytes, gen.random_bytes)


def emulation_body(rng: random.Random) -> tuple[bytes, bool]:
    """A ``POST /emulation`` body, JSON or protobuf (the flag), mutated or not."""
    if rng.random() < 0.5:
        frame = json_frame(rng).decode("utf-8", "replace")
        value: Any = {"session": "s-1", "node": "n-1", "data": frame}
        return (gen.mutate(rng, value) if rng.random() < 0.5 else gen.encode(rng, value)), False
    message = pb.EmulationRequest(node="n-1", session="s-1", data=protobuf_frame(rng))
    body_bytes = message.SerializeToString()
    if rng.random() < 0.5:
        body_bytes = rng.choice(PROTOBUF_MUTATIONS)(rng, body_bytes)
    return body_bytes, True
