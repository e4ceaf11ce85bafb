"""What the SockJS websocket and the raw websocket share.

The HTTP upgrade is checked (:func:`upgrade_error`) either by a fast route of
the port's FrontDoor (:class:`UpgradeDelegate`, no RequestHandler: the common
case) or by :class:`UpgradeHandler` (what the fast route leaves to the
application: odd paths, invalid upgrades and the answers they get); both then
call :func:`take_over`, the one place that answers the handshake: the
connection leaves Tornado (``detach``) for a bare asyncio Protocol on a dup of
its socket.  Inbound frames are parsed by wsproto (sans-IO: pings, closes,
fragments, UTF-8, masking), except the common whole text frame, read by
:mod:`transports.inframes` for as long as every frame a peer sends is one.  Outbound data frames are prebuilt bytes handed to
``transport.write`` (see :mod:`transports.frames`): no re-framing per
connection, no Task or Future per message.  Measured in bench/: this path is
several times faster than Tornado's WebSocketHandler.write_message.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from typing import Any, Awaitable, Callable, cast

from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, SSLIOStream
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

from transports.headers import BaseHandler
from transports.inframes import BINARY, MORE, NOT_SIMPLE, read_simple
from transports.session import Session
from transports.sockbuf import unacked_bytes
from transports.streamtransport import StreamTransport
from transports.tornado_compat import read_ahead

logger = logging.getLogger("sockhub.transports.websocket")

#: an unmasked ping frame without payload (server to client)
PING_FRAME = b"\x89\x00"

#: a peer that floods us faster than on_message consumes is paused past this
INBOUND_HIGH_WATER = 256

#: The reason, in our words, of each close code wsproto reports for a frame
#: it could not parse (its own reason is Python's exception text).
PARSE_FAILURES: dict[int, str] = {1002: "Protocol error", 1007: "Invalid UTF-8", 1009: "Message too big"}


def upgrade_error(headers: Any) -> tuple[int, str] | None:
    """Why these request headers are not a valid RFC 6455 upgrade, if so."""
    if headers.get("Upgrade", "").lower() != "websocket":
        return 400, 'Can "Upgrade" only to "WebSocket".'
    tokens = [t.strip().lower() for t in headers.get("Connection", "").split(",")]
    if "upgrade" not in tokens:
        return 400, '"Connection" must be "Upgrade".'
    if headers.get("Sec-WebSocket-Version") != "13":
        return 426, "Unsupported websocket version (13 only)."
    if not headers.get("Sec-WebSocket-Key"):
        return 400, "Missing Sec-WebSocket-Key."
    return None


def choose_subprotocol(headers: Any, accepted: tuple[str, ...]) -> str:
    """The first subprotocol the client offers (``Sec-WebSocket-Protocol``,
    in its order of preference) that the server accepts; "" for none."""
    if not accepted:
        return ""
    for offer in headers.get_list("Sec-WebSocket-Protocol"):
        for token in offer.split(","):
            token = token.strip()
            if token in accepted:
                return str(token)
    return ""


def handshake_response(key: str, subprotocol: str = "") -> bytes:
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    accept = base64.b64encode(digest).decode()
    chosen = f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else ""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n{chosen}\r\n"
    ).encode()


class WebSocketPeer(asyncio.Protocol):
    """One websocket connection.  Subclasses implement the session Sink and
    :meth:`on_text`; this class owns the socket and the wsproto state.

    Inbound bytes go to :func:`read_simple` while ``_fast`` holds (``_pending``
    keeps an incomplete simple frame); the first frame that is not simple
    turns it off for good and hands every byte from that frame on to wsproto,
    so frames are delivered in order and wsproto sees whole frames only.
    The wsproto Connection itself is made on first need (:meth:`_wsproto`):
    a peer that only ever receives simple frames and is sent data frames and
    pings never needs one (its state is OPEN until then), which saves the
    objects of ~10k idle connections (memory, and the GC's full passes)."""

    __slots__ = ("session", "_transport", "_ws", "_handshake", "_max_size",
                 "_parts", "_size", "_open", "_paused", "_fast", "_pending", "_backlogged")

    def __init__(self, handshake: bytes, leftover: bytes, max_size: int) -> None:
        self.session: Session | None = None
        self._transport: asyncio.Transport | None = None
        self._ws: Connection | None = None
        self._fast = True
        # Bytes Tornado read past the request (a client may pipeline frames).
        self._pending = leftover
        self._handshake = handshake
        self._max_size = max_size
        self._parts: list[str | bytes] = []
        self._size = 0
        self._open = False
        self._paused = False
        # True while the transport may hold unsent bytes (see connection_made)
        self._backlogged = True

    # -- hooks for subclasses ----------------------------------------------------

    def on_text(self, text: str) -> None:
        raise NotImplementedError

    def on_binary(self, data: bytes) -> None:
        """A binary message: read as UTF-8 text (SockJS carries text only);
        the raw websocket passes the bytes on instead."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "Invalid UTF-8")
            return
        self.on_text(text)

    def start(self) -> None:
        """Create and start the session (called once the handshake is out)."""
        raise NotImplementedError

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Duck-typed: uvloop's transports do not subclass asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._open = True
        try:
            # pause_writing() as soon as one byte stays buffered, resume_writing()
            # once all left: `buffered` (read on every delivery for the queue
            # bound) is then 0 without asking the transport.
            self._transport.set_write_buffer_limits(high=0)
            self._backlogged = False
        except NotImplementedError:
            pass  # a transport without flow control (TLS stream): always ask it
        self._transport.write(self._handshake)
        self.start()
        leftover, self._pending = self._pending, b""
        self._receive(leftover)  # frames that came with the upgrade request

    def data_received(self, data: bytes) -> None:
        if not self._open or (self._ws is not None and self._ws.state is ConnectionState.CLOSED):
            return  # failed (see _fail) or closed: what the peer still sends is discarded
        if self._pending:
            data, self._pending = self._pending + data, b""
        self._receive(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        self._transport = None
        if self.session is not None:
            self.session.detach(self, aborted=True)  # type: ignore[arg-type]

    # -- writing ----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write bytes unless the connection is closing or gone (never raises)."""
        if self._open and (self._ws is None or self._ws.state is ConnectionState.OPEN):
            self._transport.write(data)  # type: ignore[union-attr]

    @property
    def buffered(self) -> int:
        if not self._backlogged:
            return 0
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    @property
    def undelivered(self) -> int:
        """What the transport and the kernel still hold (graceful shutdown)."""
        transport = self._transport
        if transport is None:
            return 0
        return transport.get_write_buffer_size() + unacked_bytes(transport.get_extra_info("socket"))

    def pause_writing(self) -> None:
        self._backlogged = True
        if self.session is not None:
            self.session.writing_paused()

    def resume_writing(self) -> None:
        self._backlogged = False
        if self.session is not None:
            self.session.writing_resumed()

    def half_close(self, grace: float) -> None:
        """TCP half-close once the transport has sent what it holds (after
        our close frame): a peer that reads on gets the close frame, then EOF
        (the session's tick aborts the connection after ``grace``).
        Nothing is written after it (``write`` and ``send_close`` only write
        while the websocket is open)."""
        transport = self._transport
        if transport is None or not self._open:
            return
        try:
            if transport.can_write_eof():
                transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            pass  # no half-close on this transport: the grace timer still ends it

    def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the tick aborts it if it stalls."""
        if not self._open:
            return
        if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
            code = 1000  # a code RFC 6455 forbids on the wire would fail the client (1012-1014: IANA)
        # A control frame carries at most 125 bytes: 2 for the code.
        reason = reason.encode("utf-8")[:123].decode("utf-8", "ignore")
        try:
            data = self._wsproto().send(CloseConnection(code=code, reason=reason))
        except LocalProtocolError:
            return  # already closing
        self._transport.write(data)  # type: ignore[union-attr]

    def send_ping(self) -> None:
        # An empty server ping is two fixed bytes (wsproto's state does not
        # change when it sends one).
        self.write(PING_FRAME)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def resume(self) -> None:
        """Inbound backlog handled: read again (see INBOUND_HIGH_WATER)."""
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    # -- reading ------------------------------------------------------------------------

    def _wsproto(self) -> Connection:
        ws = self._ws
        if ws is None:
            ws = self._ws = Connection(ConnectionType.SERVER)
        return ws

    def _receive(self, data: bytes) -> None:
        if not self._fast:
            self._wsproto().receive_data(data)
            self._process()
            return
        pos = 0
        while pos < len(data):
            if not self._open:
                return  # failed: the rest of this read is not delivered
            opcode, end, payload = read_simple(data, pos, self._max_size)
            if opcode == MORE:
                self._pending = data[pos:]
                break
            if opcode == BINARY:
                pos = end
                self.on_binary(payload)
                continue
            try:
                text = payload.decode("utf-8") if opcode != NOT_SIMPLE else None
            except UnicodeDecodeError:
                text = None  # wsproto's answer
            if text is None:
                self._fast = False
                self._wsproto().receive_data(data[pos:])
                self._process()
                return
            pos = end
            self.on_text(text)
        self._check_backlog()

    def _process(self) -> None:
        ws = self._wsproto()
        for event in ws.events():
            if not self._open:
                return  # failed: the rest of this read is not delivered
            if isinstance(event, (TextMessage, BytesMessage)):
                self._on_data(event)
            elif isinstance(event, Ping):
                self.write(ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return
        self._check_backlog()

    def _check_backlog(self) -> None:
        session = self.session
        if session is not None and session.inbound_backlog > INBOUND_HIGH_WATER and not self._paused:
            self._paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]

    def _on_data(self, event: TextMessage | BytesMessage) -> None:
        """A data frame from wsproto: fragments are joined (text with text,
        bytes with bytes) up to ``max_size``, then the message is handed on."""
        data: str | bytes = event.data if isinstance(event.data, str) else bytes(event.data)
        self._size += len(data)
        if self._size > self._max_size:
            self._fail(1009, "Message too big")
            return
        if not event.message_finished:
            self._parts.append(data)
            return
        if self._parts:
            self._parts.append(data)
            data = "".join(self._parts) if isinstance(data, str) else b"".join(self._parts)  # type: ignore[arg-type]
            self._parts = []
        self._size = 0
        if isinstance(data, str):
            self.on_text(data)
        else:
            self.on_binary(data)

    def _on_close(self, event: CloseConnection) -> None:
        ws = self._wsproto()
        if ws.state is ConnectionState.REMOTE_CLOSING:  # theirs: echoed
            self._transport.write(ws.send(event.response()))  # type: ignore[union-attr]
        elif ws.state is not ConnectionState.CLOSED:
            # A frame wsproto could not parse, reported as a close event whose
            # reason is Python's exception text: the peer gets ours instead
            # (or, after our close frame, nothing more).
            code = int(event.code)
            if ws.state is ConnectionState.OPEN:
                self._fail(code, PARSE_FAILURES.get(code, "Protocol error"))
            self._open = False
            return
        # Either the answer to our close, or we just answered theirs: the
        # server closes the TCP connection first (RFC 6455 7.1.1).
        self._transport.close()  # type: ignore[union-attr]

    def _fail(self, code: int, reason: str) -> None:
        """Bad input: our close frame, then nothing more is read or written.
        The socket stays until the peer closes it, or the registry's tick
        aborts the closing handshake: closing it while the peer still sends
        would reset the connection, and a reset can destroy the close frame
        before the peer reads it."""
        self.send_close(code, reason)
        self._open = False
        if self.session is not None:
            # what came before the bad input is handled, then the application
            # is told; nothing more is written
            self.session.close_after_inbound(code, reason)
        elif self._transport is not None:
            self._transport.close()


#: ``(handshake, leftover) -> peer``: the peer of one upgraded connection
PeerFactory = Callable[[bytes, bytes], "WebSocketPeer"]


async def take_over(stream: IOStream, key: str, make_peer: PeerFactory, subprotocol: str = "") -> None:
    """Answer a valid upgrade (101 with Sec-WebSocket-Accept for ``key``, and
    the chosen ``subprotocol`` if any) and move the detached ``stream`` to the
    peer ``make_peer`` builds; the peer writes the 101 first, then its own
    frames."""
    handshake = handshake_response(key, subprotocol)
    if isinstance(stream, SSLIOStream):
        # TLS state lives in Tornado's stream: keep it (slower path).
        StreamTransport(stream, make_peer(handshake, b"")).start()
        return
    # Bytes Tornado read past the request belong to the websocket now.
    leftover = read_ahead(stream)
    try:
        sock = stream.socket.dup()
    except OSError:
        stream.close()
        return
    stream.close()  # the dup keeps the connection; Tornado lets go of it
    peer = make_peer(handshake, leftover)
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_accepted_socket(lambda: peer, sock=sock)
    except OSError:
        sock.close()


class UpgradeDelegate(httputil.HTTPMessageDelegate):
    """A fast route's answer to a request it claimed as a valid upgrade
    (``upgrade_error`` is None for its headers): detach as soon as the headers
    are in and :func:`take_over`; no Application, no RequestHandler."""

    __slots__ = ("_conn", "_make_peer", "_subprotocol")

    def __init__(self, conn: HTTP1Connection, make_peer: PeerFactory, subprotocol: str = "") -> None:
        self._conn = conn
        self._make_peer = make_peer
        self._subprotocol = subprotocol

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None]:
        # Tornado stops reading this connection once headers_received returns
        # after a detach (and awaits the take-over first).
        return take_over(self._conn.detach(), headers["Sec-WebSocket-Key"], self._make_peer, self._subprotocol)

    def data_received(self, chunk: bytes) -> None:
        return None

    def finish(self) -> None:
        return None

    def on_connection_close(self) -> None:
        return None


class UpgradeHandler(BaseHandler):
    """Checks and answers the upgrade, then hands the socket to a peer (for
    the requests the fast route leaves to the application)."""

    SUPPORTED_METHODS = ("GET", "POST", "OPTIONS", "PUT", "DELETE")

    def make_peer(self, handshake: bytes, leftover: bytes) -> WebSocketPeer:
        raise NotImplementedError

    def enabled(self) -> bool:
        return True

    def subprotocol(self) -> str:
        """The subprotocol this upgrade answers with ("" for none)."""
        return ""

    def origin_refused(self) -> bool:
        """Whether the request's Origin is not allowed here (403)."""
        return False

    async def get(self, *_: str) -> None:
        if not self.enabled():
            self.set_status(404)
            self.finish()
            return
        if self.origin_refused():
            return self.plain_error(403, "origin not allowed")
        error = upgrade_error(self.request.headers)
        if error is not None:
            if error[0] == 426:
                self.set_header("Sec-WebSocket-Version", "13")
            return self.plain_error(*error)
        await take_over(self.detach(), self.request.headers["Sec-WebSocket-Key"], self.make_peer, self.subprotocol())

    def post(self, *_: str) -> None:
        self.method_not_allowed("GET")

    put = delete = options = post
