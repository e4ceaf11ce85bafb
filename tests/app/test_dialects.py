"""Telling the dialects apart at the edge (app.dialects.choose, docs/dialects.md)
on the first frames the clients of each generation send."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.core.errors import Disconnect
from app.dialects.choose import (
    V1,
    V1X,
    V2,
    DialectTable,
    FirstFrame,
    generation_of_binary,
    generation_of_frame,
    generation_of_request,
)
from transports.interfaces import OpenRequest

FRAMES = [
    # centrifuge-js 1.x: an object with uid and a string method, or a batch
    ('{"uid":"1","method":"connect","params":{"user":"42","timestamp":"1","info":"","token":"t"}}', V1X),
    ('[{"uid":"1","method":"connect","params":{}},{"uid":"2","method":"subscribe","params":{}}]', V1X),
    ('  {"method":"connect","params":{"user":"42"}}', V1X),
    # centrifuge-js 2.x (protocol v1): numeric id, no method for connect, or an int method
    ('{"id":1,"params":{"token":"t","name":"js"}}', V1),
    ('{"id":2,"method":1,"params":{"channel":"news"}}', V1),
    ('{"id":1}', V1),
    # centrifuge-js 5.x / centrifuge-python (protocol v2): a connect key, commands one per line
    ('{"id":1,"connect":{"token":"t","name":"js"}}\n{"id":2,"subscribe":{"channel":"news"}}', V2),
    ('{"id":1,"connect":{}}', V2),
    # nothing to tell
    ("hello", None), ('"x"', None), ("{}", None), ("", None), ("1", None),
]


@pytest.mark.parametrize("frame, generation", FRAMES)
def test_the_first_text_frame_tells_the_generation(frame: str, generation: str | None) -> None:
    assert generation_of_frame(frame) == generation


@pytest.mark.parametrize("frame, generation", [
    (b"\x04\x08\x01\x22\x00", V2),  # id=1, connect={} (field 4)
    (b"\x04\x08\x01\x1a\x00", V1),  # id=1, params=b"" (field 3)
    (b"\x02\x08\x01", V1),  # id=1 only: a v1 connect without params
    (b"\x05\x08\x01\x22", None),  # cut short
    (b"\x02\x0f\x01", None),  # wire type 7 does not exist
])
def test_the_first_binary_frame_tells_the_generation(frame: bytes, generation: str | None) -> None:
    assert generation_of_binary(frame) == generation


def test_the_request_can_fix_the_generation() -> None:
    assert generation_of_request("/connection/websocket", {"cf_protocol_version": "v2"}) == V2
    assert generation_of_request("/connection/websocket", {"cf_protocol_version": "v1"}) == V1
    assert generation_of_request("/connection/http_stream", {}) == V2
    assert generation_of_request("/emulation", {}) == V2
    assert generation_of_request("/connection/websocket", {}) is None
    assert generation_of_request("/connection/websocket", {"cf_protocol_version": "v3"}) is None


class FakeDialect:
    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[str | bytes] = []

    async def on_frame(self, client: Any, text: str | bytes) -> None:
        self.frames.append(text)

    def close(self, exc: Disconnect) -> tuple[int, str]:
        return 3000, self.name


class FakeClient:
    dialect: Any = None


def test_an_endpoint_with_one_dialect_needs_no_first_frame() -> None:
    only = FakeDialect("1.x")
    table = DialectTable({"/connection": {V1X: only}})
    assert table.dialect_for("/connection") is only
    with pytest.raises(KeyError):
        table.dialect_for("/elsewhere")


def test_an_endpoint_with_several_dialects_waits_for_the_first_frame() -> None:
    old, v1, v2 = FakeDialect("1.x"), FakeDialect("v1"), FakeDialect("v2")
    table = DialectTable({"/connection/websocket": {V1X: old, V1: v1, V2: v2}})
    assert table.dialect_for("/connection/websocket", OpenRequest("/connection/websocket", "cf_protocol_version=v2")) is v2
    assert table.dialect_for("/connection/websocket", OpenRequest("/connection/websocket", "cf_protocol_version=v3")) \
        is not v2
    chooser = table.dialect_for("/connection/websocket")
    assert isinstance(chooser, FirstFrame)
    assert table.dialect_for("/connection/websocket") is chooser  # one per endpoint, not per connection
    assert chooser.close(Disconnect("stale")) == (3000, "1.x")  # before a choice: the first one's
    client = FakeClient()
    client.dialect = chooser
    asyncio.run(chooser.on_frame(client, '{"id":1,"connect":{}}'))  # type: ignore[arg-type]
    assert client.dialect is v2 and v2.frames == ['{"id":1,"connect":{}}'] and not old.frames
    other = FakeClient()
    with pytest.raises(Disconnect):
        asyncio.run(chooser.on_frame(other, "nonsense"))  # type: ignore[arg-type]


def test_a_binary_first_frame_is_told_apart_by_its_protobuf_fields() -> None:
    old, v1, v2 = FakeDialect("1.x"), FakeDialect("v1"), FakeDialect("v2")
    chooser = DialectTable({"/ws": {V1X: old, V1: v1, V2: v2}}).dialect_for("/ws")
    v2_connect = bytes([4, 0x08, 0x01, 0x22, 0x00])  # length 4: id=1, connect={}
    client = FakeClient()
    asyncio.run(chooser.on_frame(client, v2_connect))  # type: ignore[arg-type]
    assert client.dialect is v2 and v2.frames == [v2_connect]
    v1_subscribe = bytes([4, 0x08, 0x02, 0x10, 0x01])  # id=2, method=1
    client = FakeClient()
    asyncio.run(chooser.on_frame(client, v1_subscribe))  # type: ignore[arg-type]
    assert client.dialect is v1 and v1.frames == [v1_subscribe]
    for junk in (b"", b"\xff\xff", bytes([9, 0x08])):  # empty, a bad varint, truncated
        with pytest.raises(Disconnect):
            asyncio.run(chooser.on_frame(FakeClient(), junk))  # type: ignore[arg-type]
    assert not old.frames


class TaggedV1x:
    """The node's 1.x dialect, but its message pushes carry a tag: a second
    dialect on the same node, counting how often it encodes a message."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.encoded = 0

    def message(self, message: Any) -> str:
        self.encoded += 1
        return self.inner.message(message)[:-1] + ',"tag":"other"}'

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_channel_shared_by_two_dialects_gets_one_push_per_dialect(harness_factory) -> None:
    from app.core.client import Client
    from tests.app.conftest import RecordingSession, token

    async with harness_factory() as h:
        other = TaggedV1x(h.node.v1x)
        plain = [await h.connect(str(i)) for i in range(3)]
        tagged = []
        for i in range(2):
            session = RecordingSession()
            session.connection = client = Client(h.node.clients, session, other)  # type: ignore[arg-type]
            client.on_open()
            await h.send(session, {"uid": "1", "method": "connect", "params": token(f"t{i}", h.clock())})
            tagged.append(session)
        for session in plain + tagged:
            await h.send(session, {"uid": "s", "method": "subscribe", "params": {"channel": "public:x"}})
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"public:x","data":{"n":1}}}')
        assert other.encoded == 1  # once for both of its clients
        assert [s.last().get("tag") for s in plain] == [None] * 3
        assert [s.last().get("tag") for s in tagged] == ["other"] * 2
        assert len({id(s.frames[-1]) for s in plain}) == 1 and len({id(s.frames[-1]) for s in tagged}) == 1
        for session in tagged:
            session.close()
        await h.node.idle()
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"public:x","data":{"n":2}}}')
        assert other.encoded == 1 and [s.last()["body"]["data"] for s in plain] == [{"n": 2}] * 3


async def test_the_1x_dialect_reads_a_binary_frame_as_utf8_text(harness_factory) -> None:
    from tests.app.conftest import token

    async with harness_factory() as h:
        session = h.open()
        connect = {"uid": "1", "method": "connect", "params": token("42", h.clock())}
        await session.connection.on_message(json.dumps(connect).encode())
        assert session.last()["body"]["client"] and session.close_args is None
        bad = h.open()
        await bad.connection.on_message(b'{"uid":"1","method":"connect","params":{"user":"\xff"}}')
        assert bad.close_advice() == {"reason": "invalid message", "reconnect": False}
