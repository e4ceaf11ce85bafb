"""A raw-websocket client for the cluster tests that records every message
push it receives, in the background, while the test calls commands.

Built on tests/admin/clients.RawClient (connect with a token, commands
matched by uid).  Replies go to the command that waits for them; ``message``
pushes of any channel are appended to ``messages`` as (channel, data, uid).
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.admin.clients import RawClient
from tests.support.cluster import SECRET


class Recorder:
    """One connection on ``base_url``; see the module docstring."""

    def __init__(self, raw: RawClient) -> None:
        self.raw = raw
        self.messages: list[tuple[str, Any, str]] = []
        self.closed: tuple[int | None, str | None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._uid = 1000
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, base_url: str, user: str) -> "Recorder":
        return cls(await RawClient.connect(base_url, SECRET, user))

    async def command(self, method: str, params: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        self._uid += 1
        uid = str(self._uid)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[uid] = future
        await self.raw.ws.write_message(json.dumps({"uid": uid, "method": method, "params": params}))
        return await asyncio.wait_for(future, timeout)

    def numbers(self, channel: str) -> list[int]:
        return [data["n"] for ch, data, _ in self.messages if ch == channel]

    def uids(self, channel: str) -> list[str]:
        return [uid for ch, _, uid in self.messages if ch == channel]

    async def _read(self) -> None:
        ws = self.raw.ws
        while (text := await ws.read_message()) is not None:
            frame = json.loads(text)
            for item in frame if isinstance(frame, list) else [frame]:
                self._on_item(item)
        self.closed = (ws.close_code, ws.close_reason)
        for future in self._replies.values():
            if not future.done():
                future.set_exception(ConnectionError(f"closed {self.closed}"))

    def _on_item(self, item: dict[str, Any]) -> None:
        uid = item.get("uid")
        if uid and uid in self._replies:
            self._replies.pop(uid).set_result(item)
        elif item.get("method") == "message":
            body = item["body"]
            self.messages.append((body["channel"], body["data"], body["uid"]))

    async def close(self) -> None:
        self.raw.close()
        await asyncio.gather(self._reader, return_exceptions=True)


async def until(check: Any, timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``check()`` (sync or async) every 20 ms until true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{what} not reached in {timeout}s"
        await asyncio.sleep(0.02)
