"""Fan-out: every message, join and leave the engine delivers, to the local
subscribers of its channel.

* The push is encoded ONCE per dialect that has a subscriber in the channel
  into one :class:`~transports.frames.Prepared` shared by those sessions
  (which encode it once per transport format); nothing here awaits a peer;
* each send is followed by that client's queue-bound check (``slow``):
  only the receiving client's own state decides it, so a ``slow`` close
  never affects the sends to the others;
* a client whose subscribe is recovering has its pushes of that channel held
  back (:meth:`Fanout.hold`) until the subscribe reply is out
  (:meth:`Fanout.release`), without those the reply recovered;
* it remembers, per channel with local subscribers, the newest publication
  with a stream position it delivered (:attr:`Fanout.positions`), and holds
  back every message of a channel in :attr:`Fanout.filling` (the engine lost
  messages of it and app.core.gaps is filling the gap from history) until
  the fill delivers them after the missed ones.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

from app.core.client import Client, ClientDialect, Push
from app.core.context import Context
from app.core.values import ClientInfo, Message, StreamPosition
from transports.frames import Prepared

logger = logging.getLogger("sockhub.fanout")

#: A push of one kind, as each dialect writes it: ``encode(dialect, channel, payload)``.
Encode = Callable[[ClientDialect, str, Any], Push]


def _message(dialect: ClientDialect, channel: str, message: Any) -> Push:
    return dialect.message(message)


def _join(dialect: ClientDialect, channel: str, info: Any) -> Push:
    return dialect.join(channel, info)


def _leave(dialect: ClientDialect, channel: str, info: Any) -> Push:
    return dialect.leave(channel, info)


class DialectsInUse(Protocol):
    """Which dialects the subscribed clients speak (app.core.clients.ClientRegistry)."""

    @property
    def only_dialect(self) -> ClientDialect | None:
        """The one every subscribed client speaks; None when they speak several."""
        ...


class Fanout:
    """Deliveries of one node; see the module docstring."""

    def __init__(self, ctx: Context, dialects: DialectsInUse) -> None:
        self._ctx = ctx
        self._dialects = dialects
        self._hub = ctx.hub  # the node's for its whole life, unlike its options
        self._metrics = ctx.metrics
        #: channel -> client -> pushes held back while its subscribe recovers (see hold()).
        self._held: dict[str, dict[Client, list[tuple[str, Prepared]]]] = {}
        #: channel -> the newest publication with a position delivered to its
        #: local subscribers (or the position read when the first one came).
        self.positions: dict[str, Message | StreamPosition] = {}
        #: channel -> live messages held back while app.core.gaps fills a gap.
        self.filling: dict[str, list[Message]] = {}
        #: channel -> the newest position a finished fill delivered: a live
        #: message at or before it is one the fill took from history (its
        #: PUB/SUB copy arrived after the history read's reply), dropped,
        #: until a newer one arrives.
        self.settling: dict[str, Message | StreamPosition] = {}

    def message(self, message: Message) -> None:
        """The ``message`` push to every local subscriber (see :meth:`_deliver`),
        or held back in :attr:`filling` while the channel's gap is filled."""
        self._metrics.tally.received += 1
        channel = message.channel
        if (self.filling or self.settling) and self._around_gap(message):
            return
        clients = self._hub.channel_clients(channel)
        if clients:
            if message.offset:
                self.positions[channel] = message
            self._deliver(channel, clients, _message, message, "", message.uid)

    def _around_gap(self, message: Message) -> bool:
        """Whether a live message is taken by a gap fill: held back while
        the channel is filled, or dropped as one the fill delivered."""
        channel = message.channel
        waiting = self.filling.get(channel)
        if waiting is not None:
            waiting.append(message)
            return True
        done = self.settling.get(channel)
        if done is None:
            return False
        if message.offset and message.epoch == done.epoch and message.offset <= done.offset:
            return True
        del self.settling[channel]  # a newer one: the fill's copies have all come
        return False

    def deliver(self, message: Message) -> None:
        """A message the gap fill took from history or from :attr:`filling`:
        delivered as a live one, past the filling check."""
        channel = message.channel
        clients = self._hub.channel_clients(channel)
        if clients:
            if message.offset:
                self.positions[channel] = message
            self._deliver(channel, clients, _message, message, "", message.uid)

    def join(self, channel: str, info: ClientInfo) -> None:
        """Every local subscriber but the joiner itself (1.8 sent the joiner
        its own join, even before its subscribe reply)."""
        self._metrics.join_leave.inc()
        self._fan_out(channel, _join, info)

    def leave(self, channel: str, info: ClientInfo) -> None:
        self._metrics.join_leave.inc()
        self._fan_out(channel, _leave, info)

    def _fan_out(self, channel: str, encode: Encode, info: ClientInfo) -> None:
        """Join or leave: every subscriber but the client itself, of those
        whose subscription takes them (``push_join_leave``)."""
        clients = tuple(c for c in self._hub.channel_clients(channel)
                        if (sub := c.channels.get(channel)) is None or sub.push_join_leave)
        if clients:
            self._deliver(channel, clients, encode, info, info.client, "")

    def _deliver(self, channel: str, clients: tuple[Client, ...], encode: Encode, payload: Any, skip: str,
                 uid: str) -> None:
        """The push ``encode(dialect, channel, payload)`` writes to each of ``clients`` (a snapshot of
        the channel's, in the hub's order) but client id ``skip``; held back
        for those in :meth:`hold`; each client's queue bound is checked right
        after its own send.

        The loop binds per publication what every delivery reads (the
        bound, the held table); a dialect's push is encoded once: before the
        loop when every client speaks one dialect (no check per client),
        else when the dialect's first subscriber comes; metrics are tallied
        once per publication."""
        held = self._held.get(channel) if self._held else None
        limit = self._ctx.options.client_queue_max_size
        only = dialect = self._dialects.only_dialect
        prepared: Prepared  # set now for the only dialect, else at the first client
        others: dict[ClientDialect, Prepared] | None = None  # from a second dialect on
        size = sent = counted = out = 0
        if only is not None:  # one push, and no comparison per client
            prepared = Prepared.of(encode(only, channel, payload))
            size = len(prepared)
        for client in clients:
            if client.closing or (skip and client.id == skip):
                continue
            if only is None and client.dialect is not dialect:
                if dialect is None:
                    prepared = Prepared.of(encode(client.dialect, channel, payload))
                else:
                    out += (sent - counted) * size  # the bytes of the last dialect's sends
                    counted = sent
                    if others is None:
                        others = {dialect: prepared}
                    found = others.get(client.dialect)
                    if found is None:
                        found = others[client.dialect] = Prepared.of(encode(client.dialect, channel, payload))
                    prepared = found
                dialect = client.dialect
                size = len(prepared)
            if held is not None and client in held:
                held[client].append((uid, prepared))
                continue
            session = client.session
            session.send_frame(prepared)
            sent += 1
            if limit > 0 and session.pending_bytes > limit:
                client.close_slow()
        tally = self._metrics.tally
        tally.delivered += sent
        tally.bytes_out += out + (sent - counted) * size

    # -- pushes held back during a recovering subscribe -------------------------------

    def hold(self, channel: str, client: Client) -> None:
        """Keep ``client``'s pushes of ``channel`` back until :meth:`release`.

        A subscribe with recover registers the subscription, then reads the
        history; a message published in between would reach the client live
        BEFORE the subscribe reply that also recovers it (a duplicate, out of
        order).  Held pushes go out after the reply instead, without those
        the reply recovered."""
        self._held.setdefault(channel, {})[client] = []

    def release(self, channel: str, client: Client, recovered: set[str]) -> None:
        """Send what was held for ``client`` in ``channel`` (in arrival order)
        but the messages whose uid is in ``recovered``; stop holding."""
        held = self._held.get(channel)
        pushes = held.pop(client, []) if held is not None else []
        if held is not None and not held:
            del self._held[channel]
        sent = 0
        for uid, prepared in pushes:
            if client.closing:
                return
            if uid and uid in recovered:
                continue
            client.session.send_frame(prepared)
            client.check_queue()
            sent += 1
        self._metrics.tally.delivered += sent

    def release_all(self, client: Client) -> None:
        """A closing client: nothing is held for it any more."""
        for channel in [ch for ch, held in self._held.items() if client in held]:
            self.release(channel, client, set())

    def holds(self, channel: str, client: Client) -> bool:
        held = self._held.get(channel)
        return held is not None and client in held
