"""Chromium (Debian's, through playwright) and a small test backend for the
browser tests.

The backend is a Tornado app in the test process, on its own port, playing
the role of the web application next to sockhub: it serves the test page
(which loads centrifuge 1.5.0 and sockjs-client 1.6.1 from sockhub's
/static/js/), answers the private-channel auth endpoint with
``app.dialects.v1x.auth.channel_sign`` and the refresh endpoint with fresh connect
parameters, and counts the calls.
"""
from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tornado.web import Application, RequestHandler

from app.dialects.v1x.auth import channel_sign, connection_token
from tests.support.browser import chromium
from tests.support.net import free_port, serving

__all__ = ["Backend", "chromium", "events", "wait_events"]


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>centrifuge-js test page</title></head>
<body>
%(sockjs)s
<script src="%(sockhub)s/static/js/centrifuge.js"></script>
<script>
"use strict";
window.log = [];
function record(type, data) { window.log.push(Object.assign({type: type}, data || {})); }
window.harness = {
  centrifuge: null,
  subs: {},
  start: function (params) {
    var c = new Centrifuge({
      url: params.url, user: params.user, timestamp: params.timestamp, info: params.info,
      token: params.token, transports: [params.transport],
      authEndpoint: "/auth", refreshEndpoint: "/refresh"
    });
    c.on("connect", function (ctx) { record("connect", {client: ctx.client, transport: ctx.transport}); });
    c.on("disconnect", function (ctx) { record("disconnect", {reason: ctx.reason, reconnect: ctx.reconnect}); });
    c.on("error", function (err) { record("error", {error: JSON.stringify(err)}); });
    this.centrifuge = c;
    c.connect();
  },
  subscribe: function (channel) {
    this.subs[channel] = this.centrifuge.subscribe(channel, {
      message: function (m) { record("message", {channel: channel, data: m.data, uid: m.uid}); },
      join: function (m) { record("join", {channel: channel, user: m.data.user, client: m.data.client}); },
      leave: function (m) { record("leave", {channel: channel, user: m.data.user, client: m.data.client}); },
      subscribe: function (ctx) {
        record("subscribe", {channel: channel, recovered: ctx.recovered, resubscribe: ctx.isResubscribe});
      },
      error: function (err) { record("subscribe_error", {channel: channel, error: String(err.error)}); },
      unsubscribe: function () { record("unsubscribe", {channel: channel}); }
    });
  },
  publish: function (channel, data) { return this.subs[channel].publish(data); },
  unsubscribe: function (channel) { this.subs[channel].unsubscribe(); },
  presence: function (channel) { return this.subs[channel].presence(); },
  history: function (channel) { return this.subs[channel].history(); },
  transportName: function () {
    var t = this.centrifuge._transport;
    return t instanceof WebSocket ? "raw-websocket" : (t.transport || null);
  },
  dropTransport: function () { this.centrifuge._transport.close(); }
};
</script>
</body></html>
"""


class Backend:
    """The test's web application; see the module docstring."""

    def __init__(self, secret: str, sockhub_url: str, user: str = "42", info: str = "") -> None:
        self.secret = secret
        self.sockhub_url = sockhub_url
        self.user = user
        self.info = info
        self.port = free_port()
        self.auth_requests: list[dict[str, Any]] = []
        self.refreshes = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect_params(self) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {"user": self.user, "timestamp": timestamp, "info": self.info,
                "token": connection_token(self.secret, self.user, timestamp, self.info)}

    def auth_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The 1.x map form: ``{channel: {"sign", "info"}}``; channels whose
        name contains "denied" get ``{"status": 403}``."""
        self.auth_requests.append(body)
        client = body["client"]
        answer: dict[str, Any] = {}
        for channel in body["channels"]:
            if "denied" in channel:
                answer[channel] = {"status": 403}
            else:
                info = json.dumps({"channel_role": "reader"})
                answer[channel] = {"sign": channel_sign(self.secret, client, channel, info), "info": info}
        return answer

    def application(self) -> Application:
        backend = self

        class PageHandler(RequestHandler):
            """/page loads sockjs-client; /page-raw does not (raw websocket)."""

            def get(self, raw: str) -> None:
                sockjs = "" if raw else f'<script src="{backend.sockhub_url}/static/js/sockjs.min.js"></script>'
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(PAGE % {"sockhub": backend.sockhub_url, "sockjs": sockjs})

        class AuthHandler(RequestHandler):
            def post(self) -> None:
                self.finish(backend.auth_answer(json.loads(self.request.body)))

        class RefreshHandler(RequestHandler):
            def post(self) -> None:
                backend.refreshes += 1
                self.finish(backend.connect_params())

        class NoFavicon(RequestHandler):
            def get(self) -> None:
                self.set_status(204)

        return Application([(r"/page(-raw)?", PageHandler), (r"/auth", AuthHandler), (r"/refresh", RefreshHandler),
                            (r"/favicon.ico", NoFavicon)])

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["Backend"]:
        async with serving(self.application(), self.port):
            yield self


async def events(page: Any, type_: str, channel: str | None = None) -> list[dict[str, Any]]:
    """The page's recorded events of one type (and channel)."""
    log = await page.evaluate("window.log")
    return [e for e in log if e["type"] == type_ and (channel is None or e.get("channel") == channel)]


async def wait_events(page: Any, type_: str, count: int = 1, channel: str | None = None,
                      timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the page recorded ``count`` events of a type; returns them all."""
    predicate = ("([t, n, c]) => window.log.filter(e => e.type === t && (c === null || e.channel === c))"
                 ".length >= n")
    try:
        await page.wait_for_function(predicate, arg=[type_, count, channel], timeout=timeout * 1000,
                                     polling=50)
    except Exception as exc:
        log = await page.evaluate("window.log")
        raise AssertionError(f"no {count} {type_!r} events ({channel}) in {timeout}s: {log}") from exc
    return await events(page, type_, channel)
