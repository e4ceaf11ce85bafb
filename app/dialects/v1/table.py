"""The protocol v1 client commands: ONE dispatch table ``{MethodType:
V1CommandSpec}``.  Each entry is the v2 command of the same name run on the
request converted to its v2 message, its result converted back
(app.dialects.v1.convert): protocol v1 is protocol v2's logic with another
wire.  What differs is here:

* ``ping`` is answered (``{"id":N}``, by the dialect: it has no result);
* a private channel's subscription token is Centrifugo 2's (docs/protocol-v1.md §3: ``client``
  and ``channel`` required, no ``sub``, ``eto``), a token for another
  client or channel is error 103;
* a subscribe's ``seq``/``gen`` position is packed into an offset, and
  every position is answered as ``offset``/``epoch`` (Centrifugo 2's
  ``v3_use_offset`` mode, which centrifuge-js 2.8.5 follows);
* history without ``limit`` is the whole stream (no paging in 2.8).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Awaitable, Callable, Mapping

from google.protobuf.message import Message

from app.core.client import Client
from app.core.subscriptions import denied
from app.dialects.v1 import convert
from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v1.framing import V1Method
from app.dialects.v2 import channel_cmds, session_cmds, tokens
from app.dialects.v2 import protocol_pb2 as pb2
from app.dialects.v2.codes import ErrorCode
from app.dialects.v2.context import V2Context
from app.dialects.v2.errors import CodeError
from app.dialects.v2.spec import Services

M = V1Method

#: ``await handler(services, client, v1 request)`` -> the v1 result, or None (no reply).
Handler = Callable[[Services, Client, Any], Awaitable[Message | None]]


@dataclass(frozen=True, slots=True)
class V1CommandSpec:
    """How to run one v1 method; ``needs_auth``: before connect it closes 3003."""

    handler: Handler
    needs_auth: bool = True


def _claims(ctx: V2Context, client: Client, channel: str, token: str) -> tokens.SubscriptionClaims | None:
    """A v1 subscription token's claims (None without one); a private
    channel needs one."""
    if not token:
        if ctx.rules.is_private(channel):
            raise denied()
        return None
    try:
        claims = tokens.subscription_v1(token, ctx.options, ctx.clock())
    except tokens.TokenExpired:
        raise CodeError(ErrorCode.TOKEN_EXPIRED) from None
    except tokens.TokenInvalid:
        raise denied() from None
    if claims.channel != channel or claims.client != client.id:
        raise denied()
    return claims


def _adapted(run: Callable[[Services, Client, Any], Awaitable[Message | None]],
             request: Callable[[Any], Message], result: type[Message]) -> Handler:
    """The v2 command ``run`` on the v1 request converted by ``request``,
    its result converted to the v1 message ``result``."""
    async def handler(services: Services, client: Client, p: Message) -> Message | None:
        found = await run(services, client, request(p))
        if found is None:
            return None
        converted = result()
        convert.copy_fields(found, converted)
        return converted
    return handler


def _as(kind: type[Message]) -> Callable[[Message], Message]:
    return lambda p: convert.to_v2(p, kind)


async def _subscribe(services: Services, client: Client, p: pb2.SubscribeRequest) -> pb2.SubscribeResult:
    return await channel_cmds.subscribe_with(services, client, p, _claims)


async def _sub_refresh(services: Services, client: Client, p: pb2.SubRefreshRequest) -> pb2.SubRefreshResult:
    return await channel_cmds.sub_refresh_with(services, client, p, _claims)


COMMANDS: Mapping[int, V1CommandSpec] = MappingProxyType({
    M.CONNECT: V1CommandSpec(_adapted(session_cmds.connect, _as(pb2.ConnectRequest), pb.ConnectResult),
                           needs_auth=False),
    M.REFRESH: V1CommandSpec(_adapted(session_cmds.refresh, _as(pb2.RefreshRequest), pb.RefreshResult)),
    M.SEND: V1CommandSpec(_adapted(session_cmds.send, _as(pb2.SendRequest), pb.PingResult)),
    M.RPC: V1CommandSpec(_adapted(session_cmds.rpc, _as(pb2.RPCRequest), pb.RPCResult)),
    M.SUBSCRIBE: V1CommandSpec(_adapted(_subscribe, convert.subscribe_request, pb.SubscribeResult)),
    M.SUB_REFRESH: V1CommandSpec(_adapted(_sub_refresh, _as(pb2.SubRefreshRequest), pb.SubRefreshResult)),
    M.UNSUBSCRIBE: V1CommandSpec(_adapted(channel_cmds.unsubscribe, _as(pb2.UnsubscribeRequest),
                                        pb.UnsubscribeResult)),
    M.PUBLISH: V1CommandSpec(_adapted(channel_cmds.publish, _as(pb2.PublishRequest), pb.PublishResult)),
    M.PRESENCE: V1CommandSpec(_adapted(channel_cmds.presence, _as(pb2.PresenceRequest), pb.PresenceResult)),
    M.PRESENCE_STATS: V1CommandSpec(_adapted(channel_cmds.presence_stats, _as(pb2.PresenceStatsRequest),
                                           pb.PresenceStatsResult)),
    M.HISTORY: V1CommandSpec(_adapted(channel_cmds.history, convert.history_request, pb.HistoryResult)),
})
