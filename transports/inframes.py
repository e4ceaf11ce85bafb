"""The common inbound websocket frame, read without wsproto.

Almost every frame a client sends is one whole, masked, unfragmented text (or
binary) frame with no extension bits and a payload under 64 KiB.
:func:`read_simple` reads exactly those; anything else (control frames,
fragments, reserved bits, unmasked or over-long frames, non-minimal length
encodings) is reported as :data:`NOT_SIMPLE`, and the caller hands the bytes
from that frame on to wsproto, which then judges them as it always did.

wsproto unmasks in pure Python and runs its event machinery for every such
frame (a 270-byte connect+subscribe command); this reader does a small
fraction of that work (bench/run.py measures the connect storm).
"""
from __future__ import annotations

#: more bytes are needed to finish the simple frame that starts here
MORE = 0
#: the frame that starts here is not a simple one: wsproto's job
NOT_SIMPLE = -1
#: the opcodes of a simple frame read here
TEXT, BINARY = 0x1, 0x2

_SIMPLE_FIRST_BYTES = (0x81, 0x82)  # FIN, no RSV bits, text or binary


def unmask(data: bytes, key: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``key`` (RFC 6455 5.3), in C speed."""
    n = len(data)
    if not n:
        return b""
    mask = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


def read_simple(buf: bytes, pos: int, limit: int) -> tuple[int, int, bytes]:
    """``(opcode, end, payload)`` of the simple frame at ``buf[pos:]``, its
    payload unmasked; ``(MORE, 0, b"")`` when it is simple so far but
    incomplete; ``(NOT_SIMPLE, 0, b"")`` otherwise (also past ``limit``
    payload bytes, so that size errors come from the usual path)."""
    avail = len(buf) - pos
    if avail < 2:
        return MORE, 0, b""
    first, second = buf[pos], buf[pos + 1]
    if first not in _SIMPLE_FIRST_BYTES or not second & 0x80:
        return NOT_SIMPLE, 0, b""
    length = second & 0x7F
    head = pos + 6
    if length == 126:
        if avail < 4:
            return MORE, 0, b""
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 126:
            return NOT_SIMPLE, 0, b""  # non-minimal: wsproto fails it
        head = pos + 8
    elif length == 127:
        return NOT_SIMPLE, 0, b""
    if length > limit:
        return NOT_SIMPLE, 0, b""
    end = head + length
    if len(buf) < end:
        return MORE, 0, b""
    return first & 0x0F, end, unmask(buf[head:end], buf[head - 4:head])
