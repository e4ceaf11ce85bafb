"""A test page holding several centrifuge-js 1.5.0 clients (sockjs-client 1.6.1),
the little web app that serves it, and helpers to drive it with playwright.

Each client is started with a name, a SockJS URL and one transport, subscribes
one channel and records what happens as ``{name, type, ...}`` entries of
``window.log``: ``connect``, ``disconnect``, ``subscribe`` (recovered,
resubscribe), ``message`` (``n`` from the data, uid).  Reconnect backoff is
short (``retry`` 100 ms, at most 1 s) so fault tests do not wait long.
"""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tornado.web import Application, RequestHandler

from app.dialects.v1x.auth import connection_token
from tests.support.net import free_port, serving

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cluster clients</title></head>
<body>
<script src="%(static)s/sockjs.min.js"></script>
<script src="%(static)s/centrifuge.js"></script>
<script>
"use strict";
window.log = [];
window.clients = {};
function record(name, type, data) { window.log.push(Object.assign({name: name, type: type}, data || {})); }
window.startClient = function (name, p) {
  var c = new Centrifuge({url: p.url, user: p.user, timestamp: p.timestamp, info: p.info, token: p.token,
                          transports: [p.transport], retry: 100, maxRetry: 1000});
  c.on("connect", function (ctx) { record(name, "connect", {client: ctx.client, transport: ctx.transport}); });
  c.on("disconnect", function (ctx) { record(name, "disconnect", {reason: ctx.reason, reconnect: ctx.reconnect}); });
  var sub = c.subscribe(p.channel, {
    message: function (m) { record(name, "message", {n: m.data.n, uid: m.uid}); },
    subscribe: function (ctx) { record(name, "subscribe", {recovered: ctx.recovered, resubscribe: ctx.isResubscribe}); },
    error: function (err) { record(name, "subscribe_error", {error: String(err.error)}); }
  });
  window.clients[name] = {centrifuge: c, sub: sub};
  c.connect();
};
window.stopClient = function (name) { window.clients[name].centrifuge.disconnect(); };
window.transportOf = function (name) {
  var t = window.clients[name].centrifuge._transport;
  return t && t.transport;
};
</script>
</body></html>
"""


class PageServer:
    """Serves the page at ``/page?static=<sockhub base>/static/js`` (another
    origin than sockhub, as a real site would be)."""

    def __init__(self) -> None:
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, sockhub_url: str) -> str:
        return f"{self.url}/page?static={sockhub_url}/static/js"

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["PageServer"]:
        class Page(RequestHandler):
            def get(self) -> None:
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(PAGE % {"static": self.get_argument("static")})

        class NoFavicon(RequestHandler):
            def get(self) -> None:
                self.set_status(204)

        async with serving(Application([(r"/page", Page), (r"/favicon.ico", NoFavicon)]), self.port):
            yield self


def client_params(secret: str, user: str, url: str, transport: str, channel: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"user": user, "timestamp": timestamp, "info": "", "url": url, "transport": transport,
            "channel": channel, "token": connection_token(secret, user, timestamp, "")}


async def entries(page: Any, name: str, type_: str) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = await page.evaluate("window.log")
    return [e for e in log if e["name"] == name and e["type"] == type_]


async def wait_entries(page: Any, name: str, type_: str, count: int = 1,
                       timeout: float = 20.0) -> list[dict[str, Any]]:
    """Wait until client ``name`` recorded ``count`` entries of a type; returns them."""
    predicate = "([n, t, k]) => window.log.filter(e => e.name === n && e.type === t).length >= k"
    try:
        await page.wait_for_function(predicate, arg=[name, type_, count], timeout=timeout * 1000, polling=50)
    except Exception as exc:
        log = [e for e in await page.evaluate("window.log") if e["name"] == name]
        raise AssertionError(f"{name}: no {count} {type_!r} entries in {timeout}s: {log}") from exc
    return await entries(page, name, type_)


async def numbers(page: Any, name: str) -> list[int]:
    """The ``n`` of every message client ``name`` received, in arrival order."""
    return [e["n"] for e in await entries(page, name, "message")]
