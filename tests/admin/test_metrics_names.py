"""The names on ``/metrics`` of a real sockhub follow the Prometheus
conventions (read with prometheus-client's own parser), each is documented
in docs/metrics.md, and the ``node`` API reports the same collectors under
the Centrifugo 1.8 names."""
from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import app
from app.core.metrics import LEGACY_NAMES, LEGACY_UPTIME
from tests.admin.clients import RawClient, api_call
from tests.support.server import ROOT, SockhubProcess

SECRET = "names-secret"
DOC = ROOT / "docs" / "metrics.md"
#: 1.8's NodeInfo metrics (docs/protocol-1x.md §14)
NODE_18 = {"client_num_connect", "client_num_subscribe", "client_api_num_requests", "client_num_msg_published",
           "client_num_msg_queued", "client_bytes_in", "client_bytes_out", "http_api_num_requests", "http_api_count",
           "node_num_client_msg_published", "node_num_client_msg_received", "node_num_join_leave_msg_received",
           "node_num_control_msg_received", "node_num_slow_disconnects", "node_num_engine_errors",
           "node_num_connections", "node_num_clients", "node_num_unique_clients", "node_num_channels",
           "node_num_subscriptions", "node_uptime_seconds", "node_memory_sys"}


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def documented() -> set[str]:
    """The names in the first column of docs/metrics.md's metric tables."""
    text = DOC.read_text()
    text = text[:text.index("## Renamed")]
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))


async def traffic(url: str) -> RawClient:
    """A client, a subscription and a publication, so that labelled families have children."""
    client = await RawClient.connect(url, SECRET, user="n1")
    assert "error" not in await client.command("subscribe", {"channel": "news"})
    [item] = await api_call(url, SECRET, "publish", {"channel": "news", "data": {"n": 1}})
    assert item["error"] is None
    assert (await client.next_push())["body"]["data"] == {"n": 1}
    return client


async def test_names_follow_the_conventions(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": SECRET}, args=["--prometheus"]) as hub:
        client = await traffic(hub.url)
        text = fetch_text(hub.url)
        client.close()
    families = list(text_string_to_metric_families(text))
    names = {f.name for f in families}
    samples = {s.name for f in families for s in f.samples}
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.M))
    counters = [name for name, kind in types.items() if kind == "counter"]
    assert len(counters) >= 15
    assert all(name.endswith("_total") for name in counters), counters
    for family in families:
        if family.type == "counter":
            assert {s.name for s in family.samples} == {family.name + "_total"}, family
    assert [n for n in samples if "num_" in n] == []
    assert [n for n in samples if n.endswith("_created")] == []
    assert [n for n in samples if "uptime" in n or "memory_sys" in n] == []
    for family in families:  # a quantity in bytes or seconds says so in its name
        doc = family.documentation.lower()
        if re.search(r"\bbytes?\b", doc):
            assert family.name.endswith("_bytes"), family.name
        if re.search(r"\bseconds?\b|\btime\b", doc):
            assert family.name.endswith("_seconds"), family.name
    for name in ("process_start_time_seconds", "process_resident_memory_bytes", "process_cpu_seconds",
                 "process_open_fds", "process_max_fds", "python_info", "python_gc_collections"):
        assert name in names, name
    [build] = [f for f in families if f.name == "sockhub_build_info"]
    assert [(s.labels, s.value) for s in build.samples] == [({"version": app.__version__}, 1.0)]
    # every family as its TYPE line names it (counters with _total) is documented, and only those
    assert {n for n in types if n.startswith(("sockhub_", "process_", "python_"))} == documented()


async def test_node_api_reads_the_same_collectors(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": SECRET}, args=["--prometheus"]) as hub:
        client = await traffic(hub.url)
        [node] = await api_call(hub.url, SECRET, "node", {})
        metrics: dict[str, Any] = node["body"]["data"]["metrics"]
        text = fetch_text(hub.url)
        [stats] = await api_call(hub.url, SECRET, "stats", {})
        client.close()
    assert set(metrics) == NODE_18 and set(stats["body"]["data"]["nodes"][0]["metrics"]) == NODE_18
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (family.name, family.name + "_total", family.name + "_count"):
                values[family.name] = values.get(family.name, 0.0) + sample.value
    for family, legacy in LEGACY_NAMES.items():
        if legacy == "http_api_count":  # the node request itself is timed once its reply is made
            assert metrics[legacy] + 1 == values[family]
        elif legacy != "node_memory_sys":  # RSS moves between two reads
            assert metrics[legacy] == values[family], (legacy, family)
    assert metrics["client_num_connect"] == 1 and metrics["node_num_clients"] == 1
    assert metrics["node_memory_sys"] > 1024 * 1024
    assert abs(metrics["node_memory_sys"] - values["process_resident_memory_bytes"]) < 64 * 1024 * 1024
    uptime = time.time() - values["process_start_time_seconds"]
    assert 0 <= metrics[LEGACY_UPTIME] <= uptime + 1
