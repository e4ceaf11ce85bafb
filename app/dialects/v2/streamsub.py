"""One protocol v2 subscription with its stream position (docs/protocol-v2.md
§3.3, §7): registration through the core (app.core.subscriptions), then what
the reply tells of the stream (epoch, offset, recovered publications).
Client-side subscribes and the server-side ones of connect (the token's
``subs``/``channels``, recovered with the client's ``connect.subs``) both
come here.

* a subscription is ``recoverable`` (and ``positioned``) when its channel
  keeps history and has ``recover`` on (Centrifugo's ``force_recovery``),
  ``positioned`` alone when the client asks for it (or an override's
  ``force_positioning``) in a channel with history;
* the join and leave pushes come to a subscription that asked for them
  (``join_leave``) or whose override forces them (§4: to subscriptions that
  asked for ``join_leave``); an override may also change the
  channel's ``presence``, ``join_leave`` and ``recover`` for it;
* a recover request (``recover`` with ``offset``/``epoch``) is answered
  per §7: the recovered publications in the reply, its offset the
  request's; ``recovered`` false with the current position otherwise;
* publications that arrive while the subscription is being made wait
  until the reply is out, and those the reply recovered are not sent again.
"""
from __future__ import annotations

from app.core import streams, subscriptions
from app.core.client import Client
from app.core.engine import EngineError
from app.core.overrides import NO_OVERRIDE, Override
from app.core.subscriptions import history_options
from app.core.values import NO_POSITION, StreamPosition
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.context import V2Context
from app.dialects.v2.convert import publication
from app.options import ChannelOptions


def pushes_join_leave(p: pb.SubscribeRequest, override: Override) -> bool:
    """Whether a subscription receives the channel's join and leave: when
    the client asked (``join_leave``) unless an override says no, or when
    an override forces it (``force_push_join_leave``)."""
    forced = override.push_join_leave
    return p.join_leave if forced is None else forced


async def subscribe(ctx: V2Context, client: Client, channel: str, options: ChannelOptions, info: str,
                    p: pb.SubscribeRequest, server_side: bool = False,
                    override: Override = NO_OVERRIDE) -> pb.SubscribeResult:
    """Subscribe ``client`` (checks done) and the result of §1.4; ``p``
    holds what the client asked (``positioned``, ``recover``...),
    ``override`` what the token or the backend changes of the channel's
    options (app.core.overrides)."""
    options = override.options(options)
    history = history_options(options)
    recoverable = history.enabled and options.recover
    positioned = recoverable or (history.enabled and (p.positioned or p.recoverable or bool(override.positioning)))
    since = StreamPosition(p.offset, p.epoch) if p.recover and recoverable else None

    async def read() -> streams.StreamRecovery:
        if not positioned:
            return streams.StreamRecovery([], NO_POSITION, False)
        try:
            if since is not None:
                return await streams.recover_since(ctx.engine, channel, since, history)
            return streams.StreamRecovery([], await streams.position(ctx.engine, channel, history), False)
        except EngineError:
            ctx.metrics.engine_errors.inc()
            return streams.StreamRecovery([], NO_POSITION, False)

    found = await subscriptions.subscribe_then(ctx, ctx.fanout, client, channel, info, True, read,
                                               lambda r: {m.uid for m in r.publications}, server_side,
                                               override, pushes_join_leave(p, override))
    result = pb.SubscribeResult(recoverable=recoverable, positioned=positioned, was_recovering=p.recover)
    if positioned:
        result.epoch = found.position.epoch
        result.offset = found.position.offset
    if found.recovered and since is not None:
        result.recovered = True
        result.offset = since.offset  # §7: the client advances through the publications
        result.publications.extend(publication(m) for m in found.publications)
    return result
