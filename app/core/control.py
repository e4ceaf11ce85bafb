"""Control messages between nodes, and the per-user operations they carry.

A control message is JSON ``{"uid": <sender node>, "method": .., "params": {..}}``
(opaque bytes to the engine, which delivers it to every node, the sender
included; the sender ignores its own, having acted locally already).

Methods (one dispatch table, :data:`CONTROL`, run by :class:`ControlBus`):

* ``ping`` ``{"info": NodeInfo, "sample": [...]}``: the sender is alive
  (``stats`` lists it); the sample feeds the admin charts (app.core.series);
* ``events_wanted`` ``{}``: admin pages on the sender watch live events, so
  this node records its own for a while (app.core.events);
* ``events`` ``{"node", "name", "dropped", "events"}``: a batch of the
  sender's live events, for the admin pages on this node;
* ``unsubscribe`` ``{"user", "channel", "client"?}``: every connection of
  ``user`` (or only ``client``) on this node leaves ``channel`` ("" = every channel) and gets the
  server-side unsubscribe push of its dialect (1.x: ``unsubscribe``, no uid);
* ``disconnect`` ``{"user", "client"?, "whitelist"?, "reason"?, "reconnect"?}``:
  every connection of ``user`` (or only ``client``; never one in
  ``whitelist``) is closed with ``reason`` and advice, by default
  ``{"reason":"disconnect","reconnect":false}``;
* ``subscribe`` ``{"user", "channel", "client"?, "info"?}`` (beyond 1.x): every
  connection of ``user`` (or only ``client``) joins ``channel`` (with
  ``info``, raw JSON text, as its channel info) and gets its dialect's server-side subscribe
  push (1.x: an unsolicited subscribe reply without uid,
  ``{"method":"subscribe","body":{"channel":..,"status":true,..}}``).
  centrifuge-js 1.5 routes it by ``body.channel``: with no Subscription object
  for that channel it ignores it (message pushes for the channel are ignored
  too, until the page calls ``subscribe``, which this server then answers
  with success, adopting the server-side subscription); a Subscription that
  is "subscribing" is marked subscribed.  Nothing in the client breaks.
* ``emulation`` ``{"node", "session", "data"?, "b64"?}``: an emulation
  request (HTTP streaming, SSE) that reached another node than the one
  holding its stream: the node ``node`` hands the frame (``data``, text, or
  ``b64``, base64 of a binary frame) to its session ``session``; the
  others ignore it.  Delivered by :attr:`ControlBus.emulated` (set by
  whoever serves the emulation endpoint; unset: dropped).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any, Callable, Collection, Coroutine

from app.core import overrides
from app.core.client import Client
from app.core.context import Context
from app.core.engine import EngineError
from app.core.errors import DISCONNECT, Disconnect, ProtocolError
from app.core.overrides import NO_OVERRIDE, Override
from app.core.subscriptions import join, leave, recovery
from transports.strictjson import loads

logger = logging.getLogger("sockhub.control")

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def encode(node_uid: str, method: str, params: dict[str, Any]) -> bytes:
    return _dumps({"uid": node_uid, "method": method, "params": params}).encode()


def decode(data: bytes) -> tuple[str, str, dict[str, Any]]:
    """(sender uid, method, params); ValueError when malformed."""
    value = loads(data)
    if not isinstance(value, dict):
        raise ValueError("control message is not an object")
    uid, method, params = value.get("uid"), value.get("method"), value.get("params") or {}
    if not isinstance(uid, str) or not isinstance(method, str) or not isinstance(params, dict):
        raise ValueError("control message has the wrong shape")
    return uid, method, params


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"control param {key} is not a string")
    return value


def _connections(ctx: Context, user: str, client_id: str = "") -> list[Client]:
    """The local connections of ``user``; only the one with id ``client_id`` when given."""
    clients = ctx.hub.user_clients(user)
    return [c for c in clients if c.id == client_id] if client_id else clients


async def unsubscribe_user(ctx: Context, user: str, channel: str = "", client_id: str = "") -> None:
    """Every local connection of ``user`` (or only ``client_id``) leaves ``channel`` (or all)."""
    for client in _connections(ctx, user, client_id):
        for name in [channel] if channel else list(client.channels):
            if name not in client.channels:
                continue
            try:
                await leave(ctx, client, name)
            except EngineError:
                logger.warning("engine failed to unsubscribe %s from %r", client, name)
            client.send(client.dialect.unsubscribed(name))


async def disconnect_user(ctx: Context, user: str, client_id: str = "", keep: Collection[str] = (),
                          reason: str = DISCONNECT, reconnect: bool = False, code: int | None = None) -> None:
    """Close every local connection of ``user`` (or only ``client_id``; never
    those in ``keep``) with ``reason`` and advice: by default ``disconnect``,
    no reconnect; ``code``: the close code asked for (Disconnect.code)."""
    for client in _connections(ctx, user, client_id):
        if client.id not in keep:
            client.disconnect(Disconnect(reason, reconnect=reconnect, code=code))


async def subscribe_user(ctx: Context, user: str, channel: str, client_id: str = "",
                         channel_info: str = "", override: Override = NO_OVERRIDE) -> None:
    """Every local connection of ``user`` (or only ``client_id``) joins
    ``channel`` (server side), with ``channel_info`` (raw JSON or "") and
    the channel's options as ``override`` changes them (its join and leave
    pushes unless the override says no).

    Connections already holding it, at their ``client_channel_limit``, or
    excluded by a client-limited (``&``) name are left alone."""
    limit = ctx.options.client_channel_limit
    for client in _connections(ctx, user, client_id):
        if client.closing or channel in client.channels or not ctx.rules.client_allowed(channel, client.id):
            continue
        if limit > 0 and len(client.channels) >= limit:
            logger.info("server-side subscribe of %s to %r: channel limit reached", client, channel)
            continue
        try:
            await join(ctx, client, channel, channel_info, True, override, override.push_join_leave is not False)
            found = await recovery(ctx, channel, override.options(ctx.rules.options(channel)))
        except (EngineError, ProtocolError) as exc:
            logger.warning("server-side subscribe of %s to %r failed: %s", client, channel, exc)
            continue
        client.send(client.dialect.subscribed(channel, found))


#: A control method: (bus, sender uid, params); raises ValueError for params of the wrong shape.
Handler = Callable[["ControlBus", str, dict[str, Any]], Coroutine[Any, Any, None]]


class ControlBus:
    """Control messages of one node: sent through the engine to every node,
    received by :meth:`handle` and run by the :data:`CONTROL` table."""

    def __init__(self, ctx: Context, uid: str, node_seen: Callable[[str, dict[str, Any], Any], None]) -> None:
        self._ctx = ctx
        self._uid = uid
        self.node_seen = node_seen
        #: ``(session id, frame)``: hands a forwarded emulation frame to a
        #: local session (the emulation endpoint sets it)
        self.emulated: Callable[[str, str | bytes], object] | None = None

    @property
    def uid(self) -> str:
        return self._uid

    @property
    def ctx(self) -> Context:
        return self._ctx

    async def send(self, method: str, params: dict[str, Any]) -> None:
        """Tell the other nodes (raises EngineError)."""
        await self._ctx.engine.publish_control(encode(self._uid, method, params))

    def handle(self, data: bytes) -> None:
        """One control message from the engine: run in a task, unless this
        node sent it (acted on locally before it was sent)."""
        self._ctx.metrics.control.inc()
        try:
            sender, method, params = decode(data)
        except ValueError:
            logger.warning("malformed control message dropped (%d bytes)", len(data))
            return
        if sender == self._uid:
            return
        handler = CONTROL.get(method)
        if handler is None:
            logger.warning("unknown control method %r", method)
            return
        self._ctx.spawn(self._run(handler, sender, method, params), f"control {method}")

    async def _run(self, handler: Handler, sender: str, method: str, params: dict[str, Any]) -> None:
        try:
            await handler(self, sender, params)
        except ValueError as exc:  # params of the wrong shape: bad input, not a bug
            logger.warning("control %s of node %s dropped: %s", method, sender, exc)


async def _ping(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    info = params.get("info")
    if not isinstance(info, dict):
        raise ValueError("ping without NodeInfo")
    bus.node_seen(sender, info, params.get("sample"))


async def _events_wanted(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    bus.ctx.events.wanted()


async def _events(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    bus.ctx.events.received(params)


async def _unsubscribe(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    await unsubscribe_user(bus.ctx, _text(params, "user"), _text(params, "channel"), _text(params, "client"))


async def _disconnect(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    keep = params.get("whitelist") or []
    reconnect = params.get("reconnect", False)
    code = params.get("code")
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep) or not isinstance(reconnect, bool):
        raise ValueError("control disconnect: whitelist or reconnect of the wrong type")
    if code is not None and (type(code) is not int or not 0 <= code < 65536):
        raise ValueError("control disconnect: code of the wrong type")
    await disconnect_user(bus.ctx, _text(params, "user"), _text(params, "client"), frozenset(keep),
                          _text(params, "reason") or DISCONNECT, reconnect, code)


async def _subscribe(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    info = _text(params, "info")
    if info:
        loads(info)  # raw JSON a client will be sent: ValueError when it is not
    override = overrides.parse(params.get("override"))  # OverrideInvalid is a ValueError
    await subscribe_user(bus.ctx, _text(params, "user"), _text(params, "channel"), _text(params, "client"), info,
                         override)


async def _emulation(bus: ControlBus, sender: str, params: dict[str, Any]) -> None:
    if _text(params, "node") != bus.uid or bus.emulated is None:
        return
    frame: str | bytes = _text(params, "data")
    encoded = _text(params, "b64")
    if encoded:
        try:
            frame = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError("control emulation: b64 is not base64") from None
    bus.emulated(_text(params, "session"), frame)


CONTROL: dict[str, "Handler"] = {
    "emulation": _emulation,
    "ping": _ping,
    "unsubscribe": _unsubscribe,
    "disconnect": _disconnect,
    "subscribe": _subscribe,
    "events_wanted": _events_wanted,
    "events": _events,
}
