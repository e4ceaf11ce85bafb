"""A heap of deadlines whose items can be cancelled at once.

Used by the session registry (heartbeats, expiry, close timeouts) and by the
node (client stale, expiry and presence timers): a cancelled entry lets go
of its item immediately, so a closed session or client is freed when it
leaves, not when its next deadline would have come.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

T = TypeVar("T")


class Deadlines(Generic[T]):
    """A heap of (when, item).  :meth:`push` returns a handle; :meth:`cancel`
    lets go of the item at once (a closed client is not kept alive until its
    deadline), and its heap slot is skipped when it comes due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._items: dict[int, T] = {}
        self._seq = itertools.count()

    def push(self, when: float, item: T) -> int:
        handle = next(self._seq)
        self._items[handle] = item
        heapq.heappush(self._heap, (when, handle))
        return handle

    def cancel(self, handle: int) -> None:
        """Forget the item of ``handle`` (no-op once it was popped)."""
        if self._items.pop(handle, None) is not None and len(self._heap) > 2 * len(self._items) + 64:
            # mostly cancelled slots: rebuild rather than carry them to their deadlines
            self._heap = [entry for entry in self._heap if entry[1] in self._items]
            heapq.heapify(self._heap)

    def pop_due(self, now: float) -> list[T]:
        """Every item due at ``now``, earliest first."""
        due: list[T] = []
        heap, items = self._heap, self._items
        while heap and heap[0][0] <= now:
            item = items.pop(heapq.heappop(heap)[1], None)
            if item is not None:
                due.append(item)
        return due

    def __len__(self) -> int:
        return len(self._items)
