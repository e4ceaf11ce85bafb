"""The raw websocket endpoint ``<prefix>/websocket``: no SockJS framing.

Text frames reach the application as text, binary frames as bytes when
the settings' ``binary_messages`` say so (else as UTF-8 text); what it
sends goes out one message per frame, or several merged in one frame as the
session's ``batching`` says (JSON lines, concatenated protobuf).  The
subprotocol is the first one the client offers among the settings'
``subprotocols``.  Close is a websocket close frame carrying the code and
reason; the server sends a ping every ``ping_interval`` (the registry's tick
drives it like SockJS heartbeats).
"""
from __future__ import annotations

import uuid
from transports.frames import SEPARATE, Prepared, batched_ws
from transports.headers import origin_allowed
from transports.host import SessionHost
from transports.interfaces import OpenRequest
from transports.wsbase import UpgradeHandler, WebSocketPeer, choose_subprotocol


class RawWebSocket(WebSocketPeer):
    """The Sink of a raw websocket session."""

    __slots__ = ("_host", "_remote_ip", "_request")

    def __init__(self, host: SessionHost, remote_ip: str, request: OpenRequest, handshake: bytes,
                 leftover: bytes) -> None:
        super().__init__(handshake, leftover, host.settings.max_message_size)
        self._host = host
        self._remote_ip = remote_ip
        self._request = request

    def start(self) -> None:
        session = self._host.new_session(uuid.uuid4().hex, "raw_websocket", self._remote_ip, self._request)
        self.session = session
        session.start(self._host.connection_factory, self)

    def write_open(self) -> None:
        """No open frame on a raw websocket."""

    def write_messages(self, items: list[Prepared]) -> None:
        if len(items) == 1:
            self.write(items[0].raw_ws)
        else:
            session = self.session
            self.write(batched_ws(items, session.batching if session is not None else SEPARATE))

    def write_heartbeat(self) -> None:
        self.send_ping()

    def write_close(self, code: int, reason: str) -> None:
        self.send_close(code, reason)

    def on_text(self, text: str) -> None:
        if self.session is not None:
            self.session.receive((text,))

    def on_binary(self, data: bytes) -> None:
        """With the settings' ``binary_messages``, binary frames reach the
        application as bytes (protobuf dialects); else as UTF-8 text."""
        if not self._host.settings.binary_messages:
            super().on_binary(data)
        elif self.session is not None:
            self.session.receive((data,))


class RawWebSocketHandler(UpgradeHandler):
    """Upgrade ``<prefix>/websocket``."""

    def subprotocol(self) -> str:
        return choose_subprotocol(self.request.headers, self.host.settings.subprotocols)

    def origin_refused(self) -> bool:
        return not origin_allowed(self.host.settings.allowed_origins, self.request.headers.get("Origin"))

    def make_peer(self, handshake: bytes, leftover: bytes) -> WebSocketPeer:
        request = OpenRequest(self.request.path, self.request.query, self.subprotocol())
        return RawWebSocket(self.host, self.request.remote_ip or "", request, handshake, leftover)
