"""More of centrifuge 1.5.0's behaviour in Chromium against a real sockhub
(docs/protocol-1x.md §15): a token that expired before connecting is refreshed through
the backend, client-side publish and unsubscribe, and the server-initiated
unsubscribe and disconnect of the API."""
from __future__ import annotations

import asyncio
import time
from typing import Callable

import cent
import pytest

from app.dialects.v1x.auth import connection_token
from tests.integration.browser import Backend, chromium, events, wait_events
from tests.integration.conftest import SECRET
from tests.integration.wsclient import ProtocolClient
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
CONFIG = {
    "connection_lifetime": 30, "join_leave": True,
    "namespaces": [{"name": "public", "publish": True, "join_leave": True, "history_size": 10,
                    "history_lifetime": 60}],
}


@pytest.mark.browser
@pytest.mark.async_timeout(90)
@pytest.mark.parametrize("transport", ["websocket", "xhr-streaming"])
async def test_expired_token_refresh_publish_unsubscribe_disconnect(sockhub: Start, transport: str) -> None:
    hub = sockhub(CONFIG)
    api = cent.Client(hub.url, SECRET, timeout=5)
    backend = Backend(SECRET, hub.url, user="42")
    async with backend.serving(), chromium() as browser:
        page = await browser.new_page()
        await page.goto(backend.url + "/page")
        # A token whose lifetime ran out before the page connected: the server
        # answers expired, the client asks the refresh endpoint, then connects.
        stale = str(int(time.time()) - 100)
        params = {"user": "42", "timestamp": stale, "info": "", "url": hub.url + "/connection",
                  "token": connection_token(SECRET, "42", stale), "transport": transport}
        await page.evaluate("p => harness.start(p)", params)
        await wait_events(page, "connect")
        assert backend.refreshes >= 1

        # Client-side publish (the namespace allows it): the publisher receives it too.
        other = ProtocolClient(hub.ws_url)
        other.connect(SECRET, "7")
        assert other.subscribe("public:chat").get("error") in (None, "")
        await page.evaluate("harness.subscribe('public:chat')")
        await wait_events(page, "subscribe", channel="public:chat")
        reply = await page.evaluate("harness.publish('public:chat', {text: 'from the browser'})")
        assert reply == {"channel": "public:chat", "status": True}
        (own,) = await wait_events(page, "message", channel="public:chat")
        assert own["data"] == {"text": "from the browser"}
        assert other.next_push("message")["body"]["data"] == {"text": "from the browser"}
        stored = api.history("public:chat")[0]
        assert stored["data"] == {"text": "from the browser"}
        assert stored["client"] == (await events(page, "connect"))[0]["client"]  # the publisher's id
        assert stored["info"]["user"] == "42"
        # A channel without publish refuses it with the client's error object.
        await page.evaluate("harness.subscribe('news')")
        await wait_events(page, "subscribe", channel="news")
        refused = await page.evaluate(
            "harness.publish('news', {x: 1}).then(() => 'accepted', e => e.error)")
        assert refused == "permission denied"

        # Client-side unsubscribe: the other subscriber sees the leave.
        await page.evaluate("harness.unsubscribe('public:chat')")
        leave = other.next_push("leave")
        assert leave["body"]["channel"] == "public:chat" and leave["body"]["data"]["user"] == "42"
        other.close()

        # Server-side unsubscribe through the API.
        api.unsubscribe("42", "news")
        await wait_events(page, "unsubscribe", channel="news")

        # API disconnect: reconnect false, so the client stays away.
        api.disconnect("42")
        (gone,) = await wait_events(page, "disconnect")
        assert gone["reason"] == "disconnect" and gone["reconnect"] is False
        await asyncio.sleep(2.5)  # longer than the client's first reconnect delay (1-2 s)
        assert len(await events(page, "connect")) == 1
        assert api.channels() == []  # nothing left subscribed: no leaked subscription
        await page.close()
