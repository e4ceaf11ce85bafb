"""Peer: sockjs-tornado 1.0.7's plain broadcast (its own chat example:
``self.broadcast(participants, message)``), on Tornado 6.

    python bench/peers/sockjs_tornado_bcast.py <port>
"""
import asyncio
import sys
import warnings

warnings.simplefilter("ignore")

from sockjs.tornado import SockJSConnection, SockJSRouter  # noqa: E402
from tornado.web import Application  # noqa: E402


async def main(port: int) -> None:
    participants: set = set()

    class Member(SockJSConnection):  # type: ignore[misc]
        def on_open(self, info: object) -> None:
            participants.add(self)

        def on_message(self, message: str) -> None:
            self.broadcast(participants, message)

        def on_close(self) -> None:
            participants.discard(self)

    Application(SockJSRouter(Member, "/bcast").urls).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
