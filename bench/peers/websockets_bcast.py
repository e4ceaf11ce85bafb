"""Peer: Python ``websockets``' plain broadcast (``websockets.broadcast`` of
every received message to every connection).

    python bench/peers/websockets_bcast.py <port>
"""
import asyncio
import sys

from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed


async def main(port: int) -> None:
    members: set = set()

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        members.add(ws)
        try:
            async for message in ws:
                broadcast(members, message)
        except ConnectionClosed:
            pass  # the load client drops its sockets without a close handshake
        finally:
            members.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
