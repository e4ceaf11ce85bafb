"""A websocket session's pending_bytes counts what the socket has not taken
(the queue bound of the application reads it on every delivery): bytes the
transport buffers while the client does not read, and 0 again once it read
them.  WebSocketPeer learns it from asyncio's flow control instead of asking
the transport each time."""
from __future__ import annotations

import asyncio
import base64
import json
import os

from tests.transports.conftest import serve

CHUNK = "x" * 65536


async def _open_unread_websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 26)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /echo/0/backlog/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert await reader.readexactly(3) == b"\x81\x01o"
    return reader, writer


async def test_unread_bytes_count_until_the_client_reads_them() -> None:
    async with serve() as srv:
        reader, writer = await _open_unread_websocket(srv.port)
        transport = writer.transport
        transport.pause_reading()  # the client stops reading: kernel buffers fill, then asyncio's
        session = srv.only().session
        assert session.pending_bytes == 0
        sent = 0
        while session.pending_bytes == 0 and sent < 2000:
            session.send(CHUNK)
            sent += 1
            await asyncio.sleep(0)  # the flush callback writes it
        assert 0 < session.pending_bytes < sent * (len(CHUNK) + 20)
        transport.resume_reading()
        frames = 0
        while frames < sent:  # every a["xxx..."] frame arrives, in full
            head = await reader.readexactly(4)
            assert head[:2] == b"\x81\x7f"
            length = int.from_bytes(head[2:4] + await reader.readexactly(6), "big")
            await reader.readexactly(length)
            frames += 1
        for _ in range(100):
            if session.pending_bytes == 0:
                break
            await asyncio.sleep(0.01)
        assert session.pending_bytes == 0
        writer.close()


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    """One unmasked server frame's payload (any length)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    payload = await reader.readexactly(length)
    return bytes((head[0],)) + payload


async def _back_up(session: object, sent: list[int]) -> None:
    """Send numbered chunks until the socket holds some back."""
    while session.pending_bytes == 0:  # type: ignore[attr-defined]
        session.send(f"{len(sent):06d}" + CHUNK)  # type: ignore[attr-defined]
        sent.append(len(sent))
        await asyncio.sleep(0)


async def test_a_backed_up_socket_keeps_the_queue_as_whole_messages() -> None:
    """Past what the socket takes, messages wait in the session (dropped
    whole by drop_queued); what was written before arrives in full, then
    the close frame, then EOF (the half-close of a close with a grace)."""
    async with serve() as srv:
        reader, writer = await _open_unread_websocket(srv.port)
        writer.transport.pause_reading()
        session = srv.only().session
        sent: list[int] = []
        await _back_up(session, sent)
        for _ in range(50):  # these stay queued as messages
            session.send(f"{len(sent):06d}" + CHUNK)
            sent.append(len(sent))
            await asyncio.sleep(0)
        assert session.drop_queued() >= 50
        session.close(3000, "slow", grace=5)
        writer.transport.resume_reading()
        numbers = []
        while True:
            frame = await asyncio.wait_for(_read_frame(reader), 5)
            if not frame.startswith(b"\x81a"):
                break
            numbers += [int(item[:6]) for item in json.loads(frame[2:])]
        assert numbers == list(range(len(numbers)))  # whole frames, in order, up to the cut
        assert len(sent) - 51 <= len(numbers) <= len(sent) - 50  # the 50 queued ones are gone
        assert frame == b'\x81c[3000,"slow"]'
        assert (await _read_frame(reader))[:1] == b"\x88"  # the websocket close frame
        assert await asyncio.wait_for(reader.read(), 5) == b""  # half-closed: EOF
        writer.close()


async def test_a_close_with_a_grace_lets_go_of_a_peer_that_never_reads() -> None:
    async with serve() as srv:
        reader, writer = await _open_unread_websocket(srv.port)
        writer.transport.pause_reading()
        session = srv.only().session
        await _back_up(session, [])
        session.close(3000, "slow", grace=0.3)
        started = asyncio.get_running_loop().time()
        while len(srv.router.registry):
            assert asyncio.get_running_loop().time() - started < 2, "still held"
            await asyncio.sleep(0.02)
        assert asyncio.get_running_loop().time() - started >= 0.3
        writer.close()


async def test_drain_waits_for_the_peers_tcp_stack_and_counts_who_did_not_take_it() -> None:
    """Output its client does not take is not delivered; closing handshakes
    are not timed out (disconnect_delay 0.4 s) while a drain runs; the drain
    aborts the session at its deadline and counts it."""
    async with serve() as srv:
        _reader, writer = await _open_unread_websocket(srv.port)
        writer.transport.pause_reading()
        session = srv.only().session
        await _back_up(session, [])
        assert session.undelivered >= session.pending_bytes > 0
        srv.router.close_all(3001, "Server shutdown")
        started = asyncio.get_running_loop().time()
        assert await srv.router.drain(1.0) == 1
        assert asyncio.get_running_loop().time() - started >= 1.0
        writer.close()
