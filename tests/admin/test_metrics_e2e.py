"""``/metrics`` of a real sockhub, read with prometheus-client's own parser:
the figures move with traffic, and the ``node`` API reports the same counters.
The client port serves ``/metrics`` only with ``--prometheus`` (test_metrics_access)."""
from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.admin.clients import RawClient, api_call
from tests.support.server import SockhubProcess

SECRET = "metrics-secret"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(hub: SockhubProcess) -> Samples:
    with urllib.request.urlopen(hub.url + "/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def wait_value(hub: SockhubProcess, name: str, expected: float, **labels: str) -> None:
    """Gauges follow closes asynchronously: poll (bounded) until they settle."""
    for _ in range(100):
        if value(scrape(hub), name, **labels) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}{labels} never became {expected}: {value(scrape(hub), name, **labels)}")


async def test_counters_move_with_traffic(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": SECRET}, args=["--prometheus"]) as hub:
        before = scrape(hub)
        for family in ("sockhub_node_slow_disconnects_total", "sockhub_node_engine_errors_total",
                       "sockhub_http_api_request_duration_seconds_count"):
            assert (family, ()) in before, f"{family} is not exposed"
        assert value(before, "sockhub_node_connections", transport="raw_websocket") == 0

        client = await RawClient.connect(hub.url, SECRET, user="m1")
        assert "error" not in await client.command("subscribe", {"channel": "news"})
        [item] = await api_call(hub.url, SECRET, "publish", {"channel": "news", "data": {"n": 1}})
        assert item["error"] is None
        assert (await client.next_push())["body"]["data"] == {"n": 1}

        after = scrape(hub)
        assert value(after, "sockhub_node_connections", transport="raw_websocket") == 1
        assert value(after, "sockhub_node_subscriptions") == 1
        assert value(after, "sockhub_node_channels") == 1
        assert value(after, "sockhub_node_clients") == 1
        for counter in ("sockhub_node_messages_published_total", "sockhub_client_messages_queued_total",
                        "sockhub_client_connects_total", "sockhub_client_subscribes_total"):
            assert value(after, counter) - value(before, counter) == 1, counter
        assert value(after, "sockhub_http_api_commands_total", method="publish") - \
            value(before, "sockhub_http_api_commands_total", method="publish") == 1
        timed = "sockhub_http_api_request_duration_seconds_count"
        assert value(after, timed) > value(before, timed)
        assert value(after, "sockhub_client_received_bytes_total") > value(before, "sockhub_client_received_bytes_total")
        assert value(after, "sockhub_client_queued_bytes_total") > value(before, "sockhub_client_queued_bytes_total")

        # the node API reads the very same collectors
        [node] = await api_call(hub.url, SECRET, "node", {})
        metrics = node["body"]["data"]["metrics"]
        now = scrape(hub)
        assert metrics["node_num_client_msg_published"] == value(now, "sockhub_node_messages_published_total")
        assert metrics["client_num_msg_queued"] == value(now, "sockhub_client_messages_queued_total")

        client.close()
        await wait_value(hub, "sockhub_node_connections", 0, transport="raw_websocket")
        await wait_value(hub, "sockhub_node_subscriptions", 0)


async def test_slow_client_disconnect_is_counted(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": SECRET, "client_queue_max_size": 1024},
                        args=["--prometheus"]) as hub:
        client = await RawClient.connect(hub.url, SECRET, user="slow")
        assert "error" not in await client.command("subscribe", {"channel": "big"})
        before = value(scrape(hub), "sockhub_node_slow_disconnects_total")
        # a single push larger than the whole queue bound is over it at once
        await api_call(hub.url, SECRET, "publish", {"channel": "big", "data": "x" * 4096})
        await wait_value(hub, "sockhub_node_slow_disconnects_total", before + 1)
        client.close()
