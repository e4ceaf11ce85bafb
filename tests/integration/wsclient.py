"""A blocking raw-websocket protocol client for integration tests.

It speaks the Centrifugo 1.x client protocol over ``/connection/websocket``
(docs/protocol-1x.md §2) with websocket-client: commands out, replies matched by uid,
pushes (no uid) kept in order in ``pushes``.
"""
from __future__ import annotations

import itertools
import json
import time
from typing import Any

import websocket

from app.dialects.v1x.auth import connection_token


class Closed(Exception):
    """The server closed the websocket: ``code`` and ``reason`` of its close frame."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class ProtocolClient:
    def __init__(self, url: str, timeout: float = 10.0, **options: Any) -> None:
        """``options`` go to websocket.create_connection (``header``, ``cookie``)."""
        self.ws = websocket.create_connection(url, timeout=timeout, **options)
        self._uids = itertools.count(1)
        self.pushes: list[dict[str, Any]] = []
        self.client_id = ""

    def close(self) -> None:
        try:
            if self.ws.connected:
                self.ws.close(timeout=1)
        finally:
            self.ws.shutdown()  # the socket, also when the server closed first

    def __enter__(self) -> "ProtocolClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def receive(self) -> Any:
        """The next JSON frame; raises Closed on the server's close frame."""
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                return json.loads(data)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                raise Closed(code, data[2:].decode("utf-8", "replace"))

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command; returns its reply (pushes that arrive first are kept)."""
        uid = str(next(self._uids))
        command: dict[str, Any] = {"uid": uid, "method": method}
        if params is not None:
            command["params"] = params
        self.ws.send(json.dumps(command))
        while True:
            frame = self.receive()
            for item in frame if isinstance(frame, list) else [frame]:
                if item.get("uid") == uid:
                    return item
                self.pushes.append(item)

    def connect(self, secret: str, user: str, info: str = "") -> dict[str, Any]:
        timestamp = str(int(time.time()))
        reply = self.call("connect", {"user": user, "timestamp": timestamp, "info": info,
                                      "token": connection_token(secret, user, timestamp, info)})
        assert not reply.get("error"), reply
        self.client_id = reply["body"]["client"]
        return reply

    def subscribe(self, channel: str, **params: Any) -> dict[str, Any]:
        return self.call("subscribe", {"channel": channel, **params})

    def next_push(self, method: str | None = None) -> dict[str, Any]:
        """The next push (of ``method`` when given), waiting for it."""
        while True:
            for index, push in enumerate(self.pushes):
                if method is None or push.get("method") == method:
                    return self.pushes.pop(index)
            frame = self.receive()
            self.pushes.extend(frame if isinstance(frame, list) else [frame])

    def wait_closed(self) -> Closed:
        """Read until the close frame; returns it (pushes before it are kept)."""
        try:
            while True:
                frame = self.receive()
                self.pushes.extend(frame if isinstance(frame, list) else [frame])
        except Closed as closed:
            return closed
