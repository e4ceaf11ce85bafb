"""Redis beyond one server: client-side sharding, Sentinel and Cluster (real servers)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.core.engine import EngineError, HistoryOptions
from app.engines.redis import RedisEngine
from app.engines.redis.keys import Names, fnv1a64, jump_hash, shard_index
from app.core.values import ClientInfo, Message, new_uid
from app.options import Options
from tests.engines.harness import RecordingHandler, newest, redis_options, running
from tests.support.redis import RedisServer, SentinelSetup, redis_cluster, redis_sentinel, redis_servers

HIST = HistoryOptions(size=5, lifetime=60)


def msg(channel: str) -> Message:
    return Message(uid=new_uid(), channel=channel, data='{"v":1}')


# -- hashing ------------------------------------------------------------------


def test_fnv1a64_vectors() -> None:
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


def test_jump_hash_is_consistent_and_spreads() -> None:
    keys = [fnv1a64(f"channel-{i}".encode()) for i in range(3000)]
    for n in range(1, 8):
        before = [jump_hash(k, n) for k in keys]
        after = [jump_hash(k, n + 1) for k in keys]
        assert all(0 <= b < n for b in before)
        # growing by one bucket only ever moves keys into the new bucket
        assert all(a == b or a == n for a, b in zip(after, before))
    counts = [0, 0, 0]
    for k in keys:
        counts[jump_hash(k, 3)] += 1
    assert min(counts) > 800  # about 1000 each


# -- sharding -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shards() -> Iterator[list[RedisServer]]:
    with redis_servers(3) as servers:
        yield servers


async def test_sharding_puts_each_channel_on_its_shard(shards: list[RedisServer]) -> None:
    options = redis_options(",".join(s.url for s in shards))
    names = Names(options.redis_prefix)
    listener, publisher = RedisEngine(options), RedisEngine(options)
    handler = RecordingHandler()
    channels = [f"ch{i}" for i in range(30)]
    async with running(listener, handler), running(publisher, RecordingHandler()):
        for channel in channels:
            await listener.subscribe(channel)
        sent = {channel: msg(channel) for channel in channels}
        await asyncio.gather(*(publisher.publish_message(m, HIST) for m in sent.values()))
        await handler.wait_until(lambda: len(handler.of("message")) == len(channels))
        assert sorted(m.uid for m in handler.of("message")) == sorted(m.uid for m in sent.values())
        for channel in channels:
            assert await newest(listener, channel) == [sent[channel]]
        assert await publisher.channels() == sorted(channels)
        # control goes through shard 0 and still reaches both nodes
        await publisher.publish_control(b"hello")
        await handler.wait_until(lambda: handler.of("control") == [b"hello"])

    used = set()
    for channel in channels:
        expected = shard_index(channel, 3)
        used.add(expected)
        for index, server in enumerate(shards):
            client = aioredis.Redis(port=server.port)
            length = await client.xlen(names.history_stream(channel))
            await client.aclose()
            assert length == (1 if index == expected else 0), (channel, index)
    assert used == {0, 1, 2}


async def test_sharding_from_host_and_port_lists(shards: list[RedisServer]) -> None:
    options = Options(
        engine="redis", redis_host="127.0.0.1", redis_port=",".join(str(s.port) for s in shards),
        redis_prefix="t" + new_uid()[:10], redis_read_timeout=3,
    )
    engine = RedisEngine(options)
    handler = RecordingHandler()
    async with running(engine, handler):
        assert len(engine.subscribers) == 3
        for i in range(6):
            await engine.subscribe(f"c{i}")
            sent = msg(f"c{i}")
            await engine.publish_message(sent, HIST)
            await handler.wait_until(lambda: sent in handler.of("message"))


# -- Sentinel -----------------------------------------------------------------


@pytest.fixture(scope="module")
def sentinel() -> Iterator[SentinelSetup]:
    with redis_sentinel() as setup:
        yield setup


async def test_sentinel_master_serves_the_engine(sentinel: SentinelSetup) -> None:
    options = Options(
        engine="redis", redis_master_name=sentinel.master_name, redis_sentinels=sentinel.sentinels,
        redis_prefix="t" + new_uid()[:10], redis_read_timeout=3,
    )
    a, b = RedisEngine(options), RedisEngine(options)
    ha = RecordingHandler()
    async with running(a, ha), running(b, RecordingHandler()):
        await a.subscribe("news")
        sent = msg("news")
        await b.publish_message(sent, HIST)
        await ha.wait_until(lambda: sent in ha.of("message"))
        assert await newest(b, "news") == [sent]
        info = ClientInfo("1", "c1")
        await a.add_presence("news", "c1", info, 60)
        assert await b.presence("news") == {"c1": info}
    # the data really is on the master Sentinel named
    client = aioredis.Redis(port=sentinel.master.port)
    assert await client.xlen(Names(options.redis_prefix).history_stream("news")) == 1
    await client.aclose()


@pytest.mark.slow
@pytest.mark.async_timeout(90)
async def test_sentinel_failover_engine_follows_the_new_master() -> None:
    with redis_sentinel(with_replica=True) as setup:
        replica = setup.replica
        assert replica is not None
        options = Options(
            engine="redis", redis_master_name=setup.master_name, redis_sentinels=setup.sentinels,
            redis_prefix="t" + new_uid()[:10], redis_read_timeout=1,
        )
        engine = RedisEngine(options)
        handler = RecordingHandler()
        async with running(engine, handler):
            await engine.subscribe("news")
            before = msg("news")
            await engine.publish_message(before, HIST)
            await handler.wait_until(lambda: before in handler.of("message"))
            await asyncio.to_thread(setup.master.stop)

            async def promoted() -> None:
                while await asyncio.to_thread(setup.current_master_port) != replica.port:
                    await asyncio.sleep(0.2)

            await asyncio.wait_for(promoted(), 30)
            after = None
            # A probe may be kept and still not seen within the wait (a loaded
            # machine): keep them all, so ``before`` is not trimmed away.
            probing = HistoryOptions(size=200, lifetime=60)
            for _ in range(100):  # the listener moves to the new master by itself
                probe = msg("news")
                try:
                    await engine.publish_message(probe, probing)
                    await handler.wait_until(lambda: probe in handler.of("message"), timeout=0.3)
                    after = probe
                    break
                except (EngineError, TimeoutError):
                    await asyncio.sleep(0.1)
            assert after is not None
            history = await newest(engine, "news")
            assert history[0] == after and history[-1] == before  # replicated before the failover


# -- Cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisServer]]:
    with redis_cluster(3) as nodes:
        yield nodes


def cluster_options(nodes: list[RedisServer], **extra: Any) -> Options:
    values: dict[str, Any] = {
        "engine": "redis", "redis_cluster": True, "redis_host": "127.0.0.1",
        "redis_port": ",".join(str(n.port) for n in nodes), "redis_prefix": "t" + new_uid()[:10],
        "redis_read_timeout": 3,
    }
    return Options(**(values | extra))


@pytest.mark.async_timeout(60)
async def test_cluster_delivers_and_keeps_history_in_every_slot(cluster: list[RedisServer]) -> None:
    options = cluster_options(cluster)
    a, b = RedisEngine(options), RedisEngine(options)
    ha = RecordingHandler()
    channels = [f"room{i}" for i in range(12)]
    async with running(a, ha), running(b, RecordingHandler()):
        for channel in channels:
            await a.subscribe(channel)
        sent = {channel: [msg(channel) for _ in range(7)] for channel in channels}
        await asyncio.gather(*(b.publish_message(m, HIST) for ms in sent.values() for m in ms))
        await ha.wait_until(lambda: len(ha.of("message")) == 12 * 7)
        for channel in channels:
            assert [m for m in ha.of("message") if m.channel == channel] == sent[channel]
            assert await newest(b, channel) == sent[channel][::-1][:5]
            assert await newest(a, channel, limit=1) == [sent[channel][-1]]
        info = ClientInfo("1", "c1")
        await a.add_presence("room0", "c1", info, 60)
        assert await b.presence("room0") == {"c1": info}
        await b.remove_presence("room0", "c1")
        assert await a.presence("room0") == {}
        assert await b.channels() == sorted(channels)
        await b.publish_control(b"ctl")
        await ha.wait_until(lambda: ha.of("control") == [b"ctl"])
    # keys of one channel share a slot, and the channels use every node
    client = aioredis.RedisCluster(host="127.0.0.1", port=cluster[0].port)
    await client.initialize()
    names = Names(options.redis_prefix, cluster=True)
    nodes = {str(client.get_node_from_key(names.history_stream(c))) for c in channels}
    assert all(
        client.keyslot(names.history_stream(c)) == client.keyslot(names.history_meta(c))
        == client.keyslot(names.history_touch(c))
        == client.keyslot(names.presence_set(c)) == client.keyslot(names.presence_hash(c))
        for c in channels
    )
    await client.aclose()
    assert len(nodes) == 3


async def test_cluster_api_queue(cluster: list[RedisServer]) -> None:
    options = cluster_options(cluster, redis_api=True, redis_api_num_shards=2, redis_read_timeout=1)
    engine = RedisEngine(options)
    handler = RecordingHandler()
    async with running(engine, handler):
        client = aioredis.RedisCluster(host="127.0.0.1", port=cluster[0].port)
        items = [f'{{"method":"publish","n":{i}}}'.encode() for i in range(30)]
        for i, item in enumerate(items):
            await client.rpush(Names(options.redis_prefix).api_queues(2)[i % 3], item)
        await client.aclose()
        await handler.wait_until(lambda: len(handler.of("api")) == 30, timeout=10)
        assert sorted(handler.of("api")) == sorted(items)
