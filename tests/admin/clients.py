"""Small clients for the admin end-to-end tests: a raw-websocket sockhub client,
the admin socket, and a signed HTTP API call."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import WebSocketClientConnection, websocket_connect

from app.dialects.v1x.auth import api_sign, connection_token


class RawClient:
    """One client on ``/connection/websocket``: commands get their reply by uid;
    pushes (no uid) are kept in order for :meth:`next_push`."""

    def __init__(self, ws: WebSocketClientConnection) -> None:
        self.ws = ws
        self._uid = 0
        self._pushes: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, base_url: str, secret: str, user: str = "42") -> "RawClient":
        ws = await websocket_connect(base_url.replace("http", "ws", 1) + "/connection/websocket")
        client = cls(ws)
        timestamp = str(int(time.time()))
        reply = await client.command("connect", {"user": user, "timestamp": timestamp, "info": "",
                                                 "token": connection_token(secret, user, timestamp, "")})
        assert "error" not in reply and reply["body"]["client"], reply
        return client

    async def command(self, method: str, params: dict[str, Any] | None = None, timeout: float = 5) -> dict[str, Any]:
        self._uid += 1
        uid = str(self._uid)
        await self.ws.write_message(json.dumps({"uid": uid, "method": method, "params": params or {}}))
        while True:
            frame = await self._read(timeout)
            if frame.get("uid") == uid:
                return frame
            self._pushes.append(frame)

    async def next_push(self, timeout: float = 5) -> dict[str, Any]:
        if self._pushes:
            return self._pushes.pop(0)
        return await self._read(timeout)

    async def _read(self, timeout: float) -> dict[str, Any]:
        text = await asyncio.wait_for(self.ws.read_message(), timeout)
        assert text is not None, f"connection closed: {self.ws.close_code} {self.ws.close_reason}"
        frame: dict[str, Any] = json.loads(text)
        return frame

    @property
    def open(self) -> bool:
        return self.ws.protocol is not None and self.ws.close_code is None

    def close(self) -> None:
        self.ws.close()


async def api_call(base_url: str, secret: str, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One signed command through ``POST /api/`` (JSON body, X-API-Sign)."""
    body = json.dumps({"method": method, "params": params}).encode()
    resp = await AsyncHTTPClient().fetch(base_url + "/api/", method="POST", body=body, headers={
        "Content-Type": "application/json", "X-API-Sign": api_sign(secret, body)})
    items: list[dict[str, Any]] = json.loads(resp.body)
    return items


async def read_json(ws: WebSocketClientConnection, timeout: float = 5) -> Any:
    """The next frame of ``ws``, decoded; fails if the socket closed instead."""
    text = await asyncio.wait_for(ws.read_message(), timeout)
    assert text is not None, f"connection closed: {ws.close_code} {ws.close_reason}"
    return json.loads(text)
