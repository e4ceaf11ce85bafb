"""Centrifugo's HTTP proxy format (docs/protocol-v2.md §10.1, §10.2): the
request bodies and the reading of a backend's answer.  No I/O here.

* a request body is a JSON object with the common fields ``client``,
  ``transport``, ``protocol`` and ``encoding`` (``json``; ``binary`` with
  ``proxy_binary_encoding``), ``user`` on every call but connect, then the
  event's own fields, then the connection's ``meta`` when asked; a client's
  ``data`` goes as raw JSON when it is JSON, else (binary data of a
  protobuf client) as base64 ``b64data``, and always as ``b64data`` with
  binary encoding;
* an answer is ``{"result": {...}}``, ``{"error": {"code", "message",
  "temporary"}}`` with a code in 400-1999 (:class:`HookError`) or
  ``{"disconnect": {"code", "reason"}}`` with a code in 4000-4999
  (:class:`HookDisconnect`: 4000-4499 reconnect, 4500-4999 do not);
  anything else (not strict JSON: transports.strictjson, not an object, a field of the wrong type, a
  code out of its range) is the backend's fault: error 100 ``internal
  server error``, temporary, as Centrifugo answers a non-200 status.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Mapping

from transports.strictjson import loads as strict_loads

#: A hook's error message and disconnect reason are cut to these many
#: characters (a close frame carries < 123 bytes; the proxy docs say 32).
MAX_MESSAGE = 256
MAX_REASON = 32


#: A connection's ``meta`` (from the connect or refresh result) is at most
#: this many bytes of compact JSON; a larger one is the backend's fault.
MAX_META = 65536


class HookError(Exception):
    """The hook failed: the client gets error ``code`` (400-1999 from the
    backend, 100 when the backend failed) and ``message``.  ``status``: the
    backend's HTTP status when that was not 200 (0 otherwise)."""

    def __init__(self, code: int, message: str, temporary: bool = False, status: int = 0) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.temporary = temporary
        self.status = status


class HookDisconnect(Exception):
    """The backend closes the client with ``code`` (4000-4999) and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason

    @property
    def reconnect(self) -> bool:
        return self.code < 4500


def internal(why: str, status: int = 0) -> HookError:
    """The backend could not be asked or answered nonsense (``why``, for the log)."""
    err = HookError(100, "internal server error", temporary=True, status=status)
    err.add_note(why)
    return err


@dataclass(frozen=True, slots=True)
class Caller:
    """The client a hook is about: the common fields of every request, the
    HTTP headers to forward (already chosen by ``proxy_http_headers`` and
    ``proxy_emulated_headers``) and the connection's ``meta`` (raw JSON of
    an object, None for none)."""

    client: str
    transport: str  # Centrifugo's name: "websocket", "sockjs", ...
    protocol: str = "json"  # "json" or "protobuf"
    user: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    meta: str | None = None


#: sockhub's transport names as Centrifugo's proxy requests spell them; every
#: other one is a SockJS transport.
TRANSPORT_NAMES = {"raw_websocket": "websocket", "http_stream": "http_stream", "sse": "sse"}


def transport_name(transport: str) -> str:
    return TRANSPORT_NAMES.get(transport, "sockjs")


def data_fields(data: str | bytes, name: str = "data", binary: bool = False) -> dict[str, Any]:
    """``{"data": <raw JSON>}`` for JSON text, else (and always when
    ``binary``) ``{"b64data": ...}``."""
    if binary:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return {"b64" + name: base64.b64encode(raw).decode("ascii")}
    if isinstance(data, str):
        try:
            return {name: json.loads(data)}
        except ValueError:
            data = data.encode("utf-8", "surrogatepass")
    else:
        try:
            return {name: json.loads(data.decode("utf-8"))}
        except ValueError:
            pass
    return {"b64" + name: base64.b64encode(data).decode("ascii")}


def request_body(caller: Caller, fields: Mapping[str, Any], with_user: bool = True, binary: bool = False,
                 with_meta: bool = False) -> bytes:
    """The JSON body of one call: common fields, then the event's, then
    (``with_meta``) the connection's ``meta`` as it was received."""
    body: dict[str, Any] = {"client": caller.client, "transport": caller.transport,
                            "protocol": caller.protocol, "encoding": "binary" if binary else "json"}
    if with_user:
        body["user"] = caller.user
    body.update(fields)
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    if with_meta and caller.meta is not None:
        text = text[:-1] + ',"meta":' + caller.meta + "}"  # spliced: kept as raw JSON
    return text.encode("utf-8", "surrogatepass")


def parse_answer(raw: bytes) -> dict[str, Any]:
    """The ``result`` object of an answer (``{}`` when absent); raises
    :class:`HookError` or :class:`HookDisconnect` (see the module docstring)."""
    try:
        # strictly: no lone surrogate, NaN or deep nesting reaches a client
        answer = strict_loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise internal("the answer is not strict JSON") from None
    if not isinstance(answer, dict):
        raise internal("the answer is not a JSON object")
    if answer.get("disconnect") is not None:
        raise _disconnect(answer["disconnect"])
    if answer.get("error") is not None:
        raise _error(answer["error"])
    result = answer.get("result")
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise internal("result is not an object")
    return result


def _code(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _error(error: Any) -> HookError:
    if not isinstance(error, dict):
        return internal("error is not an object")
    code = _code(error.get("code"), 400, 1999)
    message, temporary = error.get("message", ""), error.get("temporary", False)
    if code is None or not isinstance(message, str) or not isinstance(temporary, bool):
        return internal("error code out of 400-1999, or a field of the wrong type")
    return HookError(code, message[:MAX_MESSAGE], temporary)


def _disconnect(disconnect: Any) -> HookDisconnect | HookError:
    if not isinstance(disconnect, dict):
        return internal("disconnect is not an object")
    code = _code(disconnect.get("code"), 4000, 4999)
    reason = disconnect.get("reason", "")
    if code is None or not isinstance(reason, str):
        return internal("disconnect code out of 4000-4999, or a reason not a string")
    return HookDisconnect(code, _cut_utf8(reason, MAX_REASON))


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


# -- typed fields of a result -----------------------------------------------------


def raw_json(result: Mapping[str, Any], name: str = "data") -> str | None:
    """A result's ``data`` (``info``) as compact JSON text, or its
    ``b64data`` (``b64info``) when that holds UTF-8 JSON; None when absent."""
    if result.get(name) is not None:
        return json.dumps(result[name], separators=(",", ":"), ensure_ascii=False)
    encoded = result.get("b64" + name)
    if encoded is None:
        return None
    if not isinstance(encoded, str):
        raise internal(f"b64{name} is not a string")
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
        strict_loads(text)
    except (binascii.Error, ValueError):
        raise internal(f"b64{name} is not base64 of JSON") from None
    return text


def meta(result: Mapping[str, Any]) -> str | None:
    """A result's ``meta`` as compact JSON of an object (None when absent);
    not an object, or larger than :data:`MAX_META` bytes: the backend's fault."""
    value = result.get("meta")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise internal("meta is not an object")
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(encoded.encode("utf-8", "surrogatepass")) > MAX_META:
        raise internal(f"meta is larger than {MAX_META} bytes")
    return encoded


def text(result: Mapping[str, Any], name: str, limit: int = 1024) -> str:
    value = result.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise internal(f"{name} is not a string of at most {limit} characters")
    return value


def integer(result: Mapping[str, Any], name: str) -> int:
    value = result.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** 63:
        raise internal(f"{name} is not a non-negative integer")
    return int(value)


def flag(result: Mapping[str, Any], name: str) -> bool:
    value = result.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise internal(f"{name} is not a boolean")
    return value


def strings(result: Mapping[str, Any], name: str, limit: int) -> tuple[str, ...]:
    """A list of at most ``limit`` strings (the connect result's ``channels``)."""
    value = result.get(name) or []
    if not isinstance(value, list) or len(value) > limit or not all(isinstance(v, str) for v in value):
        raise internal(f"{name} is not a list of at most {limit} strings")
    return tuple(value)
