"""SockJS over websocket: ``<prefix>/<server>/<session>/websocket``.

Frames are SockJS frames in websocket text frames.  A session lives as long
as its websocket (session ids may be reused, sockjs-protocol says so).
A frame that is not JSON (or nests too deeply) ends the connection as the
settings' ``bad_frame_close`` says; nothing after it reaches the application.
"""
from __future__ import annotations

import json
from transports.frames import HEARTBEAT, OPEN, SEPARATE, Prepared, close_frame, ws_frame
from transports.headers import sockjs_origin_refused
from transports.host import SessionHost
from transports.interfaces import OpenRequest, kept_headers
from transports.strictjson import loads
from transports.wsbase import UpgradeHandler, WebSocketPeer

OPEN_FRAME = ws_frame(OPEN.encode())
HEARTBEAT_FRAME = ws_frame(HEARTBEAT.encode())


class SockJSWebSocket(WebSocketPeer):
    """The Sink of a SockJS websocket session."""

    __slots__ = ("_host", "_session_id", "_remote_ip", "_request")

    def __init__(self, host: SessionHost, session_id: str, remote_ip: str, request: OpenRequest,
                 handshake: bytes, leftover: bytes) -> None:
        super().__init__(handshake, leftover, host.settings.max_message_size)
        self._host = host
        self._session_id = session_id
        self._remote_ip = remote_ip
        self._request = request

    def start(self) -> None:
        session = self._host.new_session(self._session_id, "websocket", self._remote_ip, self._request)
        self.session = session
        session.start(self._host.connection_factory, self)

    def write_open(self) -> None:
        self.write(OPEN_FRAME)

    def write_messages(self, items: list[Prepared]) -> None:
        if len(items) == 1:
            # The frame a broadcast built once for every subscriber.
            self.write(items[0].sockjs_ws)
        else:
            # Sessions that got the same messages in this tick share one
            # frame (one SockJS message per item, or their lines in one).
            session = self.session
            self.write(self._host.batches.sockjs_ws(items, session.batching if session is not None else SEPARATE))

    def write_heartbeat(self) -> None:
        self.write(HEARTBEAT_FRAME)

    def write_close(self, code: int, reason: str) -> None:
        self.write(ws_frame(close_frame(code, reason).encode()))
        self.send_close(1000, "Normal closure")

    def on_text(self, text: str) -> None:
        if not text:
            return  # sockjs-protocol: empty frames are ignored
        try:
            decoded = loads(text, surrogates=True)  # JavaScript strings may hold them
        except ValueError:
            self._broken_frame()
            return
        items = decoded if isinstance(decoded, list) else [decoded]
        if items and self.session is not None:
            self.session.receive([m if isinstance(m, str) else json.dumps(m) for m in items])

    def _broken_frame(self) -> None:
        """Close for a frame that is not JSON (SockJSSettings.bad_frame_close)."""
        close = self._host.settings.bad_frame_close
        if close is None or self.session is None:
            self._fail(3000, "Broken framing.")
        else:
            self.session.close(*close)


class SockJSWebSocketHandler(UpgradeHandler):
    """Upgrade ``<prefix>/<server>/<session>/websocket`` (404 when disabled)."""

    def enabled(self) -> bool:
        return self.host.settings.websocket_enabled

    def origin_refused(self) -> bool:
        return sockjs_origin_refused(self.host.settings, self.request.headers.get("Origin"))

    async def get(self, server_id: str = "", session_id: str = "") -> None:  # type: ignore[override]
        self._session_id = session_id
        await super().get()

    def make_peer(self, handshake: bytes, leftover: bytes) -> WebSocketPeer:
        return SockJSWebSocket(self.host, self._session_id, self.request.remote_ip or "",
                               OpenRequest(self.request.path, self.request.query, "", kept_headers(
                                   self.request.headers.get_all(), self.host.settings.kept_headers)),
                               handshake, leftover)

