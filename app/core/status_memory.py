"""The in-process :class:`~app.core.status.StatusStore` (the memory engine's,
and the fallback of an engine without one): the same decisions as the Redis
store's scripts, on dicts of this process (no leases: a connection of
this process cannot outlive it).  Each method runs without an
await, so it is atomic on the event loop.  The outbox is a list bounded by
:data:`MAX_OUTBOX` (older events are dropped past it, and logged)."""
from __future__ import annotations

import json
import logging
import uuid

from app.core.status import OFF, ON, event_fields

logger = logging.getLogger("sockhub.status")

#: Events the in-process outbox keeps at most (a backend down for long).
MAX_OUTBOX = 100000


class MemoryStatusStore:
    """See the module docstring."""

    def __init__(self) -> None:
        self._client_groups: dict[str, set[str]] = {}
        self._groups: dict[str, set[str]] = {}
        self._grace: dict[str, float] = {}
        self._outbox: list[bytes] = []
        self.dropped = 0

    def _emit(self, names: dict[str, str], group: str, now: float) -> None:
        if len(self._outbox) >= MAX_OUTBOX:
            del self._outbox[0]
            self.dropped += 1
            if self.dropped % 1000 == 1:
                logger.warning("status outbox full: %d oldest events dropped", self.dropped)
        event = {"id": uuid.uuid4().hex, "name": names[group[0]], **event_fields(group),
                 "time_ms": int(now * 1000)}
        self._outbox.append(json.dumps(event, separators=(",", ":")).encode())

    async def enter(self, client: str, groups: list[str], expire_at: float, now: float) -> None:
        mine = self._client_groups.setdefault(client, set())
        for group in groups:
            mine.add(group)
            members = self._groups.setdefault(group, set())
            if client in members:
                continue
            members.add(client)
            if len(members) == 1 and self._grace.pop(group, None) is None:
                self._emit(ON, group, now)

    async def leave(self, client: str, groups: list[str], due: float, now: float) -> None:
        mine = self._client_groups.get(client, set())
        for group in groups:
            mine.discard(group)
            self._out(client, group, due, now)
        if not mine:
            self._client_groups.pop(client, None)

    def _out(self, client: str, group: str, due: float, now: float) -> None:
        members = self._groups.get(group)
        if members is None or client not in members:
            return
        members.discard(client)
        if members:
            return
        del self._groups[group]
        if due <= now:
            self._emit(OFF, group, now)
        else:
            self._grace[group] = due

    async def refresh(self, clients: list[str], expire_at: float) -> list[str]:
        """Nothing to renew: a connection of this process always leaves."""
        return []

    async def sweep(self, now: float) -> None:
        for group in [g for g, due in self._grace.items() if due <= now]:
            del self._grace[group]
            self._emit(OFF, group, now)

    async def take(self, owner: str, limit: int, lease: float) -> list[bytes] | None:
        return self._outbox[:limit]

    async def ack(self, owner: str, count: int) -> bool:
        del self._outbox[:count]
        return True

    @property
    def empty(self) -> bool:
        """No group, no connection, no grace, no event (churn tests)."""
        return not (self._client_groups or self._groups or self._grace or self._outbox)

    async def pending(self) -> int:
        return len(self._outbox)
