"""What the kernel still holds for a peer: bytes of a TCP socket's send
queue that the peer has not acknowledged (Linux ``SIOCOUTQ``).

Handing bytes to the kernel is not delivering them: a client that stopped
reading leaves them in the server's send buffer (megabytes), and they are
lost if the process ends before the client reads them.  Graceful shutdown
(:meth:`transports.router.SockJSRouter.drain`) counts a client's output as
delivered only once this is 0 too.  Read at shutdown only, never per message.
"""
from __future__ import annotations

import fcntl
import socket
import struct
import termios
from typing import Any

#: SIOCOUTQ is TIOCOUTQ on Linux; None where the platform has neither.
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)
_INT = struct.Struct("i")


def unacked_bytes(sock: Any) -> int:
    """Bytes written to ``sock`` (a socket, or anything with ``fileno()``)
    that its peer has not acknowledged yet; 0 when it cannot be known (no
    socket, closed, not TCP, another platform)."""
    if sock is None or _OUTQ is None:
        return 0
    try:
        fd = sock.fileno()
        if fd < 0:
            return 0
        if sock.type != socket.SOCK_STREAM:
            return 0
        raw = fcntl.ioctl(fd, _OUTQ, _INT.pack(0))
    except (OSError, ValueError, AttributeError):
        return 0
    return max(0, int(_INT.unpack(raw)[0]))
