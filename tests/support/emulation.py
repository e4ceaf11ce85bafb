"""A small asyncio client of protocol v2's emulation transports for tests:
one streamed response (``/connection/http_stream`` or ``/connection/sse``)
read item by item, and ``POST /emulation`` requests.  Plain HTTP/1.1 over a
socket, so a test sees exactly the bytes and headers the server sent."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint


class Stream:
    """One streamed response; :meth:`next_item` returns JSON lines (http_stream
    JSON), ``data:`` events (SSE) or varint-delimited messages (protobuf)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: str) -> None:
        self._reader = reader
        self._writer = writer
        self.kind = kind  # "json", "sse" or "protobuf"
        self.status = 0
        self.headers: dict[str, str] = {}
        self.raw = b""  # every body byte read so far
        self.chunks: list[bytes] = []  # the body as the server wrote it, one chunk per write
        self._buffer = b""
        self.ended = False

    @classmethod
    async def open(cls, port: int, method: str, path: str, body: bytes = b"", kind: str = "json",
                   headers: dict[str, str] | None = None) -> "Stream":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        stream = cls(reader, writer, kind)
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            status_line = await asyncio.wait_for(reader.readline(), 10)
            stream.status = int(status_line.split()[1])
            while True:
                line = (await asyncio.wait_for(reader.readline(), 10)).decode().rstrip("\r\n")
                if not line:
                    break
                name, _, value = line.partition(":")
                stream.headers[name.strip().lower()] = value.strip()
        except BaseException:
            writer.close()
            raise
        return stream

    async def _chunk(self, timeout: float) -> None:
        """Read one chunk of the chunked body (or notice its end)."""
        if "content-length" in self.headers:  # a plain answer (errors)
            data = await asyncio.wait_for(self._reader.readexactly(int(self.headers["content-length"])), timeout)
            self._add(data)
            self.ended = True
            return
        size_line = await asyncio.wait_for(self._reader.readline(), timeout)
        if not size_line:
            self.ended = True
            return
        size = int(size_line.strip() or b"0", 16)
        data = await asyncio.wait_for(self._reader.readexactly(size + 2), timeout)
        if size == 0:
            self.ended = True
            return
        self._add(data[:-2])

    def _add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.raw += data
        self._buffer += data

    def _take(self) -> Any:
        """One complete item off the buffer, or None."""
        buffer = self._buffer
        if self.kind == "protobuf":
            length, at, shift = 0, 0, 0
            while at < len(buffer):
                byte = buffer[at]
                at += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    if len(buffer) < at + length:
                        return None
                    self._buffer = buffer[at + length:]
                    reply = pb.Reply()
                    reply.ParseFromString(buffer[at:at + length])
                    return reply
            return None
        if self.kind == "sse":
            buffer = buffer.lstrip(b"\r\n") if not buffer.startswith(b"data") else buffer
            end = buffer.find(b"\n\n")
            if end < 0:
                self._buffer = buffer
                return None
            event, self._buffer = buffer[:end], buffer[end + 2:]
            assert event.startswith(b"data: "), event
            return json.loads(event[len(b"data: "):])
        end = buffer.find(b"\n")
        if end < 0:
            return None
        line, self._buffer = buffer[:end], buffer[end + 1:]
        return json.loads(line)

    async def read_item(self, timeout: float = 10) -> Any:
        """The next item, or None once the response has ended
        (asyncio.TimeoutError when nothing comes for ``timeout``)."""
        while True:
            item = self._take()
            if item is not None:
                return item
            if self.ended:
                return None
            await self._chunk(timeout)

    async def next_item(self, timeout: float = 10) -> Any:
        """The next item; AssertionError when the stream ends first."""
        item = await self.read_item(timeout)
        assert item is not None, f"the stream ended; read {self.raw!r}"
        return item

    async def until(self, predicate: Any, timeout: float = 10) -> Any:
        """Items until one matches ``predicate``; that one."""
        while True:
            item = await self.next_item(timeout)
            if predicate(item):
                return item

    async def end(self, timeout: float = 10) -> list[Any]:
        """Every item until the response ends."""
        items = []
        while True:
            item = self._take()
            if item is not None:
                items.append(item)
                continue
            if self.ended:
                return items
            await self._chunk(timeout)

    def close(self) -> None:
        self._writer.close()


async def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own: status, headers, body
    (status 0: the connection was reset before any answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = b""
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), 10):
                raw += chunk
        except ConnectionResetError:  # answered (413) and closed before the body was read
            if not raw:
                return 0, {}, b""
    finally:
        writer.close()
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    got = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), got, rest


def emulation_json(session: str, node: str, *commands: dict[str, Any]) -> bytes:
    """An emulation body as centrifuge-js writes it (the frame as a string)."""
    frame = "\n".join(json.dumps(c) for c in commands)
    return json.dumps({"session": session, "node": node, "data": frame}).encode()


def protobuf_frame(*commands: pb.Command) -> bytes:
    """Varint-delimited commands."""
    return b"".join(uvarint(len(c.SerializeToString())) + c.SerializeToString() for c in commands)
