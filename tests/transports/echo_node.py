"""A tiny sockhub-transport node for the nginx tests (run as a process).

``python -m tests.transports.echo_node --port N --name A`` serves a SockJS echo
service at /connection, the sockjs-client test page at /, ``/api/whoami``
(its name) and ``/stats`` (sessions opened per transport).
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter

from tornado.web import Application, RequestHandler

from tests.support.browser import sockjs_page
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.settings import SockJSSettings
from transports.testserver import Echo


def make_app(name: str, heartbeat: float) -> tuple[Application, SockJSRouter]:
    opened: Counter[str] = Counter()

    def factory(session: SessionHandle) -> Connection:
        opened[session.transport] += 1
        return Echo(session)

    router = SockJSRouter(factory, "/connection", SockJSSettings(heartbeat_delay=heartbeat))

    class Page(RequestHandler):
        def get(self) -> None:
            self.finish(sockjs_page("/connection/static/sockjs.min.js"))

    class WhoAmI(RequestHandler):
        def get(self) -> None:
            self.finish(name)

    class Stats(RequestHandler):
        def get(self) -> None:
            self.finish(json.dumps({"name": name, "opened": dict(opened)}))

    rules = [(r"/", Page), (r"/api/whoami", WhoAmI), (r"/stats", Stats), *router.urls]
    return Application(rules, xheaders=True), router  # type: ignore[arg-type]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--heartbeat", type=float, default=25.0)
    args = parser.parse_args()
    app, router = make_app(args.name, args.heartbeat)
    server = app.listen(args.port, "127.0.0.1")
    try:
        await asyncio.Event().wait()
    finally:
        server.stop()
        await router.stop()


if __name__ == "__main__":
    asyncio.run(main())
