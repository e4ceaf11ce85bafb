"""A short run of the bench code (bench/run.py's run_once, the load client,
every installed peer): proves it works.  No timing is asserted; a peer that is
not installed (``make bench``) is skipped with the reason."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cpuquota, dialect_table
from bench.report import cluster_table, peer_rows, render_markdown, target_rows
from bench.run import cpu_seconds, medians, run_once
from bench.scenarios import Scenario
from bench.servers import DIALECT_CLIENTS, EXPERIMENTS, ROOT, SERVERS, missing

SMOKE = Scenario("smoke", "smoke: 50 conns, 20 messages at once", 50, rate=0, messages=20)
ALL = [name for name in SERVERS if name not in EXPERIMENTS]


def _run(name: str, scenario: Scenario, tmp_path: Path) -> dict:
    reason = missing(name)
    if reason is not None:
        pytest.skip(reason)
    return run_once(SERVERS[name], scenario, 1.0, False, tmp_path)


@pytest.mark.parametrize("name", ALL)
def test_fanout_delivers_everything(name: str, tmp_path: Path) -> None:
    result = _run(name, SMOKE, tmp_path)
    assert result["expected"] == 50 * 20
    assert result["delivered"] == result["expected"], result
    assert result["lost"] == 0 and result["error_count"] == 0
    assert result["p99_ms"] is not None and result["cpu_us"] is not None
    assert result["rss_kib"] is not None


@pytest.mark.parametrize("transport", ["xhr_streaming", "eventsource"])
def test_sockhub_http_streaming_receivers(transport: str, tmp_path: Path) -> None:
    scenario = Scenario(f"smoke_{transport}", "smoke", 50, rate=100, messages=20, who="sockhub", transport=transport)
    result = _run("sockhub", scenario, tmp_path)
    assert result["delivered"] == 50 * 20 and result["error_count"] == 0, result


@pytest.mark.parametrize("name", [n for n in ALL if SERVERS[n].api])
@pytest.mark.parametrize("batch", [1, 10])
def test_api_publishing(name: str, batch: int, tmp_path: Path) -> None:
    scenario = Scenario(f"smoke_api{batch}", "smoke", 50, who="api", api={"requests": 20, "batch": batch, "concurrency": 4})
    result = _run(name, scenario, tmp_path)
    assert result["delivered"] == 20 * batch and result["error_count"] == 0, result
    assert result["api_requests_per_s"] > 0 and result["api_messages_per_s"] > 0


@pytest.mark.parametrize("name", sorted(DIALECT_CLIENTS))
def test_dialect_rows_deliver_everything(name: str, tmp_path: Path) -> None:
    """The load client speaking 1.x on the raw websocket and protocol v2 in
    JSON and protobuf: every message arrives once; the bytes are counted."""
    result = _run(name, SMOKE, tmp_path)
    assert result["delivered"] == result["expected"] == 50 * 20, result
    assert result["error_count"] == 0 and result["bytes_per_delivery"] > SMOKE.size, result


def test_dialect_report() -> None:
    run = {"deliveries_per_s": 1000.0, "p99_ms": 2.0, "lost": 0, "cpu_us": 5.0, "bytes_per_delivery": 100.0}
    per = {"sockhub-1x-raw": medians([run]), "sockhub-v2-json": medians([dict(run, deliveries_per_s=950.0)]),
           "sockhub-v2-protobuf": medians([dict(run, deliveries_per_s=800.0, bytes_per_delivery=60.0)])}
    summary = {sc: per for sc in ("p99_1k", "small_1k", "burst_1k", "burst_5k")}
    header, rows = dialect_table.rows(summary)
    assert [r[0] for r in rows] == ["sockhub 1.x, raw websocket", "sockhub v2 JSON, websocket",
                                    "sockhub v2 protobuf, websocket"]
    checks = {text: met for text, _, met in dialect_table.checks(summary)}
    assert checks["burst_1k: sockhub v2 JSON, websocket >= 0.9x the 1.x path"] is True
    assert checks["burst_5k: sockhub v2 protobuf, websocket >= 0.9x the 1.x path"] is False
    assert checks["protobuf frames >= 30% smaller than JSON (20 B text)"] is True


def test_report_renders_every_target() -> None:
    run = {"deliveries_per_s": 1000.0, "p50_ms": 1.0, "p99_ms": 2.0, "lost": 0, "cpu_us": 5.0,
           "rss_kib": 4.0, "connect_s": 1.0, "api_requests_per_s": 10.0, "api_messages_per_s": 10.0}
    summary = {sc: {"sockhub": medians([run]), "sockjs-node": medians([dict(run, deliveries_per_s=500.0)])}
               for sc in ("p99_1k", "rate_1k", "burst_5k", "rate_10k", "idle_20k", "burst_1k", "xhr_1k",
                          "es_1k", "api_1k", "batch_1k")}
    header, rows = peer_rows(summary)
    assert [r[0] for r in rows] == ["sockhub (full stack)", "sockjs-node 0.3.24"]
    assert "| sockhub (full stack) |" in render_markdown(header, rows)
    checks = {text: met for text, _, met in target_rows(summary)}
    assert checks["1k burst: deliveries/s >= 1.2x sockjs-node"] is True  # 2x
    assert checks["1k burst: deliveries/s >= 4.0x sockjs-tornado"] is None  # not measured
    assert checks["1k, 100 msg/s: p99 <= sockjs-node's"] is True  # 2 ms both
    assert checks["HTTP API >= 5k publish requests/s (1k subscribers)"] is False


def test_cluster_fanout_one_and_two_nodes(tmp_path: Path) -> None:
    """bench/cluster_fanout.py end to end at a tiny size (real redis-server and
    sockhub nodes), and its JSON rendered by bench/report.py."""
    out = tmp_path / "cluster.json"
    limit = ["--node-cpu", "0.5"] if cpuquota.available() else []
    subprocess.run([sys.executable, "bench/cluster_fanout.py", "--nodes", "1,2", "--conns", "20", "--burst", "6",
                    "--batch", "4", *limit, "--out", str(out)],
                   cwd=ROOT, check=True, timeout=240, stdout=subprocess.DEVNULL)
    doc = json.loads(out.read_text())
    assert [(r["nodes"], r["lost"], r["errors"]) for r in doc["rows"]] == [(1, 0, 0), (2, 0, 0)]
    assert all(r["deliveries_per_s"] > 0 and r["ceiling_per_s"] and r["node_cores"] is not None for r in doc["rows"])
    assert doc["node_cpu"] == (0.5 if limit else 0.0)
    header, rows, (text, value, met) = cluster_table(doc)
    assert [r[0] for r in rows] == ["1", "2"] and len(rows[0]) == len(header)
    assert text.startswith("two nodes") and value.endswith("x") and met is not None


@pytest.mark.skipif(not cpuquota.available(), reason="no writable cgroup cpu controller (not root?)")
def test_cpu_quota_holds_a_busy_process_to_its_share() -> None:
    """bench/cpuquota.py: a process spinning for 1.5 s under a 0.2-CPU quota gets
    about 0.3 s of CPU (allowing for the scheduler's slack), and none of it is
    left behind: the cgroup is gone afterwards and the process runs on unlimited."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        group = cpuquota._root()[0] / f"sockhub-bench-{busy.pid}"  # type: ignore[index]
        with cpuquota.cpu_quota([busy.pid], 0.2):
            assert str(busy.pid) in (group / "cgroup.procs").read_text().split()
            before = cpu_seconds(busy.pid)
            time.sleep(1.5)
            used = cpu_seconds(busy.pid) - before
        assert not group.exists()
        before = cpu_seconds(busy.pid)
        time.sleep(0.5)
        free = cpu_seconds(busy.pid) - before
    finally:
        busy.kill()
        busy.wait()
    assert 0.1 < used < 0.5, used
    assert free > 0.15, free  # more than the quota allowed (0.1 in 0.5 s)


def test_api_styles_both_ways() -> None:
    """bench/api_styles.py at a tiny size: over HTTP against a real sockhub
    (every request answered 200, checked inside) and in process."""
    result = subprocess.run([sys.executable, "bench/api_styles.py", "--requests", "64", "--rounds", "1",
                             "--concurrency", "4", "--subscribers", "2"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "1.x /api/" in result.stdout and "current /api/publish" in result.stdout
    result = subprocess.run([sys.executable, "bench/api_styles.py", "--in-process", "--requests", "50",
                             "--rounds", "1"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("us per publish") == 2
