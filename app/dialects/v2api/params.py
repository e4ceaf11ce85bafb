"""Request bodies of the API (docs/protocol-v2.md §9.1) into typed values.

A body is one JSON object, decoded by the one strict decoder
(transports.strictjson: bounded depth, finite numbers, no lone surrogates).
Each method's fields are a dataclass below; a field's check comes from its
annotation (:data:`_CHECKS`), once per class.  As Go's decoder does: an
unknown key is skipped, ``null`` leaves the default, a value of the wrong
JSON type refuses the whole request (:class:`ParamsError`, answered 400).
What is well-typed but wrong (an empty channel, data missing) is the
command's own error, judged by the runner.

``data`` and ``info`` hold any JSON value and are kept as compact,
ASCII-escaped JSON text (:class:`RawJson`), as the 1.x API keeps them: every
subscriber gets the same bytes.  ``b64data``/``b64info`` are decoded here
(:func:`decoded_b64`) when the command runs; what they carry must itself
be JSON, since every client this server relays to reads JSON.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, fields
from typing import Any, Callable, TypeVar, get_type_hints

from app.dialects.v2api.errors import BAD_REQUEST, ApiError
from transports.strictjson import JSONInputError, loads

_compact = json.JSONEncoder(separators=(",", ":")).encode
INT64 = 2 ** 63
#: A ``disconnect`` code fits in a uint32 on Centrifugo's side.
UINT32 = 2 ** 32


class ParamsError(ValueError):
    """A body that does not parse or has a field of the wrong type; the
    message is ours and short."""


class RawJson(str):
    """Any JSON value, as compact JSON text."""


@dataclass(frozen=True, slots=True)
class Position:
    """A stream position: ``offset`` in an ``epoch``."""

    offset: int = 0
    epoch: str = ""


@dataclass(frozen=True, slots=True)
class DisconnectSpec:
    """The ``disconnect`` object of a disconnect request."""

    code: int = 0
    reason: str = ""


@dataclass(slots=True)
class PublishRequest:
    channel: str = ""
    data: RawJson | None = None
    b64data: str = ""
    skip_history: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""
    delta: bool = False


@dataclass(slots=True)
class BroadcastRequest:
    channels: list[str] = field(default_factory=list)
    data: RawJson | None = None
    b64data: str = ""
    skip_history: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""
    delta: bool = False


@dataclass(slots=True)
class SubscribeRequest:
    user: str = ""
    channel: str = ""
    client: str = ""
    session: str = ""
    expire_at: int = 0
    info: RawJson | None = None
    b64info: str = ""
    data: RawJson | None = None
    b64data: str = ""
    recover_since: Position | None = None
    override: RawJson | None = None


@dataclass(slots=True)
class UnsubscribeRequest:
    user: str = ""
    channel: str = ""
    client: str = ""
    session: str = ""


@dataclass(slots=True)
class DisconnectRequest:
    user: str = ""
    client: str = ""
    session: str = ""
    whitelist: list[str] = field(default_factory=list)
    disconnect: DisconnectSpec | None = None


@dataclass(slots=True)
class RefreshRequest:
    user: str = ""
    client: str = ""
    session: str = ""
    expired: bool = False
    expire_at: int = 0
    info: RawJson | None = None
    b64info: str = ""


@dataclass(slots=True)
class ChannelRequest:
    """presence, presence_stats, history_remove."""

    channel: str = ""


@dataclass(slots=True)
class HistoryRequest:
    channel: str = ""
    limit: int = 0
    since: Position | None = None
    reverse: bool = False


@dataclass(slots=True)
class ChannelsRequest:
    pattern: str = ""


@dataclass(slots=True)
class InfoRequest:
    pass


@dataclass(slots=True)
class RpcRequest:
    method: str = ""
    params: RawJson | None = None


# -- field checks -----------------------------------------------------------------------------

def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ParamsError("string expected")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ParamsError("bool expected")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64:
        return value
    raise ParamsError("64-bit integer expected")


def _raw(value: Any) -> RawJson:
    return RawJson(_compact(value))


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ParamsError("list of strings expected")


def _str_map(value: Any) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return value
    raise ParamsError("object of strings expected")


def _position(value: Any) -> Position:
    if not isinstance(value, dict):
        raise ParamsError("stream position expected")
    offset = value.get("offset")
    epoch = value.get("epoch")
    offset = 0 if offset is None else _int(offset)
    if not 0 <= offset < 2 ** 64:
        raise ParamsError("offset out of range")
    return Position(offset, "" if epoch is None else _str(epoch))


def _disconnect(value: Any) -> DisconnectSpec:
    if not isinstance(value, dict):
        raise ParamsError("disconnect object expected")
    code, reason = value.get("code"), value.get("reason")
    code = 0 if code is None else _int(code)
    if not 0 <= code < UINT32:
        raise ParamsError("disconnect code out of range")
    return DisconnectSpec(code, "" if reason is None else _str(reason))


_CHECKS: dict[Any, Callable[[Any], Any]] = {
    str: _str, bool: _bool, int: _int, RawJson | None: _raw, list[str]: _str_list,
    dict[str, str]: _str_map, Position | None: _position, DisconnectSpec | None: _disconnect,
}

P = TypeVar("P")
Plan = tuple[tuple[str, Callable[[Any], Any]], ...]


def plan(cls: type) -> Plan:
    """(field name, check) of a request dataclass."""
    hints = get_type_hints(cls)
    return tuple((f.name, _CHECKS[hints[f.name]]) for f in fields(cls))


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body; ParamsError otherwise."""
    if not body.strip():
        raise ParamsError("empty body")
    try:
        value = loads(body)
    except JSONInputError as exc:  # its message is ours
        raise ParamsError(str(exc)) from None
    except ValueError:
        raise ParamsError("malformed JSON") from None
    if not isinstance(value, dict):
        raise ParamsError("a JSON object expected")
    return value


def parse(cls: type[P], checks: Plan, value: Any) -> P:
    """``cls`` from a decoded JSON object; ParamsError names the field."""
    if not isinstance(value, dict):
        raise ParamsError("a JSON object expected")
    given: dict[str, Any] = {}
    for name, check in checks:
        raw = value.get(name)
        if raw is None:
            continue
        try:
            given[name] = check(raw)
        except ParamsError as exc:
            raise ParamsError(f"{name}: {exc}") from None
    return cls(**given)


def decoded_b64(text: str) -> RawJson:
    """The JSON a ``b64*`` field carries, as compact text.  Not base64, or
    not one JSON value (every client this server relays to reads JSON): the
    command's ``bad request``, as Centrifugo answers a bad base64."""
    try:
        return RawJson(_compact(loads(base64.b64decode(text, validate=True))))
    except (binascii.Error, ValueError):
        raise ApiError(BAD_REQUEST) from None
