"""Result bodies of the API as JSON text (docs/protocol-v2.md §9.1),
zero values left out as Centrifugo's encoders do; raw JSON fields (data,
conn_info, chan_info) written as they are kept."""
from __future__ import annotations

import json
from typing import Any, Iterable

from app.core.values import ClientInfo, Message
from app.dialects.v2api.params import Position
from app.dialects.v2api.positions import offset_of

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def client_info(info: ClientInfo) -> str:
    """``{user, client, conn_info?, chan_info?}``"""
    out = []
    if info.user:
        out.append('"user":' + _dumps(info.user))
    if info.client:
        out.append('"client":' + _dumps(info.client))
    if info.default_info:
        out.append('"conn_info":' + info.default_info)
    if info.channel_info:
        out.append('"chan_info":' + info.channel_info)
    return "{" + ",".join(out) + "}"


def presence(entries: dict[str, ClientInfo]) -> str:
    body = ",".join(_dumps(client) + ":" + client_info(info) for client, info in entries.items())
    return '{"presence":{' + body + "}}"


def presence_stats(entries: dict[str, ClientInfo]) -> str:
    clients, users = len(entries), len({info.user for info in entries.values()})
    return _object([("num_clients", clients), ("num_users", users)])


def publication(message: Message) -> str:
    """``{data, info?, offset?}`` (tags are not kept by the core yet)."""
    out = '{"data":' + message.data
    if message.info is not None:
        out += ',"info":' + client_info(message.info)
    offset = offset_of(message)
    return out + (',"offset":' + str(offset) if offset else "") + "}"


def history(publications: Iterable[Message], top: Position) -> str:
    """``{publications?, offset?, epoch?}`` in the order given."""
    items = ",".join(publication(m) for m in publications)
    fields = ['"publications":[' + items + "]"] if items else []
    if top.offset:
        fields.append('"offset":' + str(top.offset))
    if top.epoch:
        fields.append('"epoch":' + _dumps(top.epoch))
    return "{" + ",".join(fields) + "}"


def channels(counts: dict[str, int]) -> str:
    """``{channels: {name: {num_clients?}}}``"""
    body = ",".join(_dumps(name) + ":" + _object([("num_clients", n)]) for name, n in counts.items())
    return '{"channels":{' + body + "}}"


def node(info: dict[str, Any], interval: float, now: float) -> str:
    """One node of ``info`` from a 1.8-shaped NodeInfo (app.core.directory):
    its counts from the gauges it reports, its metrics as ``items``."""
    metrics = info.get("metrics") if isinstance(info.get("metrics"), dict) else {}
    assert isinstance(metrics, dict)
    started = info.get("started_at")
    uptime = max(0, int(now - started)) if isinstance(started, (int, float)) else 0

    def count(name: str) -> int:
        value = metrics.get(name)
        return int(value) if isinstance(value, (int, float)) else 0

    items = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    pairs: list[tuple[str, Any]] = [
        ("uid", str(info.get("uid", ""))), ("name", str(info.get("name", ""))),
        ("version", str(info.get("version", ""))), ("num_clients", count("node_num_clients")),
        ("num_users", count("node_num_unique_clients")), ("num_channels", count("node_num_channels")),
        ("uptime", uptime), ("metrics", {"interval": float(interval), "items": items}),
        ("process", {"rss": count("node_memory_sys")}), ("num_subs", count("node_num_subscriptions")),
    ]
    return _object(pairs)


def _object(pairs: list[tuple[str, Any]]) -> str:
    """A JSON object of the pairs whose value is not zero or empty."""
    return "{" + ",".join(_dumps(k) + ":" + _dumps(v) for k, v in pairs if v) + "}"
