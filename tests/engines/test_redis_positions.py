"""Stream positions over a real redis-server: offsets agree across nodes,
epochs change when Redis loses the stream."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from app.core.engine import HistoryOptions
from app.core.streams import recover_since
from app.core.values import Message, StreamPosition, new_uid
from app.engines.redis import RedisEngine
from app.engines.redis import codec
from app.engines.redis.keys import Names
from tests.engines.harness import RecordingHandler, newest, redis_options, running
from tests.engines.test_redis_nodes import nodes
from tests.support.redis import RedisServer, redis_server

HIST = HistoryOptions(size=100, lifetime=60)


def msg(channel: str, data: str = "1") -> Message:
    return Message(uid=new_uid(), channel=channel, data=data)


async def test_offsets_increase_by_one_across_nodes_publishing_to_one_channel(redis: RedisServer) -> None:
    async with nodes(redis_options(redis.url), 3) as [(a, ha), (b, hb), (c, hc)]:
        for engine in (a, b, c):
            await engine.subscribe("shared")
        sent = [msg("shared", str(i)) for i in range(60)]
        # both publishers at once, several calls per tick each
        await asyncio.gather(*(((a, b)[i % 2]).publish_message(m, HIST) for i, m in enumerate(sent)))
        assert sorted(m.offset for m in sent) == list(range(1, 61))
        epoch = sent[0].epoch
        assert {m.epoch for m in sent} == {epoch}
        by_uid = {m.uid: m.offset for m in sent}
        for handler in (ha, hb, hc):
            await handler.wait_until(lambda h=handler: len(h.of("message")) == 60)  # type: ignore[misc]
            got = handler.of("message")
            assert [m.offset for m in got] == list(range(1, 61))  # every node in offset order
            assert all(by_uid[m.uid] == m.offset and m.epoch == epoch for m in got)
        page = await c.history("shared", limit=0)
        assert page.position == StreamPosition(60, epoch)


async def test_flushall_and_an_empty_restart_give_a_new_epoch() -> None:
    with redis_server() as server:
        engine = RedisEngine(redis_options(server.url, redis_read_timeout=1))
        async with running(engine, RecordingHandler()):
            first = [msg("ch") for _ in range(3)]
            for m in first:
                await engine.publish_message(m, HIST)
            seen = first[-1].position
            server.cli("FLUSHALL")
            after_flush = msg("ch")
            await engine.publish_message(after_flush, HIST)
            assert after_flush.offset == 1 and after_flush.epoch != seen.epoch
            lost = await recover_since(engine, "ch", seen, HIST)
            assert not lost.recovered and lost.position == after_flush.position

            await asyncio.to_thread(server.restart)  # --save "": it comes back empty
            after_restart = msg("ch")
            await engine.publish_message(after_restart, HIST)
            assert after_restart.offset == 1
            assert after_restart.epoch not in (seen.epoch, after_flush.epoch)
            assert await newest(engine, "ch") == [after_restart]


async def test_a_stream_left_without_its_meta_is_dropped_for_a_new_epoch(redis: RedisServer) -> None:
    options = redis_options(redis.url)
    names = Names(options.redis_prefix)
    async with running(RedisEngine(options), RecordingHandler()) as engine:
        old = msg("orphan")
        await engine.publish_message(old, HIST)
        client = aioredis.Redis(port=redis.port)
        await client.delete(names.history_meta("orphan"))
        await client.aclose()
        new = msg("orphan")
        await engine.publish_message(new, HIST)  # no XADD error: the stream restarts
        assert new.offset == 1 and new.epoch != old.epoch
        assert await newest(engine, "orphan") == [new]


def test_payload_positions_decode_and_bad_ones_are_refused() -> None:
    plain = codec.encode_message(Message("u1", "ch", '{"a":1}'))
    assert codec.decode_message(plain).offset == 0
    positioned = b'{"offset":7,"epoch":"abcdefgh",' + plain[1:]
    decoded = codec.decode_message(positioned)
    assert (decoded.offset, decoded.epoch, decoded.data) == (7, "abcdefgh", '{"a":1}')
    for bad in (b'{"offset":-1,', b'{"offset":"7",', b'{"offset":1.5,'):
        with pytest.raises(codec.CodecError):
            codec.decode_message(bad + plain[1:])
    entry = codec.decode_entry([b"12-0", [b"d", plain]], "e1")
    assert (entry.offset, entry.epoch, entry.uid) == (12, "e1", "u1")
    with pytest.raises(codec.CodecError):
        codec.decode_entry([b"x-0", [b"d", plain]], "e1")
    with pytest.raises(codec.CodecError):
        codec.decode_entry([b"1-0"], "e1")


def test_undecodable_payloads_and_entries_raise_only_codec_errors() -> None:
    """Whatever another writer of the Redis left in a stream or on a topic:
    a Message or CodecError (the engine logs and skips), never a traceback."""
    import random

    rng = random.Random(13)
    good = b'{"offset":3,"epoch":"e","uid":"u","channel":"c","data":"1","info":{"user":"1","client":"x"}}'
    alphabet = b'{}[]",:0123456789-.eE truefalsnul\\'
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            data[at:at + rng.randint(0, 3)] = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
        for decode in (lambda d: codec.decode_message(d),
                       lambda d: codec.decode_entry([d[:rng.randint(0, 6)], [b"d", d]], "e")):
            try:
                decode(bytes(data))
            except codec.CodecError:
                pass
