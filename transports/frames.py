"""Message encodings built once and shared by every session of a broadcast."""
from __future__ import annotations

import json
import struct
from json.encoder import encode_basestring_ascii

#: ``json.dumps(text)`` for a str: the C string encoder itself, without
#: building a JSONEncoder per call (json.dumps with any keyword argument
#: does) nor dumps' dispatch; ASCII-escaped exactly as json.dumps.
_quote = encode_basestring_ascii

#: the header of a text frame with a 16-bit length (126 to 65535 bytes)
_HEAD16 = struct.Struct("!BBH").pack


def _ws_header(length: int, opcode: int = 0x1) -> bytes:
    """Header of an unmasked, unfragmented server-to-client websocket frame."""
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 0x10000:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A complete unmasked websocket frame (text by default)."""
    return _ws_header(len(payload), opcode) + payload


class Prepared:
    """One outgoing message and its encodings, each computed at most once.

    ``text`` is the application message.  ``quoted`` is its JSON string form,
    the element of a SockJS ``a[...]`` frame.  ``sockjs_ws`` is the whole
    websocket frame carrying ``a[quoted]``; ``raw_ws`` the websocket frame
    carrying ``text`` itself (raw websocket endpoint).

    A binary message (:meth:`binary`, raw websocket only) has ``data`` and
    an empty ``text``; its ``raw_ws`` is a binary frame.  ``size`` is what a
    session's queue bound counts: characters of text, bytes of data.
    """

    __slots__ = ("text", "data", "size", "_quoted", "_sockjs_ws", "_raw_ws")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data: bytes | None = None
        self.size = len(text)
        self._quoted: str | None = None
        self._sockjs_ws: bytes | None = None
        self._raw_ws: bytes | None = None

    @classmethod
    def binary(cls, data: bytes) -> "Prepared":
        """A binary message (a protobuf push); raw websocket only."""
        prepared = cls("")
        prepared.data = data
        prepared.size = len(data)
        return prepared

    @classmethod
    def of(cls, message: str | bytes) -> "Prepared":
        """Text for a str, binary for bytes."""
        return cls(message) if isinstance(message, str) else cls.binary(message)

    @property
    def quoted(self) -> str:
        if self._quoted is None:
            self._quoted = _quote(self.text)
        return self._quoted

    @property
    def sockjs_ws(self) -> bytes:
        frame = self._sockjs_ws
        if frame is None:
            # Built once per broadcast, but once per message when every
            # channel has one subscriber (bench/run.py batch_1k): the quoted
            # form and the frame header inline, not through three calls.
            quoted = self._quoted
            if quoted is None:
                quoted = self._quoted = _quote(self.text)
            payload = ("a[" + quoted + "]").encode()
            size = len(payload)
            if size < 126:
                frame = bytes((0x81, size)) + payload
            elif size < 0x10000:
                frame = _HEAD16(0x81, 126, size) + payload
            else:
                frame = ws_frame(payload)
            self._sockjs_ws = frame
        return frame

    @property
    def raw_ws(self) -> bytes:
        if self._raw_ws is None:
            if self.data is not None:
                self._raw_ws = ws_frame(self.data, 0x2)
            else:
                # A lone surrogate (legal in a JSON string, not in UTF-8) must not
                # make a broadcast raise: it goes out as U+FFFD.
                self._raw_ws = ws_frame(self.text.encode("utf-8", "replace"))
        return self._raw_ws

    def __len__(self) -> int:
        return self.size


# SockJS framing (https://github.com/sockjs/sockjs-protocol): the text frames a
# SockJS client understands, before any transport-specific wrapping.
OPEN = "o"
HEARTBEAT = "h"


def close_frame(code: int, reason: str) -> str:
    """``c[code,"reason"]``: the last frame a SockJS session sends."""
    return "c" + json.dumps([code, reason], separators=(",", ":"))


#: How a raw websocket session writes several queued messages at once
#: (:attr:`transports.session.Session.batching`): each in its own frame (the
#: default), text joined by newlines in one text frame (JSON streaming), or
#: binary concatenated in one binary frame (length-delimited protobuf).
SEPARATE, LINES, CONCAT = "separate", "lines", "concat"


def batched_ws(items: "list[Prepared]", batching: str) -> bytes:
    """The websocket bytes of ``items`` (non-empty) in a ``batching`` mode."""
    if len(items) == 1:
        return items[0].raw_ws
    if batching == LINES:
        return ws_frame("\n".join([item.text for item in items]).encode("utf-8", "replace"))
    if batching == CONCAT:
        return ws_frame(b"".join([item.data or b"" for item in items]), 0x2)
    return b"".join([item.raw_ws for item in items])


def messages_frame(items: "list[Prepared]", batching: str = SEPARATE) -> str:
    """``a[...]``: every queued message of a session in one frame; each one
    a SockJS message of its own, or with ``LINES`` batching all of them
    joined by newlines in one SockJS message (JSON streaming over SockJS)."""
    if batching == LINES and len(items) > 1:
        return "a[" + _quote("\n".join([item.text for item in items])) + "]"
    return "a[" + ",".join([item.quoted for item in items]) + "]"


class BatchMemo:
    """The websocket frame of the last run of messages asked for, reused
    while the next sessions' queues hold the very same items.

    A broadcast's sessions flush one after another in one callback, and
    when several messages were queued in one loop iteration (a publisher
    faster than the tick) their queues are identical: the ``a[...]`` frame is
    then built once per flush instead of once per session.  Items are
    compared by identity (a Prepared never changes), so a memo that is not
    cleared is still never wrong; the registry clears it after each flush
    so it holds no message longer than that."""

    __slots__ = ("_items", "_batching", "_sockjs_ws")

    def __init__(self) -> None:
        self._items: list[Prepared] = []
        self._batching = SEPARATE
        self._sockjs_ws = b""

    def sockjs_ws(self, items: list[Prepared], batching: str = SEPARATE) -> bytes:
        """``ws_frame(messages_frame(items, batching))``, built once per run
        of items (and batching)."""
        if items != self._items or batching != self._batching:
            self._sockjs_ws = ws_frame(messages_frame(items, batching).encode())
            self._items = items
            self._batching = batching
        return self._sockjs_ws

    def clear(self) -> None:
        self._items = []
        self._sockjs_ws = b""

