"""Errors that are protocol: each carries what its answer needs.

* :class:`ProtocolError` (``error``, ``advice``): a command failed; the
  dialect writes it into the command's reply;
* :class:`Disconnect` (``reason``, ``reconnect``): close the client with
  advice, raised anywhere below a client's frame handling;
* :class:`HttpError` (``status``, ``message``): a whole HTTP request fails
  (the API, the API endpoint's own checks, the admin login).

The error and reason strings are the core's names for its errors and close
reasons.  They were taken from the Centrifugo 1.x protocol
(docs/protocol-1x.md §2, §6), which writes them as they are; every other
dialect maps each name to its own codes in one table where it writes them
(the core never formats a close frame or a reply: the dialect does).
"""
from __future__ import annotations

# Error strings of §2, used as reply errors and close reasons.
INVALID_MESSAGE = "invalid message"
METHOD_NOT_FOUND = "method not found"
NAMESPACE_NOT_FOUND = "namespace not found"
INTERNAL_SERVER_ERROR = "internal server error"
NOT_AVAILABLE = "not available"
UNAUTHORIZED = "unauthorized"
CLIENT_CLOSED = "client is closed"
INVALID_TOKEN = "invalid token"
PERMISSION_DENIED = "permission denied"
ALREADY_SUBSCRIBED = "already subscribed"
LIMIT_EXCEEDED = "limit exceeded"

# Close reasons of §6 that are not error strings.
STALE = "stale"
EXPIRED = "expired"
SLOW = "slow"
DISCONNECT = "disconnect"
SHUTTING_DOWN = "shutting down"
#: Close reason when the node lost messages of a channel (Redis PUB/SUB was
#: down); the client reconnects and recovers from history.  Centrifugo 2's name.
INSUFFICIENT_STATE = "insufficient state"
#: A history ``since`` position of another epoch than the channel's stream
#: (app.core.streams); Centrifugo's error 112.
UNRECOVERABLE_POSITION = "unrecoverable position"

ADVICE_FIX = "fix"
ADVICE_RETRY = "retry"


class ProtocolError(Exception):
    """A command failed; the reply carries ``error`` and ``advice``."""

    def __init__(self, error: str, advice: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.advice = advice


class Disconnect(Exception):
    """Close the client: the dialect's ``disconnect`` push, then its close
    frame for ``reason`` (whether the client should ``reconnect``).

    ``push`` False skips the push (``slow`` has one too: the queue it was
    too slow for is dropped to make room for it, see Client.close_slow).
    ``code``: the close code a server API call asked for (a dialect with
    close codes uses it with ``reason``; one without ignores it)."""

    def __init__(self, reason: str, reconnect: bool = False, push: bool = True, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reconnect = reconnect
        self.push = push
        self.code = code


class HttpError(Exception):
    """A request fails as a whole: HTTP ``status`` with the plain ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
