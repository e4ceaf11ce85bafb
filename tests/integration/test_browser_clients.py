"""centrifuge 1.5.0 + sockjs-client 1.6.1, unchanged, in Chromium against a
real sockhub, over four SockJS transports and the raw websocket.

Each run: connect with a token from the backend, subscribe, receive a cent
publish, read presence and history, see another client join and leave,
subscribe to a private channel through the backend's auth endpoint, keep the
connection alive through refreshes under ``connection_lifetime``, and after a
forced reconnect recover exactly the messages published meanwhile.
"""
from __future__ import annotations

import asyncio
from typing import Callable

import cent
import pytest

from tests.integration.browser import Backend, chromium, events, wait_events
from tests.integration.conftest import SECRET
from tests.integration.wsclient import ProtocolClient
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
CONFIG = {
    "presence": True, "join_leave": True, "history_size": 50, "history_lifetime": 300, "recover": True,
    # Short lifetime: the browser must refresh every 2 s to stay connected;
    # a missed refresh closes it ("expired") within 4 s more (slack for a busy machine).
    "connection_lifetime": 2, "expired_connection_close_delay": 4,
    "sockjs_heartbeat_delay": 2,
}
#: SockJS transports, and centrifuge-js's raw websocket mode (no sockjs-client on the page).
TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling", "raw-websocket"]


def message_numbers(log: list[dict]) -> list[int]:
    return [e["data"]["n"] for e in log]


@pytest.mark.browser
@pytest.mark.async_timeout(120)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_centrifuge_js_over_sockjs(sockhub: Start, transport: str) -> None:
    hub = sockhub(CONFIG)
    api = cent.Client(hub.url, SECRET, timeout=5)
    backend = Backend(SECRET, hub.url, user="42", info='{"name":"browser"}')
    async with backend.serving(), chromium() as browser:
        page = await browser.new_page()
        if transport == "raw-websocket":
            await page.goto(backend.url + "/page-raw")
            url = hub.url.replace("http://", "ws://")  # the client appends /connection/websocket
        else:
            await page.goto(backend.url + "/page")
            url = hub.url + "/connection"
        params = {**backend.connect_params(), "url": url, "transport": transport}
        await page.evaluate("p => harness.start(p)", params)

        # Connect with a token, over the transport asked for.
        (connected,) = await wait_events(page, "connect")
        assert connected["transport"] == transport and len(connected["client"]) == 36
        assert await page.evaluate("harness.transportName()") == transport

        # Subscribe, then receive a cent publish.
        await page.evaluate("harness.subscribe('news')")
        await wait_events(page, "subscribe", channel="news")
        api.publish("news", {"n": 1})
        assert message_numbers(await wait_events(page, "message", channel="news")) == [1]

        # Presence and history through the client's own calls.
        presence = await page.evaluate("harness.presence('news')")
        assert presence["data"][connected["client"]]["user"] == "42"
        assert presence["data"][connected["client"]]["default_info"] == {"name": "browser"}
        history = await page.evaluate("harness.history('news')")
        assert [m["data"] for m in history["data"]] == [{"n": 1}]

        # Another client (raw websocket, user 7) joins and leaves.
        other = ProtocolClient(hub.ws_url)
        other.connect(SECRET, "7")
        assert other.subscribe("news").get("error") in (None, "")
        joins = await wait_events(page, "join", channel="news")
        assert [j["user"] for j in joins] == ["7"]
        other.close()
        leaves = await wait_events(page, "leave", channel="news")
        assert [(e["user"], e["client"]) for e in leaves] == [("7", other.client_id)]

        # A private channel: the client asks the backend's auth endpoint for the sign.
        await page.evaluate("harness.subscribe('$private')")
        await wait_events(page, "subscribe", channel="$private")
        assert backend.auth_requests[-1] == {"client": connected["client"], "channels": ["$private"]}
        api.publish("$private", {"n": 100})
        assert message_numbers(await wait_events(page, "message", channel="$private")) == [100]
        await page.evaluate("harness.subscribe('$denied')")
        (denied,) = await wait_events(page, "subscribe_error", channel="$denied")
        assert denied["error"] == "403"

        # Forced reconnect: the transport drops; messages published meanwhile are recovered.
        await page.evaluate("harness.dropTransport()")
        (dropped,) = await wait_events(page, "disconnect")
        assert dropped["reconnect"] is True
        for n in (2, 3, 4):
            api.publish("news", {"n": n})
        await wait_events(page, "connect", count=2)
        resubscribed = await wait_events(page, "subscribe", count=2, channel="news")
        assert resubscribed[1] == {"type": "subscribe", "channel": "news", "recovered": True, "resubscribe": True}
        await wait_events(page, "message", count=4, channel="news")
        api.publish("news", {"n": 5})
        await wait_events(page, "message", count=5, channel="news")
        assert message_numbers(await events(page, "message", channel="news")) == [1, 2, 3, 4, 5]
        await wait_events(page, "subscribe", count=2, channel="$private")  # resubscribed with a new sign

        # Stayed connected through lifetime refreshes (2 s lifetime, >= 2 refreshes).
        deadline = asyncio.get_running_loop().time() + 20
        while backend.refreshes < 2:
            assert asyncio.get_running_loop().time() < deadline, "the client did not refresh"
            await asyncio.sleep(0.1)
        assert len(await events(page, "disconnect")) == 1  # only the forced one
        errors = [e for e in await events(page, "error") if "$denied" not in e["error"]]
        assert not errors, errors  # only the refused private channel reported an error
        await page.close()
