"""sockhub against its peers, side by side, from one command (issue 6).

    .venv/bin/python bench/run.py [--group fanout|large|sockhub|dialects|all]
        [--scenarios rate_1k,...] [--servers sockhub,ws,...] [--reps 3] [--scale 1] [--no-pin] [--tag T]

For every repetition, every scenario and every server (interleaved: the
servers take turns within a repetition, the order rotating between
repetitions), a FRESH server process is started on a free port and the load
client (bench/clients/fanout.js, Node + npm `ws`, its own process) opens the
connections, reports "ready", is told "go", publishes and measures.  With
--pin (default) the server runs on CPU 1 and the load client on CPU 0
(taskset), so they do not fight over one core.

Per run: deliveries/s, p50/p99 latency (send -> receive on one clock), lost,
connect time, server CPU per delivery (utime+stime from /proc/<pid>/stat
between "go" and the end, divided by deliveries), server RSS growth per
connection (sampled once everyone is connected, before publishing).
The medians over the repetitions go to bench/results/<time>.json and the
table (bench/report.py) is printed.  A figure, not a test: nothing asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import print_tables  # noqa: E402
from bench.scenarios import GROUP_SERVERS, GROUPS, SCENARIOS, Scenario  # noqa: E402
from bench.servers import EXPERIMENTS, ROOT, SERVERS, Server, missing  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402

RESULTS = ROOT / "bench/results"
CLIENT = ROOT / "bench/clients/fanout.js"
TICK = os.sysconf("SC_CLK_TCK")
METRICS = ("deliveries_per_s", "p50_ms", "p99_ms", "lost", "cpu_us", "client_cpu_us", "rss_kib", "connect_s",
           "api_requests_per_s", "api_messages_per_s", "bytes_per_delivery")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pinned(argv: list[str], cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


def run_once(server: Server, scenario: Scenario, scale: float, pin: bool, logs: Path) -> dict[str, Any]:
    """One fresh server, one load client, one result."""
    port = free_port()
    log = (logs / f"{server.name}-{scenario.name}.log").open("ab")
    proc = subprocess.Popen(pinned(server.argv(port), 1 if pin else None), cwd=ROOT,
                            stdout=log, stderr=log, start_new_session=True)
    try:
        wait_port(port, timeout=30)
        time.sleep(0.3)
        base_rss = rss_kib(proc.pid)
        config = dict(server.client, url=f"http://127.0.0.1:{port}", **scenario.client_config(scale))
        return drive(proc.pid, base_rss, config, pin)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def load_client(config: dict[str, Any], cpu: int | None = None,
                drain: str = "90") -> Iterator[Callable[[float], dict[str, Any]]]:
    """Start the Node load client (its own process, pinned to ``cpu``), wait
    until its connections are up, and yield ``go(timeout)``: start publishing,
    wait for the end and return the client's result line.  The client is
    killed on the way out if it is still running."""
    env = dict(os.environ, DRAIN_SECONDS=os.environ.get("DRAIN_SECONDS", drain))
    client = subprocess.Popen(pinned(["node", str(CLIENT), json.dumps(config)], cpu),
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    stdin, stdout = client.stdin, client.stdout
    assert stdin is not None and stdout is not None

    def go(timeout: float) -> dict[str, Any]:
        stdin.write("go\n")
        stdin.flush()
        out, _ = client.communicate(timeout=timeout)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return result

    try:
        ready = stdout.readline().strip()
        if not ready.startswith("ready"):
            raise RuntimeError(f"load client failed before ready: {ready!r}")
        time.sleep(0.5)
        yield go
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def drive(pid: int, base_rss: int, config: dict[str, Any], pin: bool) -> dict[str, Any]:
    with load_client(config, 0 if pin else None) as go:
        rss = (rss_kib(pid) - base_rss) / config["conns"]
        cpu0 = cpu_seconds(pid)
        result = go(300)
        cpu = cpu_seconds(pid) - cpu0
    result["rss_kib"] = round(rss, 2)
    result["cpu_us"] = round(cpu / result["delivered"] * 1e6, 2) if result["delivered"] else None
    return result


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(runs)}
    for key in METRICS:
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
    out["lost_max"] = max((r["lost"] for r in runs), default=0)
    return out


def chosen(args: argparse.Namespace) -> tuple[list[Scenario], list[str], dict[str, str]]:
    names = args.scenarios.split(",") if args.scenarios else [
        n for name, g in GROUPS.items() if name == args.group or (args.group == "all" and name not in GROUP_SERVERS)
        for n in g]
    if args.servers:
        servers = args.servers.split(",")
    elif args.group in GROUP_SERVERS and not args.scenarios:
        servers = GROUP_SERVERS[args.group]
    else:
        servers = [s for s in SERVERS if s not in EXPERIMENTS]
    skipped = {name: reason for name in servers if (reason := missing(name)) is not None}
    return [SCENARIOS[n] for n in names], [s for s in servers if s not in skipped], skipped


def runs_for(scenario: Scenario, servers: list[str]) -> list[str]:
    if scenario.who == "all":
        return servers
    if scenario.who == "api":
        return [s for s in servers if SERVERS[s].api]
    return [s for s in servers if s.startswith(scenario.who)]  # "sockhub": its variants too


Runs = dict[str, dict[str, list[dict[str, Any]]]]


def repeat(args: argparse.Namespace, scenarios: list[Scenario], servers: list[str],
           logs: Path) -> tuple[Runs, list[str]]:
    """Every repetition, scenario and server (turns rotating); a failed run
    is reported and left out, the others go on."""
    raw: Runs = {}
    failures: list[str] = []
    for rep in range(args.reps):
        for scenario in scenarios:
            order = runs_for(scenario, servers)
            shift = (rep + args.rotate) % len(order) if order else 0
            for name in order[shift:] + order[:shift]:
                where = f"rep {rep + 1} {scenario.name:<9} {name:<15}"
                try:
                    result = run_once(SERVERS[name], scenario, args.scale, args.pin, logs)
                except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
                    print(f"{where} FAILED: {exc}", flush=True)
                    failures.append(f"{scenario.name} {name}: {exc}")
                    continue
                raw.setdefault(scenario.name, {}).setdefault(name, []).append(result)
                print(where + " " + " ".join(f"{k}={result.get(k)}" for k in METRICS
                                             if result.get(k) is not None), flush=True)
    return raw, failures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", default="fanout", choices=[*GROUPS, "all"])
    parser.add_argument("--scenarios", help="comma-separated names (overrides --group)")
    parser.add_argument("--servers", help="comma-separated (default: every installed one)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="connections and messages x scale (smoke)")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--rotate", type=int, default=0, help="start the servers' turn order this far in")
    parser.add_argument("--tag", help="campaign name: bench/readme.py merges the files of one tag")
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<time>.json)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    load = os.getloadavg()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # ~20k sockets each side
    scenarios, servers, skipped = chosen(args)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", flush=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    logs = RESULTS / f"logs-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    raw, failures = repeat(args, scenarios, servers, logs)
    summary = {sc: {srv: medians(rs) for srv, rs in per.items()} for sc, per in raw.items()}
    command = " ".join([".venv/bin/python bench/run.py", *sys.argv[1:]])
    doc = {"date": stamp, "tag": args.tag or stamp, "command": command, "reps": args.reps, "scale": args.scale,
           "pin": args.pin, "load_before": load, "seconds": round(time.monotonic() - started),
           "skipped": skipped, "failures": failures, "summary": summary, "raw": raw}
    out = args.out or RESULTS / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    print(f"\nresults: {out} ({doc['seconds']} s)\n")
    print_tables(summary)


if __name__ == "__main__":
    main()
