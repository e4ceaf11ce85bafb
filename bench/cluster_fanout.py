"""Fan-out through Redis: deliveries/s with 1, 2 and 3 sockhub nodes behind one Redis.

    .venv/bin/python bench/cluster_fanout.py \\
        [--nodes 1,2,3] [--conns 1000] [--rate 100] [--seconds 4] [--reps 1]
        [--burst N [--batch B]] [--node-cpu 0.3]

For each node count a fresh redis-server (free port, no persistence) and that
many ``sockhub --engine redis`` processes start (tests/support/cluster.py).
The load client (bench/clients/fanout.js, its own Node process, the one
bench/run.py uses) opens ``conns`` SockJS websocket sessions speaking the
Centrifugo protocol (connect with a token, subscribe one channel), spread
round-robin over the nodes, then publishes ``rate`` ~100-byte messages a
second through the HTTP API of node 0 for ``seconds`` (``--burst N``: N
messages at once instead, so a tick's messages share a frame; ``--batch B``:
B publishes per API request).  Every message
goes node 0 -> Redis -> every node -> its subscribers.

Printed per run: deliveries/s, p50/p99 latency (API send -> receipt, one
clock), lost (not delivered within the drain time) and the CPU time per
delivery of the nodes (all together), of redis-server and of the load client.
All processes share this machine's cores (2 here), so more nodes do not add
CPU; the last column is the most this machine could deliver with those costs
(cores / all three CPU times per delivery), the ceiling any node count meets
here.

``--node-cpu C`` gives each node C of one CPU (its own cgroup CPU quota, while
the messages flow; bench/cpuquota.py), as if each node had a small machine of
its own: then the nodes, not the load client sharing their cores, are the
limit, and two nodes against one shows what a node adds through Redis.  The
"node cores" column is the CPU the nodes used per second of the run, so it
shows whether they ran at their quota.  A figure, not a test: nothing is
asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpuquota import cpu_quota  # noqa: E402
from bench.run import cpu_seconds, load_client  # noqa: E402
from tests.support.cluster import SECRET, Cluster  # noqa: E402

def run_once(nodes: int, conns: int, rate: float, seconds: float, size: int, burst: int, batch: int,
             node_cpu: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sockhub-cluster-bench-") as tmp, \
            Cluster(Path(tmp), nodes, {}, nginx=False, log_level="error") as cluster:
        config = {"kind": "centrifugo", "path": "/connection", "secret": SECRET, "url": cluster.urls[0],
                  "urls": cluster.urls, "conns": conns, "rate": 0 if burst else rate,
                  "messages": burst or round(rate * seconds),
                  "size": size, "window": 200, "batch": batch}
        with load_client(config, drain="30") as go:
            assert cluster.redis is not None and cluster.redis.proc is not None
            pids = [node.pid for node in cluster.nodes]
            redis_pid = cluster.redis.proc.pid
            with cpu_quota(pids, node_cpu) if node_cpu else contextlib.nullcontext():
                cpu0, redis0 = sum(cpu_seconds(pid) for pid in pids), cpu_seconds(redis_pid)
                result = go(seconds + 120)
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
            redis_cpu = cpu_seconds(redis_pid) - redis0
    delivered = result["delivered"]
    result["cpu_us"] = round(cpu / delivered * 1e6, 2) if delivered else None
    result["redis_cpu_us"] = round(redis_cpu / delivered * 1e6, 2) if delivered else None
    rate_ = result["deliveries_per_s"]
    result["node_cores"] = round(cpu * rate_ / delivered, 2) if delivered and rate_ else None
    return result


def median(runs: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(nodes: int, runs: list[dict[str, Any]], cores: int) -> dict[str, Any]:
    """The medians of one node count, and the machine's ceiling from its CPU costs."""
    row: dict[str, Any] = {"nodes": nodes, "runs": len(runs),
                           "errors": sum(r["error_count"] for r in runs), "first_errors": runs[0]["errors"][:2]}
    for key in ("deliveries_per_s", "p50_ms", "p99_ms", "lost", "cpu_us", "redis_cpu_us", "client_cpu_us",
                "node_cores"):
        row[key] = median(runs, key)
    costs = sum(row[k] or 0.0 for k in ("cpu_us", "redis_cpu_us", "client_cpu_us"))
    row["ceiling_per_s"] = round(cores / costs * 1e6) if costs else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--conns", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/s published through the API")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", type=int, default=100, help="message bytes")
    parser.add_argument("--reps", type=int, default=1, help="runs per node count (medians printed)")
    parser.add_argument("--burst", type=int, default=0, help="publish this many messages at once instead")
    parser.add_argument("--batch", type=int, default=1, help="with --burst: publishes per API request")
    parser.add_argument("--node-cpu", type=float, default=0.0,
                        help="each node gets this much of one CPU (cgroup quota); 0: no limit")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON (bench/readme.py reads it)")
    args = parser.parse_args()
    per = f" ({args.batch} per request)" if args.burst and args.batch > 1 else ""
    load = f"{args.burst} messages at once{per}" if args.burst else f"{args.rate:.0f} msg/s for {args.seconds:.0f} s"
    limit = f", each node limited to {args.node_cpu:g} CPU" if args.node_cpu else ""
    title = (f"{args.conns} subscribers, {load} via the API of node 0, {args.size} B{limit}; "
             f"medians of {args.reps} run(s)")
    print(title)
    print(f"{'nodes':>5}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'lost':>8}"
          f"{'CPU us/delivery: nodes':>24}{'redis':>7}{'client':>8}{'ceiling/s':>11}{'node cores':>12}")
    cores = len(os.sched_getaffinity(0))
    rows = []
    for nodes in (int(n) for n in args.nodes.split(",")):
        row = summarize(nodes, [run_once(nodes, args.conns, args.rate, args.seconds, args.size, args.burst, args.batch,
                                         args.node_cpu)
                                for _ in range(args.reps)], cores)
        rows.append(row)
        print(f"{nodes:>5}{row['deliveries_per_s']:>14.0f}{_ms(row['p50_ms']):>9}{_ms(row['p99_ms']):>9}"
              f"{row['lost']:>8.0f}{row['cpu_us'] or 0:>24.2f}{row['redis_cpu_us'] or 0:>7.2f}"
              f"{row['client_cpu_us'] or 0:>8.2f}{row['ceiling_per_s'] or 0:>11.0f}{row['node_cores'] or 0:>12.2f}"
              + (f"   ({row['errors']} client errors: {row['first_errors']})" if row["errors"] else ""), flush=True)
    if args.out:
        command = " ".join([".venv/bin/python bench/cluster_fanout.py", *sys.argv[1:]])
        args.out.write_text(json.dumps({"title": title, "cores": cores, "command": command,
                                        "node_cpu": args.node_cpu, "rows": rows}, indent=1))


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


if __name__ == "__main__":
    main()
