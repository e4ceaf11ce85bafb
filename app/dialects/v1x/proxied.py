"""The 1.x dialect over the proxy hooks (app.proxy, docs/proxy.md): the one
place 1.x commands call a hook, and where its outcome becomes 1.x's.

* connect: a client that sends no ``token`` to a server with
  ``proxy_connect_endpoint`` is authenticated by the backend (its ``user``
  and ``info``; the 1.x ``connection_lifetime`` still applies); its
  ``meta`` is kept (:class:`~app.proxy.hooks.ConnState` in ``client.state``)
  for ``proxy_include_connection_meta``; its ``channels`` are not used (1.x
  has no server-side subscriptions: docs/proxy.md);
* the backend's ``expire_at`` is told as a token's lifetime is
  (``expires``, ``ttl``: the sooner of it and ``connection_lifetime``); the
  connection is closed ``expired`` (reconnect: the client connects again,
  asking the hook again) ``expired_connection_close_delay`` s after it,
  unless the client's ``refresh`` without a token (what its refresh
  endpoint gives) asks the refresh hook and that extends it (``expired``
  from the hook: the reply says ``expired``, the client asks again);
* subscribe: in a channel whose namespace has ``proxy_subscribe``, the
  backend decides instead of the private-channel sign (its ``info`` is the
  channel info); publish: with ``proxy_publish``, the backend decides
  instead of the ``publish`` option and may replace the data;
* an error from the backend is the reply's error (its message as the 1.x
  error string; advice ``retry`` when temporary); 100 when the backend
  failed (``internal server error``, retry); a disconnect from the backend
  closes with its reason (reconnect for 4000-4499); a failed connect hook
  closes the connection (1.x has no connect error reply a client acts on).
"""
from __future__ import annotations

from typing import Awaitable, TypeVar

from app.core.client import Client
from app.core.errors import ADVICE_RETRY, CLIENT_CLOSED, EXPIRED, Disconnect, ProtocolError
from app.core.values import ConnectOutcome, Credentials
from app.dialects.v1x.context import V1xContext
from app.proxy import hooks, wire
from app.proxy.hooks import ConnectReply, ConnState
from app.proxy.wire import Caller, HookDisconnect, HookError

#: The deadline kind of a connection the connect hook gave an ``expire_at``.
EXPIRE = "v1x.proxy_expire"

T = TypeVar("T")


def enabled(ctx: V1xContext, hook: str) -> bool:
    return bool(getattr(ctx.options, f"proxy_{hook}_endpoint"))


def channel_enabled(ctx: V1xContext, hook: str, channel: str) -> bool:
    """The hook's endpoint is set and the channel's namespace switches it on."""
    return enabled(ctx, hook) and bool(getattr(ctx.rules.options(channel), f"proxy_{hook}"))


def caller(client: Client) -> Caller:
    session = client.session
    client_id = client.reserve_id()
    meta = client.state.meta if isinstance(client.state, ConnState) else None
    return Caller(client_id, wire.transport_name(session.transport), "json",
                  client.user, session.request.headers, meta)


async def ask(client: Client, call: Awaitable[T]) -> T:
    """The hook's answer; its error or disconnect in 1.x's form."""
    try:
        answer = await call
    except HookError as err:
        raise ProtocolError(err.message, ADVICE_RETRY if err.temporary else "") from None
    except HookDisconnect as err:
        raise Disconnect(err.reason, reconnect=err.reconnect) from None
    if client.closing:  # closed while the backend thought: nothing more for it
        raise Disconnect(CLIENT_CLOSED)
    return answer


async def connect(ctx: V1xContext, client: Client) -> ConnectReply:
    try:
        limit = ctx.options.client_channel_limit or 128
        reply = await ask(client, ctx.proxy.connect(caller(client), "", "", b"", (), limit))
    except ProtocolError as err:
        raise Disconnect(err.error, reconnect=err.advice == ADVICE_RETRY) from None
    client.state = ConnState(meta=reply.meta)
    return reply


def connected(ctx: V1xContext, client: Client, outcome: ConnectOutcome, expire_at: int) -> ConnectOutcome:
    """The connect (or refresh) outcome told to a connection the hook gave
    ``expire_at`` (0: never), whose close is armed at it."""
    state = client.state
    if not isinstance(state, ConnState) or not outcome.client:
        return outcome
    state.close_at = 0.0  # a refresh to "never" (0) disarms the close
    if expire_at <= 0:
        return outcome
    ttl = max(1, expire_at - int(ctx.clock()))
    if outcome.expires:
        ttl = min(ttl, int(outcome.ttl))
    state.close_at = expire_at + ctx.options.expired_connection_close_delay
    ctx.clients.add_deadline_kind(EXPIRE, _expire_due)  # once per registry; later calls are no-ops
    ctx.clients.arm(client, EXPIRE, state.close_at)
    return ConnectOutcome(outcome.client, True, False, ttl)


async def _expire_due(client: Client, when: float, now: float) -> None:
    state = client.state
    if isinstance(state, ConnState) and state.close_at and when == state.close_at:
        client.disconnect(Disconnect(EXPIRED, reconnect=True))


def refreshes(ctx: V1xContext, client: Client, token: str) -> bool:
    """A ``refresh`` without a token of a connection the hook made asks the refresh hook."""
    return not token and isinstance(client.state, ConnState) and enabled(ctx, hooks.REFRESH)


async def refresh(ctx: V1xContext, client: Client) -> ConnectOutcome:
    """The refresh hook's answer as a refresh outcome (its ``meta`` kept)."""
    reply = await ask(client, ctx.proxy.refresh(caller(client)))
    if reply.meta is not None and isinstance(client.state, ConnState):
        client.state.meta = reply.meta
    if reply.expired:
        return ConnectOutcome(client.id, True, True, 0)
    # fresh credentials: connection_lifetime starts again, as with a token
    info = reply.info if reply.info is not None else client.default_info
    outcome = ctx.clients.refresh(client, Credentials(client.user, info, int(ctx.clock())))
    return connected(ctx, client, outcome, reply.expire_at)


async def subscribe(ctx: V1xContext, client: Client, channel: str) -> str:
    """The channel info the backend gives ("" none)."""
    return (await ask(client, ctx.proxy.subscribe(caller(client), channel, "", b""))).info


async def publish(ctx: V1xContext, client: Client, channel: str, data: str) -> str:
    replaced = await ask(client, ctx.proxy.publish(caller(client), channel, data))
    return replaced if replaced is not None else data
