"""centrifuge-python 0.7.0, unchanged, against a real sockhub process over
``/connection/websocket``: protocol v2 in JSON and in protobuf, beside 1.x
clients on the same endpoint (app/dialects/v2/dialect.py).

Publications come from the 1.x HTTP API (``/api/``) and from the clients
themselves; tokens are HS256 JWTs signed with the 1.x ``secret`` (the
default of ``token_hmac_secret_key``)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

import jwt
import pytest
import websocket
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    DisconnectedContext,
    JoinContext,
    PublicationContext,
    ReplyError,
    ServerPublicationContext,
    ServerSubscribedContext,
    SubscribedContext,
    SubscriptionEventHandler,
)

from tests.integration.conftest import SECRET
from tests.integration.httpclient import request
from tests.integration.wsclient import ProtocolClient
from tests.support.server import SockhubProcess

CONFIG: dict[str, Any] = {
    "insecure_api": True, "presence": True, "join_leave": True, "history_size": 10, "history_lifetime": 60,
    "publish": True,
}
FORMATS = pytest.mark.parametrize("use_protobuf", [False, True], ids=["json", "protobuf"])


def token(user: str, ttl: float = 3600, **claims: Any) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time() + ttl), **claims}, SECRET, algorithm="HS256")


def api_publish(hub: SockhubProcess, channel: str, data: Any) -> None:
    body = json.dumps({"method": "publish", "params": {"channel": channel, "data": data}}).encode()
    response = request(hub.port, "POST", "/api/", body, {"Content-Type": "application/json"})
    assert response.status == 200 and '"error":null' in response.text.replace(" ", ""), response.text


class Events(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Every event a test waits for, in lists."""

    def __init__(self) -> None:
        self.connected: list[ConnectedContext] = []
        self.disconnected: list[DisconnectedContext] = []
        self.server_subscribed: list[ServerSubscribedContext] = []
        self.server_publications: list[ServerPublicationContext] = []
        self.subscribed: list[SubscribedContext] = []
        self.publications: list[PublicationContext] = []
        self.joins: list[JoinContext] = []

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.connected.append(ctx)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        self.disconnected.append(ctx)

    async def on_subscribed(self, ctx: Any) -> None:
        (self.server_subscribed if isinstance(ctx, ServerSubscribedContext) else self.subscribed).append(ctx)

    async def on_publication(self, ctx: Any) -> None:
        (self.server_publications if isinstance(ctx, ServerPublicationContext) else self.publications).append(ctx)

    async def on_join(self, ctx: JoinContext) -> None:
        self.joins.append(ctx)


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


def as_sent(use_protobuf: bool, value: Any) -> Any:
    """The SDK takes and gives bytes in protobuf mode, JSON values otherwise."""
    return json.dumps(value, separators=(",", ":")).encode() if use_protobuf else value


def new_client(hub: SockhubProcess, events: Events, use_protobuf: bool, **kwargs: Any) -> Client:
    return client_at(hub.ws_url, events, use_protobuf, **kwargs)


def client_at(url: str, events: Events, use_protobuf: bool, **kwargs: Any) -> Client:
    return Client(url, events=events, use_protobuf=use_protobuf, proxy=None, **kwargs)


async def disconnect(client: Client) -> None:
    """disconnect() leaves the websocket's close to a task of its own: wait
    for the SDK's tasks too, so no socket outlives the test."""
    await client.disconnect()
    tasks = [t for t in client._background_tasks if not t.done()]
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    await asyncio.sleep(0.2)  # the transport's own teardown callbacks


@pytest.mark.async_timeout(90)
@FORMATS
async def test_the_python_sdk_end_to_end(sockhub: Callable[..., SockhubProcess], use_protobuf: bool) -> None:
    hub = sockhub(CONFIG)
    events = Events()
    info = {"name": "Alex"}
    client = new_client(hub, events, use_protobuf, token=token("42", info=info, channels=["feed"]))
    await client.connect()
    try:
        await until(lambda: events.connected and events.server_subscribed)
        client_id = events.connected[0].client
        assert client_id and events.server_subscribed[0].channel == "feed"
        api_publish(hub, "feed", {"server": 1})  # the server-side subscription from the token's channels
        await until(lambda: events.server_publications)
        assert events.server_publications[0].pub.data == as_sent(use_protobuf, {"server": 1})

        sub = client.new_subscription("news", events=events, join_leave=True)
        await sub.subscribe()
        await until(lambda: events.subscribed)
        api_publish(hub, "news", {"n": 1})
        await until(lambda: events.publications)
        assert events.publications[0].pub.data == as_sent(use_protobuf, {"n": 1})
        await sub.publish(as_sent(use_protobuf, {"n": 2}))
        await until(lambda: len(events.publications) == 2)
        mine = events.publications[1].pub
        assert mine.data == as_sent(use_protobuf, {"n": 2})
        assert mine.info is not None and (mine.info.user, mine.info.client) == ("42", client_id)

        presence = await sub.presence()
        assert presence.clients[client_id].user == "42"
        assert presence.clients[client_id].conn_info == as_sent(use_protobuf, info)
        stats = await sub.presence_stats()
        assert (stats.num_clients, stats.num_users) == (1, 1)
        newest = await sub.history(limit=1, reverse=True)
        assert [p.data for p in newest.publications] == [as_sent(use_protobuf, {"n": 2})]
        oldest = await sub.history(limit=10)
        assert [p.data for p in oldest.publications] == [as_sent(use_protobuf, {"n": 1}),
                                                          as_sent(use_protobuf, {"n": 2})]

        with pytest.raises(ReplyError) as failed:
            await client.rpc("anything", as_sent(use_protobuf, {}))
        assert (failed.value.code, failed.value.message) == (108, "not available")

        # a second user joins: the first sees it (the channel has join_leave, the subscription asked)
        other_events = Events()
        other = new_client(hub, other_events, use_protobuf, token=token("7"))
        await other.connect()
        try:
            await other.new_subscription("news", events=other_events).subscribe()
            await until(lambda: events.joins)
            assert events.joins[0].info.user == "7"
        finally:
            await disconnect(other)
    finally:
        await disconnect(client)
    assert not [d for d in events.disconnected if d.code >= 3000], events.disconnected


@pytest.mark.async_timeout(60)
@FORMATS
async def test_a_private_channel_takes_a_subscription_token(sockhub: Callable[..., SockhubProcess],
                                                            use_protobuf: bool) -> None:
    hub = sockhub(CONFIG)
    events, asked = Events(), []

    async def subscription_token(channel: str) -> str:
        asked.append(channel)
        return token("42", channel=channel, info={"role": "reader"})

    client = new_client(hub, events, use_protobuf, token=token("42"))
    await client.connect()
    try:
        sub = client.new_subscription("$secret", events=events, get_token=subscription_token)
        await sub.subscribe()
        await until(lambda: events.subscribed)
        assert asked == ["$secret"]
        api_publish(hub, "$secret", {"s": 1})
        await until(lambda: events.publications)
        assert events.publications[0].pub.data == as_sent(use_protobuf, {"s": 1})
        presence = await sub.presence()
        assert [c.chan_info for c in presence.clients.values()] == [as_sent(use_protobuf, {"role": "reader"})]
    finally:
        await disconnect(client)


@pytest.mark.async_timeout(60)
@FORMATS
async def test_a_short_lived_token_is_refreshed(sockhub: Callable[..., SockhubProcess], use_protobuf: bool) -> None:
    """Tokens of 2 s: the SDK refreshes through get_token when the connect
    (then refresh) reply's ttl runs out; the connection lives on well past
    the first token's expiry plus the close delay."""
    hub = sockhub({**CONFIG, "expired_connection_close_delay": 1})
    events, issued = Events(), []

    async def get_token() -> str:
        issued.append(time.time())
        return token("42", ttl=2)

    client = new_client(hub, events, use_protobuf, token=token("42", ttl=2), get_token=get_token)
    await client.connect()
    try:
        await until(lambda: events.connected)
        sub = client.new_subscription("news", events=events)
        await sub.subscribe()
        await until(lambda: len(issued) >= 3, timeout=20)
        api_publish(hub, "news", {"still": "here"})
        await until(lambda: events.publications)
        assert len(events.connected) == 1 and events.disconnected == []
    finally:
        await disconnect(client)


@pytest.mark.async_timeout(60)
@FORMATS
async def test_a_short_lived_subscription_token_is_refreshed(sockhub: Callable[..., SockhubProcess],
                                                              use_protobuf: bool) -> None:
    """Subscription tokens of 2 s: the SDK sends sub_refresh with a new one
    from the subscription's get_token; the subscription lives on."""
    hub = sockhub({**CONFIG, "expired_connection_close_delay": 1})
    events, issued = Events(), []

    async def subscription_token(channel: str) -> str:
        issued.append(channel)
        return token("42", ttl=2, channel=channel)

    client = new_client(hub, events, use_protobuf, token=token("42"))
    await client.connect()
    try:
        sub = client.new_subscription("$room", events=events, get_token=subscription_token)
        await sub.subscribe()
        await until(lambda: len(issued) >= 3, timeout=20)
        api_publish(hub, "$room", {"still": "subscribed"})
        await until(lambda: events.publications)
        assert len(events.subscribed) == 1 and issued == ["$room"] * len(issued)
    finally:
        await disconnect(client)


def test_an_unrefreshed_token_closes_with_connection_expired(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub({**CONFIG, "expired_connection_close_delay": 0.5})
    ws = websocket.create_connection(hub.ws_url, timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "connect": {"token": token("42", ttl=1)}}))
        reply = json.loads(ws.recv())
        assert reply["connect"]["expires"] is True and reply["connect"]["ttl"] == 1
        code, reason = closed(ws)
        assert (code, reason) == (3005, "connection expired")
    finally:
        finish(ws)


def finish(ws: websocket.WebSocket) -> None:
    """Close (a no-op once the server closed) and free the socket either way."""
    try:
        ws.close(timeout=1)
    finally:
        ws.shutdown()


def closed(ws: websocket.WebSocket) -> tuple[int, str]:
    """Read until the server's close frame: its code and reason."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


@pytest.mark.async_timeout(60)
async def test_a_1x_client_and_a_v2_client_share_a_channel(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    events = Events()
    client = new_client(hub, events, False, token=token("42"))
    await client.connect()
    old = ProtocolClient(hub.ws_url)
    try:
        old.connect(SECRET, "1")
        assert not old.subscribe("news").get("error")
        await client.new_subscription("news", events=events).subscribe()
        await until(lambda: events.subscribed)
        api_publish(hub, "news", {"both": True})
        await until(lambda: events.publications)
        message = await asyncio.to_thread(old.next_push, "message")
        assert message["body"]["data"] == {"both": True}
        await asyncio.sleep(0.3)  # anything duplicated would have come by now
        assert [p.pub.data for p in events.publications] == [{"both": True}]
        assert [p["method"] for p in old.pushes] == ["join"]  # the v2 client's, before the message
        assert old.pushes[0]["body"]["data"]["user"] == "42"
    finally:
        old.close()
        await disconnect(client)


def test_pings_are_answered_and_a_silent_client_is_closed(sockhub: Callable[..., SockhubProcess]) -> None:
    """``ping_interval`` 1 s, ``pong_timeout`` 1 s: a client that answers
    each ``{}`` with ``{}`` stays, one that does not is closed 3012."""
    hub = sockhub({**CONFIG, "ping_interval": 1, "pong_timeout": 1})
    answering = websocket.create_connection(hub.ws_url, timeout=10)
    silent = websocket.create_connection(hub.ws_url, timeout=10)
    try:
        for ws in (answering, silent):
            ws.send(json.dumps({"id": 1, "connect": {"token": token("42")}}))
            reply = json.loads(ws.recv())
            assert (reply["connect"]["ping"], reply["connect"]["pong"]) == (1, True)
        for _ in range(3):
            assert answering.recv() == "{}"
            answering.send("{}")
        assert closed(silent) == (3012, "no pong")
        answering.send(json.dumps({"id": 2, "presence_stats": {"channel": "news"}}))
        frame = answering.recv()
        while frame == "{}":
            answering.send("{}")
            frame = answering.recv()
        assert json.loads(frame)["error"]["code"] == 103  # alive: not subscribed there
    finally:
        finish(answering)
        finish(silent)


@pytest.mark.async_timeout(60)
async def test_a_short_hmac_key_works_and_is_warned_about_once(sockhub: Callable[..., SockhubProcess]) -> None:
    """Centrifugo secrets are often short: tokens signed with one verify, and
    the log says so once at start, not once per token (PyJWT's warning)."""
    hub = sockhub(CONFIG)
    for user in ("1", "2", "3"):
        events = Events()
        client = new_client(hub, events, False, token=token(user))
        await client.connect()
        try:
            await until(lambda: events.connected)
        finally:
            await disconnect(client)
    logs = hub.logs()
    assert logs.count("the HMAC key of protocol v2 tokens is") == 1, logs
    assert "InsecureKeyLengthWarning" not in logs
