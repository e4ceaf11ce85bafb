"""The Redis :class:`~app.core.status.StatusStore`: group membership,
leases, graces and the outbox on the first shard, changed only by the Lua
scripts of status_scripts.py (atomic, so "first in / last out" is decided
once for the whole cluster).  Calls go through the shard's
:class:`~app.engines.redis.batcher.Batcher` (one round trip per loop tick);
a Redis that lost its script cache is given them again."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from app.core.engine import EngineError
from app.engines.redis.batcher import Batcher
from app.engines.redis.scripts import Script
from app.engines.redis.status_scripts import ACK, ENTER, LEAVE, REFRESH, SWEEP, TAKE

logger = logging.getLogger("sockhub.engines.redis")

#: Dead connections and ended graces one sweep takes at most.
SWEEP_LIMIT = 1000


def status_base(prefix: str, cluster: bool) -> str:
    """The keys' common base (in a hash tag in Cluster mode)."""
    base = prefix + ".status"
    return "{" + base + "}" if cluster else base


class RedisStatusStore:
    """See the module docstring."""

    def __init__(self, batcher: Batcher, base: str) -> None:
        self._batcher = batcher
        self._base = base

    async def _run(self, script: Script, *args: Any) -> Any:
        try:
            return await self._batcher.call("EVALSHA", script.sha, 1, self._base + ".live", *args)
        except EngineError as exc:
            if "NOSCRIPT" not in str(exc) and "No matching script" not in str(exc):
                raise
        await self._batcher.call("SCRIPT", "LOAD", script.source)
        return await self._batcher.call("EVALSHA", script.sha, 1, self._base + ".live", *args)

    def _head(self, now: float) -> tuple[str, str, str]:
        return self._base, uuid.uuid4().hex, str(int(now * 1000))

    async def enter(self, client: str, groups: list[str], expire_at: float, now: float) -> None:
        await self._run(ENTER, *self._head(now), client, repr(expire_at), *groups)

    async def leave(self, client: str, groups: list[str], due: float, now: float) -> None:
        await self._run(LEAVE, *self._head(now), client, repr(due) if due > now else "0", *groups)

    async def refresh(self, clients: list[str], expire_at: float) -> list[str]:
        missing = await self._run(REFRESH, self._base, "", "0", repr(expire_at), *clients)
        return [client.decode() for client in missing]

    async def sweep(self, now: float) -> None:
        await self._run(SWEEP, *self._head(now), repr(now), SWEEP_LIMIT)

    async def take(self, owner: str, limit: int, lease: float) -> list[bytes] | None:
        items = await self._run(TAKE, self._base, owner, int(lease * 1000), limit)
        return None if items is None else list(items)

    async def ack(self, owner: str, count: int) -> bool:
        return bool(await self._run(ACK, self._base, owner, count))

    @property
    def base(self) -> str:
        return self._base

    async def keys(self) -> list[str]:
        """Every key of the store, sorted (churn tests; a SCAN, not for
        production paths).  A Cluster answers a page of every master at
        once, its cursor ``{node: cursor}``: asked again with a larger COUNT
        until each master's page was its last."""
        found: list[str] = []
        cursor: Any = 0
        count = 1000
        while True:
            cursor, batch = await self._batcher.call("SCAN", cursor, "MATCH", _glob(self._base) + "*", "COUNT", count)
            if isinstance(cursor, dict):  # Cluster mode
                if all(int(c) == 0 for c in cursor.values()):
                    return sorted(k.decode() for k in batch)
                cursor, count = 0, count * 10
                continue
            found.extend(k.decode() for k in batch)
            if int(cursor) == 0:
                return sorted(found)

    async def pending(self) -> int:
        return int(await self._batcher.call("LLEN", self._base + ".outbox"))


def _glob(text: str) -> str:
    """``text`` as a literal in a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
