"""subscribe, unsubscribe, publish, presence, presence_stats, history and
sub_refresh of protocol v2 (shared/CENTRIFUGAL.md §1.4): the v2 params and
results, and the subscription JWT; the rest is the core's
(app.core.subscriptions, app.core.publisher).

Choices, documented here:

* a private (``$``) channel needs a subscription token; a token given for
  any channel is verified (its ``channel`` must be the one asked for, its
  ``sub`` the connection's user, its ``client`` the connection's id when
  set: 3500 otherwise); an expired one is error 109, one that does not
  verify error 103;
* stream positions (app.core.streams) exist where the channel keeps
  history; a subscribe is ``recoverable`` (and ``positioned``) when the
  channel also has ``recover`` on (Centrifugo's forced recovery), and
  ``positioned`` alone when the client asks for it in a channel with
  history; a recover request is answered per §1.10 (the recovered
  publications in the reply, its offset the request's); history reads
  by position (``since``, ``reverse``; another epoch is 112); join and
  leave pushes come when the channel's ``join_leave`` option is on (the
  request's flag is not needed);
* a subscription token's ``exp`` (or ``expire_at``) makes the subscription
  expire: the reply has ``expires``/``ttl``, ``sub_refresh`` with a new
  token extends it, and one not refreshed is left with the ``unsubscribe``
  push 2501 (app.dialects.v2.heartbeat);
* a publication's data must be JSON (the core keeps JSON text): binary
  data from a protobuf client is error 107;
* presence, presence_stats and history are for subscribers of the
  channel (103 otherwise), as the 1.x dialect asks.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from typing import Any, Awaitable, Callable

from app.core import streams, subscriptions
from app.core.client import Client
from app.core.engine import EngineError
from app.core.errors import INTERNAL_SERVER_ERROR, ProtocolError
from app.core.publisher import publish_from_client
from app.core.subscriptions import denied, history_options
from app.core.values import NO_POSITION, HistoryPage, StreamPosition
from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2 import proxied, tokens
from app.dialects.v2.codes import BAD_REQUEST, INVALID_TOKEN, ErrorCode
from app.dialects.v2.commands import Method
from app.dialects.v2.context import V2Context
from app.dialects.v2.convert import client_info, publication
from app.dialects.v2.errors import CodeError, V2Disconnect
from app.dialects.v2.session_cmds import MAX_TTL
from app.dialects.v2.spec import CommandSpec, Services
from app.proxy import hooks


def _channel(channel: str) -> str:
    if not channel:
        raise V2Disconnect(BAD_REQUEST)
    return channel


def _claims(ctx: V2Context, client: Client, channel: str, token: str) -> tokens.SubscriptionClaims | None:
    """The claims of a verified subscription token (None without one); a
    private channel needs one."""
    if not token:
        if ctx.rules.is_private(channel):
            raise denied()
        return None
    try:
        claims = tokens.subscription(token, ctx.options, ctx.clock())
    except tokens.TokenExpired:
        raise CodeError(ErrorCode.TOKEN_EXPIRED) from None
    except tokens.TokenInvalid:
        raise denied() from None
    if claims.channel != channel or claims.user != client.user or claims.client not in ("", client.id):
        raise V2Disconnect(INVALID_TOKEN)
    return claims


def _expiry(services: Services, client: Client, channel: str, claims: tokens.SubscriptionClaims | None,
            result: pb.SubscribeResult | pb.SubRefreshResult) -> None:
    """Track the subscription's expiry; tell the client its ttl."""
    expires_at = claims.expires_at if claims is not None else 0
    services.heartbeat.subscription_expires_at(client, channel, expires_at)
    if expires_at > 0:
        result.expires, result.ttl = True, min(MAX_TTL, max(1, int(expires_at - services.ctx.clock())))


async def subscribe(services: Services, client: Client, p: pb.SubscribeRequest) -> pb.SubscribeResult:
    ctx = services.ctx
    channel = _channel(p.channel)
    options = subscriptions.check_subscribe(ctx, client, channel)
    by_proxy = proxied.wants_subscribe(ctx, p)
    claims = None if by_proxy else _claims(ctx, client, channel, p.token)
    hooked = await proxied.subscribe(ctx, client, p) if by_proxy else None
    info = hooked.info if hooked else claims.info if claims else ""
    history = history_options(options)
    recoverable = history.enabled and options.recover
    positioned = recoverable or (history.enabled and (p.positioned or p.recoverable))
    since = StreamPosition(p.offset, p.epoch) if p.recover and recoverable else None

    async def read() -> streams.StreamRecovery:
        if not positioned:
            return streams.StreamRecovery([], NO_POSITION, False)
        try:
            if since is not None:
                return await streams.recover_since(ctx.engine, channel, since, history)
            return streams.StreamRecovery([], await streams.position(ctx.engine, channel, history), False)
        except EngineError:
            ctx.metrics.engine_errors.inc()
            return streams.StreamRecovery([], NO_POSITION, False)

    # Publications that arrive while the subscription is being made wait
    # until the reply is out (§1.3: the subscribe reply comes first), and
    # those the reply recovered are not sent again.
    found = await subscriptions.subscribe_then(ctx, ctx.fanout, client, channel, info,
                                               True, read, lambda r: {m.uid for m in r.publications})
    result = pb.SubscribeResult(recoverable=recoverable, positioned=positioned, was_recovering=p.recover,
                                data=(hooked.data or "").encode() if hooked else b"")
    if positioned:
        result.epoch = found.position.epoch
        result.offset = found.position.offset
    if found.recovered and since is not None:
        result.recovered = True
        result.offset = since.offset  # §1.10: the client advances through the publications
        result.publications.extend(publication(m) for m in found.publications)
    _expiry(services, client, channel, claims, result)
    if hooked:
        proxied.subscribed(ctx, services.heartbeat, client, channel, hooked.expire_at)
    return result


async def sub_refresh(services: Services, client: Client, p: pb.SubRefreshRequest) -> pb.SubRefreshResult:
    """A new subscription token for a held channel (its info is not changed)."""
    ctx = services.ctx
    channel = _channel(p.channel)
    if channel not in client.channels or not p.token:
        raise V2Disconnect(BAD_REQUEST)
    claims = _claims(ctx, client, channel, p.token)
    result = pb.SubRefreshResult()
    _expiry(services, client, channel, claims, result)
    return result


async def unsubscribe(services: Services, client: Client, p: pb.UnsubscribeRequest) -> pb.UnsubscribeResult:
    channel = _channel(p.channel)
    await subscriptions.unsubscribe(services.ctx, client, channel)
    services.heartbeat.subscription_expires_at(client, channel, 0)
    return pb.UnsubscribeResult()


async def publish(services: Services, client: Client, p: pb.PublishRequest) -> pb.PublishResult:
    channel = _channel(p.channel)
    if not p.data:
        raise V2Disconnect(BAD_REQUEST)
    try:
        data = jsoncodec.raw_text(p.data)
    except jsoncodec.NotJson:
        raise CodeError(ErrorCode.BAD_REQUEST) from None
    ctx = services.ctx
    by_proxy = channel in client.channels and proxied.channel_enabled(ctx, hooks.PUBLISH, channel)
    if by_proxy:
        data = await proxied.publish(ctx, client, channel, data)
    await publish_from_client(ctx, ctx.publisher, client, channel, data, allowed=by_proxy)
    return pb.PublishResult()


async def _held(ctx: V2Context, client: Client, channel: str,
                fetch: Callable[[V2Context, str], Awaitable[Any]]) -> Any:
    """A subscriber's query of its channel; an engine failure is error 100."""
    if _channel(channel) not in client.channels:
        raise denied()
    try:
        return await fetch(ctx, channel)
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR) from None


async def presence(services: Services, client: Client, p: pb.PresenceRequest) -> pb.PresenceResult:
    found = await _held(services.ctx, client, p.channel, subscriptions.presence)
    return pb.PresenceResult(presence={cid: client_info(info) for cid, info in found.items()})


async def presence_stats(services: Services, client: Client, p: pb.PresenceStatsRequest) -> pb.PresenceStatsResult:
    found = await _held(services.ctx, client, p.channel, subscriptions.presence)
    return pb.PresenceStatsResult(num_clients=len(found), num_users=len({info.user for info in found.values()}))


async def history(services: Services, client: Client, p: pb.HistoryRequest) -> pb.HistoryResult:
    """§1.4 history: ``limit`` 0 the position alone, -1 all, N at most N;
    oldest first, or newest first with ``reverse``; after (before, reversed)
    ``since``; a ``since`` of another epoch is 112."""
    since = StreamPosition(p.since.offset, p.since.epoch) if p.HasField("since") else None
    if since is not None and p.reverse and not since.offset:
        raise CodeError(ErrorCode.BAD_REQUEST)

    async def fetch(ctx: V2Context, channel: str) -> HistoryPage:
        return await streams.read_history(ctx, channel, p.limit if p.limit >= 0 else -1, since, p.reverse)

    page = await _held(services.ctx, client, p.channel, fetch)
    return pb.HistoryResult(publications=[publication(m) for m in page.publications],
                            epoch=page.position.epoch, offset=page.position.offset)


SPECS: Mapping[Method, CommandSpec] = MappingProxyType({
    Method.SUBSCRIBE: CommandSpec(subscribe),
    Method.SUB_REFRESH: CommandSpec(sub_refresh),
    Method.UNSUBSCRIBE: CommandSpec(unsubscribe),
    Method.PUBLISH: CommandSpec(publish),
    Method.PRESENCE: CommandSpec(presence),
    Method.PRESENCE_STATS: CommandSpec(presence_stats),
    Method.HISTORY: CommandSpec(history),
})
