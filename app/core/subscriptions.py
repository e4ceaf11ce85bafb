"""Subscriptions, presence, history and recovery: the channel operations of
client commands, the API and control messages.

* :func:`join` / :func:`leave`: a client takes or drops a channel (hub and
  engine registration, presence, join/leave pushes), undoing its own partial
  work when the engine fails;
* :func:`check_subscribe`, :func:`subscribe`, :func:`recovery`: a client
  subscribe after the dialect verified its credentials, and what it recovers
  from history (docs/protocol-1x.md §4.3, §8);
* :func:`check_protected`, :func:`check_client_query`: the Centrifugo 2.x
  and 3.x channel options that restrict clients alone (docs/config-2x.md),
  for every dialect;
* :func:`presence` / :func:`history`: a channel's presence and history;
  ProtocolError with the advice the HTTP API gives (client commands
  re-advise), EngineError passed on (the client says ``internal server
  error``, the API answers 503).

Choices beyond 1.8, documented here:

* recovery fills ``last`` with the newest uid in the recover branch too
  (the fix of §8), so a reconnect after "nothing missed" does not replay the
  whole history;
* subscribing to a channel the API ``subscribe`` gave this connection is a
  success (the subscription is adopted), not ``already subscribed``.
"""
from __future__ import annotations

import logging
from typing import Awaitable, Callable, Protocol, TypeVar

from app.core.client import Client, Subscription
from app.core.context import Context
from app.core.engine import EngineError, HistoryOptions
from app.core.errors import (
    ADVICE_FIX,
    ALREADY_SUBSCRIBED,
    INTERNAL_SERVER_ERROR,
    INVALID_MESSAGE,
    LIMIT_EXCEEDED,
    NOT_AVAILABLE,
    PERMISSION_DENIED,
    Disconnect,
    ProtocolError,
)
from app.core.overrides import NO_OVERRIDE, Override
from app.core.values import ClientInfo, Message, Recovery
from app.options import ChannelOptions

logger = logging.getLogger("sockhub.subscriptions")

T = TypeVar("T")

#: What every channel without history gets: no new object per publish.
_NO_HISTORY = HistoryOptions()


class Holds(Protocol):
    """Holding a client's pushes of a channel back while its subscribe
    recovers (app.core.fanout.Fanout)."""

    def hold(self, channel: str, client: Client) -> None: ...

    def release(self, channel: str, client: Client, recovered: set[str]) -> None: ...


def history_options(options: ChannelOptions) -> HistoryOptions:
    if options.history_size <= 0 or options.history_lifetime <= 0:
        return _NO_HISTORY  # not enabled: engines keep nothing, touch nothing
    return HistoryOptions(options.history_size, options.history_lifetime, options.history_drop_inactive)


def denied() -> ProtocolError:
    return ProtocolError(PERMISSION_DENIED, ADVICE_FIX)


async def join(ctx: Context, client: Client, channel: str, channel_info: str = "",
               server_side: bool = False, override: Override = NO_OVERRIDE,
               push_join_leave: bool = True) -> None:
    """Subscribe ``client`` to ``channel`` (options already checked), the
    channel's presence and join/leave options as ``override`` changes them;
    ``push_join_leave``: the client receives the channel's join and leave.

    The client holds the channel before the first await, so a close that
    happens meanwhile unsubscribes it too.  Raises EngineError after undoing."""
    options = override.options(ctx.rules.options(channel))
    client.channels[channel] = Subscription(channel_info, server_side, override, push_join_leave)
    try:
        await ctx.hub.subscribe(channel, client)
    except BaseException as exc:
        client.channels.pop(channel, None)
        if isinstance(exc, EngineError):
            ctx.metrics.engine_errors.inc()
        raise
    if client.closing or channel not in client.channels:
        return  # closed meanwhile: the cleanup is unsubscribing it
    if ctx.status.on:
        ctx.status.subscribed(client, channel, options.presence)
    try:
        if options.presence:
            await ctx.engine.add_presence(channel, client.id, client.info(channel),
                                          ctx.options.presence_expire_interval)
        if options.join_leave:
            await ctx.engine.publish_join(channel, client.info(channel))
    except BaseException as exc:
        if isinstance(exc, EngineError):
            ctx.metrics.engine_errors.inc()
        await leave(ctx, client, channel, quiet=True)
        raise
    if ctx.events.on:
        ctx.events.record("subscribe", channel, client.user, client.id)


async def leave(ctx: Context, client: Client, channel: str, quiet: bool = False) -> None:
    """Unsubscribe ``client`` from ``channel`` if it holds it: hub first (so
    the leaver gets no leave of its own), then presence and the leave push.

    ``quiet``: undoing a failed join; engine errors are logged, not raised."""
    sub = client.channels.get(channel)
    if sub is None:
        return
    info = client.info(channel)
    del client.channels[channel]
    if ctx.status.on:
        ctx.status.unsubscribed(client, channel)
    if ctx.events.on and not quiet:
        ctx.events.record("unsubscribe", channel, client.user, client.id)
    try:
        options: ChannelOptions | None = sub.override.options(ctx.rules.options(channel))
    except ProtocolError:  # the namespace went away in a reload
        options = None
    try:
        await ctx.hub.unsubscribe(channel, client, history_options(options) if options else None)
        if options is not None and options.presence:
            await ctx.engine.remove_presence(channel, client.id)
        if options is not None and options.join_leave and not quiet:
            await ctx.engine.publish_leave(channel, info)
    except EngineError:
        ctx.metrics.engine_errors.inc()
        if not quiet:
            raise
        logger.warning("engine failed while undoing a subscription to %r", channel)


def check_subscribe(ctx: Context, client: Client, channel: str, permissions: bool = True) -> ChannelOptions:
    """The checks of §4.3 steps 1-7, in order; the channel's options.
    Without ``permissions`` the user-limited and anonymous checks are the
    caller's (protocol v2's permission rules)."""
    if not channel:
        raise Disconnect(INVALID_MESSAGE)
    rules = ctx.rules
    if rules.too_long(channel):
        raise ProtocolError(LIMIT_EXCEEDED, ADVICE_FIX)
    held = client.channels.get(channel)
    limit = ctx.options.client_channel_limit
    if held is None and limit > 0 and len(client.channels) >= limit:
        raise ProtocolError(LIMIT_EXCEEDED, ADVICE_FIX)
    if held is not None and not held.server_side:
        raise ProtocolError(ALREADY_SUBSCRIBED, ADVICE_FIX)
    if not rules.client_allowed(channel, client.id) or permissions and not rules.user_allowed(channel, client.user):
        raise denied()
    options = rules.options(channel)
    if options.server_side and held is None:
        raise denied()  # Centrifugo 2.x: only the server subscribes (an API subscription is adopted)
    if permissions and not options.anonymous and not client.user and not ctx.options.insecure:
        raise denied()
    return options


def check_protected(ctx: Context, client: Client, channel: str, options: ChannelOptions) -> None:
    """Centrifugo 3.x's ``protected``: a subscribe with neither a token nor
    the subscribe proxy deciding is for the user-limited channels naming
    the client's user only (the caller checked the rest)."""
    if options.protected and not (client.user and ctx.options.user_channel_boundary in channel
                                  and ctx.rules.user_allowed(channel, client.user)):
        raise denied()


def check_client_query(options: ChannelOptions, presence: bool) -> None:
    """Centrifugo 2.x's ``presence_disable_for_client`` and
    ``history_disable_for_client``: a client's presence (``presence``) or
    history is not available, the server API's still is (recovery reads
    history on its own path)."""
    if options.presence_disable_for_client if presence else options.history_disable_for_client:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)


async def subscribe(ctx: Context, holds: Holds, client: Client, channel: str, options: ChannelOptions,
                    channel_info: str = "", recover: bool = False, last: str = "") -> Recovery:
    """A checked subscribe (:func:`check_subscribe`, then the dialect's own
    checks): registration, then recovery (§8).  A recovering subscribe holds
    the channel's live pushes back until the client's reply is out."""
    return await subscribe_then(
        ctx, holds, client, channel, channel_info, options.recover and recover,
        lambda: recovery(ctx, channel, options, recover, last),
        lambda result: {m.uid for m in result.messages or ()},
    )


async def subscribe_then(ctx: Context, holds: Holds, client: Client, channel: str, channel_info: str,
                         hold: bool, read: Callable[[], Awaitable[T]], recovered: Callable[[T], set[str]],
                         server_side: bool = False, override: Override = NO_OVERRIDE,
                         push_join_leave: bool = True) -> T:
    """Registration (or adopting the API's subscription), then ``read()``
    (what the reply tells of the stream).  With ``hold``, the channel's live
    pushes to the client wait until its reply is out, and then those whose
    uid is in ``recovered(result)`` are dropped (the reply carried them):
    nothing twice, nothing out of order.  Both dialects' subscribes, and
    protocol v2's server-side ones (``server_side``); ``override`` and
    ``push_join_leave`` as :func:`join` takes them."""
    existing = client.channels.get(channel)
    holding = existing is None and hold
    if holding:  # live pushes wait until the reply (with the recovered ones) is out
        holds.hold(channel, client)
    try:
        if existing is not None:  # made by the API subscribe: adopt it
            existing.server_side = False
            existing.channel_info = channel_info or existing.channel_info
        else:
            try:
                await join(ctx, client, channel, channel_info, server_side, override, push_join_leave)
            except EngineError:
                raise Disconnect(INTERNAL_SERVER_ERROR, reconnect=True) from None
        ctx.metrics.num_subscribe.inc()
        result = await read()
    except BaseException:
        if holding:
            holds.release(channel, client, set())
        raise
    if holding:
        uids = recovered(result)
        client.after_reply(lambda: holds.release(channel, client, uids))
    return result


async def recovery(ctx: Context, channel: str, options: ChannelOptions, recover: bool = False,
                   last: str = "") -> Recovery:
    """What a successful subscribe recovers, per §8."""
    if not options.recover:
        return Recovery()
    engine = ctx.engine
    if not recover:
        try:
            newest = (await engine.history(channel, limit=1, reverse=True)).publications
        except EngineError:
            newest = []
        return Recovery(newest[0].uid if newest else "")
    try:
        messages = (await engine.history(channel, reverse=True)).publications
    except EngineError:
        return Recovery("", [], False)
    missed, found = messages, False
    if last:
        for index, message in enumerate(messages):
            if message.uid == last:
                missed, found = messages[:index], True
                break
    return Recovery(messages[0].uid if messages else "", missed, found)


async def unsubscribe(ctx: Context, client: Client, channel: str) -> None:
    """§4.4: a success whether or not the channel was held."""
    if not channel:
        raise Disconnect(INVALID_MESSAGE)
    ctx.rules.options(channel)  # namespace not found
    try:
        await leave(ctx, client, channel)
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR) from None


async def presence(ctx: Context, channel: str) -> dict[str, ClientInfo]:
    """``{client id: ClientInfo}`` of a channel."""
    if not channel:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if not ctx.rules.options(channel).presence:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)
    try:
        return await ctx.engine.presence(channel)
    except EngineError:
        ctx.metrics.engine_errors.inc()
        raise


async def history(ctx: Context, channel: str) -> list[Message]:
    """The channel's messages, newest first."""
    if not channel:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if not history_options(ctx.rules.options(channel)).enabled:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)
    try:
        return (await ctx.engine.history(channel, reverse=True)).publications
    except EngineError:
        ctx.metrics.engine_errors.inc()
        raise
