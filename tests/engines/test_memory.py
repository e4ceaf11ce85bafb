"""Memory-engine specifics beyond the contract: the one expiry heap and delivery."""
from __future__ import annotations

import asyncio

from app.core.engine import HistoryOptions
from app.engines.idempotency import MAX_KEYS, IdempotentResults
from app.engines.memory import MemoryEngine
from app.core.values import ClientInfo, Message, StreamPosition, new_uid
from app.options import Options
from tests.engines.harness import FakeClock, RecordingHandler, newest


async def test_renewals_keep_one_heap_entry_per_item_and_expiry_frees_everything() -> None:
    clock = FakeClock()
    engine = MemoryEngine(Options(), clock=clock)
    await engine.run(RecordingHandler())
    opts = HistoryOptions(size=10, lifetime=5)
    for i in range(1000):
        clock.now += 0.001
        await engine.publish_message(Message(new_uid(), f"ch{i % 3}", "1"), opts)
        await engine.add_presence("room", "c1", ClientInfo("u", "c1"), 5)
    assert len(engine._expiry.heap) == 4  # three histories and one presence entry
    clock.now += 5.1
    assert await newest(engine, "ch0") == []
    assert await engine.presence("room") == {}
    assert engine._expiry.heap == [] and engine._history == {} and engine._presence == {}
    await engine.shutdown()


async def test_shorter_lifetime_after_removal_is_honoured() -> None:
    clock = FakeClock()
    engine = MemoryEngine(Options(), clock=clock)
    await engine.run(RecordingHandler())
    m1, m2 = Message(new_uid(), "ch", "1"), Message(new_uid(), "ch", "2")
    await engine.publish_message(m1, HistoryOptions(size=5, lifetime=100))
    await engine.remove_history("ch")
    await engine.publish_message(m2, HistoryOptions(size=5, lifetime=1))
    clock.now += 1.5
    assert await newest(engine, "ch") == []
    await engine.shutdown()


async def test_sweep_task_expires_without_reads() -> None:
    clock = FakeClock()
    engine = MemoryEngine(Options(), clock=clock, sweep_interval=0.01)
    await engine.run(RecordingHandler())
    await engine.publish_message(Message(new_uid(), "ch", "1"), HistoryOptions(size=5, lifetime=1))
    clock.now += 2
    for _ in range(100):
        if not engine._history:
            break
        await asyncio.sleep(0.01)
    assert engine._history == {}
    await engine.shutdown()


async def test_delivery_is_synchronous_and_a_failing_handler_does_not_fail_publish() -> None:
    class Failing(RecordingHandler):
        def handle_message(self, message: Message) -> None:
            super().handle_message(message)
            raise RuntimeError("subscriber side bug")

    handler = Failing()
    engine = MemoryEngine(Options())
    await engine.run(handler)
    await engine.subscribe("ch")
    sent = Message(new_uid(), "ch", "1")
    await engine.publish_message(sent, HistoryOptions(size=1, lifetime=10))
    assert handler.of("message") == [sent]  # already delivered when publish returned
    assert await newest(engine, "ch") == [sent]
    await engine.shutdown()


async def test_idempotency_keys_expire_after_their_ttl_and_are_bounded() -> None:
    clock = FakeClock()
    engine = MemoryEngine(Options(idempotent_result_ttl=10), clock=clock)
    first, later = Message(new_uid(), "ch", "1"), Message(new_uid(), "ch", "2")
    await engine.publish_message(first, HistoryOptions(size=5, lifetime=100), "k")
    clock.now += 11
    await engine.publish_message(later, HistoryOptions(size=5, lifetime=100), "k")
    assert later.offset == 2  # published again: the key had expired
    results = IdempotentResults(clock)
    for i in range(MAX_KEYS + 5):
        results.remember("ch", str(i), StreamPosition(i, "e"), 60)
    assert results.seen("ch", "0") is None and results.seen("ch", "10") == StreamPosition(10, "e")
