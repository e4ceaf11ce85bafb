"""The node's local registry of clients, users and channel subscriptions.

Duties and guarantees:

* ``client id -> client``, ``user -> clients`` and ``channel -> clients``
  for the connections of this node only;
* :meth:`Hub.subscribe` / :meth:`Hub.unsubscribe` tell the engine when the
  first local subscriber of a channel arrives and when the last one leaves.
  A per-channel lock covers the registry change and the engine call, so
  concurrent subscribes and unsubscribes of one channel are serialised and
  the engine sees subscribe/unsubscribe strictly alternating.  When the
  engine fails to subscribe, the registry is rolled back and the error
  propagates (nobody is left subscribed locally to a channel the engine does
  not deliver); ``on_first(channel)`` is called once the engine subscribed
  a channel's first local subscriber;
* :class:`Deadlines`: one heap of (time, item) for the node's periodic tick
  (stale, expiry and presence checks), instead of a timer per client.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Generic, Protocol, TypeVar

from app.core.engine import Engine, HistoryOptions

logger = logging.getLogger("sockhub.hub")


class HubClient(Protocol):
    """What the hub needs to know of a client."""

    @property
    def id(self) -> str: ...

    @property
    def user(self) -> str: ...


C = TypeVar("C", bound=HubClient)


class _ChannelLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Hub(Generic[C]):
    """Local registry; see the module docstring for its guarantees."""

    def __init__(self, engine: Engine, on_first: Callable[[str], None] | None = None) -> None:
        self._engine = engine
        self._on_first = on_first  # a channel's first local subscriber is registered with the engine
        self._clients: dict[str, C] = {}
        self._users: dict[str, set[C]] = {}
        self._channels: dict[str, set[C]] = {}
        self._locks: dict[str, _ChannelLock] = {}

    # clients and users

    def add_client(self, client: C) -> None:
        """Register an authenticated client under its id and user."""
        self._clients[client.id] = client
        self._users.setdefault(client.user, set()).add(client)

    def remove_client(self, client: C) -> None:
        if self._clients.get(client.id) is client:
            del self._clients[client.id]
        users = self._users.get(client.user)
        if users is not None:
            users.discard(client)
            if not users:
                del self._users[client.user]

    def client(self, client_id: str) -> C | None:
        return self._clients.get(client_id)

    def clients(self) -> list[C]:
        return list(self._clients.values())

    def user_clients(self, user: str) -> list[C]:
        return list(self._users.get(user, ()))

    @property
    def num_clients(self) -> int:
        return len(self._clients)

    @property
    def num_users(self) -> int:
        return len(self._users)

    # channels

    def channel_clients(self, channel: str) -> tuple[C, ...]:
        """A snapshot: safe to iterate while clients come and go."""
        return tuple(self._channels.get(channel, ()))

    def channels(self) -> list[str]:
        return list(self._channels)

    @property
    def num_channels(self) -> int:
        return len(self._channels)

    @property
    def num_subscriptions(self) -> int:
        return sum(len(s) for s in self._channels.values())

    @asynccontextmanager
    async def _locked(self, channel: str) -> AsyncIterator[None]:
        entry = self._locks.get(channel)
        if entry is None:
            entry = self._locks[channel] = _ChannelLock()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[channel]

    async def subscribe(self, channel: str, client: C) -> None:
        """Add ``client`` to ``channel``; engine.subscribe on the first one.

        Raises EngineError after rolling the registry back."""
        async with self._locked(channel):
            subscribers = self._channels.get(channel)
            first = subscribers is None
            if subscribers is None:
                subscribers = self._channels[channel] = set()
            subscribers.add(client)
            if not first:
                return
            try:
                await self._engine.subscribe(channel)
            except BaseException:
                subscribers.discard(client)
                if not subscribers:
                    del self._channels[channel]
                raise
            if self._on_first is not None:
                self._on_first(channel)

    async def unsubscribe(self, channel: str, client: C, history: HistoryOptions | None = None) -> None:
        """Remove ``client`` from ``channel``; engine.unsubscribe on the last
        (with the channel's ``history`` options, for drop_inactive).

        The registry change stands even if the engine fails (the error is
        raised: the engine may keep delivering, which the node ignores)."""
        async with self._locked(channel):
            subscribers = self._channels.get(channel)
            if subscribers is None or client not in subscribers:
                return
            subscribers.discard(client)
            if subscribers:
                return
            del self._channels[channel]
            await self._engine.unsubscribe(channel, history)

    def has_channel(self, channel: str) -> bool:
        return channel in self._channels
