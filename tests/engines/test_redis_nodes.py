"""Redis engine across nodes: two engines on one Redis and one prefix are two nodes."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from app.core.engine import HistoryOptions
from app.engines.redis import RedisEngine
from app.engines.redis.keys import Names
from app.core.values import ClientInfo, Message, new_uid
from app.options import Options
from tests.engines.harness import RecordingHandler, newest, redis_options, running
from tests.support.redis import RedisServer

HIST = HistoryOptions(size=10, lifetime=60)


@contextlib.asynccontextmanager
async def nodes(options: Options, count: int = 2) -> AsyncIterator[list[tuple[RedisEngine, RecordingHandler]]]:
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for _ in range(count):
            handler = RecordingHandler()
            engine = RedisEngine(options)
            await stack.enter_async_context(running(engine, handler))
            out.append((engine, handler))
        yield out


def msg(channel: str, data: str = "1") -> Message:
    return Message(uid=new_uid(), channel=channel, data=data)


async def test_message_published_on_one_node_reaches_every_subscribed_node_once(redis: RedisServer) -> None:
    async with nodes(redis_options(redis.url), 3) as [(a, ha), (b, hb), (c, hc)]:
        await a.subscribe("room")
        await b.subscribe("room")
        sent = [msg("room", str(i)) for i in range(20)]
        for m in sent:
            await c.publish_message(m, HIST)
        last = sent[-1]
        await ha.wait_until(lambda: last in ha.of("message"))
        await hb.wait_until(lambda: last in hb.of("message"))
        assert ha.of("message") == sent and hb.of("message") == sent
        await c.subscribe("barrier")
        await c.publish_message(msg("barrier"), HIST)
        await hc.wait_until(lambda: len(hc.of("message")) == 1)
        assert [m.channel for m in hc.of("message")] == ["barrier"]  # c never subscribed "room"


async def test_history_presence_and_channels_agree_from_every_node(redis: RedisServer) -> None:
    async with nodes(redis_options(redis.url)) as [(a, _), (b, _)]:
        sent = [msg("shared", str(i)) for i in range(3)]
        for m in sent:
            await a.publish_message(m, HIST)
        assert await newest(b, "shared") == sent[::-1]
        assert await newest(b, "shared", limit=1) == [sent[-1]]
        info = ClientInfo("u1", "c1", '{"n":1}', "")
        await a.add_presence("shared", "c1", info, 60)
        assert await b.presence("shared") == {"c1": info}
        await a.subscribe("only-a")
        await b.subscribe("only-b")
        assert await a.channels() == await b.channels() == ["only-a", "only-b"]


async def test_control_reaches_every_node_including_the_sender(redis: RedisServer) -> None:
    async with nodes(redis_options(redis.url)) as [(a, ha), (b, hb)]:
        await a.publish_control(b"ping-1")
        await b.publish_admin(b"admin-1")
        for handler in (ha, hb):
            await handler.wait_until(lambda: handler.of("control") == [b"ping-1"] and handler.of("admin") == [b"admin-1"])


async def test_concurrent_subscribe_and_unsubscribe_end_as_last_asked(redis: RedisServer) -> None:
    options = redis_options(redis.url)
    async with nodes(options, 1) as [(a, _)]:
        ops = []
        for i in range(30):  # s, u, s, u, ... ending on subscribe for "on", unsubscribe for "off"
            ops.append(a.subscribe("on") if i % 2 == 0 else a.unsubscribe("on"))
            ops.append(a.subscribe("off") if i % 2 == 0 else a.unsubscribe("off"))
        ops.append(a.subscribe("on"))
        await asyncio.gather(*ops)
        client = aioredis.Redis(port=redis.port)
        names = Names(options.redis_prefix)
        counts = dict(await client.pubsub_numsub(names.message_prefix + "on", names.message_prefix + "off"))
        await client.aclose()
        assert counts == {(names.message_prefix + "on").encode(): 1, (names.message_prefix + "off").encode(): 0}
        assert await a.channels() == ["on"]


async def test_publishes_of_one_tick_share_one_round_trip(redis: RedisServer) -> None:
    async with nodes(redis_options(redis.url), 1) as [(a, ha)]:
        await a.subscribe("burst")
        await a.publish_message(msg("warm-up"), HIST)  # a fresh Redis loads the scripts first
        batcher = a.batchers[0]
        before = batcher.round_trips
        sent = [msg("burst", str(i)) for i in range(200)]
        await asyncio.gather(*(a.publish_message(m, HIST if i % 2 else HistoryOptions()) for i, m in enumerate(sent)))
        assert batcher.round_trips - before == 1
        await ha.wait_until(lambda: len(ha.of("message")) == 200)
        assert ha.of("message") == sent  # one pipeline keeps the order
        assert await newest(a, "burst") == [m for i, m in enumerate(sent) if i % 2][::-1][:10]


async def test_unpipelined_batcher_makes_one_round_trip_per_command(redis: RedisServer) -> None:
    engine = RedisEngine(redis_options(redis.url), pipelined=False)
    async with running(engine, RecordingHandler()):
        await engine.publish_message(msg("warm-up"), HIST)
        before = engine.batchers[0].round_trips
        await asyncio.gather(*(engine.publish_message(msg("x"), HIST) for _ in range(20)))
        assert engine.batchers[0].round_trips - before == 20


async def test_api_queue_items_are_handled_once_across_nodes(redis: RedisServer) -> None:
    options = redis_options(redis.url, redis_api=True, redis_api_num_shards=2, redis_read_timeout=1)
    async with nodes(options, 2) as [(_, ha), (_, hb)]:
        client = aioredis.Redis(port=redis.port)
        queues = Names(options.redis_prefix).api_queues(2)
        items = [f'{{"method":"publish","params":{{"n":{i}}}}}'.encode() for i in range(150)]
        for i, item in enumerate(items):
            await client.rpush(queues[i % 3], item)
        await client.aclose()

        def received() -> list[Any]:
            return ha.of("api") + hb.of("api")

        async def all_in() -> None:
            while len(received()) < len(items):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(all_in(), 10)
        await asyncio.sleep(0.1)  # a duplicate would have to arrive now; nothing is left to pop
        assert sorted(received()) == sorted(items)


async def test_undecodable_payload_is_skipped_and_the_node_goes_on(redis: RedisServer) -> None:
    options = redis_options(redis.url)
    async with nodes(options, 1) as [(a, ha)]:
        await a.subscribe("bad")
        client = aioredis.Redis(port=redis.port)
        await client.publish(Names(options.redis_prefix).message_prefix + "bad", b"\xff not json")
        await client.aclose()
        good = msg("bad")
        await a.publish_message(good, HIST)
        await ha.wait_until(lambda: good in ha.of("message"))
        assert ha.of("message") == [good]
