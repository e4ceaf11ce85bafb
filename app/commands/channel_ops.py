"""Channel operations shared by client commands, the API and control messages.

* :func:`join` / :func:`leave`: a client takes or drops a channel (hub and
  engine registration, presence, join/leave pushes), undoing its own partial
  work when the engine fails;
* :class:`Publisher`: THE publish path: one message to the engine
  (history options of its channel) and, for ``watch`` channels, to the
  admin watchers; done when the call returns on an
  :class:`~app.core.engine.ImmediateEngine`, else an awaitable;
* :func:`presence_data` / :func:`history_data`: the JSON ``data`` of the
  presence and history replies; ProtocolError with the advice the HTTP API
  gives (client commands re-advise), EngineError passed on (the client says
  ``internal server error``, the API answers 503).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Awaitable

from app.core.engine import Engine, EngineError, HistoryOptions, ImmediateEngine
from app.core.metrics import Metrics
from app.core.values import Message
from app.options import ChannelOptions
from app.core.errors import ADVICE_FIX, INVALID_MESSAGE, NOT_AVAILABLE, ProtocolError
from app.protocol import dumps

if TYPE_CHECKING:
    from app.client import Client
    from app.node import Node

logger = logging.getLogger("sockhub.commands")


#: What every channel without history gets: no new object per publish.
_NO_HISTORY = HistoryOptions()


def history_options(options: ChannelOptions) -> HistoryOptions:
    if options.history_size <= 0 or options.history_lifetime <= 0:
        return _NO_HISTORY  # not enabled: engines keep nothing, touch nothing
    return HistoryOptions(options.history_size, options.history_lifetime, options.history_drop_inactive)


async def join(client: "Client", channel: str, channel_info: str = "", server_side: bool = False) -> None:
    """Subscribe ``client`` to ``channel`` (options already checked).

    The client holds the channel before the first await, so a close that
    happens meanwhile unsubscribes it too.  Raises EngineError after undoing."""
    from app.client import Subscription

    node = client.node
    options = node.rules.options(channel)
    client.channels[channel] = Subscription(channel_info, server_side)
    try:
        await node.hub.subscribe(channel, client)
    except BaseException as exc:
        client.channels.pop(channel, None)
        if isinstance(exc, EngineError):
            node.metrics.engine_errors.inc()
        raise
    if client.closing or channel not in client.channels:
        return  # closed meanwhile: the cleanup is unsubscribing it
    try:
        if options.presence:
            await node.engine.add_presence(channel, client.id, client.info(channel),
                                           node.options.presence_expire_interval)
        if options.join_leave:
            await node.engine.publish_join(channel, client.info(channel))
    except BaseException as exc:
        if isinstance(exc, EngineError):
            node.metrics.engine_errors.inc()
        await leave(client, channel, quiet=True)
        raise


async def leave(client: "Client", channel: str, quiet: bool = False) -> None:
    """Unsubscribe ``client`` from ``channel`` if it holds it: hub first (so
    the leaver gets no leave of its own), then presence and the leave push.

    ``quiet``: undoing a failed join; engine errors are logged, not raised."""
    sub = client.channels.get(channel)
    if sub is None:
        return
    node = client.node
    info = client.info(channel)
    del client.channels[channel]
    try:
        options: ChannelOptions | None = node.rules.options(channel)
    except ProtocolError:  # the namespace went away in a reload
        options = None
    try:
        await node.hub.unsubscribe(channel, client, history_options(options) if options else None)
        if options is not None and options.presence:
            await node.engine.remove_presence(channel, client.id)
        if options is not None and options.join_leave and not quiet:
            await node.engine.publish_leave(channel, info)
    except EngineError:
        node.metrics.engine_errors.inc()
        if not quiet:
            raise
        logger.warning("engine failed while undoing a subscription to %r", channel)


class Publisher:
    """The one path of every publication (client, API, broadcast).

    Whether the engine publishes without awaiting
    (:class:`~app.core.engine.ImmediateEngine`) is decided once, here, when
    the publisher is made; :meth:`publish` branches on that answer."""

    __slots__ = ("_engine", "_now", "_metrics")

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self._engine = engine
        self._now = engine if isinstance(engine, ImmediateEngine) else None
        self._metrics = metrics

    def publish(self, message: Message, options: ChannelOptions) -> Awaitable[None] | None:
        """Publish ``message`` (history options and ``watch`` of its channel):
        done when it returns None, else the awaitable that does it.  Raises
        (or the awaitable raises) EngineError."""
        now = self._now
        if now is None:
            return self._publish_later(message, options)
        try:
            now.publish_message_now(message, history_options(options))
            self._metrics.tally.published += 1
            if options.watch:
                now.publish_admin_now(message.to_json().encode())
        except EngineError:
            self._metrics.engine_errors.inc()
            raise
        return None

    async def _publish_later(self, message: Message, options: ChannelOptions) -> None:
        try:
            await self._engine.publish_message(message, history_options(options))
            self._metrics.tally.published += 1
            if options.watch:
                await self._engine.publish_admin(message.to_json().encode())
        except EngineError:
            self._metrics.engine_errors.inc()
            raise


async def presence_data(node: "Node", channel: str) -> str:
    """``{"<client id>": ClientInfo, ...}`` of a channel, as JSON text."""
    if not channel:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if not node.rules.options(channel).presence:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)
    try:
        entries = await node.engine.presence(channel)
    except EngineError:
        node.metrics.engine_errors.inc()
        raise
    return "{" + ",".join(dumps(uid) + ":" + info.to_json() for uid, info in entries.items()) + "}"


async def history_data(node: "Node", channel: str) -> str:
    """The channel's messages, newest first, as a JSON array text."""
    if not channel:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if not history_options(node.rules.options(channel)).enabled:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)
    try:
        messages = await node.engine.history(channel)
    except EngineError:
        node.metrics.engine_errors.inc()
        raise
    return messages_json(messages)


def messages_json(messages: list[Message]) -> str:
    return "[" + ",".join(m.to_json() for m in messages) + "]"
