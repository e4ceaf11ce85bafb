"""The memory engine's record of idempotent publishes: (channel, key) ->
the first publish's position, for ``idempotent_result_ttl`` seconds.

Entries are kept in insertion order; every one lives the same ttl, so the
expired ones are always at the front and are dropped there (no heap).  At
most :data:`MAX_KEYS` are kept: past it the oldest goes first, as if its
ttl had passed (documented bound).
"""
from __future__ import annotations

from collections.abc import Callable

from app.core.values import StreamPosition

MAX_KEYS = 100_000


class IdempotentResults:
    """See the module docstring."""

    __slots__ = ("_clock", "_results")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._results: dict[tuple[str, str], tuple[float, StreamPosition]] = {}

    def seen(self, channel: str, key: str) -> StreamPosition | None:
        """The first publish's position when ``key`` was published into ``channel`` within its ttl."""
        self._drop_expired()
        found = self._results.get((channel, key))
        return None if found is None else found[1]

    def remember(self, channel: str, key: str, position: StreamPosition, ttl: float) -> None:
        results = self._results
        results[(channel, key)] = (self._clock() + ttl, position)
        while len(results) > MAX_KEYS:
            del results[next(iter(results))]

    def _drop_expired(self) -> None:
        results = self._results
        if not results:
            return
        now = self._clock()
        while results:
            first = next(iter(results))
            if results[first][0] > now:
                return
            del results[first]

    def __len__(self) -> int:
        return len(self._results)
