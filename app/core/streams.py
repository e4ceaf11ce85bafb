"""Stream positions: history by position and recovery by position
(docs/protocol-v2.md §3.5 history, §7), for the dialects that speak
offsets and epochs (protocol v2 and v1) and for a node filling its own gaps.
The 1.x dialect keeps its uid-based recovery (app.core.subscriptions).

* :func:`position`: a channel's current position (a subscribe reply's
  ``offset``/``epoch``);
* :func:`recover_since`: what a subscriber that saw up to a position missed,
  and whether that is all of it;
* :func:`read_history`: the history command (``limit``, ``since``,
  ``reverse``) with its checks;
* :func:`subscribe`: a checked subscribe that replies with the position
  and, asked to, recovers from a position, holding live pushes back so that
  nothing arrives twice or out of order.

Choices, documented here:

* positions exist only where history is kept (``history_size`` and
  ``history_lifetime`` both set), as in Centrifugo: elsewhere a channel's
  position is (0, "") and publications carry offset 0;
* reading a position starts the channel's stream (a new epoch at offset 0,
  living ``history_lifetime``) when it has none, so a subscriber that read
  it before the first publish holds the epoch later publications carry;
* recovery needs the epoch to be the stream's: unlike Centrifugo an empty
  epoch is not accepted as "any" (every position this server gives out has
  one, and offsets of another epoch would be taken for this one's);
* a recovery reads at most ``history_size`` publications: the stream holds
  no more.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.core.client import Client
from app.core.context import Context
from app.core.engine import Engine, EngineError, HistoryOptions
from app.core.errors import ADVICE_FIX, INVALID_MESSAGE, NOT_AVAILABLE, UNRECOVERABLE_POSITION, ProtocolError
from app.core.subscriptions import Holds, history_options, subscribe_then
from app.core.values import NO_POSITION, HistoryPage, Message, StreamPosition
from app.options import ChannelOptions


@dataclass(frozen=True, slots=True)
class StreamRecovery:
    """What a recovery from a position found: the missed publications,
    oldest first (empty unless ``recovered``), the stream's current
    ``position``, and whether every publication after the asked offset was
    still there (§7)."""

    publications: list[Message]
    position: StreamPosition
    recovered: bool


def is_recovered(since: StreamPosition, top: StreamPosition, publications: list[Message]) -> bool:
    """§7: same epoch, and either nothing published since (the top is
    still ``since``) or the publications run without a gap from the one
    after ``since`` to the top."""
    if since.epoch != top.epoch:
        return False
    if not publications:
        return top.offset == since.offset
    return publications[0].offset == since.offset + 1 and publications[-1].offset == top.offset


async def position(engine: Engine, channel: str, history: HistoryOptions) -> StreamPosition:
    """The channel's current position (NO_POSITION without history)."""
    if not history.enabled:
        return NO_POSITION
    return (await engine.history(channel, limit=0, lifetime=history.lifetime)).position


async def recover_since(engine: Engine, channel: str, since: StreamPosition,
                        history: HistoryOptions) -> StreamRecovery:
    """What was published in ``channel`` after ``since``, read with the
    stream's position in one step, and whether it is everything: false when
    the epoch changed (the stream expired or Redis lost it) or publications
    after ``since.offset`` were trimmed.  Raises EngineError."""
    if not history.enabled:
        return StreamRecovery([], NO_POSITION, False)
    page = await engine.history(channel, limit=history.size, since=since, lifetime=history.lifetime)
    recovered = is_recovered(since, page.position, page.publications)
    return StreamRecovery(page.publications if recovered else [], page.position, recovered)


async def read_history(ctx: Context, channel: str, limit: int = -1, since: StreamPosition | None = None,
                       reverse: bool = False) -> HistoryPage:
    """The history command: ``limit`` -1 all, 0 the position alone, N at
    most N; oldest first or, with ``reverse``, newest first; after (before,
    reversed) ``since.offset``.  A ``since`` of another epoch than the
    stream's is UNRECOVERABLE_POSITION (its offsets mean nothing here); no
    history in the channel is NOT_AVAILABLE.  EngineError is passed on."""
    if not channel:
        raise ProtocolError(INVALID_MESSAGE, ADVICE_FIX)
    history = history_options(ctx.rules.options(channel))
    if not history.enabled:
        raise ProtocolError(NOT_AVAILABLE, ADVICE_FIX)
    try:
        page = await ctx.engine.history(channel, limit, since, reverse, history.lifetime)
    except EngineError:
        ctx.metrics.engine_errors.inc()
        raise
    if since is not None and since.epoch and since.epoch != page.position.epoch:
        raise ProtocolError(UNRECOVERABLE_POSITION, ADVICE_FIX)
    return page


async def subscribe(ctx: Context, holds: Holds, client: Client, channel: str, options: ChannelOptions,
                    channel_info: str = "", since: StreamPosition | None = None) -> StreamRecovery:
    """A checked subscribe (app.core.subscriptions.check_subscribe, then the
    dialect's own checks) that replies with positions: registration, then
    the channel's position, or with ``since`` (the client asked to recover)
    the recovery from it.  Live pushes of a recovering subscribe wait until
    the reply is out, without those it recovered.  An engine failure while
    reading leaves the subscription made and answers "not recovered" at
    (0, ""), as the 1.x recovery does."""
    history = history_options(options)

    async def read() -> StreamRecovery:
        try:
            if since is not None:
                return await recover_since(ctx.engine, channel, since, history)
            return StreamRecovery([], await position(ctx.engine, channel, history), False)
        except EngineError:
            ctx.metrics.engine_errors.inc()
            return StreamRecovery([], NO_POSITION, False)

    return await subscribe_then(
        ctx, holds, client, channel, channel_info, since is not None and history.enabled, read,
        lambda result: {m.uid for m in result.publications},
    )
