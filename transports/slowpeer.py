"""The end of an HTTP streaming response that a peer does not read.

A session closed ``slow`` (or with any grace) writes its close frame and
ends its response; the session then lets go of that response, so its tick
cannot abort it as it aborts a websocket.  When the end of the response is
still being written ``grace`` seconds later, the peer has not read on: the
connection is dropped, so a peer that never reads again does not hold a
socket and Tornado's write buffer until it goes away by itself.
"""
from __future__ import annotations

import asyncio

from tornado.httputil import HTTPServerRequest


def drop_if_unfinished(request: HTTPServerRequest, finishing: "asyncio.Future[None] | None",
                       grace: float) -> None:
    """Close ``request``'s connection ``grace`` seconds from now unless
    ``finishing`` (the end of its response being written) is done by then."""
    if finishing is None or finishing.done():
        return

    def drop() -> None:
        connection = request.connection
        if not finishing.done() and connection is not None:
            connection.close()  # type: ignore[attr-defined]

    asyncio.get_running_loop().call_later(grace, drop)
