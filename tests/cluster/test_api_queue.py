"""The Redis API queue end to end: a backend RPUSHes API commands to
``<prefix>.api`` and the sharded ``<prefix>.api.N``; three real nodes consume
them and every command is handled by exactly one node, so every subscriber
on every node receives each publication exactly once."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.cluster.clients import Recorder, until
from tests.support.cluster import Cluster

SHARDS = 2
COUNT = 300  # publish commands, spread over the three queues


async def total_metric(cluster: Cluster, name: str) -> int:
    total = 0
    for url in cluster.urls:
        body = await cluster.result(url, "node")
        total += int(body["data"]["metrics"][name])
    return total


@pytest.mark.async_timeout(90)
async def test_queued_commands_are_published_once_to_subscribers_on_every_node(tmp_path: Path) -> None:
    config = {"redis_api": True, "redis_api_num_shards": SHARDS}
    with Cluster(tmp_path, 3, config, nginx=False) as cluster:
        assert cluster.redis is not None
        clients = [await Recorder.connect(url, f"u{i}{j}") for i, url in enumerate(cluster.urls) for j in range(2)]
        for client in clients:
            reply = await client.command("subscribe", {"channel": "q"})
            assert reply.get("error") is None and reply["body"]["status"] is True, reply
            assert (await client.command("subscribe", {"channel": "b"}))["body"]["status"] is True
        queues = [f"{cluster.prefix}.api"] + [f"{cluster.prefix}.api.{i}" for i in range(SHARDS)]
        backend = aioredis.Redis(port=cluster.redis.port)
        try:
            for n in range(COUNT):
                command = {"method": "publish", "params": {"channel": "q", "data": {"n": n}}}
                await backend.rpush(queues[n % len(queues)], json.dumps(command))
            # a broadcast, the pre-1.6 envelope, and methods the queue ignores
            await backend.rpush(queues[0], json.dumps(
                {"method": "broadcast", "params": {"channels": ["q", "b"], "data": {"n": COUNT}}}))
            await backend.rpush(queues[1], json.dumps({"data": [
                {"method": "publish", "params": {"channel": "q", "data": {"n": COUNT + 1}}},
                {"method": "history", "params": {"channel": "q"}}]}))
            await backend.rpush(queues[2], json.dumps({"method": "channels", "params": {}}))
            published = COUNT + 3  # q: COUNT + broadcast + envelope; b: broadcast

            # Every command was executed once: the nodes' publish counters sum to exactly that,
            # and the queues are empty.
            async def all_published() -> bool:
                return await total_metric(cluster, "node_num_client_msg_published") >= published

            await until(all_published, what="all queued publishes")
            assert [await backend.llen(q) for q in queues] == [0, 0, 0]
            counts = [await cluster.result(url, "node") for url in cluster.urls]
            per_node = [int(c["data"]["metrics"]["node_num_client_msg_published"]) for c in counts]
            assert sum(per_node) == published and sum(1 for p in per_node if p) >= 2, per_node  # shared work
        finally:
            await backend.aclose()
        # A barrier published after all of them arrives after all of them, on every node.
        await cluster.result(cluster.urls[0], "publish", {"channel": "q", "data": {"n": -1}})
        for client in clients:
            await until(lambda: -1 in client.numbers("q"), what="barrier")
            assert sorted(client.numbers("q")) == sorted(list(range(COUNT + 2)) + [-1])
            assert client.numbers("b") == [COUNT]
            assert len(set(client.uids("q"))) == COUNT + 3
        for client in clients:
            await client.close()
        assert cluster.tracebacks() == {}



@pytest.mark.async_timeout(60)
async def test_queue_consumers_come_back_after_a_redis_restart(tmp_path: Path) -> None:
    config = {"redis_api": True, "redis_api_num_shards": SHARDS}
    with Cluster(tmp_path, 3, config, nginx=False) as cluster:
        assert cluster.redis is not None
        client = await Recorder.connect(cluster.urls[2], "u")
        assert (await client.command("subscribe", {"channel": "q"}))["body"]["status"] is True
        cluster.kill_redis()
        cluster.start_redis()  # empty: the queues start again from nothing
        await subscribed_again(cluster, client)
        queues = [f"{cluster.prefix}.api"] + [f"{cluster.prefix}.api.{i}" for i in range(SHARDS)]
        backend = aioredis.Redis(port=cluster.redis.port)
        try:
            for n in range(30):
                command = {"method": "publish", "params": {"channel": "q", "data": {"n": n}}}
                await backend.rpush(queues[n % len(queues)], json.dumps(command))

            async def drained() -> bool:
                return sum([await backend.llen(q) for q in queues]) == 0

            await until(drained, what="queues consumed after the restart")
        finally:
            await backend.aclose()
        # The subscriber's node is subscribed again by itself: every queued publish arrives once.
        # A drained queue means popped, not yet published: wait for all of them, then a barrier
        # published after them shows that no duplicate is still on its way.
        await until(lambda: set(range(30)) <= set(client.numbers("q")), what="every queued publish")
        await cluster.result(cluster.urls[0], "publish", {"channel": "q", "data": {"n": -1}})
        await until(lambda: -1 in client.numbers("q"), what="barrier")
        assert sorted(n for n in client.numbers("q") if n >= 0) == list(range(30))
        await client.close()
        assert cluster.tracebacks() == {}


async def subscribed_again(cluster: Cluster, client: Recorder) -> None:
    """Publish probes (n < -1) until one reaches ``client``: its node is
    subscribed again (a channel without recover misses what came before)."""
    for probe in range(-2, -200, -1):
        await cluster.api(cluster.urls[0], "publish", {"channel": "q", "data": {"n": probe}})
        try:
            await until(lambda: probe in client.numbers("q"), timeout=0.2)
            return
        except AssertionError:
            continue
    raise AssertionError("the node did not subscribe again")
