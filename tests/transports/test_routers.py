"""Several SockJS services on one server (transports.routers.Routers): a
prefix under another is routed first, and counts and shutdown cover all."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from tornado.web import Application

from tests.support.net import free_port
from tests.transports.clients import sockjs_client
from tests.transports.conftest import FAST, Recorder
from transports.front import front_server
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.routers import Routers


def test_needs_a_router() -> None:
    with pytest.raises(ValueError):
        Routers([])


async def test_inner_prefix_first_and_shutdown_covers_both() -> None:
    inner: list[Recorder] = []
    outer: list[Recorder] = []

    def factory(into: list[Recorder]):  # type: ignore[no-untyped-def]
        def make(session: SessionHandle) -> Connection:
            return Recorder(session, into)
        return make

    # "/c/sockjs/000/s/xhr_streaming" would be the outer service's session
    # "s" of server "000"... under server id "sockjs" if the outer came first
    routers = Routers([SockJSRouter(factory(inner), "/c/sockjs", replace(FAST, heartbeat_delay=30)),
                       SockJSRouter(factory(outer), "/c", replace(FAST, heartbeat_delay=30))])
    port = free_port()
    server = front_server(Application(routers.urls), routers.fast_routes())
    server.listen(port, "127.0.0.1")
    try:
        clients = [sockjs_client(port, "xhr_streaming", "/c/sockjs"), sockjs_client(port, "websocket", "/c/sockjs"),
                   sockjs_client(port, "xhr_streaming", "/c")]
        for client in clients:
            assert await client.connect() == "o"
        await asyncio.sleep(0.05)
        assert (len(inner), len(outer)) == (2, 1)
        assert routers.sessions_by_transport() == {"xhr_streaming": 2, "websocket": 1}
        assert len(routers) == 3 and len(routers.sessions()) == 3
        routers.hold_closing(2.0)
        routers.close_all(3001, "Server shutdown")
        for client in clients:
            assert await client.next_frame() == 'c[3001,"Server shutdown"]'
        assert await asyncio.wait_for(routers.drain(2.0), 5) == 0
        assert all(c.closed == 1 for c in inner + outer)
        for client in clients:
            await client.close()
    finally:
        server.stop()
        await routers.stop()
        await server.close_all_connections()
    assert len(routers) == 0 and routers.scheduled() == 0
