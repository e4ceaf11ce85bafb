"""``proxy_http_status_code_transforms`` (Centrifugo v5's name; v6 calls it
``status_to_code_transforms`` in each proxy's ``http`` object): a backend's
HTTP status other than 200 turned into a client error or a disconnect
instead of error 100.

The option is a JSON list (a list in a config file)::

    [{"status_code": 404, "to_error": {"code": 404, "message": "not found", "temporary": false}},
     {"status_code": 403, "to_disconnect": {"code": 4501, "reason": "forbidden"}}]

Checked when the config loads (:func:`parse`): each item has a
``status_code`` in 100-599 and exactly one of ``to_error`` (code 400-1999,
as a backend's ``error``) or ``to_disconnect`` (code 4000-4999, as a
backend's ``disconnect``); messages and reasons are ASCII of at most 123
characters (a close frame's reason), a reason is cut to 32 bytes when
used, as a backend's.  A status with no item is error 100, as before.
"""
from __future__ import annotations

from typing import Any, Mapping

from app.proxy.wire import MAX_REASON, HookDisconnect, HookError
from transports.strictjson import loads as strict_loads

#: status -> the error or disconnect it becomes
Transforms = Mapping[int, HookError | HookDisconnect]

#: A message or reason of an item is at most this long (a close frame's reason).
MAX_TEXT = 123
#: Items at most (a status appears once: HTTP has fewer statuses than this).
MAX_ITEMS = 500


class TransformsError(ValueError):
    """The option is malformed; the text says where."""


def parse(text: str) -> dict[int, HookError | HookDisconnect]:
    """The transforms of the option's JSON ``text`` ("" none); raises
    :class:`TransformsError`."""
    if not text.strip():
        return {}
    try:
        items = strict_loads(text)  # no deep nesting, NaN or lone surrogates
    except (ValueError, RecursionError):
        raise TransformsError("not a JSON list") from None
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise TransformsError(f"not a list of at most {MAX_ITEMS} objects")
    found: dict[int, HookError | HookDisconnect] = {}
    for index, item in enumerate(items):
        status, outcome = _item(item, f"[{index}]")
        if status in found:
            raise TransformsError(f"[{index}]: status_code {status} given twice")
        found[status] = outcome
    return found


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.isascii() or len(value) > MAX_TEXT:
        raise TransformsError(f"{where}: not ASCII text of at most {MAX_TEXT} characters")
    return value


def _item(item: Any, where: str) -> tuple[int, HookError | HookDisconnect]:
    if not isinstance(item, dict):
        raise TransformsError(f"{where}: not an object")
    status = _int(item.get("status_code"), 100, 599)
    if status is None or status == 200:
        raise TransformsError(f"{where}: status_code missing, 200 or out of 100-599")
    error, disconnect = item.get("to_error"), item.get("to_disconnect")
    if (error is None) == (disconnect is None):
        raise TransformsError(f"{where}: needs exactly one of to_error and to_disconnect")
    if error is not None:
        if not isinstance(error, dict):
            raise TransformsError(f"{where}.to_error: not an object")
        code = _int(error.get("code"), 400, 1999)
        temporary = error.get("temporary", False)
        if code is None or not isinstance(temporary, bool):
            raise TransformsError(f"{where}.to_error: code out of 400-1999 or temporary not a boolean")
        return status, HookError(code, _text(error.get("message", ""), f"{where}.to_error.message"), temporary)
    if not isinstance(disconnect, dict):
        raise TransformsError(f"{where}.to_disconnect: not an object")
    code = _int(disconnect.get("code"), 4000, 4999)
    if code is None:
        raise TransformsError(f"{where}.to_disconnect: code out of 4000-4999")
    reason = _text(disconnect.get("reason", ""), f"{where}.to_disconnect.reason")
    return status, HookDisconnect(code, reason[:MAX_REASON])


def apply(transforms: Transforms, err: HookError) -> HookError | HookDisconnect:
    """What a failed call becomes: its status's transform, else ``err``."""
    if not err.status or err.status not in transforms:
        return err
    known = transforms[err.status]
    if isinstance(known, HookDisconnect):
        return HookDisconnect(known.code, known.reason)
    return HookError(known.code, known.message, known.temporary)
