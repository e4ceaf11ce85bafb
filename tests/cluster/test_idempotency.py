"""Idempotent publishes across two real nodes on one real redis-server.

* cent 5.x (PyPI, the real client) publishes and broadcasts with an
  ``idempotency_key`` through node 0, then the same through node 1: the
  second answers the first one's positions and nothing is delivered twice;
* the 1.x API's extra ``idempotency_key`` param does the same;
* a publish answered 503 while Redis is stopped (SIGSTOP) and retried with
  its key once Redis is back is delivered once, whatever the first attempt
  became.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.clients import Recorder, until
from tests.support.cluster import Cluster
from tests.support.server import ROOT, python_executable

KEY = "idempotency-api-key"
CONFIG = {"api_key": KEY, "history_size": 100, "history_lifetime": 300,
          "namespaces": [{"name": "plain"}]}  # plain: no history
CENT5 = ROOT / ".venv" / "cent5"

CENT5_SCRIPT = r'''
import json, sys
from cent import BroadcastRequest, Client, PublishRequest
urls, key = json.loads(sys.argv[1]), sys.argv[2]
out = []
for url in urls:
    client = Client(url + "/api", key, timeout=5)
    one = client.publish(PublishRequest(channel="news", data={"n": 1}, idempotency_key="p-1"))
    plain = client.publish(PublishRequest(channel="plain:x", data={"n": 1}, idempotency_key="p-1"))
    both = client.broadcast(BroadcastRequest(channels=["news", "plain:x"], data={"n": 2}, idempotency_key="b-1"))
    out.append([one.model_dump(mode="json"), plain.model_dump(mode="json"), both.model_dump(mode="json")])
print(json.dumps(out))
'''


def run_cent5(urls: list[str]) -> list[Any]:
    result = subprocess.run([python_executable(), "-c", CENT5_SCRIPT, json.dumps(urls), KEY],
                            capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(CENT5), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out: list[Any] = json.loads(result.stdout)
    return out


async def subscribers(cluster: Cluster) -> list[Recorder]:
    clients = []
    for index, url in enumerate(cluster.urls):
        client = await Recorder.connect(url, f"u{index}")
        for channel in ("news", "plain:x"):
            assert (await client.command("subscribe", {"channel": channel}))["body"]["status"] is True
        clients.append(client)
    return clients


async def barrier(cluster: Cluster, clients: list[Recorder], n: int) -> None:
    for channel in ("news", "plain:x"):
        await cluster.result(cluster.urls[1], "publish", {"channel": channel, "data": {"n": n}})
        for client in clients:
            await until(lambda c=client, ch=channel: n in c.numbers(ch), what=f"barrier {n} in {channel}")


@pytest.mark.async_timeout(120)
async def test_the_same_key_through_two_nodes_publishes_once(tmp_path: Path) -> None:
    with Cluster(tmp_path, 2, CONFIG, nginx=False) as cluster:
        clients = await subscribers(cluster)
        first, second = await asyncio.to_thread(run_cent5, cluster.urls)
        assert first == second  # the same positions: the first publish's
        assert first[0]["offset"] == 1 and first[0]["epoch"]
        responses = first[2]["responses"]
        assert responses[0]["result"]["offset"] == 2 and not responses[1]["result"].get("offset")
        # The 1.x API's extra param, through each node in turn.
        for url in cluster.urls:
            for channel in ("news", "plain:x"):
                await cluster.result(url, "publish", {"channel": channel, "data": {"n": 3}, "idempotency_key": "x-3"})
            await cluster.result(url, "broadcast", {"channels": ["news", "plain:x"], "data": {"n": 4},
                                                    "idempotency_key": "x-4"})
        await barrier(cluster, clients, 99)
        for client in clients:
            for channel in ("news", "plain:x"):
                assert client.numbers(channel) == [1, 2, 3, 4, 99], (channel, client.numbers(channel))
        status, text = await cluster.api(cluster.urls[0], "publish", {"channel": "news", "data": {},
                                                                      "idempotency_key": "k" * 257})
        assert status == 400 and "idempotency_key" in text
        for client in clients:
            await client.close()
        assert cluster.tracebacks() == {}


@pytest.mark.async_timeout(120)
async def test_a_publish_retried_with_its_key_after_a_stall_is_delivered_once(tmp_path: Path) -> None:
    with Cluster(tmp_path, 2, CONFIG, nginx=False) as cluster:
        clients = await subscribers(cluster)
        await barrier(cluster, clients, 1)  # the nodes' command connections are open
        params = {"channel": "news", "data": {"n": 2}, "idempotency_key": "stalled-2"}
        cluster.pause_redis(True)
        try:
            status, text = await cluster.api(cluster.urls[0], "publish", params)
        finally:
            cluster.pause_redis(False)
        assert status == 503 and ("outcome unknown" in text or "not done" in text), (status, text)
        attempts = 1
        while True:  # the backend's retry, with the same key, to the other node
            attempts += 1
            status, _ = await cluster.api(cluster.urls[attempts % 2], "publish", params)
            if status == 200:
                break
            assert attempts < 50
            await asyncio.sleep(0.2)
        await barrier(cluster, clients, 3)
        for client in clients:
            assert client.numbers("news") == [1, 2, 3], client.numbers("news")
        print(f"first answer: 503 {text.strip()!r}; delivered once after {attempts} attempts")
        for client in clients:
            await client.close()
        assert cluster.tracebacks() == {}
