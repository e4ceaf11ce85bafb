"""A websocket session's pending_bytes counts what the socket has not taken
(the queue bound of the application reads it on every delivery): bytes the
transport buffers while the client does not read, and 0 again once it read
them.  WebSocketPeer learns it from asyncio's flow control instead of asking
the transport each time."""
from __future__ import annotations

import asyncio
import base64
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
