"""Protocol v2 over the proxy hooks (app.proxy, docs/proxy.md): the one place
the v2 commands call a hook, and where its outcome becomes v2's.

* a hook's error (400-1999 from the backend; 100, temporary, when the
  backend failed, timed out or answered garbage) is the reply's ``error``
  (:class:`~app.dialects.v2.errors.AppError`), the connection lives on;
* a hook's disconnect (4000-4999) closes the connection with that code and
  reason (4000-4499: the client reconnects);
* connect: asked when the client sent no token; the backend's ``user``,
  ``info``, ``data``, ``channels`` and ``expire_at`` are used as a token's;
  its ``meta`` is kept on the connection (:class:`~app.proxy.hooks.ConnState`,
  replaced by a refresh result's) and sent in the later calls with
  ``proxy_include_connection_meta``; the names of ``proxy_emulated_headers``
  in the client's ``ConnectRequest.headers`` go as HTTP headers of every
  call of the connection (a map past app.proxy.headers' bounds: 3501);
* refresh is server-side (the client is told no ``ttl``): when the
  ``expire_at`` the backend gave passes, the refresh hook is asked;
  ``expired`` closes with 3005, a new ``expire_at`` extends, a failing
  backend is asked again :data:`RETRY` s later (the connection stays);
* subscribe, publish and sub_refresh: in channels whose namespace has
  ``proxy_subscribe`` / ``proxy_publish`` / ``proxy_sub_refresh`` on;
  subscribe is skipped for a subscribe with a token and for user-limited
  (``#``) channels (Centrifugo does the same); publish may replace the data;
* sub_refresh is server-side too: when the ``expire_at`` the subscribe hook
  gave passes, the sub_refresh hook is asked (``expired``: the
  ``unsubscribe`` push 2501, the client subscribes again; a failing backend
  is asked again :data:`RETRY` s later); without that hook the subscription
  expires like a token's (app.dialects.v2.heartbeat);
* rpc: every ``rpc`` when its endpoint is set (108 otherwise).
"""
from __future__ import annotations

from typing import Awaitable, Callable, TypeVar

from app.core.client import Client
from app.core.engine import EngineError
from app.core.subscriptions import leave
from app.core.errors import CLIENT_CLOSED, EXPIRED, Disconnect
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2 import tokens
from app.dialects.v2.codes import BAD_REQUEST, Close
from app.dialects.v2.context import V2Context, V2State
from app.dialects.v2.errors import AppError, V2Disconnect
from app.dialects.v2.heartbeat import Heartbeat
from app.options import ChannelOptions
from app.proxy import hooks, wire
from app.proxy.headers import BadHeaders, emulated_names, merged, pick
from app.proxy.hooks import ConnState
from app.proxy.wire import Caller, HookDisconnect, HookError

T = TypeVar("T")

#: Seconds before a refresh hook that failed is asked again.
RETRY = 10.0
REFRESH, SUB_REFRESH = "v2.proxy_refresh", "v2.proxy_sub_refresh"


def enabled(ctx: V2Context, hook: str) -> bool:
    return bool(getattr(ctx.options, f"proxy_{hook}_endpoint"))


def channel_enabled(ctx: V2Context, hook: str, channel: str) -> bool:
    """The hook is on for ``channel``: its endpoint is set and its namespace's switch."""
    if not enabled(ctx, hook):
        return False
    options: ChannelOptions = ctx.rules.options(channel)
    return bool(getattr(options, f"proxy_{hook}"))


def caller(client: Client, conn: ConnState | None = None) -> Caller:
    session = client.session
    client_id = client.reserve_id()
    protocol = getattr(client.dialect, "format", "json")
    if conn is None:
        conn = client.state.proxy if isinstance(client.state, V2State) else ConnState()
    return Caller(client_id, wire.transport_name(session.transport),
                  protocol if protocol in ("json", "protobuf") else "json", client.user,
                  merged(session.request.headers, conn.headers), conn.meta)


def conn_state(ctx: V2Context, p: pb.ConnectRequest) -> ConnState:
    """The connection's emulated headers (every connect, with a token too:
    the later hooks send them); 3501 when the map is past its bounds."""
    if not ctx.options.proxy_emulated_headers or not p.headers:
        return ConnState()  # the common case: nothing to pick
    try:
        return ConnState(headers=pick(p.headers, emulated_names(ctx.options)))
    except BadHeaders:
        raise V2Disconnect(BAD_REQUEST) from None


async def ask(client: Client, call: Awaitable[T]) -> T:
    """The hook's answer; its error or disconnect in v2's form."""
    try:
        answer = await call
    except HookError as err:
        raise AppError(err.code, err.message, err.temporary) from None
    except HookDisconnect as err:
        raise V2Disconnect(Close(err.code, err.reason)) from None
    if client.closing:  # closed while the backend thought: nothing more for it
        raise Disconnect(CLIENT_CLOSED)
    return answer


async def connect(ctx: V2Context, client: Client, p: pb.ConnectRequest,
                  conn: ConnState) -> tuple[tokens.ConnectionClaims, bytes]:
    """The backend's answer as a token's claims, and the ConnectResult data;
    its ``meta`` is kept in ``conn``."""
    asked = ctx.options.client_channel_limit or 128
    reply = await ask(client, ctx.proxy.connect(caller(client, conn), p.name, p.version, p.data,
                                                p.subs.keys(), asked))
    conn.meta = reply.meta
    subs = {sub.channel: tokens.ServerSubscription(sub.channel, sub.info, sub.data, sub.override)
            for sub in reply.subs}
    for channel in reply.channels:
        subs.setdefault(channel, tokens.ServerSubscription(channel))
    claims = tokens.ConnectionClaims(reply.user, reply.expire_at, reply.info, tuple(subs.values()))
    return claims, (reply.data or "").encode()


def server_side_refresh(ctx: V2Context, client: Client, expires_at: int) -> bool:
    """Arm the refresh hook for a connection the connect hook made; False
    when there is none (the connection then simply expires)."""
    if expires_at <= 0 or not enabled(ctx, hooks.REFRESH):
        return False
    ctx.clients.arm(client, REFRESH, expires_at)
    return True


class ProxyRefresh:
    """The server-side refresh of the v2 connections and subscriptions of
    one node; ``expired_of(client, channel)`` is the ``unsubscribe`` push
    2501 of a subscription the backend let expire."""

    def __init__(self, ctx: V2Context, expired_of: Callable[[Client, str], str | bytes]) -> None:
        self._ctx = ctx
        self._expired_of = expired_of
        ctx.clients.add_deadline_kind(REFRESH, self._due)
        ctx.clients.add_deadline_kind(SUB_REFRESH, self._subscriptions_due)

    async def _subscriptions_due(self, client: Client, when: float, now: float) -> None:
        ctx, state = self._ctx, client.state
        if not isinstance(state, V2State):
            return
        for channel in [ch for ch, at in state.proxied_expire.items() if at <= now]:
            if channel not in client.channels or not enabled(ctx, hooks.SUB_REFRESH):
                state.proxied_expire.pop(channel, None)
                continue
            try:
                reply = await ctx.proxy.sub_refresh(caller(client), channel)
            except HookError:
                state.proxied_expire[channel] = now + RETRY
                continue
            except HookDisconnect as err:
                client.disconnect(V2Disconnect(Close(err.code, err.reason)))
                return
            if client.closing:
                return
            if reply.expired:
                await self._expire(client, state, channel)
            else:
                state.proxied_expire[channel] = reply.expire_at if reply.expire_at > now else now + RETRY
                if reply.expire_at <= 0:
                    del state.proxied_expire[channel]  # no expiry any more
        _arm_subscriptions(ctx, client, state)

    async def _expire(self, client: Client, state: V2State, channel: str) -> None:
        state.proxied_expire.pop(channel, None)
        try:
            await leave(self._ctx, client, channel)
        except EngineError:
            pass  # the client is told all the same: it subscribes again
        if not client.closing:
            client.send(self._expired_of(client, channel))

    async def _due(self, client: Client, when: float, now: float) -> None:
        ctx = self._ctx
        if not isinstance(client.state, V2State) or not enabled(ctx, hooks.REFRESH):
            return
        try:
            reply = await ctx.proxy.refresh(caller(client))
        except HookError:
            reply = None
        except HookDisconnect as err:
            client.disconnect(V2Disconnect(Close(err.code, err.reason)))
            return
        if client.closing:
            return
        if reply is not None and reply.meta is not None:
            client.state.proxy.meta = reply.meta
        if reply is None:
            ctx.clients.arm(client, REFRESH, now + RETRY)
        elif reply.expired:
            client.disconnect(Disconnect(EXPIRED, reconnect=True))
        elif reply.expire_at > 0:
            ctx.clients.arm(client, REFRESH, max(reply.expire_at, now + 1))


async def subscribe(ctx: V2Context, client: Client, p: pb.SubscribeRequest) -> hooks.SubscribeReply:
    """The channel info, SubscribeResult data and expiry the backend gives."""
    return await ask(client, ctx.proxy.subscribe(caller(client), p.channel, p.token, p.data))


def subscribed(ctx: V2Context, heartbeat: Heartbeat, client: Client, channel: str, expire_at: int) -> None:
    """A subscription the subscribe hook made expires at ``expire_at`` (0:
    never): the sub_refresh hook is asked then when the channel has it,
    else it simply expires (the ``unsubscribe`` push 2501, as a token's)."""
    state = client.state
    if expire_at <= 0 or not isinstance(state, V2State):
        return
    if channel_enabled(ctx, hooks.SUB_REFRESH, channel):
        state.proxied_expire[channel] = expire_at
        _arm_subscriptions(ctx, client, state)
    else:
        heartbeat.subscription_expires_at(client, channel, expire_at)


def _arm_subscriptions(ctx: V2Context, client: Client, state: V2State) -> None:
    for left in [ch for ch in state.proxied_expire if ch not in client.channels]:
        del state.proxied_expire[left]  # bounded by the channels held
    if state.proxied_expire:
        ctx.clients.arm(client, SUB_REFRESH, min(state.proxied_expire.values()))


def wants_subscribe(ctx: V2Context, p: pb.SubscribeRequest) -> bool:
    """Not for a subscribe with a token, nor for a user-limited channel."""
    boundary = ctx.options.user_channel_boundary
    user_limited = bool(boundary) and boundary in p.channel
    return not p.token and not user_limited and channel_enabled(ctx, hooks.SUBSCRIBE, p.channel)


async def publish(ctx: V2Context, client: Client, channel: str, data: str) -> str:
    """The data to publish: the backend's, or the client's."""
    replaced = await ask(client, ctx.proxy.publish(caller(client), channel, data))
    return replaced if replaced is not None else data


async def rpc(ctx: V2Context, client: Client, p: pb.RPCRequest) -> pb.RPCResult:
    data = await ask(client, ctx.proxy.rpc(caller(client), p.method, p.data))
    return pb.RPCResult(data=(data or "").encode()) if data else pb.RPCResult()
