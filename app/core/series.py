"""The last 15 minutes of every node, for the admin page's charts.

One sample per ``node_ping_interval``: ``[t, connections, subscriptions,
messages in per second, messages out per second]`` (``t`` in seconds).  A
node samples itself when it pings the others and sends the sample along in
the ping, so every node holds the series of every node it hears from, and a
page opened late still sees the whole window.  Bounded: at most
:data:`MAX_SAMPLES` per node and nothing older than :data:`WINDOW` s; a node
the directory forgets is forgotten here too.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

#: Seconds of history kept.
WINDOW = 15 * 60.0
#: Samples kept per node whatever the interval (900 s at one per second).
MAX_SAMPLES = 900
#: Fields of a sample.
FIELDS = ("t", "connections", "subscriptions", "in_per_second", "out_per_second")

Sample = list[float]


def valid_sample(value: Any) -> bool:
    """A sample as :class:`Sampler` makes it (from another node: checked)."""
    return (isinstance(value, list) and len(value) == len(FIELDS)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and v >= 0 for v in value))


class Sampler:
    """This node's samples: the gauges as they are and the two message
    counters' rates since the previous sample."""

    def __init__(self) -> None:
        self._last: tuple[float, float, float] | None = None

    def sample(self, now: float, connections: float, subscriptions: float,
               messages_in: float, messages_out: float) -> Sample:
        """``messages_in``/``messages_out`` are totals; the sample has rates."""
        rate_in = rate_out = 0.0
        last = self._last
        if last is not None and now > last[0]:
            elapsed = now - last[0]
            rate_in = max(0.0, (messages_in - last[1]) / elapsed)
            rate_out = max(0.0, (messages_out - last[2]) / elapsed)
        self._last = (now, messages_in, messages_out)
        return [round(now, 3), connections, subscriptions, round(rate_in, 2), round(rate_out, 2)]


class SeriesBook:
    """The samples of every node this one knows, by node uid."""

    def __init__(self) -> None:
        self._series: dict[str, tuple[str, deque[Sample]]] = {}

    def add(self, uid: str, name: str, sample: Sample) -> None:
        found = self._series.get(uid)
        samples: deque[Sample] = found[1] if found else deque(maxlen=MAX_SAMPLES)
        samples.append(sample)
        self._series[uid] = (name, samples)

    def keep_only(self, uids: set[str]) -> None:
        """Forget the nodes not in ``uids``."""
        for uid in [u for u in self._series if u not in uids]:
            del self._series[uid]

    def nodes(self, now: float, first: str) -> list[dict[str, Any]]:
        """Every node's window (``first`` in front): ``{"uid", "name", "samples"}``."""
        out = []
        for uid in sorted(self._series, key=lambda u: u != first):
            name, samples = self._series[uid]
            while samples and samples[0][0] < now - WINDOW:
                samples.popleft()
            out.append({"uid": uid, "name": name, "samples": list(samples)})
        return out
