"""Several SockJS services on one server, handled as one.

A server may serve more than one :class:`~transports.router.SockJSRouter`
(one per client endpoint, each with its own prefix and settings).  Routing
order matters when one prefix lies under another (``/connection/sockjs``
under ``/connection``, where ``sockjs`` would read as a server id): the
routers are given most specific first, and their rules and fast routes
keep that order.  Shutdown (close, hold, drain, stop) and the counts cover
every router.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import Iterator, Sequence

from transports.front import BodyRule, FastRoute
from transports.router import Rule, SockJSRouter
from transports.session import Session


class Routers:
    """The SockJS services of one server, in routing order (see the
    module docstring)."""

    def __init__(self, routers: Sequence[SockJSRouter]) -> None:
        if not routers:
            raise ValueError("at least one router")
        self._routers = tuple(routers)

    def at(self, prefix: str) -> SockJSRouter:
        """The router serving ``prefix`` (KeyError when none does)."""
        for router in self._routers:
            if router.prefix == prefix.rstrip("/"):
                return router
        raise KeyError(prefix)

    def __iter__(self) -> Iterator[SockJSRouter]:
        return iter(self._routers)

    def __len__(self) -> int:
        """Live sessions of every router."""
        return sum(len(router.registry) for router in self._routers)

    @property
    def urls(self) -> list[Rule]:
        return [rule for router in self._routers for rule in router.urls]

    def fast_routes(self) -> list[FastRoute]:
        return [route for router in self._routers for route in router.fast_routes()]

    def body_rules(self) -> list[BodyRule]:
        return [rule for router in self._routers for rule in router.body_rules()]

    def sessions(self) -> list[Session]:
        return [session for router in self._routers for session in router.registry.sessions()]

    def scheduled(self) -> int:
        """Live deadline entries of every router's registry."""
        return sum(router.registry.scheduled() for router in self._routers)

    def sessions_by_transport(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for router in self._routers:
            total.update(router.sessions_by_transport())
        return dict(total)

    def close_all(self, code: int, reason: str) -> None:
        for router in self._routers:
            router.close_all(code, reason)

    def hold_closing(self, timeout: float) -> None:
        for router in self._routers:
            router.hold_closing(timeout)

    async def drain(self, timeout: float) -> int:
        """Every router's drain at once, within one ``timeout``; how many
        sessions and responses had output left in all."""
        dropped = await asyncio.gather(*(router.drain(timeout) for router in self._routers))
        return sum(dropped)

    async def stop(self) -> None:
        for router in self._routers:
            await router.stop()
