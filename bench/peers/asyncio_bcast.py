"""Peer: the floor of Python -- a bare asyncio Protocol doing the websocket
handshake by hand, and ``transport.write`` of ONE prebuilt frame to every
connection for each message received.  No library, no per-peer framing.

    python bench/peers/asyncio_bcast.py <port>

Only what a broadcast needs: text frames from clients (masked, not
fragmented), close on anything else.
"""
import asyncio
import base64
import hashlib
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class Peer(asyncio.Protocol):
    __slots__ = ("members", "transport", "buf", "open")

    def __init__(self, members: set) -> None:
        self.members = members
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.members.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            key = b""
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.open = True
            self.members.add(self.transport)
        self.frames()

    def frames(self) -> None:
        buf = self.buf
        while len(buf) >= 6:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            pos = 2
            if n == 126:
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + 4 + n:
                break
            mask, body = buf[pos:pos + 4], buf[pos + 4:pos + 4 + n]
            buf = buf[pos + 4 + n:]
            if opcode != 0x1:
                self.transport.close()
                return
            key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
            text = (int.from_bytes(body, "big") ^ key).to_bytes(n, "big")
            prebuilt = frame(text)  # built once for every member
            for transport in self.members:
                transport.write(prebuilt)
        self.buf = buf


async def main(port: int) -> None:
    members: set = set()
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Peer(members), "127.0.0.1", port, backlog=4096)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
