"""The stream-position part of the engine contract, run against each engine:
offsets assigned by publish, epochs, history by position, and
app.core.streams.recover_since over a real engine."""
from __future__ import annotations

from app.core.engine import HistoryOptions
from app.core.streams import recover_since
from app.core.values import NO_POSITION, Message, StreamPosition, new_uid
from tests.engines.harness import Harness, HarnessFactory

HIST = HistoryOptions(size=3, lifetime=60)
BIG = HistoryOptions(size=10, lifetime=60)


def msg(channel: str, n: int = 0) -> Message:
    return Message(uid=new_uid(), channel=channel, data=str(n))


def offsets(messages: list[Message]) -> list[int]:
    return [m.offset for m in messages]


async def publish(h: Harness, channel: str, count: int, history: HistoryOptions = BIG) -> list[Message]:
    sent = [msg(channel, i) for i in range(count)]
    for m in sent:
        await h.engine.publish_message(m, history)
    return sent


async def test_publish_assigns_consecutive_offsets_and_one_epoch(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("pos")
        sent = await publish(h, "pos", 5, HIST)
        epoch = sent[0].epoch
        assert offsets(sent) == [1, 2, 3, 4, 5] and len(epoch) == 8
        assert {m.epoch for m in sent} == {epoch}
        await h.barrier()
        delivered = [m for m in h.handler.of("message") if m.channel == "pos"]
        assert [(m.uid, m.offset, m.epoch) for m in delivered] == [(m.uid, m.offset, epoch) for m in sent]
        page = await h.engine.history("pos")
        assert page.position == StreamPosition(5, epoch)
        assert offsets(page.publications) == [3, 4, 5]  # trimmed to size; the counter goes on
        assert {m.epoch for m in page.publications} == {epoch}
        more = await publish(h, "pos", 1, HIST)
        assert more[0].position == StreamPosition(6, epoch)


async def test_channels_without_history_have_no_positions(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        await h.engine.subscribe("plain")
        sent = await publish(h, "plain", 2, HistoryOptions())
        assert [m.position for m in sent] == [NO_POSITION, NO_POSITION]
        await h.barrier()
        assert {m.offset for m in h.handler.of("message")} == {0}
        page = await h.engine.history("plain", limit=0)
        assert page.position == NO_POSITION and page.publications == []


async def test_history_since_an_offset_in_both_orders_with_limits(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        sent = await publish(h, "pages", 6)
        top = sent[-1].position

        async def read(**kw: object) -> list[int]:
            page = await h.engine.history("pages", **kw)  # type: ignore[arg-type]
            assert page.position == top
            return offsets(page.publications)

        assert await read() == [1, 2, 3, 4, 5, 6]
        assert await read(reverse=True) == [6, 5, 4, 3, 2, 1]
        assert await read(limit=2) == [1, 2]
        assert await read(limit=2, reverse=True) == [6, 5]
        assert await read(since=StreamPosition(2, top.epoch)) == [3, 4, 5, 6]
        assert await read(since=StreamPosition(2, top.epoch), limit=2) == [3, 4]
        assert await read(since=StreamPosition(5, top.epoch), reverse=True) == [4, 3, 2, 1]
        assert await read(since=StreamPosition(5, top.epoch), reverse=True, limit=2) == [4, 3]
        assert await read(since=top) == []  # forward from the top: nothing
        assert await read(since=StreamPosition(0, top.epoch), reverse=True) == []
        assert await read(since=StreamPosition(9, top.epoch)) == []
        # any uint64 a client sends (connect.subs, subscribe), limited or not
        assert await read(since=StreamPosition(2 ** 64 - 1, top.epoch), limit=3) == []
        assert await read(since=StreamPosition(2 ** 64 - 1, top.epoch)) == []
        assert await read(since=StreamPosition(2 ** 64 - 1, top.epoch), reverse=True) == [6, 5, 4, 3, 2, 1]
        assert await read(limit=0) == []
        assert await read(limit=-5) == [1, 2, 3, 4, 5, 6]


async def test_a_position_read_starts_the_stream_that_publishes_then_use(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        assert (await h.engine.history("fresh", limit=0)).position == NO_POSITION  # a plain read starts nothing
        first = (await h.engine.history("fresh", limit=0, lifetime=60)).position
        assert first.offset == 0 and len(first.epoch) == 8
        assert (await h.engine.history("fresh", limit=0, lifetime=60)).position == first
        sent = await publish(h, "fresh", 1)
        assert sent[0].position == StreamPosition(1, first.epoch)


async def test_an_expired_stream_comes_back_with_a_new_epoch(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        short = HistoryOptions(size=5, lifetime=1)
        old = (await publish(h, "exp", 2, short))[-1].position
        await h.advance(1.2, server=True)
        assert (await h.engine.history("exp")).position == NO_POSITION
        again = (await publish(h, "exp", 1, short))[0].position
        assert again.offset == 1 and again.epoch != old.epoch
        lost = await recover_since(h.engine, "exp", old, short)
        assert not lost.recovered and lost.publications == [] and lost.position == again


async def test_remove_history_keeps_the_position(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        top = (await publish(h, "rmpos", 2))[-1].position
        await h.engine.remove_history("rmpos")
        page = await h.engine.history("rmpos")
        assert page.publications == [] and page.position == top
        gone = await recover_since(h.engine, "rmpos", StreamPosition(1, top.epoch), BIG)
        assert not gone.recovered and gone.position == top
        assert (await publish(h, "rmpos", 1))[0].position == StreamPosition(3, top.epoch)


async def test_drop_inactive_without_subscriber_gives_no_position(harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        opts = HistoryOptions(size=5, lifetime=60, drop_inactive=True)
        assert (await publish(h, "idle-pos", 1, opts))[0].position == NO_POSITION
        await h.engine.subscribe("idle-pos")
        assert (await publish(h, "idle-pos", 1, opts))[0].offset == 1


async def test_recover_since_returns_what_was_missed_only_when_nothing_is_lost(
        harness_factory: HarnessFactory) -> None:
    async with harness_factory() as h:
        sent = await publish(h, "rec", 3, HIST)
        epoch = sent[0].epoch
        missed = await recover_since(h.engine, "rec", StreamPosition(1, epoch), HIST)
        assert missed.recovered and missed.publications == sent[1:]
        assert missed.position == StreamPosition(3, epoch)
        nothing = await recover_since(h.engine, "rec", StreamPosition(3, epoch), HIST)
        assert nothing.recovered and nothing.publications == []
        await publish(h, "rec", 2, HIST)  # keeps 3, 4, 5: offset 2 is trimmed
        trimmed = await recover_since(h.engine, "rec", StreamPosition(1, epoch), HIST)
        assert not trimmed.recovered and trimmed.publications == [] and trimmed.position.offset == 5
        assert (await recover_since(h.engine, "rec", StreamPosition(2, epoch), HIST)).recovered
        other = await recover_since(h.engine, "rec", StreamPosition(4, "another"), HIST)
        assert not other.recovered and other.publications == []
        assert not (await recover_since(h.engine, "rec", StreamPosition(4, ""), HIST)).recovered
        future = await recover_since(h.engine, "rec", StreamPosition(9, epoch), HIST)
        assert not future.recovered
        off = await recover_since(h.engine, "rec", StreamPosition(4, epoch), HistoryOptions())
        assert not off.recovered and off.position == NO_POSITION
