"""Fan-out through Redis: deliveries/s with 1, 2 and 3 sockhub nodes behind one Redis.

    .venv/bin/python bench/cluster_fanout.py \\
        [--nodes 1,2,3] [--conns 1000] [--rate 100] [--seconds 4] [--reps 1]

For each node count a fresh redis-server (free port, no persistence) and that
many ``sockhub --engine redis`` processes start (tests/support/cluster.py).
The load client (bench/clients/fanout.js, its own Node process, the one
bench/run.py uses) opens ``conns`` SockJS websocket sessions speaking the
Centrifugo protocol (connect with a token, subscribe one channel), spread
round-robin over the nodes, then publishes ``rate`` ~100-byte messages a
second through the HTTP API of node 0 for ``seconds``.  Every message goes
node 0 -> Redis -> every node -> its subscribers.

Printed per run: deliveries/s, p50/p99 latency (API send -> receipt, one
clock), lost (not delivered within the drain time) and the nodes' CPU time
per delivery (all nodes together).  All processes share this machine's cores
(2 here), so more nodes do not add CPU: the figures show what Redis
distribution costs, not how it scales on more machines.  A figure, not a
test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import cpu_seconds, load_client  # noqa: E402
from tests.support.cluster import SECRET, Cluster  # noqa: E402

def run_once(nodes: int, conns: int, rate: float, seconds: float, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sockhub-cluster-bench-") as tmp, \
            Cluster(Path(tmp), nodes, {}, nginx=False, log_level="error") as cluster:
        config = {"kind": "centrifugo", "path": "/connection", "secret": SECRET, "url": cluster.urls[0],
                  "urls": cluster.urls, "conns": conns, "rate": rate, "messages": round(rate * seconds),
                  "size": size, "window": 200}
        with load_client(config, drain="30") as go:
            pids = [node.pid for node in cluster.nodes]
            cpu0 = sum(cpu_seconds(pid) for pid in pids)
            result = go(seconds + 120)
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
    result["cpu_us"] = round(cpu / result["delivered"] * 1e6, 1) if result["delivered"] else None
    return result


def median(runs: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s published through the API")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", type=int, default=100, help="message bytes")
    parser.add_argument("--reps", type=int, default=1, help="runs per node count (medians printed)")
    args = parser.parse_args()
    print(f"{args.conns} subscribers, {args.rate:.0f} msg/s via the API of node 0 for {args.seconds:.0f} s, "
          f"{args.size} B; medians of {args.reps} run(s)")
    print(f"{'nodes':>5}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'lost':>8}{'CPU us/delivery':>17}")
    for nodes in (int(n) for n in args.nodes.split(",")):
        runs = [run_once(nodes, args.conns, args.rate, args.seconds, args.size) for _ in range(args.reps)]
        errors = sum(r["error_count"] for r in runs)
        print(f"{nodes:>5}{median(runs, 'deliveries_per_s'):>14.0f}{_ms(median(runs, 'p50_ms')):>9}"
              f"{_ms(median(runs, 'p99_ms')):>9}{median(runs, 'lost'):>8.0f}{median(runs, 'cpu_us') or 0:>17.1f}"
              + (f"   ({errors} client errors: {runs[0]['errors'][:2]})" if errors else ""), flush=True)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


if __name__ == "__main__":
    main()
