"""The measurements of issue 6, as data: who runs, how many connections, how
fast messages are published.  bench/run.py runs them, bench/report.py turns
the medians into the table and the targets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MESSAGES = 200  # per run, every scenario that publishes
SIZE = 100  # bytes of message text


@dataclass(frozen=True)
class Scenario:
    """One measurement.  ``who``: "all" servers, the ones with an HTTP "api",
    or "sockhub" alone.  ``rate`` 0 publishes all messages at once (burst)."""

    name: str
    title: str
    conns: int
    rate: float = 100.0
    messages: int = MESSAGES
    who: str = "all"
    transport: str = "websocket"
    api: dict[str, int] | None = None
    #: connections opened concurrently by the load client
    window: int = 200
    #: bytes of message text (the head "@<send ms>@ <seq> " is ~20 of them)
    size: int = SIZE

    def client_config(self, scale: float = 1.0) -> dict[str, Any]:
        """The load client's settings (``scale`` < 1 for a smoke run)."""
        conns = max(1, int(self.conns * scale))
        config: dict[str, Any] = {
            "conns": conns, "rate": self.rate, "messages": max(1, int(self.messages * scale)) if self.messages else 0,
            "size": self.size, "transport": self.transport, "window": min(self.window, conns),
        }
        if self.api is not None:
            config["api"] = dict(self.api, requests=max(1, int(self.api["requests"] * scale)))
        return config


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("p99_1k", "1k conns, 10 msg/s", 1000, rate=10),
    Scenario("rate_1k", "1k conns, 100 msg/s", 1000),
    # At 100 msg/s, 1k connections are offered only 100k deliveries/s: every
    # fast server shows the same figure there.  The burst says who is faster.
    Scenario("burst_1k", "1k conns, burst", 1000, rate=0),
    Scenario("burst_5k", "5k conns, burst", 5000, rate=0, window=500),
    # the wire's own weight: a message of little more than its send time
    Scenario("small_1k", "1k conns, 10 msg/s, 20-byte messages", 1000, rate=10, who="sockhub", size=20),
    # also the connect storm (10k opened 1000 at a time) and idle RSS at 10k
    Scenario("rate_10k", "10k conns, 100 msg/s", 10000, window=1000),
    # 19,900: the hard open-files limit of this machine is 20,000 per process
    # (and not raisable in this container), server and client alike
    Scenario("idle_20k", "19.9k idle conns (this machine's open-files limit is 20,000)", 19900, messages=0, who="sockhub", window=1000),
    Scenario("xhr_1k", "xhr-streaming, 1k conns, burst", 1000, rate=0, who="sockhub",
             transport="xhr_streaming"),
    Scenario("es_1k", "eventsource, 1k conns, burst", 1000, rate=0, who="sockhub",
             transport="eventsource"),
    # API: client i subscribes to channel bench<i>; publishes go round-robin
    Scenario("api_1k", "API publish, 1k subscribers", 1000, who="api",
             api={"requests": 5000, "batch": 1, "concurrency": 16}),
    Scenario("batch_1k", "API batch of 100 for 3 s, 1k subscribers", 1000, who="api",
             api={"requests": 3000, "batch": 100, "concurrency": 4, "seconds": 3}),
]}

#: bench/run.py's groups, each one invocation under about 10 minutes at 3 repetitions
GROUPS: dict[str, list[str]] = {
    "fanout": ["p99_1k", "rate_1k", "burst_1k", "burst_5k"],
    "large": ["rate_10k"],
    "sockhub": ["idle_20k", "xhr_1k", "es_1k", "api_1k", "batch_1k"],
    # issue 13: the dialects side by side on one server (GROUP_SERVERS)
    "dialects": ["p99_1k", "small_1k", "burst_1k", "burst_5k"],
}

#: a group measured on its own servers instead of every installed one
GROUP_SERVERS: dict[str, list[str]] = {
    "dialects": ["sockhub", "sockhub-1x-raw", "sockhub-v2-json", "sockhub-v2-protobuf", "sockhub-v1-json",
                 "sockhub-v1-protobuf"],
}
