"""The 1.x dialect over the proxy hooks (app.proxy, docs/proxy.md): the one
place 1.x commands call a hook, and where its outcome becomes 1.x's.

* connect: a client that sends no ``token`` to a server with
  ``proxy_connect_endpoint`` is authenticated by the backend (its ``user``
  and ``info``; the 1.x ``connection_lifetime`` still applies, the
  backend's ``expire_at`` and ``channels`` are not used by 1.x);
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
from app.core.errors import ADVICE_RETRY, CLIENT_CLOSED, Disconnect, ProtocolError
from app.dialects.v1x.context import V1xContext
from app.proxy import wire
from app.proxy.hooks import ConnectReply
from app.proxy.wire import Caller, HookDisconnect, HookError

T = TypeVar("T")


def enabled(ctx: V1xContext, hook: str) -> bool:
    return bool(getattr(ctx.options, f"proxy_{hook}_endpoint"))


def channel_enabled(ctx: V1xContext, hook: str, channel: str) -> bool:
    """The hook's endpoint is set and the channel's namespace switches it on."""
    return enabled(ctx, hook) and bool(getattr(ctx.rules.options(channel), f"proxy_{hook}"))


def caller(client: Client) -> Caller:
    session = client.session
    client_id = client.reserve_id()
    return Caller(client_id, wire.transport_name(session.transport), "json",
                  client.user, session.request.headers)


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
        return await ask(client, ctx.proxy.connect(caller(client), "", "", b"", (), limit))
    except ProtocolError as err:
        raise Disconnect(err.error, reconnect=err.advice == ADVICE_RETRY) from None


async def subscribe(ctx: V1xContext, client: Client, channel: str) -> str:
    """The channel info the backend gives ("" none)."""
    return (await ask(client, ctx.proxy.subscribe(caller(client), channel, "", b""))).info


async def publish(ctx: V1xContext, client: Client, channel: str, data: str) -> str:
    replaced = await ask(client, ctx.proxy.publish(caller(client), channel, data))
    return replaced if replaced is not None else data
