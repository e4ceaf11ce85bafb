"""connect, refresh, ping, send and rpc of protocol v2 (docs/protocol-v2.md
§3.2, §3.6, §8): the JWTs are verified here (app.dialects.v2.tokens), then the
core connects or refreshes.

Choices, documented here:

* connect without a token is anonymous when ``insecure`` or
  ``allow_anonymous_connect_without_token`` is on, else 3501 (no
  credentials); an invalid token closes with 3500, an expired one is
  error 109 (the SDK fetches a new token and connects again);
* the token's ``subs`` (else ``channels``) are subscribed by the server
  during connect (their namespaces must exist: error 102 otherwise, before
  anything is done), with no permission check: the backend signed them;
  each gets its ``info`` as channel info, its ``data`` in its result and
  its ``override`` (app.core.overrides); the connect proxy's ``subs`` and
  ``channels`` the same;
  the client's ``connect.subs`` (what it last saw of them: ``recover``,
  ``offset``, ``epoch``) recovers them as a client-side subscribe would
  (app.dialects.v2.streamsub), and the connect reply's ``subs`` holds
  their results;
* ``expires``/``ttl`` come from the token's ``exp`` (or ``expire_at``), and
  from the 1.x ``connection_lifetime`` when that is set (whichever is
  sooner): the client must ``refresh`` within ``ttl``;
* ``send`` is accepted and dropped (no reply: it has none); ``rpc`` is
  answered by the rpc proxy hook when ``proxy_rpc_endpoint`` is set, else
  error 108 ``not available``, and so is the ``ping`` command, which
  protocol v2 does not use (§3.6);
* connect without a token asks the connect proxy hook when
  ``proxy_connect_endpoint`` is set (app.dialects.v2.proxied).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import app
from app.core.client import Client
from app.core.errors import EXPIRED, Disconnect, ProtocolError
from app.core.values import Credentials
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2 import proxied, streamsub, tokens
from app.dialects.v2.codes import BAD_REQUEST, INVALID_TOKEN, ErrorCode
from app.dialects.v2.commands import Method
from app.dialects.v2.context import V2State
from app.dialects.v2.errors import CodeError, V2Disconnect
from app.dialects.v2.spec import CommandSpec, Services
from app.proxy import hooks

#: The longest ttl a reply announces (uint32 seconds; Centrifugo caps at 30 days).
MAX_TTL = 30 * 24 * 3600


def _claims(services: Services, token: str) -> tokens.ConnectionClaims:
    """The connection token's claims; 3500 when invalid, 109 when expired."""
    ctx = services.ctx
    if not token:
        if ctx.options.insecure or ctx.options.allow_anonymous_connect_without_token:
            return tokens.ConnectionClaims("", 0, "", ())
        raise V2Disconnect(BAD_REQUEST)  # no credentials at all
    try:
        return tokens.connection(token, ctx.options, ctx.clock())
    except tokens.TokenExpired:
        raise CodeError(ErrorCode.TOKEN_EXPIRED) from None
    except tokens.TokenInvalid:
        raise V2Disconnect(INVALID_TOKEN) from None


def _ttl(expires_at: float, now: float, lifetime_ttl: int) -> int:
    """Seconds until the sooner of the token's expiry and the core's
    lifetime (0: neither)."""
    candidates = [max(1, int(expires_at - now))] if expires_at > 0 else []
    if lifetime_ttl > 0:
        candidates.append(lifetime_ttl)
    return min([*candidates, MAX_TTL]) if candidates else 0


async def connect(services: Services, client: Client, p: pb.ConnectRequest) -> pb.ConnectResult:
    ctx = services.ctx
    if client.authenticated:
        raise V2Disconnect(BAD_REQUEST)  # "client already authenticated"
    by_proxy = not p.token and proxied.enabled(ctx, hooks.CONNECT)
    conn = proxied.conn_state(ctx, p)
    claims, data = await proxied.connect(ctx, client, p, conn) if by_proxy else (_claims(services, p.token), b"")
    try:
        channel_options = [ctx.rules.options(channel) for channel in claims.channels]
    except ProtocolError:
        raise CodeError(ErrorCode.UNKNOWN_CHANNEL) from None
    now = ctx.clock()
    outcome = ctx.clients.connect(client, Credentials(claims.user, claims.info, int(now)))
    if not outcome.client:
        raise CodeError(ErrorCode.EXPIRED)
    client.state = V2State(proxy=conn)
    if not (by_proxy and proxied.server_side_refresh(ctx, client, claims.expires_at)):
        services.heartbeat.expire_at(client, claims.expires_at)
    result = pb.ConnectResult(client=client.id, version=app.__version__, data=data)
    # a connection the proxy made is refreshed by the server: no ttl told
    ttl = _ttl(0 if by_proxy else claims.expires_at, now, outcome.ttl if outcome.expires else 0)
    if ttl:
        result.expires, result.ttl = True, ttl
    options = ctx.options
    if options.ping_interval > 0:
        result.ping = max(1, round(options.ping_interval))
        result.pong = options.pong_timeout > 0
        services.heartbeat.start(client, now)
    for sub, sub_options in zip(claims.subs, channel_options):
        if sub.channel in client.channels:
            continue
        asked = p.subs[sub.channel] if sub.channel in p.subs else pb.SubscribeRequest()
        found = await streamsub.subscribe(ctx, client, sub.channel, sub_options, sub.info, asked, server_side=True,
                                          override=sub.override)
        if sub.data:
            found.data = sub.data.encode()
        result.subs[sub.channel].CopyFrom(found)
    return result



async def refresh(services: Services, client: Client, p: pb.RefreshRequest) -> pb.RefreshResult:
    """A new connection token: its user must be the connection's; an
    expired one closes with 3005, an invalid one with 3500 (§8.4)."""
    ctx = services.ctx
    if not p.token:
        raise V2Disconnect(BAD_REQUEST)
    try:
        claims = tokens.connection(p.token, ctx.options, ctx.clock())
    except tokens.TokenExpired:
        raise Disconnect(EXPIRED, reconnect=True) from None
    except tokens.TokenInvalid:
        raise V2Disconnect(INVALID_TOKEN) from None
    if claims.user != client.user:
        raise V2Disconnect(INVALID_TOKEN)
    now = ctx.clock()
    outcome = ctx.clients.refresh(client, Credentials(claims.user, claims.info, int(now)))
    services.heartbeat.expire_at(client, claims.expires_at)
    result = pb.RefreshResult(client=client.id, version=app.__version__)
    ttl = _ttl(claims.expires_at, now, outcome.ttl if outcome.expires else 0)
    if ttl:
        result.expires, result.ttl = True, ttl
    return result


async def ping(services: Services, client: Client, p: pb.PingRequest) -> pb.PingResult:
    raise CodeError(ErrorCode.NOT_AVAILABLE)


async def send(services: Services, client: Client, p: pb.SendRequest) -> None:
    return None


async def rpc(services: Services, client: Client, p: pb.RPCRequest) -> pb.RPCResult:
    if proxied.enabled(services.ctx, hooks.RPC):
        return await proxied.rpc(services.ctx, client, p)
    raise CodeError(ErrorCode.NOT_AVAILABLE)


SPECS: Mapping[Method, CommandSpec] = MappingProxyType({
    Method.CONNECT: CommandSpec(connect, needs_auth=False),
    Method.REFRESH: CommandSpec(refresh),
    Method.PING: CommandSpec(ping),
    Method.SEND: CommandSpec(send),
    Method.RPC: CommandSpec(rpc),
})
