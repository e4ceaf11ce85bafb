"""subscribe, unsubscribe, publish, presence and history (PROTOCOL.md §4.3-§4.7, §8).

Choices beyond 1.8, documented here:

* a private channel's ``info`` that is not valid JSON is refused with
  ``permission denied`` (fix), like a wrong sign: the backend signed
  something the server cannot relay;
* recovery fills ``body.last`` with the newest uid in the recover branch too
  (the fix of §8), so a reconnect after "nothing missed" does not replay the
  whole history;
* subscribing to a channel the API ``subscribe`` gave this connection is a
  success (the subscription is adopted), not ``already subscribed``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from app.auth import channel_sign, check_sign
from app.commands.channel_ops import history_data, join, leave, messages_json, presence_data
from app.commands.spec import CommandSpec
from app.core.engine import EngineError
from app.core.values import Message, new_uid
from app.options import ChannelOptions
from app.core.errors import (
    ADVICE_FIX,
    ADVICE_RETRY,
    ALREADY_SUBSCRIBED,
    INTERNAL_SERVER_ERROR,
    INVALID_MESSAGE,
    LIMIT_EXCEEDED,
    PERMISSION_DENIED,
    Disconnect,
    ProtocolError,
)
from app.protocol import Raw, channel_status, dumps, valid_raw_json

if TYPE_CHECKING:
    from app.client import Client
    from app.node import Node


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


def subscribe_body(channel: str, status: bool, last: str = "", messages: str = "null",
                   recovered: bool = False) -> str:
    return ('{"channel":' + dumps(channel) + ',"status":' + dumps(status) + ',"last":' + dumps(last)
            + ',"messages":' + messages + ',"recovered":' + dumps(recovered) + "}")


def _denied() -> ProtocolError:
    return ProtocolError(PERMISSION_DENIED, ADVICE_FIX)


def _private_channel_info(client: "Client", p: SubscribeParams) -> str:
    """Check a ``$`` channel's client and sign; its valid info to store."""
    secret = client.node.options.secret
    if p.client != client.id or not secret:
        raise _denied()
    if not check_sign(channel_sign(secret, client.id, p.channel, p.info), p.sign):
        raise _denied()
    if p.info and not valid_raw_json(p.info):
        raise _denied()
    return p.info


def _check_subscribe(client: "Client", p: SubscribeParams) -> ChannelOptions:
    """The checks of §4.3 steps 1-7, in order; the channel's options."""
    node, channel = client.node, p.channel
    if not channel:
        raise Disconnect(INVALID_MESSAGE)
    if node.rules.too_long(channel):
        raise ProtocolError(LIMIT_EXCEEDED, ADVICE_FIX)
    held = client.channels.get(channel)
    limit = node.options.client_channel_limit
    if held is None and limit > 0 and len(client.channels) >= limit:
        raise ProtocolError(LIMIT_EXCEEDED, ADVICE_FIX)
    if held is not None and not held.server_side:
        raise ProtocolError(ALREADY_SUBSCRIBED, ADVICE_FIX)
    if not node.rules.user_allowed(channel, client.user) or not node.rules.client_allowed(channel, client.id):
        raise _denied()
    options = node.rules.options(channel)
    if not options.anonymous and not client.user and not node.options.insecure:
        raise _denied()
    return options


async def subscribe(client: "Client", p: SubscribeParams) -> str:
    """§4.3: checks, private sign, registration, then recovery (§8)."""
    options = _check_subscribe(client, p)
    channel_info = _private_channel_info(client, p) if client.node.rules.is_private(p.channel) else ""
    node, existing = client.node, client.channels.get(p.channel)
    holding = existing is None and options.recover and p.recover
    if holding:  # live pushes wait until the reply (with the recovered ones) is out
        node.hold(p.channel, client)
    try:
        if existing is not None:  # made by the API subscribe: adopt it
            existing.server_side = False
            existing.channel_info = channel_info or existing.channel_info
        else:
            try:
                await join(client, p.channel, channel_info)
            except EngineError:
                raise Disconnect(INTERNAL_SERVER_ERROR, reconnect=True) from None
        node.metrics.num_subscribe.inc()
        body, recovered = await recovery(client, p, options)
    except BaseException:
        if holding:
            node.release(p.channel, client, set())
        raise
    if holding:
        client.after_reply(lambda: node.release(p.channel, client, recovered))
    return body


async def recovery_body(client: "Client", p: SubscribeParams, options: ChannelOptions) -> str:
    """The success body: ``last``, ``messages`` and ``recovered`` per §8."""
    return (await recovery(client, p, options))[0]


async def recovery(client: "Client", p: SubscribeParams, options: ChannelOptions) -> tuple[str, set[str]]:
    """The success body per §8, and the uids of the messages it carries."""
    if not options.recover:
        return subscribe_body(p.channel, True), set()
    engine = client.node.engine
    if not p.recover:
        try:
            newest = await engine.history(p.channel, limit=1)
        except EngineError:
            newest = []
        return subscribe_body(p.channel, True, newest[0].uid if newest else ""), set()
    try:
        history = await engine.history(p.channel)
    except EngineError:
        return subscribe_body(p.channel, True, "", "[]", False), set()
    last = history[0].uid if history else ""
    missed, found = history, False
    if p.last:
        for index, message in enumerate(history):
            if message.uid == p.last:
                missed, found = history[:index], True
                break
    body = subscribe_body(p.channel, True, last, messages_json(missed), found)
    return body, {m.uid for m in missed}


async def unsubscribe(client: "Client", p: ChannelParams) -> str:
    """§4.4: the reply is a success whether or not the channel was held."""
    if not p.channel:
        raise Disconnect(INVALID_MESSAGE)
    client.node.rules.options(p.channel)  # namespace not found
    try:
        await leave(client, p.channel)
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR) from None
    return channel_status(p.channel, True)


async def publish(client: "Client", p: ClientPublishParams) -> str:
    """§4.5: only into a held channel, when its ``publish`` option allows."""
    node = client.node
    if not p.channel or p.data is None:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if p.channel not in client.channels:
        raise _denied()
    try:
        options = node.rules.options(p.channel)
    except ProtocolError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None
    if not options.publish and not node.options.insecure:
        raise _denied()
    message = Message(new_uid(), p.channel, p.data, client.id, client.info(p.channel))
    try:
        waiting = node.publisher.publish(message, options)
        if waiting is not None:
            await waiting
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None
    node.metrics.client_published.inc()
    return channel_status(p.channel, True)


def _query(channel: str, data: str) -> str:
    return '{"channel":' + dumps(channel) + ',"data":' + data + "}"


async def _held_query(client: "Client", channel: str,
                      fetch: Callable[["Node", str], Awaitable[str]]) -> str:
    """presence and history from a client: the caller must hold the channel;
    every other error advises retry (§4.6, §4.7)."""
    if channel not in client.channels:
        raise _denied()
    try:
        return _query(channel, await fetch(client.node, channel))
    except ProtocolError as err:
        raise ProtocolError(err.error, ADVICE_RETRY) from None
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None


async def presence(client: "Client", p: ChannelParams) -> str:
    """§4.6: ``{"<client id>": ClientInfo}`` of a held channel."""
    return await _held_query(client, p.channel, presence_data)


async def history(client: "Client", p: ChannelParams) -> str:
    """§4.7: a held channel's messages, newest first."""
    return await _held_query(client, p.channel, history_data)


SPECS: dict[str, CommandSpec] = {
    "subscribe": CommandSpec(SubscribeParams, subscribe, lambda p: subscribe_body(p.channel, False)),
    "unsubscribe": CommandSpec(ChannelParams, unsubscribe, lambda p: channel_status(p.channel, False)),
    "publish": CommandSpec(ClientPublishParams, publish, lambda p: channel_status(p.channel, False)),
    "presence": CommandSpec(ChannelParams, presence, lambda p: '{"channel":' + dumps(p.channel) + ',"data":null}'),
    "history": CommandSpec(ChannelParams, history, lambda p: '{"channel":' + dumps(p.channel) + ',"data":null}'),
}
