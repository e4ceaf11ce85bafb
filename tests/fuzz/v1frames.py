"""Seeded generators of protocol v1 client frames, JSON and protobuf, for
the fuzz suite (tests/fuzz/drive.py ``fuzz_v1_ws``): valid commands as
centrifuge-js 2.8.5 writes them (``{"id","method","params"}``, connect
without ``method``, ``ping`` without params), the params of the v2
generators (tests/fuzz/v2frames.py: the same names) plus v1's ``seq``/
``gen``, then mutated the ways of tests/fuzz/generators.py and, in
protobuf, v2frames.PROTOBUF_MUTATIONS."""
from __future__ import annotations

import random
from typing import Any

from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v1.framing import REQUESTS, V1_JSON, V1Method
from app.dialects.v2.framing import uvarint
from tests.fuzz import generators as gen
from tests.fuzz import v2frames


def command(rng: random.Random) -> dict[str, Any]:
    """A valid v1 command (its method a number, sometimes a name; an unknown one now and then)."""
    method = rng.choice(list(V1Method))
    params = v2frames.body(rng, method.name.lower())
    if method is V1Method.SUBSCRIBE and rng.random() < 0.3:
        params.update(seq=rng.choice([0, 5, 2 ** 32 - 1]), gen=rng.choice([0, 1, 7]))
    value: dict[str, Any] = {"id": rng.randrange(1, 2 ** 32)} if method is not V1Method.SEND else {}
    if method is not V1Method.CONNECT:
        value["method"] = method.name.lower() if rng.random() < 0.1 else int(method)
    if rng.random() < 0.02:
        value["method"] = rng.choice([12, 99, "nope"])
    if params and method is not V1Method.PING:
        value["params"] = params
    return value


def json_frame(rng: random.Random) -> bytes:
    """1-6 commands, each mutated (or not), one per line."""
    lines = [gen.mutate(rng, command(rng)) if rng.random() < 0.3 else gen.encode(rng, command(rng))
             for _ in range(rng.randint(1, 6))]
    frame = b"\n".join(lines) + rng.choice([b"", b"", b"\n", b"\n\n", b"\r\n"])
    if rng.random() < 0.1:
        frame = rng.choice(gen.BYTE_MUTATIONS)(rng, frame)
    return frame


def protobuf_command(value: dict[str, Any]) -> bytes:
    """A command of :func:`command` as a varint-delimited protobuf Command."""
    method = value.get("method", 0)
    number = method if isinstance(method, int) else int(V1Method[method.upper()]) if method.upper() in V1Method.__members__ else 99
    message = pb.Command(id=value.get("id", 0), method=number)  # type: ignore[arg-type]
    if number in REQUESTS:
        request = REQUESTS[number]()
        V1_JSON.fill(request, value.get("params", {}))
        message.params = request.SerializeToString()
    body = message.SerializeToString()
    return uvarint(len(body)) + body


def protobuf_frame(rng: random.Random) -> bytes:
    """1-6 commands, varint-delimited, then 0-2 byte-level mutations."""
    frame = b"".join(protobuf_command(command(rng)) for _ in range(rng.randint(1, 6)))
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        frame = rng.choice(v2frames.PROTOBUF_MUTATIONS)(rng, frame)
    return frame
