"""The node directory: this node's NodeInfo, the other nodes it heard from,
and the interval metrics.

Every ``node_ping_interval`` the node tells the others it is alive (a
control ``ping`` carrying its NodeInfo); a node silent for 2*interval+1 s is
forgotten.  Each ping carries the sender's sample for the admin charts
(app.core.series), so every node holds every node's last 15 minutes.
Every ``node_metrics_interval`` the counters' deltas since the
last interval become what ``stats`` reports, as Centrifugo 1.8 does (docs/protocol-1x.md §14).
"""
from __future__ import annotations

import logging
import socket
from typing import Any, Awaitable, Callable

import app
from app.core.context import Context
from app.core.engine import EngineError
from app.core.series import FIELDS, WINDOW, Sampler, SeriesBook, valid_sample

logger = logging.getLogger("sockhub.directory")

#: How the directory tells the other nodes: ``send(method, params)`` (app.core.control).
SendControl = Callable[[str, dict[str, Any]], Awaitable[None]]


class Directory:
    """See the module docstring."""

    def __init__(self, ctx: Context, uid: str, started_at: float, send_control: SendControl) -> None:
        self._ctx = ctx
        self.uid = uid
        self.started_at = started_at
        self._send_control = send_control
        self._nodes: dict[str, tuple[dict[str, Any], float]] = {}
        self._next_ping = 0.0
        self._next_metrics = started_at + ctx.options.node_metrics_interval
        self._metrics_base: dict[str, int] = {}
        self._interval_metrics: dict[str, int] = {}
        self._sampler = Sampler()
        self._series = SeriesBook()

    def node_info(self, raw: bool = True) -> dict[str, Any]:
        """NodeInfo (1.8 shape): raw totals, or the last interval's deltas."""
        metrics = self._ctx.metrics.values() if raw else self._current_interval()
        return {"uid": self.uid, "version": app.__version__, "name": self.name(),
                "started_at": int(self.started_at), "metrics": metrics}

    def name(self) -> str:
        options = self._ctx.options
        return options.name or f"{socket.gethostname()}_{options.port}"

    def _current_interval(self) -> dict[str, int]:
        return self._interval_metrics or self._ctx.metrics.values()

    def _roll_metrics(self) -> None:
        counters, gauges = self._ctx.metrics.split_values()
        base = self._metrics_base
        self._interval_metrics = {k: v - base.get(k, 0) for k, v in counters.items()} | gauges
        self._metrics_base = counters

    def node_seen(self, uid: str, info: dict[str, Any], sample: Any = None) -> None:
        self._nodes[uid] = (info, self._ctx.clock())
        name = info.get("name")
        if valid_sample(sample) and isinstance(name, str):
            self._series.add(uid, name, sample)

    def knows(self, uid: str) -> bool:
        """``uid`` is this node or one heard from lately (its pings)."""
        return uid == self.uid or uid in self._nodes

    def _forget_silent(self) -> None:
        horizon = self._ctx.clock() - (2 * self._ctx.options.node_ping_interval + 1)
        for uid in [u for u, (_, seen) in self._nodes.items() if seen < horizon]:
            del self._nodes[uid]
        self._series.keep_only(set(self._nodes) | {self.uid})

    def nodes(self) -> list[dict[str, Any]]:
        """Every live node, this one first (interval metrics, as 1.8 stats)."""
        self._forget_silent()
        return [self.node_info(raw=False)] + [info for info, _ in self._nodes.values()]

    def series(self) -> dict[str, Any]:
        """Every live node's samples of the last :data:`~app.core.series.WINDOW` s."""
        self._forget_silent()
        return {"window": WINDOW, "interval": self._ctx.options.node_ping_interval,
                "fields": list(FIELDS), "nodes": self._series.nodes(self._ctx.clock(), self.uid)}

    def _sample(self, now: float, name: str) -> list[float]:
        """This node's sample now (also kept in its own series)."""
        hub, metrics = self._ctx.hub, self._ctx.metrics
        messages_in, messages_out = metrics.flow_totals()
        sample = self._sampler.sample(now, hub.num_clients, hub.num_subscriptions, messages_in, messages_out)
        self._series.add(self.uid, name, sample)
        return sample

    async def tick(self, now: float) -> None:
        """The node ping and the metrics interval, when due at ``now``."""
        options = self._ctx.options
        if now >= self._next_ping:
            self._next_ping = now + options.node_ping_interval
            await self._ping_nodes(now)
        if now >= self._next_metrics:
            self._next_metrics = now + options.node_metrics_interval
            self._roll_metrics()

    async def _ping_nodes(self, now: float) -> None:
        self._forget_silent()  # also bounds what nodes gone for good leave behind
        info = self.node_info(raw=False)
        sample = self._sample(now, info["name"])
        try:
            await self._send_control("ping", {"info": info, "sample": sample})
        except EngineError as exc:
            self._ctx.metrics.engine_errors.inc()
            logger.warning("node ping failed: %s", exc)
