"""Chromium + sockjs-client 1.6.1 over each transport, against our server."""
from __future__ import annotations

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from tests.support.browser import BROWSER_TRANSPORTS, chromium, roundtrip, sockjs_page
from tests.support.net import free_port
from tests.transports.conftest import Recorder
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.settings import SockJSSettings

pytestmark = pytest.mark.browser


class PageHandler(RequestHandler):
    def initialize(self, client_js: str) -> None:
        self.client_js = client_js

    def get(self) -> None:
        self.finish(sockjs_page(self.client_js))


@pytest.mark.async_timeout(120)
@pytest.mark.parametrize("origin", ["same", "cross"])
async def test_sockjs_client_over_every_transport(origin: str) -> None:
    connections: list[Recorder] = []

    def factory(session: SessionHandle) -> Connection:
        return Recorder(session, connections)

    router = SockJSRouter(factory, "/connection", SockJSSettings(heartbeat_delay=2))
    port, page_port = free_port(), free_port()
    sockjs_base = f"http://127.0.0.1:{port}"
    page_rule = (r"/", PageHandler, {"client_js": sockjs_base + "/connection/static/sockjs.min.js"})
    server = HTTPServer(Application([page_rule, *router.urls]))
    server.listen(port, "127.0.0.1")
    # Cross-origin: the page comes from another port (sockjs-client then uses
    # CORS, or the iframe trick; htmlfile is same-origin only in 1.x).
    page_server = HTTPServer(Application([page_rule]))
    page_server.listen(page_port, "127.0.0.1")
    page_url = sockjs_base + "/" if origin == "same" else f"http://127.0.0.1:{page_port}/"
    transports = [t for t in BROWSER_TRANSPORTS if origin == "same" or t != "htmlfile"]
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(page_url)
            results = {t: await roundtrip(page, sockjs_base + "/connection", t) for t in transports}
    finally:
        server.stop()
        page_server.stop()
        await router.stop()
        await server.close_all_connections()
        await page_server.close_all_connections()
    for transport, result in results.items():
        assert result.get("transport") == transport, (transport, result)
        assert result["echo"] == result["sent"], (transport, result)
    used = {c.session.transport for c in connections}
    # iframe-htmlfile runs htmlfile inside the iframe, from the server's origin
    assert used == {"websocket", "xhr_streaming", "xhr", "eventsource", "htmlfile", "jsonp"}
