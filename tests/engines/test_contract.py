"""The engine contract: every Engine method, run against each engine.

Both engines keep exactly ``history.size`` messages (the Redis engine trims
its stream with an exact ``XADD MAXLEN``, not ``~``).  Stream positions
(offsets, epochs, reads by position) are in test_positions.py.
"""
from __future__ import annotations

from typing import Any

import pytest

from app.core.engine import HistoryOptions
from app.core.values import ClientInfo, Message, new_uid
from tests.engines.harness import HarnessFactory, newest

HIST = HistoryOptions(size=3, lifetime=60)
NO_HIST = HistoryOptions()


def msg(channel: str, data: str = '{"n":1}', with_info: bool = False) -> Message:
    info = ClientInfo("42", new_uid(), '{"name":"Ann"}', '{"room":1}') if with_info else None
    return Message(uid=new_uid(), channel=channel, data=data, client="c1" if with_info else "", info=info)


async def test_message_reaches_handler_once_with_every_field(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("news")
        sent = msg("news", '{"text":"hé \\u2028","list":[1,2]}', with_info=True)
        await h.engine.publish_message(sent, NO_HIST)
        await h.barrier()
        assert h.handler.of("message").count(sent) == 1
        assert [m for m in h.handler.of("message") if m.channel == "news"] == [sent]


async def test_unsubscribed_channel_is_not_delivered(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.publish_message(msg("never-subscribed"), NO_HIST)
        await h.engine.subscribe("gone")
        await h.engine.unsubscribe("gone")
        await h.engine.publish_message(msg("gone"), NO_HIST)
        await h.barrier()
        assert {m.channel for m in h.handler.of("message")} == {"barrier"}


async def test_messages_arrive_in_publish_order(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("order")
        sent = [msg("order", str(i)) for i in range(50)]
        for m in sent:
            await h.engine.publish_message(m, NO_HIST)
        await h.barrier()
        assert [m for m in h.handler.of("message") if m.channel == "order"] == sent


async def test_history_newest_first_keeps_exactly_size(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        sent = [msg("hist", str(i)) for i in range(5)]
        for m in sent:
            await h.engine.publish_message(m, HIST)
        assert await newest(h.engine, "hist") == sent[:1:-1]  # 4, 3, 2
        assert await newest(h.engine, "hist", limit=1) == [sent[4]]
        assert await newest(h.engine, "hist", limit=2) == [sent[4], sent[3]]
        assert await newest(h.engine, "hist", limit=10) == sent[:1:-1]
        assert await newest(h.engine, "other") == []


async def test_history_off_when_size_or_lifetime_is_zero(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.publish_message(msg("a"), HistoryOptions(size=0, lifetime=60))
        await h.engine.publish_message(msg("b"), HistoryOptions(size=5, lifetime=0))
        assert await newest(h.engine, "a") == []
        assert await newest(h.engine, "b") == []


async def test_history_expires_after_lifetime(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        opts = HistoryOptions(size=5, lifetime=1)
        await h.engine.publish_message(msg("short"), opts)
        assert len(await newest(h.engine, "short")) == 1
        await h.advance(1.2, server=True)
        assert await newest(h.engine, "short") == []


async def test_history_lifetime_is_renewed_by_each_publish(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        opts = HistoryOptions(size=5, lifetime=1)
        first, second = msg("renew", "1"), msg("renew", "2")
        await h.engine.publish_message(first, opts)
        await h.advance(0.7, server=True)
        await h.engine.publish_message(second, opts)
        await h.advance(0.7, server=True)
        assert await newest(h.engine, "renew") == [second, first]
        await h.advance(0.6, server=True)
        assert await newest(h.engine, "renew") == []


async def test_remove_history(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.publish_message(msg("rm"), HIST)
        await h.engine.remove_history("rm")
        assert await newest(h.engine, "rm") == []
        again = msg("rm")
        await h.engine.publish_message(again, HIST)
        assert await newest(h.engine, "rm") == [again]


async def test_drop_inactive_starts_no_history_without_subscriber(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        opts = HistoryOptions(size=5, lifetime=60, drop_inactive=True)
        await h.engine.publish_message(msg("idle"), opts)
        assert await newest(h.engine, "idle") == []
        await h.engine.subscribe("idle")
        kept = msg("idle")
        await h.engine.publish_message(kept, opts)
        assert await newest(h.engine, "idle") == [kept]
        # the history exists now, so it keeps growing after the subscriber left
        await h.engine.unsubscribe("idle")
        later = msg("idle")
        await h.engine.publish_message(later, opts)
        assert await newest(h.engine, "idle") == [later, kept]


async def test_drop_inactive_touch_keeps_history_for_lifetime_after_leave(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        opts = HistoryOptions(size=5, lifetime=1, drop_inactive=True)
        await h.engine.subscribe("blip")
        await h.engine.unsubscribe("blip", opts)
        missed = msg("blip")
        await h.engine.publish_message(missed, opts)
        assert await newest(h.engine, "blip") == [missed]
        await h.advance(1.2, server=True)
        await h.engine.publish_message(msg("blip"), opts)
        assert await newest(h.engine, "blip") == []


async def test_presence_add_get_remove(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        ann = ClientInfo("1", "c-ann", '{"name":"Ann"}', "")
        bob = ClientInfo("2", "c-bob", "", '{"x":[1]}')
        assert await h.engine.presence("room") == {}
        await h.engine.add_presence("room", "c-ann", ann, 60)
        await h.engine.add_presence("room", "c-bob", bob, 60)
        await h.engine.add_presence("other", "c-ann", ann, 60)
        assert await h.engine.presence("room") == {"c-ann": ann, "c-bob": bob}
        await h.engine.remove_presence("room", "c-ann")
        assert await h.engine.presence("room") == {"c-bob": bob}
        assert await h.engine.presence("other") == {"c-ann": ann}
        await h.engine.remove_presence("room", "nobody")  # harmless


async def test_presence_expires_unless_renewed(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        ann = ClientInfo("1", "c-ann")
        bob = ClientInfo("2", "c-bob")
        await h.engine.add_presence("room", "c-ann", ann, 10)
        await h.engine.add_presence("room", "c-bob", bob, 10)
        await h.advance(8)
        await h.engine.add_presence("room", "c-bob", bob, 10)  # the periodic re-add
        await h.advance(3)
        assert await h.engine.presence("room") == {"c-bob": bob}
        await h.advance(8)
        assert await h.engine.presence("room") == {}


async def test_channels_lists_subscribed_channels(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("a")
        await h.engine.subscribe("b:c")
        assert sorted(await h.engine.channels()) == ["a", "b:c"]
        await h.engine.unsubscribe("a")
        assert await h.engine.channels() == ["b:c"]


async def test_join_and_leave_reach_handler(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        info = ClientInfo("7", "c-7", '{"a":1}', "")
        await h.engine.subscribe("jl")
        await h.engine.publish_join("jl", info)
        await h.engine.publish_leave("jl", info)
        await h.engine.publish_join("not-subscribed", info)
        await h.barrier()
        assert h.handler.of("join") == [("jl", info)]
        assert h.handler.of("leave") == [("jl", info)]


@pytest.mark.parametrize("kind", ["control", "admin"])
async def test_control_and_admin_round_trip_as_opaque_bytes(harness_factory: HarnessFactory, kind: str) -> None:
    async with harness_factory() as h:
        data = b'{"uid":"n1","method":"ping","params":{"x":"\xc3\xa9"}}\x00\xff'
        publish = h.engine.publish_control if kind == "control" else h.engine.publish_admin
        await publish(data)
        await h.handler.wait_until(lambda: len(h.handler.of(kind)) >= 1)
        await h.barrier()
        assert h.handler.of(kind) == [data]


async def test_recovery_reads_newest_with_limit_one(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("rec")
        sent = [msg("rec", str(i)) for i in range(3)]
        for m in sent:
            await h.engine.publish_message(m, HIST)
        assert await newest(h.engine, "rec", limit=1) == [sent[-1]]
        everything = await newest(h.engine, "rec")
        last_seen = everything.index(sent[0])
        assert everything[:last_seen] == [sent[2], sent[1]]  # what a client that saw sent[0] missed


@pytest.mark.parametrize("engine_class", ["MemoryEngine", "RedisEngine"])
def test_engine_implements_every_method_of_the_seam_with_its_signature(engine_class: str) -> None:
    import inspect

    from app.core.engine import Engine
    from app.engines.memory import MemoryEngine
    from app.engines.redis import RedisEngine

    classes: dict[str, type[Any]] = {"MemoryEngine": MemoryEngine, "RedisEngine": RedisEngine}
    cls = classes[engine_class]
    methods = [n for n, v in vars(Engine).items() if inspect.iscoroutinefunction(v)]
    assert len(methods) == 15
    for name in methods:
        theirs = inspect.signature(getattr(cls, name))
        ours = inspect.signature(getattr(Engine, name))
        assert list(theirs.parameters) == list(ours.parameters), name
        assert inspect.iscoroutinefunction(getattr(cls, name)), name
    assert cls.name in ("Memory", "Redis")


@pytest.mark.parametrize("history", [HIST, NO_HIST], ids=["history", "no-history"])
async def test_an_idempotency_key_publishes_once_per_channel(harness_factory: HarnessFactory,
                                                             history: HistoryOptions) -> None:
    """The same key into the same channel: the second publish does nothing and
    gets the first one's position; another channel or key publishes."""
    async with harness_factory() as h:
        for channel in ("idem", "idem-2"):
            await h.engine.subscribe(channel)
        first, again, other_key, other_channel = msg("idem"), msg("idem"), msg("idem"), msg("idem-2")
        await h.engine.publish_message(first, history, "k1")
        await h.engine.publish_message(again, history, "k1")
        assert (again.offset, again.epoch) == (first.offset, first.epoch)
        assert first.offset == (1 if history.enabled else 0)
        await h.engine.publish_message(other_key, history, "k2")
        await h.engine.publish_message(other_channel, history, "k1")
        await h.barrier()
        got = [m.uid for m in h.handler.of("message") if m.channel.startswith("idem")]
        assert got == [first.uid, other_key.uid, other_channel.uid]
        if history.enabled:
            assert other_key.offset == 2
            assert [m.uid for m in await newest(h.engine, "idem")] == [other_key.uid, first.uid]
