"""centrifuge-python 0.7.0, unchanged, against a websocket peer that speaks
only through our codec (app/dialects/v2): JSON and protobuf, every command
the client sends decoded by us, every reply and push it reads encoded by us,
several per frame (the peer: tests/dialects/v2/peer.py)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from centrifuge import (
    Client,
    ClientEventHandler,
    ConnectedContext,
    JoinContext,
    LeaveContext,
    PublicationContext,
    ReplyError,
    ServerPublicationContext,
    ServerSubscribedContext,
    StreamPosition,
    SubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)
from app.dialects.v2.commands import Method
from tests.dialects.v2.peer import Peer, running_peer

class Events(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Every event the test waits for, as futures and lists."""

    def __init__(self) -> None:
        self.connected: asyncio.Future[ConnectedContext] = asyncio.get_running_loop().create_future()
        self.server_subscribed: list[ServerSubscribedContext] = []
        self.server_publications: list[ServerPublicationContext] = []
        self.subscribed: list[SubscribedContext] = []
        self.publications: list[PublicationContext] = []
        self.joins: list[JoinContext] = []
        self.leaves: list[LeaveContext] = []
        self.unsubscribed: asyncio.Future[UnsubscribedContext] = asyncio.get_running_loop().create_future()

    async def on_connected(self, ctx: ConnectedContext) -> None:
        self.connected.set_result(ctx)

    async def on_subscribed(self, ctx: Any) -> None:
        (self.server_subscribed if isinstance(ctx, ServerSubscribedContext) else self.subscribed).append(ctx)

    async def on_publication(self, ctx: Any) -> None:
        (self.server_publications if isinstance(ctx, ServerPublicationContext) else self.publications).append(ctx)

    async def on_join(self, ctx: JoinContext) -> None:
        self.joins.append(ctx)

    async def on_leave(self, ctx: LeaveContext) -> None:
        self.leaves.append(ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        if not self.unsubscribed.done():
            self.unsubscribed.set_result(ctx)


async def until(check: Any, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize("use_protobuf", [False, True], ids=["json", "protobuf"])
async def test_the_python_sdk_through_our_codec(use_protobuf: bool) -> None:
    async with running_peer() as (the_peer, url):
        await _session(the_peer, url, use_protobuf)


async def _session(the_peer: Peer, url: str, use_protobuf: bool) -> None:
    events = Events()
    payload: Any = b'{"x":1}' if use_protobuf else {"x": 1}  # the SDK wants bytes in protobuf mode
    as_read = (lambda raw: raw) if use_protobuf else json.loads
    client = Client(url, events=events, token="eyJ.t.s", use_protobuf=use_protobuf, proxy=None, data=payload)
    await client.connect()
    try:
        connected = await asyncio.wait_for(events.connected, 5)
        assert (connected.client, connected.data) == ("c-1", as_read(b'{"welcome":true}'))
        await until(lambda: events.server_publications and any(r.method is Method.PONG for r in the_peer.requests))
        [server_sub] = events.server_subscribed
        assert (server_sub.channel, server_sub.recoverable, server_sub.stream_position) == (
            "server:news", True, StreamPosition(offset=3, epoch="se"))
        assert events.server_publications[0].pub.offset == 4

        sub = client.new_subscription("news", events=events, recoverable=True, positioned=True, join_leave=True)
        await sub.subscribe()
        await until(lambda: events.subscribed and events.publications and events.joins and events.leaves)
        assert events.subscribed[0].stream_position == StreamPosition(offset=5, epoch="e1")
        publication = events.publications[0].pub
        assert (publication.offset, publication.data, publication.tags) == (6, as_read(b'{"n":6}'), {"k": "v"})
        assert publication.info is not None and (publication.info.user, publication.info.client) == ("42", "c-1")
        assert events.joins[0].info.user == "42" and events.leaves[0].info.client == "c-1"

        await client.publish("news", payload)
        await until(lambda: len(events.publications) == 2)
        assert (events.publications[1].pub.offset, events.publications[1].pub.data) == (7, payload)

        presence = await client.presence("news")
        assert presence.clients["c-1"].user == "42"
        assert presence.clients["c-1"].conn_info == as_read(b'{"name":"Alex"}')
        stats = await client.presence_stats("news")
        assert (stats.num_clients, stats.num_users) == (2, 1)
        history = await client.history("news", limit=10, since=StreamPosition(offset=2, epoch="e1"), reverse=True)
        assert [p.offset for p in history.publications] == [4, 3] and (history.offset, history.epoch) == (7, "e1")
        assert history.publications[0].data == as_read(b'{"h":4}')
        assert (await client.rpc("echo", payload)).data == payload
        with pytest.raises(ReplyError) as failed:
            await client.rpc("fail", payload)
        assert failed.value.code == 103

        await client.rpc("kick", payload)
        unsubscribed = await asyncio.wait_for(events.unsubscribed, 5)
        assert (unsubscribed.code, unsubscribed.reason) == (2000, "server unsubscribe")
    finally:
        await client.disconnect()

    # what the client sent, as we decoded it
    methods = [r.method for r in the_peer.requests]
    assert methods[0] is Method.CONNECT and the_peer.formats == ["protobuf" if use_protobuf else "json"]
    connect = the_peer.requests[0].params
    assert (connect.token, connect.name, connect.data) == ("eyJ.t.s", "python", b'{"x":1}')
    subscribe = next(r.params for r in the_peer.requests if r.method is Method.SUBSCRIBE)
    assert (subscribe.channel, subscribe.recoverable, subscribe.positioned, subscribe.join_leave) == ("news", True, True, True)
    history_request = next(r.params for r in the_peer.requests if r.method is Method.HISTORY)
    assert (history_request.limit, history_request.reverse, history_request.since.offset) == (10, True, 2)
    assert {Method.PUBLISH, Method.PRESENCE, Method.PRESENCE_STATS, Method.RPC, Method.PONG} <= set(methods)
