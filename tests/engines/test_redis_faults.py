"""Redis going away and coming back, with a real redis-server stopped, paused and restarted."""
from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import pytest

from app.core.engine import EngineError, HistoryOptions
from app.engines.redis import RedisEngine
from app.core.values import ClientInfo, Message, new_uid
from tests.engines.harness import RecordingHandler, newest, redis_options, running
from tests.support.redis import redis_server

HIST = HistoryOptions(size=10, lifetime=60)
PROMPT = 5.0  # an engine call must fail well within this (op timeout is 2 s)


def msg(channel: str) -> Message:
    return Message(uid=new_uid(), channel=channel, data='"x"')


async def until(check: Callable[[], bool], limit: float = 15.0) -> None:
    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), limit)


async def delivered_after_recovery(publisher: RedisEngine, handler: RecordingHandler, channel: str) -> Message:
    """Publish probes until one arrives (the listener may still be reconnecting)."""
    for _ in range(100):
        probe = msg(channel)
        try:
            await publisher.publish_message(probe, HIST)
        except EngineError:
            await asyncio.sleep(0.1)
            continue
        try:
            await handler.wait_until(lambda: probe in handler.of("message"), timeout=0.3)
            return probe
        except TimeoutError:
            continue
    raise AssertionError("no message got through after Redis came back")


async def assert_every_call_fails_promptly(engine: RedisEngine) -> None:
    info = ClientInfo("u", "c")
    calls = [
        engine.publish_message(msg("kept"), HIST), engine.publish_join("kept", info),
        engine.publish_control(b"c"), engine.subscribe("fresh"), newest(engine, "kept"),
        engine.presence("kept"), engine.add_presence("kept", "c", info, 60), engine.remove_history("kept"),
        engine.channels(),
    ]
    for call in calls:
        with pytest.raises(EngineError) as failed:
            await asyncio.wait_for(call, PROMPT)
        assert str(failed.value).strip() and not str(failed.value).endswith(": ")  # names its cause
        if "connect" in str(failed.value):  # Redis refused the connection: nothing was sent
            assert failed.value.unknown is False, failed.value
    await asyncio.wait_for(engine.unsubscribe("never-held"), PROMPT)  # never fails


@pytest.mark.async_timeout(60)
async def test_stop_and_restart_node_resubscribes_by_itself() -> None:
    with redis_server() as server:
        options = redis_options(server.url, redis_read_timeout=1)
        listener, publisher = RedisEngine(options), RedisEngine(options)
        handler = RecordingHandler()
        async with running(listener, handler), running(publisher, RecordingHandler()):
            await listener.subscribe("kept")
            before = msg("kept")
            await publisher.publish_message(before, HIST)
            await handler.wait_until(lambda: before in handler.of("message"))

            await asyncio.to_thread(server.stop)
            await assert_every_call_fails_promptly(publisher)
            calls = (publisher.publish_message(msg("kept"), HIST) for _ in range(500))
            burst = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(r, EngineError) for r in burst)
            assert publisher.batchers[0].pending == 0  # nothing queues up while Redis is away
            await asyncio.sleep(1.5)
            sub = listener.subscribers[0]
            assert sub.connects == 1 and sub.attempts < 20  # backing off, not spinning

            assert handler.of("lost") == []
            await asyncio.to_thread(server.start)
            await until(lambda: sub.connects == 2)
            # The node hears which channels missed messages, before any new message.
            assert handler.of("lost") == [["kept"]]
            probe = await delivered_after_recovery(publisher, handler, "kept")  # no subscribe call again
            assert handler.events.index(("lost", ["kept"])) < handler.events.index(("message", probe))
            assert await newest(listener, "kept", limit=1) == [probe]
            assert "kept" in await publisher.channels()


@pytest.mark.async_timeout(60)
async def test_paused_redis_times_out_then_history_is_still_there() -> None:
    with redis_server() as server:
        options = redis_options(server.url, redis_read_timeout=1)
        listener, publisher = RedisEngine(options), RedisEngine(options)
        handler = RecordingHandler()
        async with running(listener, handler), running(publisher, RecordingHandler()):
            await listener.subscribe("kept")
            saved = msg("kept")
            await publisher.publish_message(saved, HIST)
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                lost = msg("kept")
                with pytest.raises(EngineError) as failed:
                    await asyncio.wait_for(publisher.publish_message(lost, HIST), PROMPT)
                # sent on a live connection, no reply: it may be done, and it is, below
                assert failed.value.unknown is True and "outcome unknown" in str(failed.value), failed.value
                with pytest.raises(EngineError):
                    await asyncio.wait_for(newest(publisher, "kept"), PROMPT)
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            probe = await delivered_after_recovery(publisher, handler, "kept")
            history = await newest(listener, "kept")
            assert history[0] == probe and history[-1] == saved
            assert lost.uid in {m.uid for m in history}  # "outcome unknown" was in fact done


@pytest.mark.async_timeout(60)
async def test_node_starts_while_redis_is_down_and_connects_later() -> None:
    with redis_server() as server:
        await asyncio.to_thread(server.stop)
        engine = RedisEngine(redis_options(server.url, redis_read_timeout=1))
        handler = RecordingHandler()
        async with running(engine, handler):  # run() returns although Redis is away
            await assert_every_call_fails_promptly(engine)
            await asyncio.to_thread(server.start)
            await until(lambda: engine.subscribers[0].connected)
            await engine.subscribe("late")
            probe = await delivered_after_recovery(engine, handler, "late")
            assert await newest(engine, "late") == [probe]


async def test_password_and_database_are_used_and_a_wrong_password_fails_cleanly() -> None:
    with redis_server("--requirepass", "s3cret") as server:
        base = {"redis_host": "127.0.0.1", "redis_port": str(server.port), "redis_db": 3}
        good = RedisEngine(redis_options("", redis_password="s3cret", **base))
        handler = RecordingHandler()
        async with running(good, handler):
            await good.subscribe("db")
            sent = msg("db")
            await good.publish_message(sent, HIST)
            await handler.wait_until(lambda: sent in handler.of("message"))
        assert server.cli("-a", "s3cret", "--no-auth-warning", "-n", "3", "DBSIZE").strip() == "2"  # stream + meta
        assert server.cli("-a", "s3cret", "--no-auth-warning", "-n", "0", "DBSIZE").strip() == "0"

        bad = RedisEngine(redis_options("", redis_password="wrong", **base))
        async with running(bad, RecordingHandler()):  # the node stays up
            with pytest.raises(EngineError):
                await asyncio.wait_for(bad.publish_message(msg("db"), HIST), PROMPT)
            with pytest.raises(EngineError):
                await asyncio.wait_for(bad.subscribe("db"), PROMPT)


@pytest.mark.async_timeout(60)
async def test_first_calls_after_a_redis_restart_succeed() -> None:
    """Regression: pooled connections to the Redis that went away failed the
    first command(s) after it was back (a 503, or a popped API queue item
    dropped), although Redis was up again."""
    with redis_server() as server:
        engine = RedisEngine(redis_options(server.url, redis_read_timeout=1))
        handler = RecordingHandler()
        async with running(engine, handler):
            await engine.subscribe("kept")
            await asyncio.gather(*(engine.publish_message(msg("kept"), HIST) for _ in range(5)))
            await asyncio.to_thread(server.restart)
            first = msg("kept")
            await engine.publish_message(first, HIST)  # no EngineError: Redis is up
            assert await newest(engine, "kept") == [first]
            assert await engine.presence("kept") == {}


@pytest.mark.async_timeout(60)
async def test_a_killed_pubsub_connection_resubscribes_many_channels_in_one_write() -> None:
    """10,000 channels (30,000 topics) held; CLIENT KILL TYPE pubsub: the
    listener is back with every channel reported lost at once, and a message
    of the last channel arrives; Redis saw the resubscribe as 61 SUBSCRIBE
    commands of 500 topics (sent in one write), not one per channel."""
    with redis_server() as server:
        options = redis_options(server.url, redis_read_timeout=10)
        listener, publisher = RedisEngine(options), RedisEngine(options)
        handler = RecordingHandler()
        async with running(listener, handler), running(publisher, RecordingHandler()):
            channels = [f"many-{i}" for i in range(10000)]
            await asyncio.gather(*(listener.subscribe(channel) for channel in channels))
            before = int(_stat(server.cli("INFO", "commandstats"), "cmdstat_subscribe"))
            started = asyncio.get_running_loop().time()
            await asyncio.to_thread(server.cli, "CLIENT", "KILL", "TYPE", "pubsub")
            await until(lambda: bool(handler.of("lost")))
            took = asyncio.get_running_loop().time() - started
            assert sorted(handler.of("lost")[0]) == sorted(channels)
            await delivered_after_recovery(publisher, handler, channels[-1])
            after = int(_stat(server.cli("INFO", "commandstats"), "cmdstat_subscribe"))
            # the listener: 30,002 topics (with control and admin) in commands of 500; the
            # publisher's own listener (killed too) resubscribes its 2 fixed topics in one
            assert after - before == -(-30002 // 500) + 1
            print(f"10,000 channels resubscribed in {took:.2f} s, {after - before} SUBSCRIBE commands")


def _stat(info: str, name: str) -> str:
    """``calls`` of one command in INFO commandstats."""
    line = next(line for line in info.splitlines() if line.startswith(name + ":"))
    return line.split("calls=")[1].split(",")[0]
