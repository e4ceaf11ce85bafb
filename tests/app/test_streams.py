"""app.core.streams on a node: the history command by position, and a
subscribe that replies with positions and recovers from one, holding live
pushes back so nothing arrives twice or out of order."""
from __future__ import annotations

from typing import Any

import pytest

from app.core import streams
from app.core.errors import INVALID_MESSAGE, NOT_AVAILABLE, UNRECOVERABLE_POSITION, ProtocolError
from app.core.subscriptions import history_options
from app.core.values import NO_POSITION, Message, StreamPosition, new_uid
from app.engines.memory import MemoryEngine
from tests.app.conftest import FaultyEngine, make_options
from tests.app.test_subscribe_publish import PublishDuringHistoryRead


def publish_body(channel: str, n: int) -> bytes:
    return b'{"method":"publish","params":{"channel":"%s","data":{"n":%d}}}' % (channel.encode(), n)


def pushed(session: Any, channel: str) -> list[int]:
    """The ``n`` of the 1.x message pushes of ``channel`` the session got."""
    return [m["body"]["data"]["n"] for m in session.messages()
            if m.get("method") == "message" and m["body"]["channel"] == channel]


def test_is_recovered_follows_the_rule_of_section_1_10() -> None:
    def pubs(*offsets: int) -> list[Message]:
        return [Message(new_uid(), "c", "1", offset=o, epoch="e") for o in offsets]

    top = StreamPosition(5, "e")
    assert streams.is_recovered(StreamPosition(5, "e"), top, [])
    assert streams.is_recovered(StreamPosition(3, "e"), top, pubs(4, 5))
    assert not streams.is_recovered(StreamPosition(2, "e"), top, pubs(4, 5))  # 3 trimmed
    assert not streams.is_recovered(StreamPosition(3, "e"), top, pubs(4))  # 5 missing
    assert not streams.is_recovered(StreamPosition(3, "x"), top, pubs(4, 5))
    assert not streams.is_recovered(StreamPosition(3, ""), top, pubs(4, 5))
    assert not streams.is_recovered(StreamPosition(4, "e"), top, [])


async def test_read_history_checks_and_pages(harness_factory) -> None:
    async with harness_factory() as h:
        for n in range(4):
            await h.node.api.execute(publish_body("hist:a", n))
        page = await streams.read_history(h.node, "hist:a")
        top = page.position
        assert [m.offset for m in page.publications] == [2, 3, 4] and top.offset == 4
        page = await streams.read_history(h.node, "hist:a", limit=1, since=StreamPosition(4, top.epoch), reverse=True)
        assert [m.offset for m in page.publications] == [3]
        page = await streams.read_history(h.node, "hist:a", since=StreamPosition(2, ""))  # no epoch: not compared
        assert [m.offset for m in page.publications] == [3, 4]
        with pytest.raises(ProtocolError) as caught:
            await streams.read_history(h.node, "hist:a", since=StreamPosition(2, "other"))
        assert caught.value.error == UNRECOVERABLE_POSITION
        with pytest.raises(ProtocolError) as caught:
            await streams.read_history(h.node, "public:a")
        assert caught.value.error == NOT_AVAILABLE
        with pytest.raises(ProtocolError) as caught:
            await streams.read_history(h.node, "")
        assert caught.value.error == INVALID_MESSAGE
        fresh = await streams.read_history(h.node, "hist:new", limit=0)
        assert fresh.position.offset == 0 and fresh.position.epoch  # the stream is started


async def test_subscribe_recovers_a_concurrent_publication_once_and_in_order(harness_factory, clock) -> None:
    options = make_options()
    engine = PublishDuringHistoryRead(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        s = await h.connect("1")
        client = s.connection
        channel_options = h.node.rules.options("hist:a")
        for n in (1, 2):
            await h.node.api.execute(publish_body("hist:a", n))
        seen = await streams.position(h.node.engine, "hist:a", history_options(channel_options))
        assert seen.offset == 2
        await h.node.api.execute(publish_body("hist:a", 3))  # missed while away
        engine.during = [Message(new_uid(), "hist:a", '{"n":4}')]  # published between registration and read
        result = await streams.subscribe(h.node, h.node.fanout, client, "hist:a", channel_options,
                                         since=StreamPosition(1, seen.epoch))
        assert result.recovered and result.position == StreamPosition(4, seen.epoch)
        assert [m.offset for m in result.publications] == [2, 3, 4]
        assert pushed(s, "hist:a") == []  # held until the reply is out
        client.run_after_reply()
        await h.node.api.execute(publish_body("hist:a", 5))
        assert pushed(s, "hist:a") == [5]  # 4 came in the reply only


async def test_subscribe_without_since_replies_with_the_position(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        options = h.node.rules.options("hist:b")
        result = await streams.subscribe(h.node, h.node.fanout, s.connection, "hist:b", options)
        assert not result.recovered and result.publications == []
        assert result.position.offset == 0 and result.position.epoch
        await h.node.api.execute(publish_body("hist:b", 1))
        assert pushed(s, "hist:b") == [1]  # nothing held
        page = await streams.read_history(h.node, "hist:b")
        assert page.position == StreamPosition(1, result.position.epoch)  # the epoch the reply gave
        plain = await streams.subscribe(h.node, h.node.fanout, s.connection, "public:x",
                                        h.node.rules.options("public:x"), since=StreamPosition(3, "e"))
        assert plain.position == NO_POSITION and not plain.recovered


async def test_subscribe_with_the_engine_failing_reads_is_not_recovered(harness_factory, clock) -> None:
    options = make_options()
    engine = FaultyEngine(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        s = await h.connect("1")
        engine.failing = {"history"}
        result = await streams.subscribe(h.node, h.node.fanout, s.connection, "hist:c",
                                         h.node.rules.options("hist:c"), since=StreamPosition(1, "e"))
        assert result == streams.StreamRecovery([], NO_POSITION, False)
        assert "hist:c" in s.connection.channels  # subscribed all the same
        s.connection.run_after_reply()
        engine.failing = set()
        await h.node.api.execute(publish_body("hist:c", 1))
        assert pushed(s, "hist:c") == [1]
