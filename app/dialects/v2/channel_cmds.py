"""subscribe, unsubscribe, publish, presence, presence_stats, history and
sub_refresh of protocol v2 (docs/protocol-v2.md §3.3-§3.6): the v2 params and
results, and the subscription JWT; the rest is the core's
(app.core.subscriptions, app.core.publisher).

Choices, documented here:

* a private (``$``) channel needs a subscription token; a token given for
  any channel is verified (its ``channel`` must be the one asked for, its
  ``sub`` the connection's user, its ``client`` the connection's id when
  set: 3500 otherwise); an expired one is error 109, one that does not
  verify error 103;
* who may subscribe without a token, publish, and ask presence and
  history is app.dialects.v2.permissions' (Centrifugo v5's switches, or
  the 1.x channel options); a valid subscription token grants its channel
  in the v5 mode;
* stream positions and recovery: app.dialects.v2.streamsub; history reads
  by position (``since``, ``reverse``; another epoch is 112); join and
  leave pushes come when the channel's ``join_leave`` option is on and the
  subscribe asked for them (``join_leave``), or an override forces them;
* the ``override`` of a subscription token or of the subscribe proxy's
  answer changes the channel's options for this subscription
  (app.core.overrides);
* a subscription token's ``exp`` (or ``expire_at``) makes the subscription
  expire: the reply has ``expires``/``ttl``, ``sub_refresh`` with a new
  token extends it, and one not refreshed is left with the ``unsubscribe``
  push 2501 (app.dialects.v2.heartbeat);
* a publication's data must be JSON (the core keeps JSON text): binary
  data from a protobuf client is error 107;
* a subscription token's ``data`` (or ``b64data``, JSON) is the reply's
  ``data``.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Awaitable, Callable, Mapping

from app.core import streams, subscriptions
from app.core.client import Client
from app.core.engine import EngineError
from app.core.errors import INTERNAL_SERVER_ERROR, ProtocolError
from app.core.overrides import NO_OVERRIDE
from app.core.publisher import publish_from_client
from app.core.subscriptions import denied
from app.core.values import HistoryPage, StreamPosition
from app.dialects.v2 import jsoncodec, permissions, proxied, streamsub, tokens
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import BAD_REQUEST, INVALID_TOKEN, ErrorCode
from app.dialects.v2.commands import Method
from app.dialects.v2.context import V2Context
from app.dialects.v2.convert import client_info, publication
from app.dialects.v2.errors import CodeError, V2Disconnect
from app.dialects.v2.session_cmds import MAX_TTL
from app.dialects.v2.spec import CommandSpec, Services
from app.options import ChannelOptions
from app.proxy import hooks

#: A permission check of app.dialects.v2.permissions.
Check = Callable[[V2Context, Client, str, ChannelOptions], None]


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


#: How a dialect verifies a subscription token: ``claims_of(ctx, client,
#: channel, token)`` -> its claims, None without one (raises otherwise).
ClaimsOf = Callable[[V2Context, Client, str, str], "tokens.SubscriptionClaims | None"]


async def subscribe(services: Services, client: Client, p: pb.SubscribeRequest) -> pb.SubscribeResult:
    return await subscribe_with(services, client, p, _claims)


async def subscribe_with(services: Services, client: Client, p: pb.SubscribeRequest,
                         claims_of: ClaimsOf) -> pb.SubscribeResult:
    """subscribe, its token verified by ``claims_of`` (protocol v1's rules differ)."""
    ctx = services.ctx
    channel = _channel(p.channel)
    options = subscriptions.check_subscribe(ctx, client, channel, permissions=False)
    by_proxy = proxied.wants_subscribe(ctx, p)  # the backend decides instead of a token or the rules
    claims = None if by_proxy else claims_of(ctx, client, channel, p.token)
    if not by_proxy and (claims is None or not permissions.v5_rules(ctx.options, client)):
        permissions.check_subscribe(ctx, client, channel, options)
    if not by_proxy and claims is None:
        subscriptions.check_protected(ctx, client, channel, options)
    hooked = await proxied.subscribe(ctx, client, p) if by_proxy else None
    info = hooked.info if hooked else claims.info if claims else ""
    override = hooked.override if hooked else claims.override if claims else NO_OVERRIDE
    result = await streamsub.subscribe(ctx, client, channel, options, info, p, override=override)
    data = hooked.data if hooked else claims.data if claims else ""
    if data:
        result.data = data.encode()
    _expiry(services, client, channel, claims, result)
    if hooked:
        proxied.subscribed(ctx, services.heartbeat, client, channel, hooked.expire_at)
    return result


async def sub_refresh(services: Services, client: Client, p: pb.SubRefreshRequest) -> pb.SubRefreshResult:
    return await sub_refresh_with(services, client, p, _claims)


async def sub_refresh_with(services: Services, client: Client, p: pb.SubRefreshRequest,
                           claims_of: ClaimsOf) -> pb.SubRefreshResult:
    """A new subscription token for a held channel (its info is not changed)."""
    ctx = services.ctx
    channel = _channel(p.channel)
    if channel not in client.channels or not p.token:
        raise V2Disconnect(BAD_REQUEST)
    claims = claims_of(ctx, client, channel, p.token)
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
    if by_proxy:  # the backend decides instead of the rules, and may replace the data
        data = await proxied.publish(ctx, client, channel, data)
    else:
        permissions.check_publish(ctx, client, channel, _options(ctx, channel))
    await publish_from_client(ctx, ctx.publisher, client, channel, data, allowed=True)
    return pb.PublishResult()


def _options(ctx: V2Context, channel: str) -> ChannelOptions:
    """The channel's options; its namespace not found is error 102."""
    try:
        return ctx.rules.options(channel)
    except ProtocolError:
        raise CodeError(ErrorCode.UNKNOWN_CHANNEL) from None


async def _held(ctx: V2Context, client: Client, channel: str,
                fetch: Callable[[V2Context, str], Awaitable[Any]], check: Check) -> Any:
    """A query of a channel, when ``check`` allows; an engine failure is error 100."""
    check(ctx, client, _channel(channel), _options(ctx, channel))
    try:
        return await fetch(ctx, channel)
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR) from None


async def presence(services: Services, client: Client, p: pb.PresenceRequest) -> pb.PresenceResult:
    found = await _held(services.ctx, client, p.channel, subscriptions.presence,
                        permissions.check_presence)
    return pb.PresenceResult(presence={cid: client_info(info) for cid, info in found.items()})


async def presence_stats(services: Services, client: Client, p: pb.PresenceStatsRequest) -> pb.PresenceStatsResult:
    found = await _held(services.ctx, client, p.channel, subscriptions.presence,
                        permissions.check_presence)
    return pb.PresenceStatsResult(num_clients=len(found), num_users=len({info.user for info in found.values()}))


async def history(services: Services, client: Client, p: pb.HistoryRequest) -> pb.HistoryResult:
    """§3.5 history: ``limit`` 0 the position alone, -1 all, N at most N;
    oldest first, or newest first with ``reverse``; after (before, reversed)
    ``since``; a ``since`` of another epoch is 112."""
    since = StreamPosition(p.since.offset, p.since.epoch) if p.HasField("since") else None
    if since is not None and p.reverse and not since.offset:
        raise CodeError(ErrorCode.BAD_REQUEST)

    async def fetch(ctx: V2Context, channel: str) -> HistoryPage:
        return await streams.read_history(ctx, channel, p.limit if p.limit >= 0 else -1, since, p.reverse)

    page = await _held(services.ctx, client, p.channel, fetch, permissions.check_history)
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
