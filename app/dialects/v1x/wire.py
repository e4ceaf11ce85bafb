"""The client wire format of Centrifugo 1.x (docs/protocol-1x.md §2, §5, §6).

Duties:

* parse a client frame into commands: one JSON object or an array of them,
  decided by the first byte; anything malformed raises :class:`Disconnect`
  with ``invalid message`` (the whole connection is closed, §2);
* parse a command's ``params`` into a typed dataclass (:func:`parse_params`,
  or :func:`parse_planned` with the :func:`plan` a command table made once),
  shared by client commands and the HTTP API;
* encode replies (object for an object request, array for an array) and
  pushes (no ``uid``) as JSON text, and the bodies they carry;
* the core's error values on the wire: a ProtocolError becomes a reply's
  ``error``/``advice``; a Disconnect closes the client with advice.

Every frame is decoded by :func:`loads` (transports.strictjson): strings
with a lone UTF-16 surrogate, nesting deeper than ``MAX_DEPTH``, NaN and
numbers out of range are ``invalid message``, like any malformed JSON, so
every string a command carries can be encoded as UTF-8 (HMAC, Redis, logs).
Raw JSON fields (``data``, ``info``) are re-encoded once here, compactly and
ASCII-escaped, so whatever later relays them byte for byte sends valid JSON.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar, get_type_hints

from app.core.errors import INVALID_MESSAGE, Disconnect, ProtocolError
from app.core.values import ClientInfo, ConnectOutcome, Message, Recovery

# The one strict decoder (bounded depth, finite numbers, no lone surrogates),
# shared with the transports, which never import app.
from transports.strictjson import loads as loads

_encoder = json.JSONEncoder(separators=(",", ":"))
_dumps = _encoder.encode
#: _dumps of a str, without the encoder's dispatch (the C string encoder it ends in)
_quote = json.encoder.encode_basestring_ascii
#: JSONEncoder.encode builds a C encoder on every call for a dict or a list;
#: this one is built once (measured by bench/run.py batch_1k).  No circular
#: check: decoded JSON has no cycles.  Same output.
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode = None if _make_c_encoder is None else _make_c_encoder(
    None, _encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)


#: The websocket/SockJS close code of a close with advice (§6).
CLOSE_CODE = 3000


class Raw(str):
    """Marks a params field holding any JSON value, kept as compact JSON text."""


@dataclass(slots=True)
class Command:
    uid: str
    method: str
    params: dict[str, Any] | None


def dumps(value: Any) -> str:
    """Compact, ASCII-escaped JSON text."""
    return _dumps(value)


def raw_json(value: Any) -> str:
    """:func:`dumps` of a decoded JSON value (no cycles), faster for objects
    and arrays."""
    if _c_encode is not None and type(value) in (dict, list):
        return "".join(_c_encode(value, 0))
    return _dumps(value)


def valid_raw_json(text: str) -> bool:
    """True when ``text`` is one JSON document that is safe to relay verbatim."""
    try:
        # Escaped lone surrogates relay safely (the text stays ASCII, browsers
        # take them); raw ones would not encode.
        loads(text, surrogates=True)
        text.encode("utf-8")
    except ValueError:  # UnicodeEncodeError included
        return False
    return True


def decode_batch(text: str | bytes) -> tuple[list[Any], bool]:
    """The JSON items of a frame and whether it was an array (first byte decides).

    Raises ValueError for empty input, another first byte, bad JSON or an
    empty array."""
    stripped = text.lstrip()
    first = stripped[:1]
    if first in ("{", b"{"):
        value = loads(stripped)
        if not isinstance(value, dict):
            raise ValueError("not an object")
        return [value], False
    if first in ("[", b"["):
        value = loads(stripped)
        if not isinstance(value, list) or not value:
            raise ValueError("empty or not an array")
        return value, True
    raise ValueError("a frame starts with { or [")


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    # Go's encoding/json matches struct keys case-insensitively; an exact
    # lowercase key wins over another spelling.  Keys are nearly always
    # lowercase already: then the object itself is the answer, not a copy.
    for key in obj:
        if not (isinstance(key, str) and key.islower()):
            break
    else:
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        low = key.lower() if isinstance(key, str) else key
        if low not in out or key == low:
            out[low] = value
    return out


def command_from(item: Any) -> Command:
    """One command envelope; raises ValueError when it has the wrong shape."""
    if not isinstance(item, dict):
        raise ValueError("command is not an object")
    item = _lower_keys(item)
    uid = item.get("uid")
    method = item.get("method")
    params = item.get("params")
    if uid is None:
        uid = ""
    if method is None:
        method = ""
    if not isinstance(uid, str) or not isinstance(method, str):
        raise ValueError("uid and method are strings")
    if params is not None and not isinstance(params, dict):
        raise ValueError("params is an object")
    return Command(uid, method, _lower_keys(params) if params is not None else None)


def parse_commands(text: str) -> tuple[list[Command], bool]:
    """The commands of one client frame and whether it was an array.

    Raises Disconnect(invalid message) for anything malformed (§2)."""
    try:
        items, is_array = decode_batch(text)
        return [command_from(item) for item in items], is_array
    except ValueError:
        raise Disconnect(INVALID_MESSAGE) from None


P = TypeVar("P")

#: What a field check returns for JSON null: the field keeps its default.
_DEFAULT: Any = object()

#: (field name, check) of a params dataclass: see :func:`plan`.
Plan = tuple[tuple[str, Callable[[Any], Any]], ...]


def _as_raw(value: Any) -> Raw:
    return Raw(raw_json(value))


def _as_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value is None:
        return _DEFAULT  # JSON null leaves the default, as in Go
    raise ValueError("bool expected")


def _as_str(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if value is None:
        return _DEFAULT
    raise ValueError("string expected")


def _as_str_list(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if value is None:
        return _DEFAULT
    raise ValueError("list of strings expected")


def _as_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        return _DEFAULT
    raise ValueError("integer expected")


def _field_check(kind: Any) -> Callable[[Any], Any]:
    """The check of one declared params type: the value to keep, _DEFAULT
    for JSON null (but a Raw field keeps ``null``), ValueError if wrong."""
    if kind is Raw or kind == Raw | None:
        return _as_raw
    checks: dict[Any, Callable[[Any], Any]] = {bool: _as_bool, str: _as_str, int: _as_int}
    if kind in checks:
        return checks[kind]
    if kind == list[str]:
        return _as_str_list
    raise TypeError(f"unsupported params type {kind!r}")


def parse_params(cls: type[P], params: dict[str, Any] | None) -> P:
    """Build the params dataclass ``cls`` from a decoded (lower-keyed) object.

    Unknown keys are ignored; absent keys and JSON null keep the default; a
    value of the wrong type raises ValueError (the caller's invalid message).
    Fields typed :class:`Raw` hold compact JSON text, None when absent."""
    return parse_planned(cls, plan(cls), params)


def parse_planned(cls: type[P], fields: Plan, params: dict[str, Any] | None) -> P:
    """:func:`parse_params` with the ``plan(cls)`` made once, by a command
    table (dataclasses.fields() and dispatching on the declared type cost
    more than the checks themselves on every command, bench/run.py batch_1k)."""
    kwargs: dict[str, Any] = {}
    if params:
        for name, check in fields:
            if name in params:
                value = check(params[name])
                if value is not _DEFAULT:
                    kwargs[name] = value
    return cls(**kwargs)


def plan(cls: type) -> Plan:
    """(field name, check) of a params dataclass."""
    hints = get_type_hints(cls)
    return tuple((f.name, _field_check(hints[f.name])) for f in dataclasses.fields(cls))


def reply(method: str, body: str | None = None, uid: str = "", error: str = "", advice: str = "") -> str:
    """One client reply: keys uid (if any), method, error, advice, body (if any).

    ``body`` is JSON text, already encoded."""
    out = '{"uid":' + _dumps(uid) + ',"method":' if uid else '{"method":'
    out += _dumps(method)
    if error:
        out += ',"error":' + _dumps(error)
    if advice:
        out += ',"advice":' + _dumps(advice)
    if body is not None:
        out += ',"body":' + body
    return out + "}"


def reply_error(method: str, err: ProtocolError, body: str | None, uid: str = "") -> str:
    return reply(method, body, uid, err.error, err.advice)


def join_replies(replies: Iterable[str], is_array: bool) -> str:
    """An array for an array request, else the single reply itself."""
    items = list(replies)
    if is_array:
        return "[" + ",".join(items) + "]"
    return items[0]


def push(method: str, body: str) -> str:
    """An asynchronous push: no uid (that is how clients tell them apart)."""
    return '{"method":' + _dumps(method) + ',"body":' + body + "}"


def disconnect_push(reason: str, reconnect: bool) -> str:
    """The 1.4-style ``disconnect`` push every client 1.3-1.5 understands."""
    return push("disconnect", _dumps({"reason": reason, "reconnect": reconnect}))


def channel_status(channel: str, status: bool) -> str:
    """Body ``{"channel":..,"status":..}`` of unsubscribe and publish replies."""
    return '{"channel":' + _dumps(channel) + ',"status":' + ("true" if status else "false") + "}"


def close_advice(exc: Disconnect) -> str:
    """The reason of a close with advice (§6): ``{"reason":..,"reconnect":..}``."""
    return _dumps({"reason": exc.reason, "reconnect": exc.reconnect})


# -- bodies ----------------------------------------------------------------------


def info_json(info: ClientInfo) -> str:
    """A ClientInfo (§5): ``default_info`` and ``channel_info`` only when set."""
    out = '{"user":' + _dumps(info.user) + ',"client":' + _dumps(info.client)
    if info.default_info:
        out += ',"default_info":' + info.default_info
    if info.channel_info:
        out += ',"channel_info":' + info.channel_info
    return out + "}"


def message_json(message: Message) -> str:
    """A Message (§5): ``client`` and ``info`` only when set; ``data`` as
    the raw JSON text it arrived as."""
    out = '{"uid":' + _quote(message.uid) + ',"channel":' + _quote(message.channel) + ',"data":' + message.data
    if message.client:
        out += ',"client":' + _quote(message.client)
    if message.info is not None:
        out += ',"info":' + info_json(message.info)
    return out + "}"


def messages_json(messages: list[Message]) -> str:
    return "[" + ",".join([message_json(m) for m in messages]) + "]"


def presence_json(entries: dict[str, ClientInfo]) -> str:
    """``{"<client id>": ClientInfo, ...}``."""
    return "{" + ",".join([_dumps(uid) + ":" + info_json(info) for uid, info in entries.items()]) + "}"


def channel_data(channel: str, data: str) -> str:
    """Body ``{"channel":..,"data":..}`` of presence and history (``data``: JSON text)."""
    return '{"channel":' + _dumps(channel) + ',"data":' + data + "}"


def membership_body(channel: str, info: ClientInfo) -> str:
    """Body of join and leave pushes."""
    return '{"channel":' + _dumps(channel) + ',"data":' + info_json(info) + "}"


def subscribe_body(channel: str, status: bool, last: str = "", messages: str = "null",
                   recovered: bool = False) -> str:
    return ('{"channel":' + _dumps(channel) + ',"status":' + _dumps(status) + ',"last":' + _dumps(last)
            + ',"messages":' + messages + ',"recovered":' + _dumps(recovered) + "}")


def recovery_body(channel: str, recovery: Recovery) -> str:
    """The body of a successful subscribe: ``last``, ``messages`` and
    ``recovered`` per §8."""
    messages = "null" if recovery.messages is None else messages_json(recovery.messages)
    return subscribe_body(channel, True, recovery.last, messages, recovery.recovered)


def credentials_body(version: str, outcome: ConnectOutcome) -> str:
    """The body of connect and refresh replies."""
    return _dumps({"version": version, "client": outcome.client, "expires": outcome.expires,
                   "expired": outcome.expired, "ttl": int(outcome.ttl)})
