"""Centrifugo's HTTP proxy format (shared/CENTRIFUGAL.md §5.1, §5.2): the
request bodies and the reading of a backend's answer.  No I/O here.

* a request body is a JSON object with the common fields ``client``,
  ``transport``, ``protocol`` and ``encoding`` (always ``json``: sockhub has
  no ``binary_encoding``), ``user`` on every call but connect, then the
  event's own fields; a client's ``data`` goes as raw JSON when it is JSON,
  else (binary data of a protobuf client) as base64 ``b64data``;
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


class HookError(Exception):
    """The hook failed: the client gets error ``code`` (400-1999 from the
    backend, 100 when the backend failed) and ``message``."""

    def __init__(self, code: int, message: str, temporary: bool = False) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.temporary = temporary


class HookDisconnect(Exception):
    """The backend closes the client with ``code`` (4000-4999) and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason

    @property
    def reconnect(self) -> bool:
        return self.code < 4500


def internal(why: str) -> HookError:
    """The backend could not be asked or answered nonsense (``why``, for the log)."""
    err = HookError(100, "internal server error", temporary=True)
    err.add_note(why)
    return err


@dataclass(frozen=True, slots=True)
class Caller:
    """The client a hook is about: the common fields of every request and
    the HTTP headers to forward (already chosen by ``proxy_http_headers``)."""

    client: str
    transport: str  # Centrifugo's name: "websocket", "sockjs", ...
    protocol: str = "json"  # "json" or "protobuf"
    user: str = ""
    headers: tuple[tuple[str, str], ...] = ()


#: sockhub's transport names as Centrifugo's proxy requests spell them; every
#: other one is a SockJS transport.
TRANSPORT_NAMES = {"raw_websocket": "websocket", "http_stream": "http_stream", "sse": "sse"}


def transport_name(transport: str) -> str:
    return TRANSPORT_NAMES.get(transport, "sockjs")


def data_fields(data: str | bytes, name: str = "data") -> dict[str, Any]:
    """``{"data": <raw JSON>}`` for JSON text, else ``{"b64data": ...}``."""
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


def request_body(caller: Caller, fields: Mapping[str, Any], with_user: bool = True) -> bytes:
    """The JSON body of one call: common fields, then the event's."""
    body: dict[str, Any] = {"client": caller.client, "transport": caller.transport,
                            "protocol": caller.protocol, "encoding": "json"}
    if with_user:
        body["user"] = caller.user
    body.update(fields)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


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
