"""The protocol v2 decoders (app/dialects/v2/framing.py, emulation.py) under
seeded hostile frames and ``/emulation`` bodies, JSON and protobuf (tests/fuzz/v2frames.py makes them): no
exception escapes, every refusal is 3501 with our own detail, and whatever
a decoder accepts can be written back (JSON-decoded requests as JSON with
every raw field checked, every request as protobuf).  The time limit is
pytest-timeout's, not an assertion about speed."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from app.dialects.v2 import jsoncodec
from app.dialects.v2.codes import BAD_REQUEST
from app.dialects.v2.commands import Method, Request
from app.dialects.v2.emulation import Emulated, decode_emulation
from app.dialects.v2.framing import Decoded, JsonFrames, ProtobufFrames
from tests.fuzz import v2frames

SEED = 20261207
CASES = 4000


def judge(decoded: Decoded, outcomes: Counter[str]) -> None:
    assert isinstance(decoded, Decoded)
    assert decoded.close in (None, BAD_REQUEST)
    assert (decoded.close is None) == (decoded.detail == "")
    assert "Traceback" not in decoded.detail and len(decoded.detail) < 200
    for request in decoded.requests:
        assert isinstance(request, Request) and isinstance(request.method, Method)
        assert 0 <= request.id < 2 ** 32 and (request.id > 0 or request.method in (Method.SEND, Method.PONG))
        request.params.SerializeToString()
    outcomes["refused" if decoded.close else "accepted"] += 1
    outcomes["requests"] += len(decoded.requests)


@pytest.mark.timeout(120)
def test_json_frames() -> None:
    rng, frames, outcomes = random.Random(SEED), JsonFrames(), Counter[str]()
    for _ in range(CASES):
        frame = v2frames.json_frame(rng)
        decoded = frames.decode(frame if rng.random() < 0.5 else frame.decode("utf-8", "surrogateescape"))
        judge(decoded, outcomes)
        for request in decoded.requests:  # what JSON brought in, JSON can take out, checked
            jsoncodec.encode(request.params)
    assert outcomes["accepted"] > CASES // 4 and outcomes["refused"] > CASES // 4, outcomes


@pytest.mark.timeout(120)
def test_protobuf_frames() -> None:
    rng, frames, outcomes = random.Random(SEED), ProtobufFrames(), Counter[str]()
    for _ in range(CASES):
        decoded = frames.decode(v2frames.protobuf_frame(rng))
        judge(decoded, outcomes)
        for request in decoded.requests:
            try:
                jsoncodec.encode(request.params)
            except jsoncodec.NotJson:
                outcomes["binary raw field"] += 1
    assert outcomes["accepted"] > CASES // 4 and outcomes["refused"] > CASES // 4, outcomes
    assert outcomes["binary raw field"] > 10, outcomes


@pytest.mark.timeout(60)
def test_a_frame_of_the_other_format() -> None:
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    for _ in range(500):
        judge(JsonFrames().decode(v2frames.protobuf_frame(rng)), outcomes)
        judge(ProtobufFrames().decode(v2frames.json_frame(rng)), outcomes)
    assert outcomes["refused"] > 500, outcomes


@pytest.mark.timeout(120)
def test_emulation_bodies() -> None:
    rng, outcomes = random.Random(SEED), Counter[str]()
    for _ in range(CASES // 2):
        body, protobuf = v2frames.emulation_body(rng)
        emulated = decode_emulation(body, protobuf)
        if emulated is None:
            outcomes["not decoded"] += 1
            continue
        assert isinstance(emulated, Emulated) and isinstance(emulated.node, str)
        judge((ProtobufFrames() if protobuf else JsonFrames()).decode(emulated.frame), outcomes)
    assert outcomes["not decoded"] > CASES // 20 and outcomes["accepted"] > CASES // 20, outcomes
