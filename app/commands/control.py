"""Control messages between nodes, and the per-user operations they carry.

A control message is JSON ``{"uid": <sender node>, "method": .., "params": {..}}``
(opaque bytes to the engine, which delivers it to every node, the sender
included; the sender ignores its own, having acted locally already).

Methods (one dispatch table, :data:`CONTROL`):

* ``ping`` ``{"info": NodeInfo}``: the sender is alive (``stats`` lists it);
* ``unsubscribe`` ``{"user", "channel"}``: every connection of ``user`` on
  this node leaves ``channel`` ("" = every channel) and gets the
  server-side ``unsubscribe`` push (no uid);
* ``disconnect`` ``{"user"}``: every connection of ``user`` is closed with
  ``{"reason":"disconnect","reconnect":false}``;
* ``subscribe`` ``{"user", "channel"}`` (beyond 1.x): every connection of
  ``user`` joins ``channel`` and gets an unsolicited subscribe reply without
  uid, ``{"method":"subscribe","body":{"channel":..,"status":true,..}}``.
  centrifuge-js 1.5 routes it by ``body.channel``: with no Subscription object
  for that channel it ignores it (message pushes for the channel are ignored
  too, until the page calls ``subscribe``, which this server then answers
  with success, adopting the server-side subscription); a Subscription that
  is "subscribing" is marked subscribed.  Nothing in the client breaks.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Coroutine

from app.commands.channel_cmds import SubscribeParams, recovery_body
from app.commands.channel_ops import join, leave
from app.core.engine import EngineError
from app.core.errors import DISCONNECT, Disconnect, ProtocolError
from app.protocol import channel_status, dumps, push
from transports.strictjson import loads

if TYPE_CHECKING:
    from app.node import Node

logger = logging.getLogger("sockhub.control")


def encode(node_uid: str, method: str, params: dict[str, Any]) -> bytes:
    return dumps({"uid": node_uid, "method": method, "params": params}).encode()


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


async def unsubscribe_user(node: "Node", user: str, channel: str = "") -> None:
    """Every local connection of ``user`` leaves ``channel`` (or all)."""
    for client in node.hub.user_clients(user):
        for name in [channel] if channel else list(client.channels):
            if name not in client.channels:
                continue
            try:
                await leave(client, name)
            except EngineError:
                logger.warning("engine failed to unsubscribe %s from %r", client, name)
            client.send(push("unsubscribe", channel_status(name, True)))


async def disconnect_user(node: "Node", user: str) -> None:
    """Close every local connection of ``user`` with the ``disconnect`` advice."""
    for client in node.hub.user_clients(user):
        client.disconnect(Disconnect(DISCONNECT, reconnect=False))


async def subscribe_user(node: "Node", user: str, channel: str) -> None:
    """Every local connection of ``user`` joins ``channel`` (server side).

    Connections already holding it, at their ``client_channel_limit``, or
    excluded by a client-limited (``&``) name are left alone."""
    limit = node.options.client_channel_limit
    for client in node.hub.user_clients(user):
        if client.closing or channel in client.channels or not node.rules.client_allowed(channel, client.id):
            continue
        if limit > 0 and len(client.channels) >= limit:
            logger.info("server-side subscribe of %s to %r: channel limit reached", client, channel)
            continue
        try:
            await join(client, channel, server_side=True)
            options = node.rules.options(channel)
            body = await recovery_body(client, SubscribeParams(channel=channel), options)
        except (EngineError, ProtocolError) as exc:
            logger.warning("server-side subscribe of %s to %r failed: %s", client, channel, exc)
            continue
        client.send(push("subscribe", body))


async def _ping(node: "Node", sender: str, params: dict[str, Any]) -> None:
    info = params.get("info")
    if not isinstance(info, dict):
        raise ValueError("ping without NodeInfo")
    node.node_seen(sender, info)


async def _unsubscribe(node: "Node", sender: str, params: dict[str, Any]) -> None:
    await unsubscribe_user(node, _text(params, "user"), _text(params, "channel"))


async def _disconnect(node: "Node", sender: str, params: dict[str, Any]) -> None:
    await disconnect_user(node, _text(params, "user"))


async def _subscribe(node: "Node", sender: str, params: dict[str, Any]) -> None:
    await subscribe_user(node, _text(params, "user"), _text(params, "channel"))


CONTROL: dict[str, Callable[["Node", str, dict[str, Any]], Coroutine[Any, Any, None]]] = {
    "ping": _ping,
    "unsubscribe": _unsubscribe,
    "disconnect": _disconnect,
    "subscribe": _subscribe,
}
