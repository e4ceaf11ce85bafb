"""The admin page's live events (app.core.events) and chart series
(app.core.series) on a real node with the memory engine: nothing recorded
while nobody watches, every kind recorded while someone does, leases between
nodes through control messages, bounds, and samples of every node."""
from __future__ import annotations

import json
from typing import Any

from app.core import control
from app.core.events import MAX_BATCH
from app.core.series import MAX_SAMPLES, WINDOW
from tests.app.conftest import make_options


def sub(channel: str) -> dict[str, Any]:
    return {"uid": "s", "method": "subscribe", "params": {"channel": channel}}


def record_control(engine: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """The control messages the node publishes (the memory engine hands them
    only to this node, which ignores its own)."""
    seen: list[tuple[str, str, dict[str, Any]]] = []
    real = engine.publish_control

    async def record(data: bytes) -> None:
        seen.append(control.decode(data))
        await real(data)

    engine.publish_control = record
    return seen


def listen(node: Any) -> list[dict[str, Any]]:
    batches: list[dict[str, Any]] = []

    def listener(text: str, count: int) -> None:
        batch = json.loads(text)
        assert len(batch["events"]) == count
        batches.append(batch)

    node.events.add_listener(listener)
    return batches


async def test_nothing_is_recorded_while_nobody_watches(harness_factory) -> None:
    async with harness_factory() as h:
        batches = listen(h.node)
        called: list[tuple[Any, ...]] = []
        # the hot paths must not even call in (one flag read is all they do)
        h.node.events.record = lambda *args: called.append(args)  # type: ignore[method-assign]
        h.node.events.publish = lambda *args: called.append(args)  # type: ignore[method-assign]
        assert h.node.events.on is False
        a = await h.connect("a")
        await h.send(a, sub("public:news"))
        await h.send(a, {"method": "publish", "params": {"channel": "public:news", "data": {"n": 1}}})
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"public:news","data":2}}')
        a.close()
        await h.node.idle()
        h.node.events.flush()
        assert called == [] and batches == []
        # the same calls with the flag on do reach it
        h.node.events.on = True
        await h.connect("b")
        assert called == [("connect", "", "b", called[0][3])]


async def test_every_kind_is_recorded_while_a_page_watches(harness_factory) -> None:
    async with harness_factory() as h:
        batches = listen(h.node)
        h.node.events.watch(True)
        assert h.node.events.on is True
        a = await h.connect("alice")
        await h.send(a, sub("public:news"))
        reply = await h.send(a, {"uid": "p", "method": "publish",
                                 "params": {"channel": "public:news", "data": {"text": "x" * 500}}})
        assert reply.get("error") is None
        await h.send(a, {"uid": "u", "method": "unsubscribe", "params": {"channel": "public:news"}})
        a.close()
        await h.node.idle()
        h.node.events.flush()
        [batch] = batches
        assert batch["node"] == h.node.uid and batch["name"] == "test-node" and batch["dropped"] == 0
        kinds = [(e[1], e[2], e[3]) for e in batch["events"]]
        assert kinds == [("connect", "", "alice"), ("subscribe", "public:news", "alice"),
                         ("publish", "public:news", "alice"), ("unsubscribe", "public:news", "alice"),
                         ("disconnect", "", "alice")]
        client_id = batch["events"][0][4]
        assert client_id and all(e[4] == client_id for e in batch["events"])
        data = batch["events"][2][5]
        assert data.startswith('{"text":"xxx') and len(data) == 200  # a preview, not the whole message
        # the last page leaves: nothing more is recorded
        h.node.events.watch(False)
        assert h.node.events.on is False
        await h.connect("bob")
        h.node.events.flush()
        assert len(batches) == 1


async def test_api_publishes_are_events_and_a_full_batch_drops_and_counts(harness_factory) -> None:
    async with harness_factory() as h:
        batches = listen(h.node)
        h.node.events.watch(True)
        commands = [{"method": "publish", "params": {"channel": f"c{i % 3}", "data": i}}
                    for i in range(MAX_BATCH + 25)]
        reply = json.loads(await h.node.api.execute(json.dumps(commands).encode()))
        assert all(item["error"] is None for item in reply)
        h.node.events.flush()
        [batch] = batches
        assert len(batch["events"]) == MAX_BATCH and batch["dropped"] == 25
        assert {e[1] for e in batch["events"]} == {"publish"}
        assert batch["events"][0][2:6] == ["c0", "", "", "0"]  # no user, no client: the API


async def test_leases_between_nodes(harness_factory, clock) -> None:
    async with harness_factory(make_options(node_ping_interval=3)) as h:
        seen = record_control(h.node.engine)
        feed = h.node.events
        # a page here: the other nodes are asked at once, and again each interval
        feed.watch(True)
        await h.node.idle()
        assert [m for _, m, _ in seen] == ["events_wanted"]
        clock.advance(3)
        await h.node.tick()
        await h.node.idle()
        assert [m for _, m, _ in seen if m != "ping"] == ["events_wanted", "events_wanted"]
        feed.watch(False)
        seen.clear()

        # another node asks: this one records and sends its batches there
        await h.node.engine.publish_control(control.encode("node-2", "events_wanted", {}))
        await h.node.idle()
        assert feed.on is True
        await h.connect("carol")
        feed.flush()
        await h.node.idle()
        [(uid, method, params)] = [m for m in seen if m[1] == "events"]
        assert uid == h.node.uid and params["events"][0][1:4] == ["connect", "", "carol"]
        # the lease runs out two intervals and a second later: off again
        clock.advance(2 * 3 + 1.5)
        await h.node.tick()
        assert feed.on is False


async def test_batches_of_other_nodes_reach_the_pages_here(harness_factory) -> None:
    async with harness_factory() as h:
        batches = listen(h.node)
        batch = {"node": "node-2", "name": "two", "dropped": 1,
                 "events": [[1, "publish", "news", "u", "c", "{}"], ["bad"], [2, "explode", "", "", "", ""]]}
        await h.node.engine.publish_control(control.encode("node-2", "events", batch))
        await h.node.idle()
        assert batches == []  # no page here: nothing to do
        h.node.events.watch(True)
        await h.node.engine.publish_control(control.encode("node-2", "events", batch))
        for malformed in ({"node": 5}, {"node": "n", "name": "x", "dropped": True, "events": []}):
            await h.node.engine.publish_control(control.encode("node-2", "events", malformed))
        await h.node.idle()
        assert batches == [{"node": "node-2", "name": "two", "dropped": 3,
                            "events": [[1, "publish", "news", "u", "c", "{}"]]}]


async def test_series_of_this_node_and_the_others(harness_factory, clock) -> None:
    async with harness_factory(make_options(node_ping_interval=3)) as h:
        a = await h.connect("a")
        await h.send(a, sub("public:news"))
        for i in range(6):
            await h.send(a, {"method": "publish", "params": {"channel": "public:news", "data": i}})
        clock.advance(3)
        await h.node.tick()  # a ping: a sample
        series = h.node.series()
        assert series["window"] == WINDOW and series["interval"] == 3
        [mine] = series["nodes"]
        assert mine["uid"] == h.node.uid and mine["name"] == "test-node"
        t, connections, subscriptions, rate_in, rate_out = mine["samples"][-1]
        assert (t, connections, subscriptions) == (clock(), 1, 1)
        assert rate_in == 2.0 and rate_out == 2.0  # 6 published, 6 delivered in 3 s

        other = {"uid": "node-2", "version": "1.8.0", "name": "two", "started_at": 1, "metrics": {}}
        for sample in ([clock(), 5, 7, 1.5, 9], [clock(), "5", 7, 1, 1], [clock(), 1, 2], None):
            await h.node.engine.publish_control(control.encode("node-2", "ping", {"info": other, "sample": sample}))
        await h.node.idle()
        nodes = h.node.series()["nodes"]
        assert [n["uid"] for n in nodes] == [h.node.uid, "node-2"]
        assert nodes[1] == {"uid": "node-2", "name": "two", "samples": [[clock(), 5, 7, 1.5, 9]]}
        # a silent node is forgotten with its series, at the next ping (nobody asking)
        clock.advance(2 * 3 + 1.5)
        await h.node.tick()
        assert "node-2" not in h.node.directory._nodes
        assert [n["uid"] for n in h.node.series()["nodes"]] == [h.node.uid]


async def test_series_are_bounded_in_count_and_time(harness_factory, clock) -> None:
    async with harness_factory(make_options(node_ping_interval=0.5)) as h:
        for _ in range(MAX_SAMPLES + 50):
            clock.advance(0.5)
            await h.node.tick()
        [mine] = h.node.series()["nodes"]
        assert len(mine["samples"]) == MAX_SAMPLES
        clock.advance(WINDOW + 1)  # no tick since: every sample is older than the window
        assert h.node.series()["nodes"][0]["samples"] == []
