"""subscribe, unsubscribe, publish, presence and history (docs/protocol-1x.md
§4.3-§4.7, §8): the 1.x params and bodies, and the private-channel sign;
the rest is the core's (app.core.subscriptions, app.core.publisher).

Choices beyond 1.8, documented here:

* a private channel's ``info`` that is not valid JSON is refused with
  ``permission denied`` (fix), like a wrong sign: the backend signed
  something the server cannot relay.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from app.core import subscriptions
from app.core.client import Client
from app.core.engine import EngineError
from app.core.errors import ADVICE_RETRY, INTERNAL_SERVER_ERROR, ProtocolError
from app.core.publisher import publish_from_client
from app.core.subscriptions import denied
from app.dialects.v1x import proxied
from app.dialects.v1x.auth import channel_sign, check_sign
from app.dialects.v1x.context import V1xContext
from app.dialects.v1x.spec import V1xCommandSpec
from app.dialects.v1x.wire import (
    Raw,
    channel_data,
    channel_status,
    dumps,
    messages_json,
    presence_json,
    recovery_body,
    subscribe_body,
    valid_raw_json,
)
from app.proxy import hooks


@dataclass(slots=True)
class SubscribeParams:
    channel: str = ""
    recover: bool = False
    last: str = ""
    client: str = ""
    info: str = ""
    sign: str = ""


@dataclass(slots=True)
class ChannelParams:
    """Params of unsubscribe, presence and history (client) and of presence,
    history and history_remove (API)."""

    channel: str = ""


@dataclass(slots=True)
class ClientPublishParams:
    channel: str = ""
    data: Raw | None = None


def _private_channel_info(ctx: V1xContext, client: Client, p: SubscribeParams) -> str:
    """Check a ``$`` channel's client and sign; its valid info to store."""
    secret = ctx.options.secret
    if p.client != client.id or not secret:
        raise denied()
    if not check_sign(channel_sign(secret, client.id, p.channel, p.info), p.sign):
        raise denied()
    if p.info and not valid_raw_json(p.info):
        raise denied()
    return p.info


async def subscribe(ctx: V1xContext, client: Client, p: SubscribeParams) -> str:
    """§4.3: the core's checks, the private sign, then the core's
    registration and recovery (§8)."""
    options = subscriptions.check_subscribe(ctx, client, p.channel)
    if proxied.channel_enabled(ctx, hooks.SUBSCRIBE, p.channel):
        channel_info = await proxied.subscribe(ctx, client, p.channel)
    elif ctx.rules.is_private(p.channel):
        channel_info = _private_channel_info(ctx, client, p)
    else:
        subscriptions.check_protected(ctx, client, p.channel, options)
        channel_info = ""
    recovery = await subscriptions.subscribe(ctx, ctx.fanout, client, p.channel, options, channel_info,
                                             p.recover, p.last)
    return recovery_body(p.channel, recovery)


async def unsubscribe(ctx: V1xContext, client: Client, p: ChannelParams) -> str:
    """§4.4: the reply is a success whether or not the channel was held."""
    await subscriptions.unsubscribe(ctx, client, p.channel)
    return channel_status(p.channel, True)


async def publish(ctx: V1xContext, client: Client, p: ClientPublishParams) -> str:
    """§4.5: only into a held channel, when its ``publish`` option allows."""
    by_proxy = p.data is not None and p.channel in client.channels \
        and proxied.channel_enabled(ctx, hooks.PUBLISH, p.channel)
    data = await proxied.publish(ctx, client, p.channel, p.data) if by_proxy and p.data is not None else p.data
    await publish_from_client(ctx, ctx.publisher, client, p.channel, data, allowed=by_proxy)
    return channel_status(p.channel, True)


async def _held_query(ctx: V1xContext, client: Client, channel: str,
                      fetch: Callable[[V1xContext, str], Awaitable[str]], presence: bool) -> str:
    """presence (``presence``) and history from a client: the caller must
    hold the channel, and the channel must not keep them from clients
    (Centrifugo 2.x's ``..._disable_for_client``); every other error advises
    retry (§4.6, §4.7)."""
    if channel not in client.channels:
        raise denied()
    try:
        subscriptions.check_client_query(ctx.rules.options(channel), presence)
        return channel_data(channel, await fetch(ctx, channel))
    except ProtocolError as err:
        raise ProtocolError(err.error, ADVICE_RETRY) from None
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None


async def presence_data(ctx: V1xContext, channel: str) -> str:
    return presence_json(await subscriptions.presence(ctx, channel))


async def history_data(ctx: V1xContext, channel: str) -> str:
    return messages_json(await subscriptions.history(ctx, channel))


async def presence(ctx: V1xContext, client: Client, p: ChannelParams) -> str:
    """§4.6: ``{"<client id>": ClientInfo}`` of a held channel."""
    return await _held_query(ctx, client, p.channel, presence_data, presence=True)


async def history(ctx: V1xContext, client: Client, p: ChannelParams) -> str:
    """§4.7: a held channel's messages, newest first."""
    return await _held_query(ctx, client, p.channel, history_data, presence=False)


SPECS: dict[str, V1xCommandSpec] = {
    "subscribe": V1xCommandSpec(SubscribeParams, subscribe, lambda p: subscribe_body(p.channel, False)),
    "unsubscribe": V1xCommandSpec(ChannelParams, unsubscribe, lambda p: channel_status(p.channel, False)),
    "publish": V1xCommandSpec(ClientPublishParams, publish, lambda p: channel_status(p.channel, False)),
    "presence": V1xCommandSpec(ChannelParams, presence, lambda p: '{"channel":' + dumps(p.channel) + ',"data":null}'),
    "history": V1xCommandSpec(ChannelParams, history, lambda p: '{"channel":' + dumps(p.channel) + ',"data":null}'),
}
