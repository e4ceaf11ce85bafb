"""transports.inframes (the simple inbound frame) and the peer's hand-over to
wsproto: same payloads as wsproto, same order, same answers to odd frames."""
from __future__ import annotations

import asyncio
import os
import random

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Pong, TextMessage

from tests.transports.test_behaviour import wait_for
from tests.transports.conftest import serve
from transports.inframes import MORE, NOT_SIMPLE, read_simple, unmask

UPGRADE = ("GET /echo/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def frame(payload: bytes, first: int = 0x81, masked: bool = True, length_bytes: int = 0) -> bytes:
    """A client frame; ``length_bytes`` 2 or 8 forces that length encoding."""
    n = len(payload)
    if length_bytes == 0 and n < 126:
        head = bytes((first, (0x80 if masked else 0) | n))
    elif length_bytes in (0, 2) and n < 65536:
        head = bytes((first, (0x80 if masked else 0) | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, (0x80 if masked else 0) | 127)) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def test_unmask_matches_the_definition() -> None:
    rng = random.Random(6)
    for n in (0, 1, 3, 4, 5, 125, 126, 1000):
        data, key = rng.randbytes(n), rng.randbytes(4)
        assert unmask(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 1000, 65535])
def test_simple_frames_read_as_wsproto_reads_them(size: int) -> None:
    payload = random.Random(size).randbytes(size).hex()[:size].encode()
    data = b"xx" + frame(payload) + frame(payload, 0x82)
    opcode, end, got = read_simple(data, 2, 1 << 20)
    assert (opcode, got) == (1, payload)
    opcode, end2, got = read_simple(data, end, 1 << 20)
    assert (opcode, got, end2) == (2, payload, len(data))
    ws = Connection(ConnectionType.SERVER)
    ws.receive_data(data[2:])
    events = list(ws.events())
    assert all(isinstance(e, Message) and e.message_finished for e in events)
    assert [bytes(e.data) if isinstance(e, BytesMessage) else str(e.data).encode() for e in events] == [payload] * 2


def test_incomplete_and_odd_frames() -> None:
    whole = frame(b"x" * 300)
    assert all(read_simple(whole[:cut], 0, 1000)[0] == MORE for cut in range(len(whole)))
    odd = [frame(b"a", 0x01), frame(b"a", 0x80), frame(b"a", 0xC1), frame(b"", 0x89), frame(b"", 0x88),
           frame(b"a", masked=False), frame(b"a", length_bytes=2), frame(b"a" * 200, length_bytes=8)]
    assert [read_simple(f, 0, 1000)[0] for f in odd] == [NOT_SIMPLE] * len(odd)
    assert read_simple(frame(b"a" * 1001), 0, 1000)[0] == NOT_SIMPLE


async def talk(port: int, data: bytes, chunk: int = 0) -> list[Event]:
    """Upgrade, send ``data`` (in ``chunk``-byte writes if set), return what the
    server sends until it closes (as wsproto client events)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    for i in range(0, len(data), chunk or len(data) or 1):
        writer.write(data[i:i + (chunk or len(data))])
        await writer.drain()
        if chunk:
            await asyncio.sleep(0.001)
    client = Connection(ConnectionType.CLIENT)
    events: list[Event] = []
    try:
        while not any(isinstance(e, CloseConnection) for e in events):
            got = await asyncio.wait_for(reader.read(65536), 2)
            if not got:
                break
            client.receive_data(got)
            events += list(client.events())
    except asyncio.TimeoutError:
        pass
    writer.close()
    return events


def texts(events: list[Event]) -> list[str]:
    return [str(e.data) for e in events if isinstance(e, TextMessage)]


async def test_order_kept_across_the_hand_over_to_wsproto() -> None:
    async with serve() as srv:
        data = (frame(b"one") + frame("tw\u00f6".encode()) + frame(b"", 0x89) + frame(b"thr", 0x01)
                + frame(b"ee", 0x80) + frame(b"four" * 100) + frame(b"close"))
        for chunk in (0, 1, 7):
            events = await talk(srv.port, data, chunk)
            assert texts(events) == ["one", "tw\u00f6", "three", "four" * 100, "close"][:4]
            assert [e for e in events if isinstance(e, Pong)]
        await wait_for(lambda: len(srv.connections) == 3)
        assert [c.received for c in srv.connections] == [["one", "tw\u00f6", "three", "four" * 100, "close"]] * 3


@pytest.mark.parametrize("bad,code", [(frame(b"ok") + frame(b"\xff\xfe"), 1007),
                                      (frame(b"ok") + frame(b"\xff\xfe", 0x82), 1007),
                                      (frame(b"ok") + frame(b"x", masked=False), 1002),
                                      (frame(b"ok") + frame(b"x", 0xC1), 1002)])
async def test_bad_frames_after_good_ones_get_wsprotos_answer(bad: bytes, code: int) -> None:
    async with serve() as srv:
        events = await talk(srv.port, bad, 3)
        assert texts(events) == ["ok"]
        closes = [e for e in events if isinstance(e, CloseConnection)]
        assert closes and closes[0].code == code
        await wait_for(lambda: srv.only().closed == 1)
        assert srv.only().received == ["ok"]


async def test_message_size_limit_on_a_simple_frame() -> None:
    async with serve(max_message_size=1000) as srv:
        # (the echo of "small" is still queued when the connection is failed)
        events = await talk(srv.port, frame(b"small") + frame(b"x" * 1001))
        closes = [e for e in events if isinstance(e, CloseConnection)]
        assert closes and closes[0].code == 1009
        assert srv.only().received == ["small"]
