"""centrifuge-js 2.8.5, unchanged (npm alias ``centrifuge2``), in Chromium
against a real sockhub, the page on another origin (the test's backend,
which serves the page and the client's files and signs private channels
at centrifuge-js 2's default ``/centrifuge/subscribe``): websocket JSON and
its protobuf build.  Each run: connect with a JWT, subscribe, receive a
publication made with cent 3.0.1, publish, presence, history, a private
channel with a subscription token, and after a forced disconnect (the
transport dropped) the missed publications recovered once and in order.
Also over SockJS (sockjs-client 1.6.1 on the page, ``/connection/sockjs``)
forced to its websocket, xhr-streaming and xhr-polling."""
from __future__ import annotations

import json
import subprocess
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import jwt
import pytest
from tornado.web import Application, RequestHandler, StaticFileHandler

from tests.integration.browser import chromium, wait_events
from tests.integration.conftest import SECRET
from tests.integration.test_cent3_client import CENT3
from tests.integration.test_cent5_client import KEY
from tests.support.net import free_port, serving
from tests.support.server import ROOT, SockhubProcess, python_executable

Start = Callable[..., SockhubProcess]
CONFIG: dict[str, Any] = {"api_key": KEY, "presence": True, "join_leave": True, "history_size": 50,
                          "history_lifetime": 300, "recover": True, "publish": True}
DIST = ROOT / "node_modules" / "centrifuge2" / "dist"
SOCKJS_DIST = ROOT / "node_modules" / "sockjs-client" / "dist"
#: how each run reaches the server: (format, SockJS transport or None for the websocket)
RUNS = {"json": ("json", None), "protobuf": ("protobuf", None), "sockjs-websocket": ("json", "websocket"),
        "sockjs-xhr-streaming": ("json", "xhr-streaming"), "sockjs-xhr-polling": ("json", "xhr-polling")}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>centrifuge-js 2.8.5</title></head>
<body>
<script src="/sockjs/sockjs.min.js"></script>
<script src="/js/%(script)s"></script>
<script>
"use strict";
window.log = [];
function record(type, data) { window.log.push(Object.assign({type: type}, data || {})); }
const protobuf = %(protobuf)s;
const encode = (v) => protobuf ? new TextEncoder().encode(JSON.stringify(v)) : v;
const decode = (d) => protobuf ? JSON.parse(new TextDecoder().decode(d)) : d;
window.harness = {
  subs: {},
  start: function (url, token, sockjsTransport) {
    const c = new Centrifuge(url, sockjsTransport ? {sockjsTransports: [sockjsTransport]} : {});
    c.setToken(token);
    c.on("connect", (ctx) => record("connect", {client: ctx.client, transport: ctx.transport}));
    c.on("disconnect", (ctx) => record("disconnect", {reason: ctx.reason, reconnect: ctx.reconnect}));
    this.centrifuge = c;
    c.connect();
  },
  subscribe: function (channel) {
    this.subs[channel] = this.centrifuge.subscribe(channel, {
      publish: (m) => record("publish", {channel: channel, data: decode(m.data)}),
      subscribe: (ctx) => record("subscribe", {channel: channel, recovered: !!ctx.recovered,
                                               resubscribe: ctx.isResubscribe}),
      error: (err) => record("subscribe_error", {channel: channel, error: JSON.stringify(err)}),
    });
  },
  publish: function (channel, data) { return this.subs[channel].publish(encode(data)).then(() => true); },
  presence: function (channel) {
    return this.subs[channel].presence().then((r) => Object.values(r.presence).map((c) => c.user));
  },
  history: function (channel) {
    return this.subs[channel].history().then((r) => r.publications.map((p) => decode(p.data)));
  },
  isWebSocket: function () { return this.centrifuge._transport instanceof WebSocket; },
  dropTransport: function () { this.centrifuge._transport.close(); },
};
</script>
</body></html>
"""


class Backend:
    """The web application: the page, the client's files, the private-channel endpoint."""

    def __init__(self) -> None:
        self.port = free_port()
        self.subscribe_requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def application(self) -> Application:
        backend = self

        class PageHandler(RequestHandler):
            def get(self, kind: str) -> None:
                protobuf = kind == "protobuf"
                self.finish(PAGE % {"script": "centrifuge.protobuf.js" if protobuf else "centrifuge.js",
                                    "protobuf": "true" if protobuf else "false"})

        class SubscribeHandler(RequestHandler):
            """centrifuge-js 2's private channel request: a Centrifugo 2 subscription JWT per channel."""

            def post(self) -> None:
                body = json.loads(self.request.body)
                backend.subscribe_requests.append(body)
                self.finish({"channels": [
                    {"channel": ch, "token": jwt.encode({"client": body["client"], "channel": ch}, SECRET,
                                                        algorithm="HS256")} for ch in body["channels"]]})

        return Application([(r"/page/(json|protobuf)", PageHandler),
                            (r"/centrifuge/subscribe", SubscribeHandler),
                            (r"/js/(.*)", StaticFileHandler, {"path": str(DIST)}),
                            (r"/sockjs/(.*)", StaticFileHandler, {"path": str(SOCKJS_DIST)})])

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["Backend"]:
        async with serving(self.application(), self.port):
            yield self


def cent3_publish(hub: SockhubProcess, channel: str, data: Any) -> None:
    script = ("import json, sys; from cent import Client; "
              "Client(sys.argv[1], api_key=sys.argv[2], timeout=5).publish(sys.argv[3], json.loads(sys.argv[4]))")
    done = subprocess.run([python_executable(), "-c", script, hub.url, KEY, channel, json.dumps(data)],
                          capture_output=True, text=True, timeout=30,
                          env={"PYTHONPATH": str(CENT3), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def numbers(log: list[dict[str, Any]]) -> list[Any]:
    return [e["data"]["n"] for e in log]


@pytest.mark.browser
@pytest.mark.async_timeout(120)
@pytest.mark.parametrize("run", list(RUNS))
async def test_centrifuge_js_2_in_chromium(sockhub: Start, run: str) -> None:
    format_name, sockjs = RUNS[run]
    if not DIST.exists():
        pytest.skip("centrifuge2 (centrifuge-js 2.8.5) not installed: make js")
    hub = sockhub(CONFIG)
    backend = Backend()
    async with backend.serving(), chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{backend.url}/page/{format_name}")
        url = hub.ws_url + ("?format=protobuf" if format_name == "protobuf" else "")
        if sockjs is not None:
            url = hub.url + "/connection/sockjs"
        token = jwt.encode({"sub": "42", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
        await page.evaluate("([u, t, s]) => harness.start(u, t, s)", [url, token, sockjs])
        (connected,) = await wait_events(page, "connect")
        if sockjs is None:
            assert connected["transport"] == "websocket" and await page.evaluate("harness.isWebSocket()")
        else:
            assert connected["transport"] == "sockjs-" + sockjs, connected

        await page.evaluate("harness.subscribe('news')")
        await wait_events(page, "subscribe", channel="news")
        cent3_publish(hub, "news", {"n": 1})
        assert numbers(await wait_events(page, "publish", channel="news")) == [1]
        assert await page.evaluate("harness.publish('news', {n: 2})") is True
        assert numbers(await wait_events(page, "publish", 2, channel="news")) == [1, 2]
        assert await page.evaluate("harness.presence('news')") == ["42"]
        assert await page.evaluate("harness.history('news')") == [{"n": 1}, {"n": 2}]

        await page.evaluate("harness.subscribe('$room')")
        (room,) = await wait_events(page, "subscribe", channel="$room")
        assert room["resubscribe"] is False
        assert backend.subscribe_requests == [{"client": connected["client"], "channels": ["$room"]}]

        # A forced disconnect: the transport dropped; two publications while away.
        await page.evaluate("harness.dropTransport()")
        await wait_events(page, "disconnect")
        cent3_publish(hub, "news", {"n": 3})
        cent3_publish(hub, "news", {"n": 4})
        subscribed = await wait_events(page, "subscribe", 2, channel="news")
        assert subscribed[1]["resubscribe"] is True and subscribed[1]["recovered"] is True
        await wait_events(page, "publish", 4, channel="news")
        await page.wait_for_timeout(300)  # anything duplicated would have come by now
        log = [e for e in await page.evaluate("window.log") if e["type"] == "publish"]
        assert numbers(log) == [1, 2, 3, 4]
        assert "subscribe_error" not in {e["type"] for e in await page.evaluate("window.log")}
    assert "Traceback" not in hub.logs()
