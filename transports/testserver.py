"""The server the official sockjs-protocol suite runs against.

``python -m transports.testserver --port N`` (or ``sockhub sockjs-test-server
--port N``) serves ``/echo`` (response_limit 4096), ``/close``,
``/disabled_websocket_echo`` and ``/cookie_needed_echo``; run
sockjs-protocol.py with ``SOCKJS_URL=http://127.0.0.1:N``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import replace

from tornado.httpserver import HTTPServer
from tornado.web import Application

from transports.front import front_server
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.settings import SockJSSettings


class Echo:
    """Sends every message back."""

    def __init__(self, session: SessionHandle) -> None:
        self.session = session

    def on_open(self) -> None:
        pass

    async def on_message(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.session.send(data)
        else:
            self.session.send_binary(data)

    def on_close(self) -> None:
        pass


class CloseAtOnce(Echo):
    """Closes the session as soon as it opens (``/close``)."""

    def on_open(self) -> None:
        self.session.close(3000, "Go away!")


def make_routers(base: SockJSSettings | None = None) -> list[SockJSRouter]:
    """The four services of the suite, with ``base`` as common settings."""
    base = base or SockJSSettings()
    echo = replace(base, response_limit=4096)

    def echo_factory(session: SessionHandle) -> Connection:
        return Echo(session)

    def close_factory(session: SessionHandle) -> Connection:
        return CloseAtOnce(session)

    return [
        SockJSRouter(echo_factory, "/echo", echo),
        SockJSRouter(close_factory, "/close", base),
        SockJSRouter(echo_factory, "/disabled_websocket_echo", replace(base, websocket_enabled=False)),
        SockJSRouter(echo_factory, "/cookie_needed_echo", replace(base, cookie_needed=True)),
    ]


def make_server(routers: list[SockJSRouter]) -> HTTPServer:
    """The routers' rules in one Application, behind their fast routes, served
    as sockhub serves a port (transports.front.front_server)."""
    rules = [rule for router in routers for rule in router.urls]
    return front_server(Application(rules), [route for router in routers for route in router.fast_routes()])


async def _serve(port: int, address: str) -> None:
    routers = make_routers()
    server = make_server(routers)
    server.listen(port, address)
    try:
        await asyncio.Event().wait()
    finally:
        server.stop()
        for router in routers:
            await router.stop()


def serve(port: int, address: str = "127.0.0.1") -> None:
    """Serve the conformance services until interrupted (blocking)."""
    try:
        asyncio.run(_serve(port, address))
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    serve(args.port, args.address)


if __name__ == "__main__":
    main()
