"""centrifuge-python 0.7.0, unchanged, against a websocket peer that speaks
only through our codec (app/dialects/v2): JSON and protobuf, every command
the client sends decoded by us, every reply and push it reads encoded by us,
several per frame.  The peer is a test double of a server (no core, no
dialect: the lead wires those); what is under test is the wire.

The peer answers each command with fixed results and adds pushes to the
same frame: a ping (the client must pong), the publications, join and leave
of a subscribe, a message, an unsubscribe on request."""
from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, AsyncIterator, Sequence

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
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.commands import Method, Request
from app.dialects.v2.framing import JsonFrames, ProtobufFrames
from app.dialects.v2.pushes import PreparedPublication, PreparedPush

INFO = pb.ClientInfo(user="42", client="c-1", conn_info=b'{"name":"Alex"}')


class Peer:
    """A websocket peer that decodes with our codec and answers canned replies."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.formats: list[str] = []

    async def handle(self, ws: ServerConnection) -> None:
        codec: JsonFrames | ProtobufFrames = ProtobufFrames() if ws.subprotocol == "centrifuge-protobuf" else JsonFrames()
        self.formats.append(codec.name)
        async for frame in ws:
            decoded = codec.decode(frame)
            items: list[Any] = []
            for request in decoded.requests:
                self.requests.append(request)
                for reply in self.answer(request):
                    item = reply.json if isinstance(codec, JsonFrames) else reply.protobuf
                    items.append(item)
            if items:
                await ws.send(codec.join(items))
            if decoded.close is not None:
                await ws.close(decoded.close.code, decoded.close.reason)
                return

    def answer(self, request: Request) -> list[PreparedPush | PreparedPublication]:
        method, params = request.method, request.params

        def reply(**result: Any) -> PreparedPush:
            return PreparedPush(pb.Reply(id=request.id, **result))

        def push(channel: str, **one: Any) -> PreparedPush:
            return PreparedPush(pb.Reply(push=pb.Push(channel=channel, **one)))
        if method is Method.CONNECT:
            result = pb.ConnectResult(client="c-1", version="test", data=b'{"welcome":true}', ping=25, pong=True,
                                      subs={"server:news": pb.SubscribeResult(recoverable=True, positioned=True,
                                                                              epoch="se", offset=3)})
            return [reply(connect=result), PreparedPush(pb.Reply()),  # a ping right away: the client pongs
                    PreparedPublication("server:news", b'{"from":"server"}', offset=4)]
        if method is Method.SUBSCRIBE:
            result = pb.SubscribeResult(recoverable=True, positioned=True, epoch="e1", offset=5,
                                        was_recovering=params.recover)
            return [reply(subscribe=result),
                    PreparedPublication(params.channel, b'{"n":6}', offset=6, info=INFO, tags={"k": "v"}),
                    push(params.channel, join=pb.Join(info=INFO)), push(params.channel, leave=pb.Leave(info=INFO))]
        if method is Method.PUBLISH:
            return [reply(publish=pb.PublishResult()), PreparedPublication(params.channel, params.data, offset=7)]
        if method is Method.PRESENCE:
            return [reply(presence=pb.PresenceResult(presence={"c-1": INFO}))]
        if method is Method.PRESENCE_STATS:
            return [reply(presence_stats=pb.PresenceStatsResult(num_clients=2, num_users=1))]
        if method is Method.HISTORY:
            publications = [pb.Publication(data=b'{"h":%d}' % n, offset=n) for n in (3, 4)]
            if params.reverse:
                publications.reverse()
            return [reply(history=pb.HistoryResult(publications=publications, epoch="e1", offset=7))]
        if method is Method.RPC and params.method == "fail":
            return [reply(error=pb.Error(code=103, message="permission denied"))]
        if method is Method.RPC and params.method == "kick":
            return [reply(rpc=pb.RPCResult(data=b"{}")),
                    push("news", unsubscribe=pb.Unsubscribe(code=2000, reason="server unsubscribe"))]
        if method is Method.RPC:
            return [reply(rpc=pb.RPCResult(data=params.data))]
        if method is Method.UNSUBSCRIBE:
            return [reply(unsubscribe=pb.UnsubscribeResult())]
        return []


@contextlib.asynccontextmanager
async def running_peer() -> AsyncIterator[tuple[Peer, str]]:
    the_peer = Peer()
    def protobuf_if_offered(_: ServerConnection, offered: Sequence[str]) -> Subprotocol | None:
        return Subprotocol("centrifuge-protobuf") if "centrifuge-protobuf" in offered else None
    async with serve(the_peer.handle, "127.0.0.1", 0, select_subprotocol=protobuf_if_offered) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield the_peer, f"ws://127.0.0.1:{port}/connection/websocket"


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
