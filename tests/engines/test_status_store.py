"""The status store's contract (app.core.status.StatusStore), run against
the memory store and the Redis store (a real redis-server): first in / last
out, the grace, leases of a dead node's connections, and the outbox."""
from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Callable

import pytest

from app.core.status import StatusEngine, StatusStore, StatusTracker, channel_group, event_fields, member_group, user_group
from app.core.status_memory import MemoryStatusStore
from app.engines.memory import MemoryEngine
from app.engines.redis.status import RedisStatusStore
from app.engines.redis import RedisEngine
from app.options import Options
from tests.engines.harness import RecordingHandler, redis_options, running
from tests.engines.test_redis_topologies import cluster_options
from tests.support.redis import RedisServer, redis_cluster

StoreFactory = Callable[[], contextlib.AbstractAsyncContextManager[tuple[StatusStore, bool]]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisServer]]:
    with redis_cluster(3) as nodes:
        yield nodes


@pytest.fixture(params=["memory", "redis", "redis_cluster"])
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """The memory store, one redis-server's, and a 3-master Redis Cluster's
    (its keys under one hash tag, so each script's keys share a slot)."""
    def engine_of() -> MemoryEngine | RedisEngine:
        if request.param == "memory":
            return MemoryEngine(Options())
        if request.param == "redis":
            return RedisEngine(redis_options(request.getfixturevalue("redis").url))
        return RedisEngine(cluster_options(request.getfixturevalue("cluster")))

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[tuple[StatusStore, bool]]:
        engine = engine_of()
        server = None if request.param == "memory" else engine
        assert isinstance(engine, StatusEngine)
        async with running(engine, RecordingHandler()):
            yield engine.status_store(), server is not None

    return make


async def drained(store: StatusStore) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while events := await store.take("me", 500, 5):
        assert await store.ack("me", len(events))
        out.extend(json.loads(e) for e in events)
    return out


def names(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["name"], e.get("channel", ""), e.get("user_id", "")) for e in events]


def test_groups_spell_their_fields() -> None:
    assert event_fields(user_group("al:ice")) == {"user_id": "al:ice"}
    assert event_fields(channel_group("ns:room")) == {"channel": "ns:room"}
    assert event_fields(member_group("ns:r4:x", "7:bob")) == {"channel": "ns:r4:x", "user_id": "7:bob"}


async def test_first_in_last_out_once(store_factory: StoreFactory) -> None:
    async with store_factory() as (store, _):
        u, c, m = user_group("alice"), channel_group("ns:room"), member_group("ns:room", "alice")
        await store.enter("a", [u], 100.0, 10.0)
        await store.enter("b", [u], 100.0, 10.0)
        await store.enter("a", [c, m], 100.0, 10.0)
        events = await drained(store)
        assert names(events) == [("user_online", "", "alice"), ("channel_occupied", "ns:room", ""),
                                 ("member_added", "ns:room", "alice")]
        assert len({e["id"] for e in events}) == 3 and events[0]["time_ms"] == 10000
        await store.leave("a", [u, c, m], 10.0, 11.0)  # due <= now: no grace
        assert names(await drained(store)) == [("channel_vacated", "ns:room", ""),
                                               ("member_removed", "ns:room", "alice")]
        await store.leave("b", [u], 15.0, 12.0)  # the last one: waits its grace
        await store.sweep(14.0)
        assert await drained(store) == []
        await store.sweep(15.0)
        assert names(await drained(store)) == [("user_offline", "", "alice")]
        await store.sweep(16.0)
        assert await drained(store) == []


async def test_back_inside_the_grace_is_no_news(store_factory: StoreFactory) -> None:
    async with store_factory() as (store, _):
        u = user_group("alice")
        await store.enter("a", [u], 100.0, 10.0)
        await drained(store)
        await store.leave("a", [u], 15.0, 11.0)
        await store.enter("b", [u], 100.0, 12.0)  # the reload
        await store.leave("b", [u], 15.0, 11.0)  # a leave twice changes nothing
        await store.sweep(30.0)
        assert names(await drained(store)) == [("user_offline", "", "alice")]
        await store.enter("c", [u], 100.0, 40.0)
        await store.leave("c", [u], 45.0, 41.0)
        await store.enter("d", [u], 100.0, 42.0)
        await store.sweep(50.0)
        assert names(await drained(store)) == [("user_online", "", "alice")]  # c's; d's reload is no news


async def test_a_dead_nodes_leases_run_out(store_factory: StoreFactory) -> None:
    async with store_factory() as (store, shared):
        if not shared:
            pytest.skip("an in-process store dies with its connections")
        u, c = user_group("bob"), channel_group("room")
        await store.enter("dead", [u, c], 20.0, 10.0)
        await store.enter("alive", [c], 20.0, 10.0)
        await drained(store)
        await store.refresh(["alive"], 40.0)
        await store.sweep(19.0)
        assert await drained(store) == []
        await store.sweep(21.0)  # "dead" was not refreshed: out, with no further grace
        assert names(await drained(store)) == [("user_offline", "", "bob")]
        await store.sweep(22.0)
        assert await drained(store) == []
        await store.leave("alive", [c], 0.0, 30.0)
        assert names(await drained(store)) == [("channel_vacated", "room", "")]
        assert await store.refresh(["dead", "alive"], 50.0) == ["dead", "alive"]  # neither entered now


async def test_the_outbox_is_taken_in_order_by_one_owner(store_factory: StoreFactory) -> None:
    async with store_factory() as (store, shared):
        for n in range(5):
            await store.enter(f"k{n}", [user_group(f"u{n}")], 100.0, 10.0)
        first = await store.take("one", 2, 5)
        assert first is not None and [json.loads(e)["user_id"] for e in first] == ["u0", "u1"]
        if shared:
            assert await store.take("two", 2, 5) is None  # "one" holds the outbox
            assert not await store.ack("two", 2)
        assert await store.take("one", 2, 5) == first  # not acknowledged: the same again
        assert await store.ack("one", 2)
        assert await store.pending() == 3
        rest = await store.take("one", 10, 5)
        assert rest is not None and [json.loads(e)["user_id"] for e in rest] == ["u2", "u3", "u4"]


async def test_nothing_stays_behind_when_everyone_left(store_factory: StoreFactory) -> None:
    """The tracker and the store return to empty (memory) or to no key but
    the drain lease (Redis) once clients came and went and events drained."""
    async with store_factory() as (store, shared):
        options = Options(status_grace=0.0)
        tracker = StatusTracker(store, lambda: options, time.time)
        tracker.start(True)
        clients = [_Client(n) for n in range(300)]
        for client in clients:
            tracker.connected(client)
            tracker.subscribed(client, f"room{client.n % 7}", presence=True)
        for client in clients:
            tracker.unsubscribed(client, f"room{client.n % 7}")
            tracker.disconnected(client)
        tracker.tick(time.time() + 1)
        await tracker.stop()
        events = await drained(store)
        assert len(events) == 2 * (300 + 7 + 300)  # users, channels, members: in and out
        assert tracker.idle
        if isinstance(store, MemoryStatusStore):
            assert store.empty
        else:
            assert isinstance(store, RedisStatusStore)
            assert await store.keys() == [store.base + ".lock"]


class _Client:
    def __init__(self, n: int) -> None:
        self.n = n
        self.id = f"client{n}"
        self.user = f"user{n}"


async def test_a_store_that_lost_its_state_is_told_again(store_factory: StoreFactory) -> None:
    """A connection whose lease the store lost (a Redis restarted empty, a
    stalled node) is entered again by its node at the next refresh."""
    async with store_factory() as (store, shared):
        if not shared:
            pytest.skip("an in-process store loses nothing")
        options = Options(presence_ping_interval=0.01, presence_expire_interval=60)
        tracker = StatusTracker(store, lambda: options, time.time)
        tracker.start(True)
        client = _Client(1)
        tracker.connected(client)
        tracker.subscribed(client, "room", presence=False)
        await tracker.stop()
        assert names(await drained(store)) == [("user_online", "", "user1"), ("channel_occupied", "room", "")]
        await store.sweep(time.time() + 120)  # as if the lease were gone: the groups empty out
        assert sorted(names(await drained(store))) == [("channel_vacated", "room", ""), ("user_offline", "", "user1")]
        tracker.start(True)
        tracker.tick(time.time())
        await tracker.stop()
        assert sorted(names(await drained(store))) == [("channel_occupied", "room", ""), ("user_online", "", "user1")]
        assert await store.refresh([client.id], time.time() + 60) == []
