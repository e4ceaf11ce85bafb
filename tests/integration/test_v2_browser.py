"""centrifuge-js 5.8.0, unchanged (the npm alias ``centrifuge5``, served by
sockhub as /static/js/centrifuge5.js and its protobuf build), in Chromium
against a real sockhub, the page on another origin (the test backend's
port): over the websocket in JSON and in protobuf, and over SockJS
(sockjs-client 1.6.1 in its ``sockjs`` option, ``/connection/sockjs``)
forced to xhr-streaming, to xhr-polling, to its websocket and to
eventsource.

Each run: connect with an HS256 JWT (``token_hmac_secret_key``), subscribe,
receive a publication made with cent 5.2.0 (``POST /api/publish`` with
X-API-Key), publish from the page, presence, presence_stats, history with a
limit, a private channel with a subscription token from ``getToken``; then
the server API disconnects the client with reconnect advice and cent
publishes while it is away: on a channel whose history holds them all they
arrive once, in order, with ``recovered: true``; on one whose history is too
short, ``recovered: false`` and none of them.
"""
from __future__ import annotations

import json
import subprocess
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import jwt
import pytest
from tornado.web import Application, RequestHandler

from tests.integration.browser import chromium, events, wait_events
from tests.support.net import free_port, serving
from tests.support.server import ROOT, SockhubProcess, python_executable

Start = Callable[..., SockhubProcess]
TOKEN_KEY = "v2-browser-hmac-key-of-32-bytes-at-least"
API_KEY = "v2-browser-api-key"
#: history of 20 by default; the "short" namespace keeps 2 publications, so
#: the 4 published while away cannot all be recovered
CONFIG: dict[str, Any] = {
    "token_hmac_secret_key": TOKEN_KEY, "api_key": API_KEY, "presence": True, "join_leave": True,
    "history_size": 20, "history_lifetime": 300, "recover": True, "publish": True,
    # pings every second, answered within two (no SockJS heartbeats then):
    # the client must pong over every transport to stay connected
    "ping_interval": 1, "pong_timeout": 2,
    "namespaces": [{"name": "short", "history_size": 2, "history_lifetime": 300, "recover": True}],
}
CENT5 = ROOT / ".venv" / "cent5"
#: what the client waits before reconnecting after the forced disconnect (ms):
#: time enough for cent to publish everything while it is away
RECONNECT_DELAY = 4000
#: publications made while the client is away
AWAY = 4

#: (test id, endpoint kind, centrifuge build, sockjs-client transports)
RUNS = [
    ("websocket-json", "websocket", "centrifuge5.js", None),
    ("websocket-protobuf", "websocket", "centrifuge5.protobuf.js", None),
    ("sockjs-xhr-streaming", "sockjs", "centrifuge5.js", ["xhr-streaming"]),
    ("sockjs-xhr-polling", "sockjs", "centrifuge5.js", ["xhr-polling"]),
    ("sockjs-websocket", "sockjs", "centrifuge5.js", ["websocket"]),
    ("sockjs-eventsource", "sockjs", "centrifuge5.js", ["eventsource"]),
]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>centrifuge-js 5 test page</title></head>
<body>
<script src="%(sockhub)s/static/js/sockjs.min.js"></script>
<script src="%(sockhub)s/static/js/%(build)s"></script>
<script>
"use strict";
window.log = [];
function record(type, data) { window.log.push(Object.assign({type: type}, data || {})); }
var protobuf = %(protobuf)s;
function encode(value) { return protobuf ? new TextEncoder().encode(JSON.stringify(value)) : value; }
function decode(data) { return protobuf ? JSON.parse(new TextDecoder().decode(data)) : data; }
window.harness = {
  client: null,
  subs: {},
  start: function (p) {
    var options = {token: p.token, timeout: 10000, minReconnectDelay: p.delay, maxReconnectDelay: p.delay};
    var endpoint = p.endpoint;
    if (p.sockjs) {
      endpoint = [{transport: "sockjs", endpoint: p.endpoint}];
      options.sockjs = SockJS;
      options.sockjsOptions = {transports: p.sockjs};
    }
    var c = new Centrifuge(endpoint, options);
    c.on("connected", function (ctx) {
      record("connected", {transport: ctx.transport, client: ctx.client});
    });
    c.on("connecting", function (ctx) { record("connecting", {code: ctx.code, reason: ctx.reason}); });
    c.on("disconnected", function (ctx) { record("disconnected", {code: ctx.code, reason: ctx.reason}); });
    c.on("error", function (ctx) { record("error", {error: String(ctx.error && ctx.error.message)}); });
    this.client = c;
    c.connect();
  },
  subscribe: function (channel, getToken) {
    var options = {};
    if (getToken) {
      options.getToken = function (ctx) {
        record("getToken", {channel: ctx.channel});
        return fetch("/subtoken?channel=" + encodeURIComponent(ctx.channel))
          .then(function (r) { return r.json(); }).then(function (j) { return j.token; });
      };
    }
    var sub = this.client.newSubscription(channel, options);
    sub.on("publication", function (ctx) {
      record("publication", {channel: channel, data: decode(ctx.data), offset: ctx.offset,
                             user: ctx.info ? ctx.info.user : null});
    });
    sub.on("subscribed", function (ctx) {
      record("subscribed", {channel: channel, recovered: ctx.recovered, wasRecovering: ctx.wasRecovering,
                            recoverable: ctx.recoverable});
    });
    sub.on("error", function (ctx) { record("sub_error", {channel: channel, error: String(ctx.error.message)}); });
    this.subs[channel] = sub;
    sub.subscribe();
  },
  publish: function (channel, data) { return this.subs[channel].publish(encode(data)).then(function () { return true; }); },
  presence: function (channel) {
    return this.subs[channel].presence().then(function (r) {
      return Object.keys(r.clients).map(function (k) { return r.clients[k].user; });
    });
  },
  presenceStats: function (channel) {
    return this.subs[channel].presenceStats().then(function (r) {
      return {numClients: r.numClients, numUsers: r.numUsers};
    });
  },
  history: function (channel, limit) {
    return this.subs[channel].history({limit: limit}).then(function (r) {
      return r.publications.map(function (p) { return decode(p.data); });
    });
  }
};
</script>
</body></html>
"""

#: cent 5.2.0, in its own site folder: argv = url, key, then JSON steps
#: [["publish", channel, data] | ["disconnect", user]]; prints the replies.
CENT5_SCRIPT = r'''
import json, sys
from cent import Client, Disconnect, DisconnectRequest, PublishRequest
url, key, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = Client(url + "/api", key, timeout=5)
out = []
for step in steps:
    if step[0] == "publish":
        out.append(client.publish(PublishRequest(channel=step[1], data=step[2])).model_dump(mode="json"))
    else:  # a forced disconnect whose code says: reconnect (the default reason)
        out.append(client.disconnect(DisconnectRequest(
            user=step[1], disconnect=Disconnect(code=3011, reason=""))).model_dump(mode="json"))
print(json.dumps(out))
'''


def cent5(hub: SockhubProcess, steps: list[list[Any]]) -> list[Any]:
    """Run ``steps`` with cent 5.2.0 (the current-style API, X-API-Key)."""
    result = subprocess.run([python_executable(), "-c", CENT5_SCRIPT, hub.url, API_KEY, json.dumps(steps)],
                            capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(CENT5), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    replies: list[Any] = json.loads(result.stdout)
    return replies


def token(user: str, **claims: Any) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time() + 3600), **claims}, TOKEN_KEY, algorithm="HS256")


class PageServer:
    """The web application beside sockhub, on its own port (another origin):
    the page, and subscription tokens for user 42 (``getToken``)."""

    def __init__(self, sockhub_url: str) -> None:
        self.sockhub_url = sockhub_url
        self.port = free_port()
        self.tokens: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def application(self) -> Application:
        server = self

        class Page(RequestHandler):
            def get(self, build: str) -> None:
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(PAGE % {"sockhub": server.sockhub_url, "build": build,
                                    "protobuf": "true" if "protobuf" in build else "false"})

        class SubToken(RequestHandler):
            def get(self) -> None:
                channel = self.get_argument("channel")
                server.tokens.append(channel)
                self.finish({"token": token("42", channel=channel)})

        class NoFavicon(RequestHandler):
            def get(self) -> None:
                self.set_status(204)

        return Application([(r"/page/(centrifuge5(?:\.protobuf)?\.js)", Page), (r"/subtoken", SubToken),
                            (r"/favicon.ico", NoFavicon)])

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["PageServer"]:
        async with serving(self.application(), self.port):
            yield self


def numbers(log: list[dict[str, Any]]) -> list[int]:
    return [e["data"]["n"] for e in log]


@pytest.mark.browser
@pytest.mark.async_timeout(150)
@pytest.mark.parametrize(("kind", "build", "sockjs"), [run[1:] for run in RUNS], ids=[run[0] for run in RUNS])
async def test_centrifuge_js_5_in_chromium(sockhub: Start, kind: str, build: str, sockjs: list[str] | None) -> None:
    hub = sockhub(CONFIG)
    pages = PageServer(hub.url)
    async with pages.serving(), chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{pages.url}/page/{build}")
        endpoint = hub.url + "/connection/sockjs" if sockjs else hub.ws_url
        await page.evaluate("p => harness.start(p)", {"endpoint": endpoint, "sockjs": sockjs, "token": token("42"),
                                                      "delay": RECONNECT_DELAY})
        (connected,) = await wait_events(page, "connected", timeout=30)
        await page.wait_for_timeout(2500)  # idle: two pings or more, each answered in time
        # sockjs-client's transport as centrifuge-js names it (not a fallback)
        assert connected["transport"] == ("sockjs-" + sockjs[0] if sockjs else "websocket")
        for channel in ("news", "short:feed"):
            await page.evaluate("c => harness.subscribe(c, false)", channel)
        await page.evaluate("c => harness.subscribe(c, true)", "$room")
        subscribed = await wait_events(page, "subscribed", 3)
        assert {e["channel"] for e in subscribed} == {"news", "short:feed", "$room"}
        assert pages.tokens == ["$room"]  # the private channel's token came from getToken
        assert all(e["recovered"] is False and e["wasRecovering"] is False for e in subscribed)

        # A publication from cent 5.2.0, then one from the page itself.
        (reply,) = cent5(hub, [["publish", "news", {"n": 1, "from": "cent"}]])
        assert reply["offset"] >= 1 and reply["epoch"]
        (pub,) = await wait_events(page, "publication", 1, "news")
        assert pub["data"] == {"n": 1, "from": "cent"} and pub["user"] is None and pub["offset"] == reply["offset"]
        assert await page.evaluate("harness.publish('news', {n: 2, from: 'page'})") is True
        pubs = await wait_events(page, "publication", 2, "news")
        assert pubs[1]["data"] == {"n": 2, "from": "page"} and pubs[1]["user"] == "42"

        assert await page.evaluate("harness.presence('news')") == ["42"]
        assert await page.evaluate("harness.presenceStats('news')") == {"numClients": 1, "numUsers": 1}
        assert await page.evaluate("harness.history('news', 1)") == [{"n": 1, "from": "cent"}]
        assert await page.evaluate("harness.history('news', 5)") == [{"n": 1, "from": "cent"},
                                                                     {"n": 2, "from": "page"}]

        # Forced disconnect with reconnect advice; publications made while away.
        away = [["publish", channel, {"n": n}] for n in range(10, 10 + AWAY) for channel in ("news", "short:feed")]
        cent5(hub, [["disconnect", "42"], *away])
        connecting = await wait_events(page, "connecting", 2, timeout=10)  # the first: connect()
        assert connecting[1]["code"] == 3011  # the server's code, read as "reconnect"
        await wait_events(page, "connected", 2, timeout=30)
        subscribed = await wait_events(page, "subscribed", 6, timeout=30)
        again = {e["channel"]: e for e in subscribed[3:]}
        assert again["news"]["wasRecovering"] is True and again["news"]["recovered"] is True
        assert again["short:feed"]["wasRecovering"] is True and again["short:feed"]["recovered"] is False
        news = await wait_events(page, "publication", 2 + AWAY, "news")
        assert numbers(news) == [1, 2, *range(10, 10 + AWAY)]  # once each, in order
        offsets = [e["offset"] for e in news]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))
        # after a fresh publication, nothing more arrived on either channel
        cent5(hub, [["publish", "short:feed", {"n": 99}], ["publish", "news", {"n": 99}]])
        await wait_events(page, "publication", 3 + AWAY, "news")
        feed = await wait_events(page, "publication", 1, "short:feed")
        assert numbers(feed) == [99]  # none of those made away: history too short to recover them
        assert numbers(await events(page, "publication", "news")) == [1, 2, *range(10, 10 + AWAY), 99]
        assert not await events(page, "sub_error") and not await events(page, "error")
        # pings answered all along: connected twice only (the forced disconnect)
        assert len(await events(page, "connected")) == 2 and len(await events(page, "connecting")) == 2
