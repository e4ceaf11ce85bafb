"""A websocket peer that speaks only through our protocol v2 codec
(app/dialects/v2), for the tests that drive the real SDKs against it.

It is a test double of a server (no core, no dialect: those come with the
wiring): it decodes each frame with the codec of the negotiated
subprotocol, answers every command with canned results and adds pushes to
the same frame: a ping after connect (the client must pong), a
publication, join and leave after a subscribe, an echo of a publish, an
unsubscribe push on the rpc ``kick``, error 103 on the rpc ``fail``."""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Sequence

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
        self.frames: list[str | bytes] = []  # as received

    async def handle(self, ws: ServerConnection) -> None:
        codec: JsonFrames | ProtobufFrames = ProtobufFrames() if ws.subprotocol == "centrifuge-protobuf" else JsonFrames()
        self.formats.append(codec.name)
        async for frame in ws:
            self.frames.append(frame)
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
