"""The raw websocket endpoint ``<prefix>/websocket``: no SockJS framing.

Each message is one text frame both ways; close is a websocket close frame
carrying the code and reason; the server sends a ping every
``ping_interval`` (the registry's tick drives it like SockJS heartbeats).
"""
from __future__ import annotations

import uuid
from transports.frames import Prepared
from transports.host import SessionHost
from transports.wsbase import UpgradeHandler, WebSocketPeer


class RawWebSocket(WebSocketPeer):
    """The Sink of a raw websocket session."""

    __slots__ = ("_host", "_remote_ip")

    def __init__(self, host: SessionHost, remote_ip: str, handshake: bytes, leftover: bytes) -> None:
        super().__init__(handshake, leftover, host.settings.max_message_size)
        self._host = host
        self._remote_ip = remote_ip

    def start(self) -> None:
        session = self._host.new_session(uuid.uuid4().hex, "raw_websocket", self._remote_ip)
        self.session = session
        session.start(self._host.connection_factory, self)

    def write_open(self) -> None:
        """No open frame on a raw websocket."""

    def write_messages(self, items: list[Prepared]) -> None:
        if len(items) == 1:
            self.write(items[0].raw_ws)
        else:
            self.write(b"".join([item.raw_ws for item in items]))

    def write_heartbeat(self) -> None:
        self.send_ping()

    def write_close(self, code: int, reason: str) -> None:
        self.send_close(code, reason)

    def on_text(self, text: str) -> None:
        if self.session is not None:
            self.session.receive((text,))


class RawWebSocketHandler(UpgradeHandler):
    """Upgrade ``<prefix>/websocket``."""

    def make_peer(self, handshake: bytes, leftover: bytes) -> WebSocketPeer:
        return RawWebSocket(self.host, self.request.remote_ip or "", handshake, leftover)
