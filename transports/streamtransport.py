"""A minimal asyncio Transport over a Tornado IOStream.

Used for websockets on TLS connections: their socket cannot change hands (the
TLS state lives in Tornado's SSL stream), so the peer keeps Tornado's stream
and this adapter presents it as the transport :class:`WebSocketPeer` expects.
Plain TCP connections take the faster path (a bare asyncio transport).
"""
from __future__ import annotations

import asyncio
from typing import Any

from tornado.iostream import IOStream, StreamClosedError

from transports.tornado_compat import write_buffer_size


class StreamTransport(asyncio.Transport):
    """write/close/abort/pause/resume and the write buffer size, nothing more."""

    def __init__(self, stream: IOStream, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._closing = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._last_write: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._protocol.connection_made(self)
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self) -> None:
        try:
            while not self._stream.closed():
                await self._resumed.wait()
                data = await self._stream.read_bytes(65536, partial=True)
                self._protocol.data_received(data)
        except StreamClosedError:
            pass
        finally:
            self._closing = True
            self._stream.close()
            self._protocol.connection_lost(None)

    def write(self, data: Any) -> None:
        if self._closing or self._stream.closed():
            return
        self._last_write = self._stream.write(bytes(data))

    def get_write_buffer_size(self) -> int:
        return write_buffer_size(self._stream)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Close once what was written has been sent."""
        if self._closing:
            return
        self._closing = True
        last = self._last_write
        if last is None or last.done():
            self._stream.close()
        else:
            last.add_done_callback(lambda _f: self._stream.close())

    def abort(self) -> None:
        self._closing = True
        self._stream.close()

    def pause_reading(self) -> None:
        self._resumed.clear()

    def resume_reading(self) -> None:
        self._resumed.set()

    def is_reading(self) -> bool:
        return self._resumed.is_set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._stream.socket if self._stream.socket is not None else default
        return default

    def can_write_eof(self) -> bool:
        return False  # a TLS stream: no half-close
