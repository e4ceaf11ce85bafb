"""Strict JSON decoding of what peers send: the one decoder of sockhub.

Every inbound path decodes JSON with :func:`loads`: SockJS frames (websocket,
xhr_send, jsonp_send), client commands, API bodies, admin socket messages and
config files.  Beyond ``json.loads`` it refuses:

* bytes that are not UTF-8 (or the UTF-16/32 RFC 8259 allows with a BOM);
* ``NaN``/``Infinity`` and numbers that overflow to infinity (``1e400``): they
  would go out as ``Infinity``, which no browser parses;
* integers past Python's 4,300 digits;
* nesting deeper than :data:`MAX_DEPTH`: whatever walks the value later
  (encoders, comparisons, ``repr``) recurses, and near the interpreter's
  recursion limit that is a ``RecursionError`` in some unrelated place;
* lone UTF-16 surrogates in strings (``"\\ud800"`` is valid JSON text, but no
  UTF-8 encoder takes the result: HMAC, Redis and log writes fail), unless the
  caller keeps them: SockJS messages are JavaScript strings, which may hold
  them (sockjs-protocol's JSONEncoding test sends every one), and the
  application judges what is inside.

Every refusal is a :class:`JSONInputError` (a ``ValueError``) whose message
is ours, short and safe to show the peer: never Python's exception text.

The depth check costs nothing on a typical command: it only runs when the
text is longer than ``2 * MAX_DEPTH`` and holds more than ``MAX_DEPTH`` opening
brackets, and then only after the C decoder accepted the text (so every string
is closed and the brackets outside strings are found with a few C-speed passes).

It lives here, not in app.protocol, because both layers decode with it and
transports never import app; app.protocol re-exports :func:`loads`.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

#: The deepest nesting of arrays and objects accepted anywhere.  A client
#: command is 3 levels plus its data; an API batch 4 plus its data.
MAX_DEPTH = 100


class JSONInputError(ValueError):
    """JSON refused; the message is ours and safe to show the peer.
    ``where``: the (line, column) of a syntax error, both from 1, for a
    reader of a file (a config file's error names its line)."""

    def __init__(self, message: str, where: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.where = where


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity, which are not JSON: browsers would fail.
    raise JSONInputError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    # 1e400 is valid JSON text but becomes inf, which would go out as
    # "Infinity": every client of the channel would fail to parse its frame.
    value = float(text)
    if value in (math.inf, -math.inf):
        raise JSONInputError("number out of range")
    return value


#: One decoder for every call: json.loads(text, parse_constant=...) builds a
#: new JSONDecoder each time, most of the cost of a small decode (bench/run.py api_1k).
_decode = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float).decode

#: Encodes a decoded value without escaping: a lone surrogate stays one, and
#: encoding the result as UTF-8 then fails (valid pairs were joined by the decoder).
_unescaped = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

#: A ``\\uD800``-``\\uDFFF`` escape, half of a pair or alone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

#: Keeps brackets (``{}`` become ``[]``) and quotes of ASCII text, drops the
#: rest (non-ASCII characters are inside strings, which go next).
_BRACKETS_AND_QUOTES = str.maketrans(
    {**{chr(c): None for c in range(128) if chr(c) not in '[]{}"'}, "{": "[", "}": "]"})


def loads(data: str | bytes, surrogates: bool = False) -> Any:
    """The JSON value of ``data``; raises :class:`JSONInputError` for anything
    refused (see the module docstring).  ``surrogates``: keep lone surrogates."""
    text = data if isinstance(data, str) else _text(data)
    try:
        value = _decode(text)
    except JSONInputError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"syntax error at character {exc.pos}", (exc.lineno, exc.colno)) from None
    except ValueError:  # an integer past Python's 4,300 digits
        raise JSONInputError("number out of range") from None
    except RecursionError:  # the C decoder ran into the interpreter's limit
        raise JSONInputError(f"nested deeper than {MAX_DEPTH}") from None
    if len(text) > 2 * MAX_DEPTH and too_deep(text):
        raise JSONInputError(f"nested deeper than {MAX_DEPTH}")
    if not surrogates and has_lone_surrogate(text, value, isinstance(data, str)):
        raise JSONInputError("lone surrogate in a string")
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode(json.detect_encoding(data))  # strict, unlike json.loads
    except UnicodeDecodeError:
        raise JSONInputError("not UTF-8") from None


def too_deep(text: str) -> bool:
    """Whether the JSON ``text`` (one the decoder accepted) nests deeper than
    :data:`MAX_DEPTH`.  The text's brackets outside strings are found with a
    few C-speed passes; then each round removes every innermost pair, so the
    number of rounds until nothing is left is the depth."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    brackets = _brackets(text)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        brackets = brackets.replace("[]", "")
    return bool(brackets)


def _brackets(text: str) -> str:
    """The brackets of valid JSON ``text`` outside its strings, ``{}`` as ``[]``."""
    if "\\" in text:
        # Escaped backslashes, then escaped quotes: every quote left delimits a string.
        text = text.replace("\\\\", "").replace('\\"', "")
    kept = text.translate(_BRACKETS_AND_QUOTES).replace('""', "")  # strings without brackets
    if '"' in kept:
        kept = "".join(kept.split('"')[::2])  # what remains between strings
    return kept


def has_lone_surrogate(text: str, value: Any, raw_possible: bool = True) -> bool:
    """Whether the decoded ``value`` of ``text`` holds a string with a lone
    surrogate, either raw in ``text`` (when a caller passed such a str:
    ``raw_possible``) or escaped.  Pure ASCII text without ``\\uD8``-``\\uDF``
    escapes (nearly every frame) costs two substring scans."""
    if raw_possible and not text.isascii() and not _encodable(text):
        return True
    if "\\u" not in text or _SURROGATE_ESCAPE.search(text) is None:
        return False
    return not _encodable(_unescaped(value))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
