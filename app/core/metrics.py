"""Per-node counters, gauges and the API latency histogram (prometheus-client).

Everything lives in the node's own ``CollectorRegistry`` (``Metrics.registry``,
what the /metrics endpoint exposes), with the standard ``process_*`` and
``python_*`` collectors registered on it; nothing touches the global REGISTRY,
so several nodes can live in one process.  Names follow the Prometheus
conventions (base units, ``_total`` counters, no ``_created`` series; every
one is listed in docs/metrics.md).  The ``stats`` and ``node`` API read the
very same collectors through :meth:`Metrics.values`, which names them as
Centrifugo 1.8 does (docs/protocol-1x.md §14): ``sockhub_client_connects_total``
is reported as ``client_num_connect``, ``process_resident_memory_bytes`` as
``node_memory_sys``.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from prometheus_client import (CollectorRegistry, Counter, GCCollector, Gauge, Histogram, PlatformCollector,
                               ProcessCollector, disable_created_metrics)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

import app

PREFIX = "sockhub_"
#: Prometheus family name -> the 1.8 NodeInfo name (docs/protocol-1x.md §14).
#: Counters are summed over their labels; the histogram gives its ``_count``.
LEGACY_NAMES: dict[str, str] = {
    "sockhub_client_connects": "client_num_connect",
    "sockhub_client_subscribes": "client_num_subscribe",
    "sockhub_client_commands": "client_api_num_requests",
    "sockhub_client_messages_published": "client_num_msg_published",
    "sockhub_client_messages_queued": "client_num_msg_queued",
    "sockhub_client_received_bytes": "client_bytes_in",
    "sockhub_client_queued_bytes": "client_bytes_out",
    "sockhub_http_api_commands": "http_api_num_requests",
    "sockhub_http_api_request_duration_seconds": "http_api_count",
    "sockhub_node_messages_published": "node_num_client_msg_published",
    "sockhub_node_messages_received": "node_num_client_msg_received",
    "sockhub_node_join_leave_messages_received": "node_num_join_leave_msg_received",
    "sockhub_node_control_messages_received": "node_num_control_msg_received",
    "sockhub_node_slow_disconnects": "node_num_slow_disconnects",
    "sockhub_node_engine_errors": "node_num_engine_errors",
    "sockhub_node_connections": "node_num_connections",
    "sockhub_node_clients": "node_num_clients",
    "sockhub_node_unique_clients": "node_num_unique_clients",
    "sockhub_node_channels": "node_num_channels",
    "sockhub_node_subscriptions": "node_num_subscriptions",
    "process_resident_memory_bytes": "node_memory_sys",
}
#: 1.8's uptime gauge, computed from ``process_start_time_seconds``
LEGACY_UPTIME = "node_uptime_seconds"


class Tally:
    """Counts of the per-message counters not yet added to them.

    A prometheus ``inc`` takes a lock and checks its argument; the fan-out
    of one message counted three of them, the API two more.  The hot paths
    add to these plain ints (and to ``api_requests``, per method) instead,
    and :class:`_SettleOnScrape` adds them to the counters whenever the
    registry is collected (a /metrics scrape, ``stats``, ``node``), so the
    counters are exact whenever anyone reads them."""

    __slots__ = ("received", "delivered", "bytes_out", "published", "api_requests")
    #: the tallies, each named as the Metrics counter it settles into
    COUNTED = ("received", "delivered", "bytes_out", "published")

    def __init__(self) -> None:
        self.received = 0
        self.delivered = 0
        self.bytes_out = 0
        self.published = 0
        #: API commands by method, for the ``api_requests`` counter's children
        self.api_requests: dict[str, int] = {}


class _SettleOnScrape(Collector):
    """Registered first in the registry: every collection settles the tally
    into the counters before they are read; it exports nothing itself."""

    def __init__(self, settle: Callable[[], None]) -> None:
        self._settle = settle

    def describe(self) -> list[Metric]:
        return []  # no names of its own (and no collect() at registration)

    def collect(self) -> list[Metric]:
        self._settle()
        return []


class Metrics:
    """The collectors of one node.  Gauges that mirror the hub are read
    through callbacks given by the node (:meth:`bind_gauges`)."""

    def __init__(self, version: str = app.__version__) -> None:
        # prometheus-client's own switch (process-wide): a ``_created``
        # series per counter is noise to every scraper we know of.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        #: per-message counts waiting for the next collection
        self.tally = Tally()
        r.register(_SettleOnScrape(self._settle))  # first: collected before the counters
        ProcessCollector(registry=r)  # process_start_time_seconds, process_resident_memory_bytes, ...
        PlatformCollector(registry=r)  # python_info
        GCCollector(registry=r)  # python_gc_*

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(PREFIX + name, doc, labels, registry=r)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(PREFIX + name, doc, labels, registry=r)

        self.connections = gauge("node_connections", "Open client sessions by transport.", ("transport",))
        self.num_connect = counter("client_connects", "Successful client connect commands.")
        self.num_subscribe = counter("client_subscribes", "Successful client subscribe commands.")
        self.client_requests = counter("client_commands", "Client commands handled, by method.", ("method",))
        self.client_published = counter("client_messages_published", "Messages published by clients.")
        self.published = counter("node_messages_published", "Messages published through this node.")
        self.received = counter("node_messages_received", "Messages received from the engine.")
        self.delivered = counter("client_messages_queued", "Pushes queued to client sessions.")
        self.join_leave = counter("node_join_leave_messages_received", "Join/leave messages received.")
        self.control = counter("node_control_messages_received", "Control messages received.")
        self.bytes_in = counter("client_received_bytes", "Bytes received from clients.")
        self.bytes_out = counter("client_queued_bytes", "Bytes queued to clients.")
        self.api_requests = counter("http_api_commands", "API commands executed, by method.", ("method",))
        self.slow = counter("node_slow_disconnects", "Clients closed for a full outgoing queue.")
        self.engine_errors = counter("node_engine_errors", "Engine calls that failed.")
        self.api_latency = Histogram(
            PREFIX + "http_api_request_duration_seconds", "API request execution time in seconds.", registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.clients = gauge("node_clients", "Authenticated clients on this node.")
        self.unique_clients = gauge("node_unique_clients", "Distinct users on this node.")
        self.channels = gauge("node_channels", "Channels with local subscribers.")
        self.subscriptions = gauge("node_subscriptions", "Client subscriptions on this node.")
        self.build_info = Gauge(PREFIX + "build_info", "Always 1; the version of sockhub in its label.",
                                ("version",), registry=r)
        self.build_info.labels(version).set(1)
        # labels() builds a tuple, takes a lock and looks up a dict per call; the
        # children of a label value never change, so they are looked up once.
        self._children: dict[tuple[int, str], Any] = {}

    def _settle(self) -> None:
        """Add the tally to its counters (on every collection of the registry)."""
        tally = self.tally
        for name in Tally.COUNTED:
            count = getattr(tally, name)
            if count:
                getattr(self, name).inc(count)
                setattr(tally, name, 0)
        if tally.api_requests:
            counts, tally.api_requests = tally.api_requests, {}
            for method, count in counts.items():
                self.child(self.api_requests, method).inc(count)

    def child(self, metric: Counter | Gauge, value: str) -> Any:
        """``metric.labels(value)``, looked up once per value."""
        key = (id(metric), value)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(value)
        return found

    def bind_gauges(self, clients: Callable[[], float], users: Callable[[], float],
                    channels: Callable[[], float], subscriptions: Callable[[], float]) -> None:
        """Read the hub's sizes when collected, so they can never drift."""
        self.clients.set_function(clients)
        self.unique_clients.set_function(users)
        self.channels.set_function(channels)
        self.subscriptions.set_function(subscriptions)

    def flow_totals(self) -> tuple[float, float]:
        """(messages published through this node, pushes queued to clients)
        so far, the tallies included: what the admin charts' rates are made
        of (read from the collectors, whatever their exported names)."""
        def total(counter: Counter) -> float:  # summed over labels: its ``_total`` samples
            return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))

        tally = self.tally
        return total(self.published) + tally.published, total(self.delivered) + tally.delivered

    def values(self) -> dict[str, int]:
        """The node's counters and gauges, summed over labels, by their 1.8
        names (:data:`LEGACY_NAMES`, plus ``node_uptime_seconds``)."""
        counters, gauges = self.split_values()
        return counters | gauges

    def split_values(self) -> tuple[dict[str, int], dict[str, int]]:
        """(counters, gauges) as :meth:`values` names them (the collection
        settles the tally first)."""
        counters: dict[str, int] = {}
        gauges: dict[str, int] = {LEGACY_UPTIME: 0}
        for family in self.registry.collect():
            if family.name == "process_start_time_seconds" and family.samples:
                gauges[LEGACY_UPTIME] = max(0, int(time.time() - family.samples[0].value))
            legacy = LEGACY_NAMES.get(family.name)
            if legacy is None:
                continue
            for sample in family.samples:
                if family.type == "histogram":
                    if sample.name.endswith("_count"):
                        counters[legacy] = int(sample.value)
                elif family.type == "counter":
                    if sample.name.endswith("_total"):
                        counters[legacy] = counters.get(legacy, 0) + int(sample.value)
                else:
                    gauges[legacy] = gauges.get(legacy, 0) + int(sample.value)
        return counters, gauges
