"""Publishing: :class:`Publisher`, the one path of every publication
(client, API, broadcast), and :func:`publish_from_client`, the checks of a
client's publish (docs/protocol-1x.md §4.5)."""
from __future__ import annotations

import logging
from typing import Awaitable, Callable

from app.core.client import Client
from app.core.context import Context
from app.core.engine import Engine, EngineError, ImmediateEngine
from app.core.errors import ADVICE_FIX, ADVICE_RETRY, INTERNAL_SERVER_ERROR, INVALID_MESSAGE, ProtocolError
from app.core.events import EventFeed
from app.core.metrics import Metrics
from app.core.subscriptions import denied, history_options
from app.core.values import Message, new_uid
from app.options import ChannelOptions

logger = logging.getLogger("sockhub.publisher")

class Publisher:
    """One message to the engine (the history options of its channel) and,
    for ``watch`` channels, to the admin watchers (as ``watch_body`` encodes
    it: the admin's format, given by whoever composes the node); a
    ``publish`` event for the admin pages while someone watches them (one
    attribute read else).

    Whether the engine publishes without awaiting
    (:class:`~app.core.engine.ImmediateEngine`) is decided once, here, when
    the publisher is made; :meth:`publish` branches on that answer."""

    __slots__ = ("_engine", "_now", "_metrics", "_watch_body", "_events")

    def __init__(self, engine: Engine, metrics: Metrics, watch_body: Callable[[Message], bytes],
                 events: EventFeed) -> None:
        self._engine = engine
        self._now = engine if isinstance(engine, ImmediateEngine) else None
        self._metrics = metrics
        self._watch_body = watch_body
        self._events = events

    def publish(self, message: Message, options: ChannelOptions, idempotency_key: str = "") -> Awaitable[None] | None:
        """Publish ``message`` (history options and ``watch`` of its channel):
        done when it returns None, else the awaitable that does it.  Raises
        (or the awaitable raises) EngineError.  Once done, the message holds
        the stream position the engine gave it (``offset``/``epoch``; 0 and
        "" in a channel without history): what an API's publish result
        reports.  With an ``idempotency_key`` the engine publishes nothing
        when the key was published into the channel within
        ``idempotent_result_ttl`` (the message then holds the first one's
        position; see Engine.publish_message)."""
        now = self._now
        if now is None:
            return self._publish_later(message, options, idempotency_key)
        try:
            if idempotency_key:
                now.publish_message_now(message, history_options(options), idempotency_key)
            else:
                now.publish_message_now(message, history_options(options))
            self._metrics.tally.published += 1
            if options.watch:
                now.publish_admin_now(self._watch_body(message))
        except EngineError:
            self._metrics.engine_errors.inc()
            raise
        if self._events.on:
            self._events.publish(message)
        return None

    async def _publish_later(self, message: Message, options: ChannelOptions, idempotency_key: str = "") -> None:
        try:
            if idempotency_key:
                await self._engine.publish_message(message, history_options(options), idempotency_key)
            else:  # engines wrapped by tests forward two arguments
                await self._engine.publish_message(message, history_options(options))
        except EngineError:
            self._metrics.engine_errors.inc()
            raise
        self._metrics.tally.published += 1
        if options.watch:  # the message is out: a lost copy for the admin watchers is no failure of it
            try:
                await self._engine.publish_admin(self._watch_body(message))
            except EngineError as exc:
                self._metrics.engine_errors.inc()
                logger.warning("watch copy of a publication in %s lost: %s", message.channel, exc)
        if self._events.on:
            self._events.publish(message)


async def publish_from_client(ctx: Context, publisher: Publisher, client: Client, channel: str,
                              data: str | None, allowed: bool = False) -> None:
    """§4.5: only into a held channel, when its ``publish`` option allows
    (or whatever the dialect checked: ``allowed``); ``data`` is raw JSON
    text (None: absent)."""
    if not channel or data is None:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    if channel not in client.channels and not allowed:
        raise denied()
    try:
        options = ctx.rules.options(channel)
    except ProtocolError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None
    if not options.publish and not ctx.options.insecure and not allowed:
        raise denied()
    message = Message(new_uid(), channel, data, client.id, client.info(channel))
    try:
        waiting = publisher.publish(message, options)
        if waiting is not None:
            await waiting
    except EngineError:
        raise ProtocolError(INTERNAL_SERVER_ERROR, ADVICE_RETRY) from None
    ctx.metrics.client_published.inc()
