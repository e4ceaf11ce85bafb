"""centrifuge-js 5.8.0, unchanged (npm alias ``centrifuge5``, its JSON and
protobuf browser builds), in Chromium over sockhub's HTTP streaming and SSE
transports with ``/emulation`` (docs/protocol-v2.md §1.3-§1.5).

The page comes from a test backend on another origin than sockhub (another
port), which serves the SDK's own dist file, so every request to sockhub is
cross-origin (CORS preflights included).  Each run: connect with a JWT,
subscribe, a publication made with ``POST /api/publish`` (X-API-Key), a
publish from the page, presence, history with a limit, then a forced
disconnect (server API ``disconnect`` with a reconnect code) while
publications are made: after the reconnect they arrive once, in order,
with ``recovered: true``."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from tornado.web import Application, RequestHandler, StaticFileHandler

from tests.integration.browser import chromium, events, wait_events
from tests.integration.test_v2_python_client import token
from tests.support.emulation import post
from tests.support.net import free_port, serving
from tests.support.server import ROOT, SockhubProcess

KEY = "browser-emulation-key"
CONFIG: dict[str, Any] = {"api_key": KEY, "presence": True, "history_size": 20, "history_lifetime": 120,
                          "recover": True, "publish": True}
DIST = ROOT / "node_modules" / "centrifuge5" / "dist"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>centrifuge-js 5 emulation</title></head>
<body>
<script src="/sdk/%(script)s"></script>
<script>
"use strict";
window.log = [];
function record(type, data) { window.log.push(Object.assign({type: type}, data || {})); }
var Client = window.Centrifuge.Centrifuge || window.Centrifuge;
var protobuf = %(protobuf)s;
var enc = function (v) { return protobuf ? new TextEncoder().encode(JSON.stringify(v)) : v; };
var dec = function (d) { return protobuf ? JSON.parse(new TextDecoder().decode(d)) : d; };
window.harness = {
  subs: {},
  start: function (p) {
    var c = new Client(p.transports, {token: p.token, emulationEndpoint: p.emulation, timeout: 5000,
                                      minReconnectDelay: 2000, maxReconnectDelay: 3000});
    c.on("connected", function (ctx) { record("connected", {transport: ctx.transport, client: ctx.client}); });
    c.on("connecting", function (ctx) { record("connecting", {code: ctx.code, reason: ctx.reason}); });
    c.on("disconnected", function (ctx) { record("disconnected", {code: ctx.code, reason: ctx.reason}); });
    c.on("error", function (ctx) { record("error", {error: String(ctx.error && ctx.error.message)}); });
    this.c = c;
    c.connect();
  },
  subscribe: function (channel) {
    var s = this.c.newSubscription(channel);
    s.on("publication", function (ctx) {
      record("publication", {channel: channel, data: dec(ctx.data), offset: ctx.offset});
    });
    s.on("subscribed", function (ctx) {
      record("subscribed", {channel: channel, recovered: ctx.recovered, wasRecovering: ctx.wasRecovering,
                            recoverable: ctx.recoverable});
    });
    s.subscribe();
    this.subs[channel] = s;
  },
  publish: function (channel, data) { return this.subs[channel].publish(enc(data)).then(function () { return true; }); },
  presence: function (channel) {
    return this.subs[channel].presence().then(function (r) {
      return Object.values(r.clients).map(function (c) { return c.user; });
    });
  },
  history: function (channel, limit) {
    return this.subs[channel].history({limit: limit, reverse: true}).then(function (r) {
      return r.publications.map(function (p) { return dec(p.data); });
    });
  }
};
</script>
</body></html>
"""


def page_app(protobuf: bool) -> Application:
    script = "centrifuge.protobuf.js" if protobuf else "centrifuge.js"

    class Page(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(PAGE % {"script": script, "protobuf": json.dumps(protobuf)})

    class NoFavicon(RequestHandler):
        def get(self) -> None:
            self.set_status(204)

    return Application([(r"/page", Page), (r"/sdk/(.*)", StaticFileHandler, {"path": str(DIST)}),
                        (r"/favicon.ico", NoFavicon)])


async def api(hub: SockhubProcess, method: str, body: dict[str, Any]) -> None:
    status, _, raw = await post(hub.port, "/api/" + method, json.dumps(body).encode(),
                                {"X-API-Key": KEY, "Content-Type": "application/json"})
    assert status == 200 and "error" not in json.loads(raw), raw


@pytest.mark.browser
@pytest.mark.async_timeout(120)
@pytest.mark.parametrize("transport,protobuf", [("http_stream", False), ("sse", False), ("http_stream", True)],
                         ids=["http_stream-json", "sse-json", "http_stream-protobuf"])
async def test_centrifuge_js_5_over_emulation(sockhub: Callable[..., SockhubProcess], transport: str,
                                              protobuf: bool) -> None:
    hub = sockhub(CONFIG)
    port = free_port()
    async with serving(page_app(protobuf), port), chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/page")
        await page.evaluate("p => harness.start(p)", {
            "transports": [{"transport": transport, "endpoint": f"{hub.url}/connection/{transport}"}],
            "emulation": f"{hub.url}/emulation", "token": token("42")})
        (connected,) = await wait_events(page, "connected")
        assert connected["transport"] == transport
        await page.evaluate("harness.subscribe('news')")
        await wait_events(page, "subscribed", channel="news")

        await api(hub, "publish", {"channel": "news", "data": {"from": "api"}})
        await wait_events(page, "publication", channel="news")
        assert await page.evaluate("harness.publish('news', {from: 'page'})") is True
        seen = await wait_events(page, "publication", 2, channel="news")
        assert [p["data"] for p in seen] == [{"from": "api"}, {"from": "page"}]
        assert await page.evaluate("harness.presence('news')") == ["42"]
        assert await page.evaluate("harness.history('news', 1)") == [{"from": "page"}]

        # A forced disconnect with a reconnect code; publications made while
        # the client is away come back once, in order, recovered.
        await api(hub, "disconnect", {"user": "42", "disconnect": {"code": 3011}})
        away = (await wait_events(page, "connecting", 2))[-1]  # the first: connect() itself
        assert away["code"] == 3011, away
        for n in range(3):
            await api(hub, "publish", {"channel": "news", "data": {"missed": n}})
        await wait_events(page, "connected", 2, timeout=20)
        subscribed = await wait_events(page, "subscribed", 2, channel="news", timeout=20)
        assert subscribed[1]["wasRecovering"] is True and subscribed[1]["recovered"] is True, subscribed
        await wait_events(page, "publication", 5, channel="news")
        publications = await events(page, "publication", "news")
        assert [p["data"] for p in publications] == [
            {"from": "api"}, {"from": "page"}, {"missed": 0}, {"missed": 1}, {"missed": 2}]
        assert [p["offset"] for p in publications] == [1, 2, 3, 4, 5]
        errors = await events(page, "error")
        assert not [e for e in errors if "transport" not in e["error"]], errors


@pytest.mark.browser
@pytest.mark.async_timeout(120)
async def test_the_sdk_falls_back_from_a_blocked_websocket(sockhub: Callable[..., SockhubProcess]) -> None:
    """The websocket endpoint answers nothing (a port nobody listens on, as
    behind a proxy that blocks websockets): the SDK goes on to http_stream,
    then sse, in its list, and gets the publication there."""
    hub = sockhub(CONFIG)
    port = free_port()
    async with serving(page_app(False), port), chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/page")
        await page.evaluate("p => harness.start(p)", {
            "transports": [{"transport": "websocket", "endpoint": f"ws://127.0.0.1:{free_port()}/connection/websocket"},
                           {"transport": "http_stream", "endpoint": f"{hub.url}/connection/http_stream"},
                           {"transport": "sse", "endpoint": f"{hub.url}/connection/sse"}],
            "emulation": f"{hub.url}/emulation", "token": token("42")})
        (connected,) = await wait_events(page, "connected", timeout=30)
        assert connected["transport"] == "http_stream"
        await page.evaluate("harness.subscribe('news')")
        await wait_events(page, "subscribed", channel="news")
        await api(hub, "publish", {"channel": "news", "data": {"after": "fallback"}})
        (publication,) = await wait_events(page, "publication", channel="news")
        assert publication["data"] == {"after": "fallback"}
