"""The seam between transports and the application.

A transport hands the application a :class:`SessionHandle` (the
application's handle on one session; :class:`transports.session.Session`
implements it); the application gives each session a :class:`Connection`.
Ordering guarantees, whatever the transport (websocket, any HTTP streaming or
polling transport, raw websocket):

* ``on_open`` is called exactly once, before any ``on_message``.
* ``on_message`` is awaited; the next message of the same session is not
  delivered before the previous call returned (in order, per session).
* ``on_close`` is called exactly once, after which the session drops every
  further ``send``.  It is called however the session ends: client close,
  server close, expiry after ``disconnect_delay`` without a receiver, or a
  dead peer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from transports.frames import Prepared


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """The HTTP request that opened a session, as far as the application
    may tell its client's protocol from it: the path, the raw query string,
    and the websocket subprotocol the server accepted ("" when none)."""

    path: str = ""
    query: str = ""
    subprotocol: str = ""


#: The request of a session made without one (tests, the echo servers).
NO_REQUEST = OpenRequest()


class SessionHandle(Protocol):
    """One logical client connection as the application sees it."""

    id: str
    #: "websocket", "xhr_streaming", "eventsource", "htmlfile", "xhr",
    #: "jsonp", "raw_websocket", or "http_stream" and "sse" (the
    #: emulation transports, transports.httpstream).
    transport: str
    remote_ip: str
    #: the request that opened the session
    request: OpenRequest
    #: how a raw websocket merges several queued messages into one write
    #: (transports.frames: SEPARATE, LINES or CONCAT); the application sets it
    batching: str

    @property
    def closed(self) -> bool: ...

    @property
    def pending_bytes(self) -> int:
        """Bytes queued for this session and not yet written to a socket.

        The application compares this with its own bound (Centrifugo's
        client_queue_max_size) after a send and decides what to do."""
        ...

    def send(self, text: str) -> None:
        """Queue one message.  Never blocks, never raises on a dead peer."""
        ...

    def send_binary(self, data: bytes) -> None:
        """Queue one binary message (raw websocket only: the other
        transports carry text; they drop it and count it as a bug, see
        Session.send_binary)."""
        ...

    def send_frame(self, frame: Prepared) -> None:
        """Queue an already-prepared message (shared by a broadcast)."""
        ...

    def close(self, code: int = 3000, reason: str = "Go away!", grace: float | None = None) -> None:
        """Flush what is queued, send the close frame and end the session.

        ``grace``: the peer is not taking its output (the application's
        queue bound): after the close frame the connection is half-closed,
        and dropped if the peer has not closed it ``grace`` seconds later."""
        ...

    def drop_queued(self) -> int:
        """Forget the messages queued and not yet handed to the socket (a
        peer too slow to take them, before its close); how many."""
        ...


class Connection(Protocol):
    """What the application attaches to a session."""

    def on_open(self) -> None: ...

    async def on_message(self, data: str | bytes) -> None:
        """One inbound message: text, or bytes for a binary websocket frame
        (raw websocket only; every other transport delivers text)."""
        ...

    def on_close(self) -> None: ...


ConnectionFactory = Callable[[SessionHandle], Connection]
