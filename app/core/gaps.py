"""Gap fill: messages the engine lost come back from history, not through a
reconnect storm.

When the engine's subscription connection failed and is back (Redis
PUB/SUB reconnected), messages published meanwhile did not reach this node
(:meth:`~app.core.engine.EngineHandler.handle_lost`).  For each such channel
with local subscribers:

* the node knows the newest position it delivered there
  (:attr:`app.core.fanout.Fanout.positions`: the last publication with an
  offset, or the position read when the channel's first local subscriber
  came, see :meth:`GapFill.first_subscriber`);
* live messages of the channel are held back (``Fanout.filling``) from the
  moment the loss is reported, which is before anything is read from the
  new connection;
* the publications after that position are read from history and, when
  they run without a gap to the stream's top in the same epoch, delivered in
  order to the local subscribers, then the held-back live ones but those
  the fill already delivered (same epoch, offset not past the newest
  delivered): every message once, in order, no client closed;
* the PUB/SUB copy of a publication the fill read may arrive after the
  read's reply (two connections): until a newer live message comes, one at
  or before the newest the fill delivered is dropped (``Fanout.settling``);
* when history cannot cover the gap (no history, no position known,
  trimmed, expired, epoch changed: Redis came back empty, or Redis does not
  answer for :data:`_ATTEMPTS` tries), the local subscribers of a channel
  with ``recover`` are closed with ``insufficient state`` and reconnect
  advice, each at a random moment within ``insufficient_state_jitter``
  seconds (their pushes of the channel held back until then, so they
  recover from their own last position), so they do not all come back in
  the same second; subscribers of other channels keep their connection and
  get the live messages from there on (they could not recover anyway).

Bounds: live messages are held back only while the fill reads history (at
most :data:`_ATTEMPTS` reads, about 3 s when Redis does not answer); a fill
that held more than :data:`_MAX_HELD` of them gives up as for an uncovered
gap; the positions table holds channels with local subscribers (others are
pruned on the node's tick).

A message published in the instant between the first subscribe and the
position read that follows it may be taken as delivered: the fill then
starts after it (a gap before the channel's first live message).
"""
from __future__ import annotations

import asyncio
import logging
import random

from app.core.client import Client
from app.core.context import Context
from app.core.engine import EngineError, HistoryOptions
from app.core.errors import INSUFFICIENT_STATE, Disconnect, ProtocolError
from app.core.fanout import Fanout
from app.core.streams import is_recovered, position
from app.core.subscriptions import history_options
from app.core.values import HistoryPage, Message, StreamPosition

logger = logging.getLogger("sockhub.gaps")

#: History reads tried per fill before the gap counts as uncovered, with a
#: pause doubling from _FIRST_PAUSE between them (about 3 s in all).
_ATTEMPTS = 5
_FIRST_PAUSE = 0.2
#: Live messages held back per channel while its gap is filled.
_MAX_HELD = 10000


def covers(since: StreamPosition, page: HistoryPage) -> bool:
    """Whether ``page`` (read after ``since.offset``) holds every publication
    after ``since``.  An empty ``since`` epoch was noted before the stream
    started: any epoch is then the one that started after it."""
    if not since.epoch:
        since = StreamPosition(since.offset, page.position.epoch)
    return bool(page.position.epoch) and is_recovered(since, page.position, page.publications)


class GapFill:
    """The node's gap fill; see the module docstring."""

    def __init__(self, ctx: Context, fanout: Fanout, track: bool) -> None:
        self._ctx = ctx
        self._fanout = fanout
        self._track = track  # False for an engine that never loses messages
        self._again: set[str] = set()  # lost again while being filled
        #: Totals since start (logs and tests): messages filled, clients closed.
        self.filled = 0
        self.closed = 0

    # -- positions -----------------------------------------------------------------

    def first_subscriber(self, channel: str) -> None:
        """The channel has its first local subscriber: read where its stream
        stands, so a gap before its first live message can be filled too."""
        if not self._track:
            return
        try:
            history = history_options(self._ctx.rules.options(channel))
        except ProtocolError:
            return
        if history.enabled:
            self._ctx.spawn(self._note_start(channel, history), "stream position read")

    async def _note_start(self, channel: str, history: HistoryOptions) -> None:
        try:
            found = await position(self._ctx.engine, channel, history)
        except EngineError:
            return  # no position known: a gap is then uncovered
        if self._ctx.hub.has_channel(channel):
            self._fanout.positions.setdefault(channel, found)

    def prune(self) -> None:
        """Forget the positions of channels without local subscribers."""
        positions = self._fanout.positions
        hub = self._ctx.hub
        if len(positions) > hub.num_channels:
            for channel in [ch for ch in positions if not hub.has_channel(ch)]:
                del positions[channel]
        settling = self._fanout.settling
        if len(settling) > hub.num_channels:
            for channel in [ch for ch in settling if not hub.has_channel(ch)]:
                del settling[channel]

    # -- lost messages ---------------------------------------------------------------

    def lost(self, channels: list[str]) -> None:
        """The engine lost messages of ``channels``: fill each gap from
        history, or close the recover subscribers where nothing can (see the
        module docstring).  Called before any message of the restored
        subscription is delivered."""
        uncovered: list[str] = []
        filling = self._fanout.filling
        for channel in channels:
            if not self._ctx.hub.has_channel(channel):
                self._fanout.positions.pop(channel, None)
                continue
            if channel in filling:
                self._again.add(channel)
                continue
            self._fanout.settling.pop(channel, None)
            try:
                options = self._ctx.rules.options(channel)
            except ProtocolError:  # its namespace went away in a reload
                continue
            history = history_options(options)
            if history.enabled and channel in self._fanout.positions:
                filling[channel] = []
                self._ctx.spawn(self._fill(channel, history, options.recover), "gap fill")
            elif options.recover:
                uncovered.append(channel)
        if uncovered:
            self._close_spread(uncovered, "no stream position")

    async def _fill(self, channel: str, history: HistoryOptions, recover: bool) -> None:
        filled, why, top = 0, "", StreamPosition(0, "")
        try:
            while not why:
                self._again.discard(channel)
                since = self._fanout.positions.get(channel)
                if since is None:
                    why = "no stream position"
                    break
                page, why = await self._read(channel, StreamPosition(since.offset, since.epoch), history)
                top = page.position
                for message in page.publications if not why else ():
                    self._fanout.deliver(message)
                filled += 0 if why else len(page.publications)
                if len(self._fanout.filling.get(channel, ())) > _MAX_HELD:
                    why = f"more than {_MAX_HELD} live messages held back"
                if channel not in self._again:
                    break
        finally:
            self._again.discard(channel)
            held = self._fanout.filling.pop(channel, [])
        self.filled += filled
        if why:
            logger.warning("gap in %s not filled (%s)", channel, why)
            if recover:
                self._close_spread([channel], why)
        elif filled:
            logger.info("gap in %s filled from history: %d messages", channel, filled)
        self._release(channel, held)
        if why and top.epoch and not held and self._ctx.hub.has_channel(channel):
            self._fanout.positions[channel] = top  # the next gap is counted from here
        newest = self._fanout.positions.get(channel)
        if filled and newest is not None:  # PUB/SUB copies of what the fill read may still come
            self._fanout.settling[channel] = newest

    async def _read(self, channel: str, since: StreamPosition, history: HistoryOptions) -> tuple[HistoryPage, str]:
        """The publications after ``since`` and "" when they are all there;
        else why not."""
        pause, cause = _FIRST_PAUSE, ""
        for _ in range(_ATTEMPTS):
            try:
                page = await self._ctx.engine.history(channel, limit=history.size, since=since,
                                                      lifetime=history.lifetime)
            except EngineError as exc:
                cause = str(exc) or type(exc).__name__
                await asyncio.sleep(pause)
                pause *= 2
                continue
            if covers(since, page):
                return page, ""
            return page, (f"history from {since.offset}/{since.epoch or '-'} to "
                          f"{page.position.offset}/{page.position.epoch or '-'} incomplete")
        return HistoryPage([], since), f"history unreadable: {cause}"

    def _release(self, channel: str, held: list[Message]) -> None:
        """The live messages held back during the fill, but those it delivered."""
        for message in held:
            newest = self._fanout.positions.get(channel)
            if (newest is not None and message.offset and message.epoch == newest.epoch
                    and message.offset <= newest.offset):
                continue
            self._fanout.deliver(message)

    # -- closing what cannot be filled -----------------------------------------------

    def _close_spread(self, channels: list[str], why: str) -> None:
        """Close the local subscribers of ``channels`` with ``insufficient
        state`` and reconnect advice, each at a random moment within
        ``insufficient_state_jitter``; their pushes of those channels are
        held back until then."""
        victims: set[Client] = set()
        for channel in channels:
            for client in self._ctx.hub.channel_clients(channel):
                if client.closing:
                    continue
                victims.add(client)
                if not self._fanout.holds(channel, client):  # not already held by its own subscribe
                    self._fanout.hold(channel, client)
        if not victims:
            return
        window = max(self._ctx.options.insufficient_state_jitter, 0.0)
        logger.warning("messages of %d channels lost and not in history (%s): closing %d clients "
                       "over %.1f s so they recover", len(channels), why, len(victims), window)
        self.closed += len(victims)
        loop = asyncio.get_running_loop()
        for client in victims:
            loop.call_later(random.uniform(0, window), _close, client)


def _close(client: Client) -> None:
    client.disconnect(Disconnect(INSUFFICIENT_STATE, reconnect=True))
