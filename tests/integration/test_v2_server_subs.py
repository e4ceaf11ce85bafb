"""centrifuge-python 0.7.0, unchanged, against a server reading a
Centrifugo v5 config file (tests/integration/v5config.py): server-side
subscriptions from the connection token's ``subs`` claim (their ``info``
and ``data``, publications through the SDK's ``on_publication`` for
server-side subscriptions), their recovery after a reconnect (the SDK's
``connect.subs``), and refresh with short-lived RS256 tokens."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from centrifuge import ReplyError, SubscriptionState, UnsubscribedContext

from tests.integration.httpclient import request
from tests.integration.test_v2_python_client import FORMATS, Events, as_sent, disconnect, new_client, until
from tests.integration.v5config import API_KEY, Keys, v5_config
from tests.support.server import SockhubProcess

KEYS = Keys()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path, v5_config(KEYS), name="v5")
    yield process.start()
    process.stop()


def api(hub: SockhubProcess, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A current-style API call (POST /api/<method>, X-API-Key)."""
    response = request(hub.port, "POST", f"/api/{method}", json.dumps(params).encode(),
                       {"Content-Type": "application/json", "X-API-Key": API_KEY})
    assert response.status == 200, response.text
    answer: dict[str, Any] = json.loads(response.text)
    assert "error" not in answer, answer
    return answer


@pytest.mark.async_timeout(60)
@FORMATS
async def test_server_side_subscriptions_from_the_subs_claim(hub: SockhubProcess, use_protobuf: bool) -> None:
    events = Events()
    subs = {"feed": {"info": {"role": "reader"}, "data": {"welcome": 1}}, "closed:alerts": {}}
    client = new_client(hub, events, use_protobuf, token=KEYS.token("RS256", sub="42", subs=subs,
                                                                     channels=["ignored"]))
    await client.connect()
    try:
        await until(lambda: len(events.server_subscribed) == 2)
        by_channel = {ctx.channel: ctx for ctx in events.server_subscribed}
        assert set(by_channel) == {"feed", "closed:alerts"}  # ``channels`` is ignored beside ``subs``
        assert by_channel["feed"].data == as_sent(use_protobuf, {"welcome": 1})
        assert by_channel["feed"].recoverable and by_channel["feed"].stream_position is not None
        api(hub, "publish", {"channel": "feed", "data": {"n": 1}})
        api(hub, "publish", {"channel": "closed:alerts", "data": {"a": 1}})
        await until(lambda: len(events.server_publications) == 2)
        got = {(p.channel, json.dumps(p.pub.data if not use_protobuf else json.loads(p.pub.data)))
               for p in events.server_publications}
        assert got == {("feed", '{"n": 1}'), ("closed:alerts", '{"a": 1}')}
        assert events.publications == []  # none went to a client-side subscription
        presence = api(hub, "presence", {"channel": "feed"})["result"]["presence"]
        assert [c["chan_info"] for c in presence.values()] == [{"role": "reader"}]
    finally:
        await disconnect(client)


@pytest.mark.async_timeout(90)
@FORMATS
async def test_a_server_side_subscription_recovers_after_a_reconnect(hub: SockhubProcess,
                                                                     use_protobuf: bool) -> None:
    """Publications made while the client is away reach it once, in order,
    with ``recovered`` true: the SDK sends the position it saw in
    ``connect.subs``, the reply's ``subs`` carries what it missed."""
    events = Events()
    client = new_client(hub, events, use_protobuf, token=KEYS.token("ES256", sub="42", subs={"feed": {}}),
                        min_reconnect_delay=2.0, max_reconnect_delay=2.0)
    await client.connect()
    try:
        await until(lambda: events.server_subscribed)
        api(hub, "publish", {"channel": "feed", "data": {"n": 1}})
        await until(lambda: len(events.server_publications) == 1)
        api(hub, "disconnect", {"user": "42", "disconnect": {"code": 4000, "reason": "come back"}})
        await until(lambda: events.disconnected or len(events.connected) > 1)
        for n in (2, 3):  # while it waits to reconnect
            api(hub, "publish", {"channel": "feed", "data": {"n": n}})
        await until(lambda: len(events.server_subscribed) == 2 and len(events.server_publications) == 3,
                    timeout=20)
        again = events.server_subscribed[1]
        assert again.was_recovering and again.recovered
        data = [p.pub.data for p in events.server_publications]
        assert data == [as_sent(use_protobuf, {"n": n}) for n in (1, 2, 3)]
        assert [p.pub.offset for p in events.server_publications] == [1, 2, 3]
        api(hub, "publish", {"channel": "feed", "data": {"n": 4}})
        await until(lambda: len(events.server_publications) == 4)
        assert events.server_publications[3].pub.offset == 4
    finally:
        await disconnect(client)


@pytest.mark.async_timeout(60)
async def test_a_short_lived_rs256_token_is_refreshed(hub: SockhubProcess) -> None:
    """Tokens of 2 s signed RS256, ``client_expired_close_delay`` "1s": the
    SDK's get_token is called again and again and the connection (with its
    server-side subscription) stays up."""
    events, issued = Events(), []

    async def get_token() -> str:
        issued.append(time.time())
        return KEYS.token("RS256", ttl=2, sub="42", subs={"feed": {}})

    client = new_client(hub, events, False, token=KEYS.token("RS256", ttl=2, sub="42", subs={"feed": {}}),
                        get_token=get_token)
    await client.connect()
    try:
        await until(lambda: events.connected)
        await until(lambda: len(issued) >= 3, timeout=20)
        api(hub, "publish", {"channel": "feed", "data": {"still": "here"}})
        await until(lambda: events.server_publications)
        assert len(events.connected) == 1 and events.disconnected == []
    finally:
        await disconnect(client)


class SwitchEvents(Events):
    def __init__(self) -> None:
        super().__init__()
        self.unsubscribed: list[UnsubscribedContext] = []

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        self.unsubscribed.append(ctx)


@pytest.mark.async_timeout(60)
@FORMATS
async def test_the_sdk_meets_the_v5_switches(hub: SockhubProcess, use_protobuf: bool) -> None:
    """The SDK's own calls against the v5 config: a subscribe the switches
    allow and one they do not (103: the SDK unsubscribes it), publish,
    presence and history allowed for the subscriber of ``open:`` and denied
    in ``closed:`` (subscribed there with a token)."""
    events = SwitchEvents()
    client = new_client(hub, events, use_protobuf, token=KEYS.token("HS256", sub="42"))

    async def closed_token(channel: str) -> str:
        return KEYS.token("ES256", sub="42", channel=channel)

    await client.connect()
    try:
        allowed = client.new_subscription("open:room", events=events)
        await allowed.subscribe()
        await allowed.ready(timeout=10)
        await allowed.publish(as_sent(use_protobuf, {"hi": 1}))
        await until(lambda: events.publications)
        assert (await allowed.presence_stats()).num_users == 1
        assert len((await allowed.history(limit=10)).publications) == 1

        refused = client.new_subscription("news", events=events)
        await refused.subscribe()
        await until(lambda: events.unsubscribed)
        assert events.unsubscribed[0].code == 103 and refused.state == SubscriptionState.UNSUBSCRIBED

        tokened = client.new_subscription("closed:room", events=events, get_token=closed_token)
        await tokened.subscribe()
        await tokened.ready(timeout=10)
        for call in (lambda: tokened.publish(as_sent(use_protobuf, {"no": 1})), tokened.presence,
                     lambda: tokened.history(limit=1)):
            with pytest.raises(ReplyError) as denied:
                await call()
            assert (denied.value.code, denied.value.message) == (103, "permission denied")
    finally:
        await disconnect(client)


@pytest.mark.async_timeout(90)
@FORMATS
async def test_overrides_of_the_subs_claim_and_of_a_subscription_token(hub: SockhubProcess,
                                                                        use_protobuf: bool) -> None:
    """``override`` objects change the channel's options for one
    subscription: the watcher's ``feed`` is out of presence and takes the
    join and leave pushes it did not ask for (``force_push_join_leave``); a
    plain subscriber does not get them; a joiner with ``join_leave`` off
    is not announced; a subscription token's ``force_recovery`` makes an
    ``open:`` channel recoverable for that subscription only."""
    def sub(user: str, override: dict[str, Any] | None = None) -> str:
        return KEYS.token(sub=user, subs={"feed": {"override": override} if override else {}})

    watching, plain, late, silent = Events(), Events(), Events(), Events()
    watcher = new_client(hub, watching, use_protobuf, token=sub("1", {
        "presence": {"value": False}, "force_push_join_leave": {"value": True}}))
    clients = [watcher]
    try:
        await watcher.connect()
        await until(lambda: watching.server_subscribed)
        for user, events, override in (("2", plain, None), ("4", late, None),
                                       ("3", silent, {"join_leave": {"value": False}})):
            clients.append(new_client(hub, events, use_protobuf, token=sub(user, override)))
            await clients[-1].connect()
            await until(lambda: events.server_subscribed)  # noqa: B023 - awaited in the loop
        await until(lambda: len(watching.joins) == 2)
        await asyncio.sleep(0.5)  # a join of "3", or one to "2", would have come by now
        assert [j.info.user for j in watching.joins] == ["2", "4"]
        assert plain.joins == [] and late.joins == []
        presence = api(hub, "presence", {"channel": "feed"})["result"]["presence"]
        assert sorted(c["user"] for c in presence.values()) == ["2", "3", "4"]

        async def recovering(channel: str) -> str:
            return KEYS.token("ES256", sub="1", channel=channel, override={"force_recovery": {"value": True}})

        forced = watcher.new_subscription("open:forced", events=watching, get_token=recovering)
        usual = watcher.new_subscription("open:usual", events=watching)
        for subscription in (forced, usual):
            await subscription.subscribe()
            await subscription.ready(timeout=10)
        by_channel = {ctx.channel: ctx for ctx in watching.subscribed}
        assert by_channel["open:forced"].recoverable and by_channel["open:forced"].positioned
        assert not by_channel["open:usual"].recoverable
    finally:
        for client in clients:
            await disconnect(client)


@pytest.mark.async_timeout(60)
async def test_the_api_subscribe_applies_its_override(hub: SockhubProcess) -> None:
    """``POST /api/subscribe`` with an ``override``: the connection joins
    the channel server-side, out of its presence; an override of the wrong
    shape is the command's ``bad request`` and subscribes nobody."""
    events = Events()
    client = new_client(hub, events, False, token=KEYS.token(sub="9"))
    await client.connect()
    try:
        await until(lambda: events.connected)
        response = request(hub.port, "POST", "/api/subscribe", json.dumps(
            {"user": "9", "channel": "closed:bad", "override": {"presence": "no"}}).encode(),
            {"Content-Type": "application/json", "X-API-Key": API_KEY})
        assert json.loads(response.text)["error"]["code"] == 107
        api(hub, "subscribe", {"user": "9", "channel": "closed:api", "override": {"presence": {"value": False}}})
        api(hub, "subscribe", {"user": "9", "channel": "closed:plain"})
        await until(lambda: len(events.server_subscribed) == 2)
        assert {ctx.channel for ctx in events.server_subscribed} == {"closed:api", "closed:plain"}
        assert api(hub, "presence", {"channel": "closed:api"})["result"]["presence"] == {}
        assert len(api(hub, "presence", {"channel": "closed:plain"})["result"]["presence"]) == 1
    finally:
        await disconnect(client)
