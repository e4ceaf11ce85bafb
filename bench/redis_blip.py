"""A Redis blip under load: what the subscribers see.

    .venv/bin/python bench/redis_blip.py [--conns 5000] [--channels 100] [--rate 200]
        [--stall 5] [--before 8] [--after 15] [--out bench/results/redis-blip.json]

Two ``sockhub --engine redis`` nodes on one redis-server (tests/support/cluster.py;
history 1000, recover on), ``conns`` SockJS websocket sessions speaking the
Centrifugo 1.x protocol spread over the nodes (bench/clients/faults.js, its
own Node process), client i subscribed to channel ``f<i % channels>``.  A
numbered stream publishes ``rate`` messages a second round-robin over the
channels through both nodes' HTTP APIs (each publish its own request, none
waiting for the previous one), for ``before`` seconds, then Redis is
SIGSTOPped for ``stall`` seconds and SIGCONTed, and the stream goes on for
``after`` seconds; then the load client reports what every client received.

Printed: clients closed; messages lost (answered 200 and not received by a
subscriber of its channel, counted per subscriber), duplicated (received twice
by one subscriber), out of history order; publishes answered "not done" /
"outcome unknown"; delivery latency p50/p99 of the messages published in the
second before the stall up to 5 s after it ended, and in the steady state
before.  A figure, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tornado.httpclient import AsyncHTTPClient  # noqa: E402

from tests.support.cluster import SECRET, Cluster  # noqa: E402

CLIENT = ROOT / "bench/clients/faults.js"
CONFIG = {"history_size": 1000, "history_lifetime": 600, "recover": True}


class Stream:
    """Publishes n = 1, 2, ... at ``rate``/s, each its own request; keeps every answer."""

    def __init__(self, cluster: Cluster, channels: int, rate: float) -> None:
        self.cluster = cluster
        self.channels = channels
        self.rate = rate
        self.sent: dict[int, float] = {}  # n -> wall clock ms it was sent
        self.answers: dict[int, tuple[int, str]] = {}  # n -> (status, error text)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    def channel(self, n: int) -> str:
        return f"f{n % self.channels}"

    async def run(self) -> None:
        n = 0
        started = time.monotonic()
        while not self._stop.is_set():
            n += 1
            task = asyncio.create_task(self._publish(n))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(max(0.0, started + n / self.rate - time.monotonic()))

    async def _publish(self, n: int) -> None:
        url = self.cluster.urls[n % len(self.cluster.urls)]
        at = time.time() * 1000
        self.sent[n] = at
        status, reply = await self.cluster.api(url, "publish", {"channel": self.channel(n),
                                                                "data": {"n": n, "t": at}}, timeout=30)
        error = "" if status == 200 and reply[0]["error"] is None else str(reply)
        self.answers[n] = (status, error)

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks))


def p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def history_order(cluster: Cluster, channels: int) -> dict[str, list[int]]:
    out = {}
    for index in range(channels):
        body = await cluster.result(cluster.urls[0], "history", {"channel": f"f{index}"})
        out[f"f{index}"] = [m["data"]["n"] for m in reversed(body["data"])]
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    AsyncHTTPClient.configure(None, max_clients=2000)
    with tempfile.TemporaryDirectory(prefix="sockhub-blip-") as tmp, \
            Cluster(Path(tmp), 2, CONFIG, nginx=False, log_level="info") as cluster:
        config = {"urls": cluster.urls, "path": "/connection", "secret": SECRET, "conns": args.conns,
                  "channels": args.channels, "window": 100}
        client = subprocess.Popen(["node", str(CLIENT), json.dumps(config)], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert client.stdin is not None and client.stdout is not None
        try:
            ready = await asyncio.to_thread(client.stdout.readline)
            assert ready.strip() == "ready", ready
            stream = Stream(cluster, args.channels, args.rate)
            publishing = asyncio.create_task(stream.run())
            await asyncio.sleep(args.before)
            stall_at = time.time() * 1000
            cluster.pause_redis(True)
            await asyncio.sleep(args.stall)
            cluster.pause_redis(False)
            resume_at = time.time() * 1000
            await asyncio.sleep(args.after)
            await stream.stop()
            publishing.cancel()
            await asyncio.sleep(3)  # the last deliveries
            client.stdin.write("stop\n")
            client.stdin.flush()
            out = await asyncio.to_thread(client.stdout.readline)
            order = await history_order(cluster, args.channels)
            logs = "".join(node.logs() for node in cluster.nodes)
        finally:
            if client.poll() is None:
                client.kill()
            client.wait()
    return summarize(json.loads(out)["clients"], stream, order, stall_at, resume_at, logs)


def summarize(clients: list[dict[str, Any]], stream: Stream, order: dict[str, list[int]], stall_at: float,
              resume_at: float, logs: str) -> dict[str, Any]:
    acked = {n for n, (status, error) in stream.answers.items() if status == 200 and not error}
    not_done = {n for n, (_, error) in stream.answers.items() if "not done" in error}
    unknown = {n for n, (_, error) in stream.answers.items() if "outcome unknown" in error}
    in_history = {n for ns in order.values() for n in ns}
    by_channel: dict[str, set[int]] = {}
    for n in acked:
        by_channel.setdefault(stream.channel(n), set()).add(n)
    lost = duplicated = disordered = 0
    blip: list[float] = []
    steady: list[float] = []
    for record in clients:
        got = record["n"]
        seen = set(got)
        lost += len(by_channel.get(record["channel"], set()) - seen)
        duplicated += len(got) - len(seen)
        history = [n for n in order.get(record["channel"], []) if n in seen]
        kept = set(history)
        disordered += 0 if [n for n in got if n in kept] == history else 1
        for n, latency in zip(got, record["lat"]):
            sent = stream.sent.get(n, 0)
            if stall_at - 1000 <= sent <= resume_at + 5000:
                blip.append(latency)
            elif sent < stall_at - 1000:
                steady.append(latency)
    return {
        "clients": len(clients), "closed": sum(1 for r in clients if r["closed"]),
        "published": len(stream.answers), "acknowledged": len(acked), "not_done": len(not_done),
        "outcome_unknown": len(unknown), "unknown_delivered": len(unknown & in_history),
        "lost": lost, "duplicated": duplicated, "clients_out_of_order": disordered,
        "deliveries": sum(len(r["n"]) for r in clients),
        "blip_p50_ms": p(blip, 0.5), "blip_p99_ms": p(blip, 0.99), "blip_max_ms": p(blip, 1.0),
        "steady_p50_ms": p(steady, 0.5), "steady_p99_ms": p(steady, 0.99),
        "gaps_filled": logs.count("filled from history"), "gap_closes": logs.count("closing"),
        "median_latency_ms": round(statistics.median(blip + steady), 1) if blip or steady else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conns", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--stall", type=float, default=5)
    parser.add_argument("--before", type=float, default=8)
    parser.add_argument("--after", type=float, default=15)
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "result": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
