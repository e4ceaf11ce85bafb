"""The node: queue bound, control messages, node pings and stats, reload,
shutdown, metrics (the engine is the real MemoryEngine)."""
from __future__ import annotations

import asyncio
import json

import app
from tests.app.conftest import FakeClock, RecordingSession, make_options, token
from app.core import control
from app.engines.memory import MemoryEngine
from app.node import Node
from app.options import ChannelOptions, Namespace


def sub(channel: str) -> dict:
    return {"uid": "s", "method": "subscribe", "params": {"channel": channel}}


async def api(h, payload) -> list:
    return json.loads(await h.node.api.execute(json.dumps(payload).encode()))


async def test_slow_client_closed_others_untouched(harness_factory) -> None:
    async with harness_factory(make_options(client_queue_max_size=1000)) as h:
        slow, fine = await h.connect("1"), await h.connect("2")
        await h.send(slow, sub("news")), await h.send(fine, sub("news"))
        slow.pending = 1001  # a peer that stopped reading
        before = len(slow.sent)
        await api(h, {"method": "publish", "params": {"channel": "news", "data": 1}})
        assert slow.close_advice() == {"reason": "slow", "reconnect": False}
        # What the socket had not taken is dropped; the disconnect push takes its place.
        assert slow.dropped_at == before + 1
        assert slow.messages()[before + 1:] == [{"method": "disconnect",
                                                 "body": {"reason": "slow", "reconnect": False}}]
        assert slow.close_grace == h.node.options.client_slow_close_grace
        assert fine.close_args is None and fine.last()["method"] == "message"
        assert h.node.metrics.values()["node_num_slow_disconnects"] == 1
        await h.node.idle()
        assert h.node.hub.channel_clients("news") == (fine.connection,)


async def test_slow_on_reply(harness_factory) -> None:
    async with harness_factory(make_options(client_queue_max_size=10)) as h:
        s = await h.connect("1")
        s.pending = 11
        await s.connection.on_message(json.dumps({"uid": "p", "method": "ping"}))
        assert s.close_advice() == {"reason": "slow", "reconnect": False}


async def test_api_unsubscribe_disconnect_subscribe_locally(harness_factory) -> None:
    async with harness_factory() as h:
        a1, a2, b = await h.connect("a"), await h.connect("a"), await h.connect("b")
        for s in (a1, a2, b):
            await h.send(s, sub("news")), await h.send(s, sub("public:x"))
        assert await api(h, {"method": "unsubscribe", "params": {"user": "a", "channel": "news"}}) == \
            [{"method": "unsubscribe", "error": None, "body": None}]
        for s in (a1, a2):
            assert s.last() == {"method": "unsubscribe", "body": {"channel": "news", "status": True}}
            assert set(s.connection.channels) == {"public:x"}
        assert set(b.connection.channels) == {"news", "public:x"}
        await api(h, {"method": "unsubscribe", "params": {"user": "a"}})
        assert a1.connection.channels == {} and a2.connection.channels == {}
        await api(h, {"method": "subscribe", "params": {"user": "a", "channel": "news"}})
        for s in (a1, a2):
            assert s.last() == {"method": "subscribe", "body": {"channel": "news", "status": True, "last": "",
                                                                "messages": None, "recovered": False}}
        await api(h, {"method": "publish", "params": {"channel": "news", "data": "hi"}})
        assert a1.last()["body"]["data"] == "hi"
        # the page subscribing later is answered with success (adopted), not "already subscribed"
        reply = await h.send(a1, sub("news"))
        assert reply["body"]["status"] is True and "error" not in reply
        assert (await h.send(a1, sub("news")))["error"] == "already subscribed"
        await api(h, {"method": "disconnect", "params": {"user": "a"}})
        for s in (a1, a2):
            assert s.close_advice() == {"reason": "disconnect", "reconnect": False}
            assert s.messages()[-1] == {"method": "disconnect", "body": {"reason": "disconnect", "reconnect": False}}
        assert b.close_args is None


async def test_control_from_another_node(harness_factory) -> None:
    async with harness_factory() as h:
        a, b = await h.connect("a"), await h.connect("b")
        await h.send(a, sub("news"))
        engine = h.node.engine
        await engine.publish_control(control.encode("node-2", "unsubscribe", {"user": "a", "channel": ""}))
        await h.node.idle()
        assert a.last() == {"method": "unsubscribe", "body": {"channel": "news", "status": True}}
        await engine.publish_control(control.encode("node-2", "subscribe", {"user": "b", "channel": "news"}))
        await h.node.idle()
        assert "news" in b.connection.channels
        await engine.publish_control(control.encode("node-2", "disconnect", {"user": "a"}))
        await h.node.idle()
        assert a.close_advice() == {"reason": "disconnect", "reconnect": False}
        assert b.close_args is None
        # malformed or unknown control data is dropped, the node goes on
        await engine.publish_control(b"\x00garbage")
        await engine.publish_control(control.encode("node-2", "nope", {}))
        await engine.publish_control(control.encode("node-2", "disconnect", {"user": 5}))
        await h.node.idle()
        assert await h.send(b, {"uid": "p", "method": "ping"}) == {"uid": "p", "method": "ping"}


async def test_own_control_is_ignored(harness_factory) -> None:
    async with harness_factory() as h:
        a = await h.connect("a")
        await h.node.engine.publish_control(control.encode(h.node.uid, "disconnect", {"user": "a"}))
        await h.node.idle()
        assert a.close_args is None


async def test_node_pings_and_stats(harness_factory) -> None:
    async with harness_factory(make_options(node_ping_interval=3)) as h:
        other = {"uid": "node-2", "version": "1.8.0", "name": "two", "started_at": 1, "metrics": {}}
        await h.node.engine.publish_control(control.encode("node-2", "ping", {"info": other}))
        await h.node.idle()
        stats = (await api(h, {"method": "stats"}))[0]["body"]["data"]
        assert stats["metrics_interval"] == 60
        assert [n["uid"] for n in stats["nodes"]] == [h.node.uid, "node-2"]
        h.clock.advance(2 * 3 + 1.5)  # silent for longer than 2*interval+1
        stats = (await api(h, {"method": "stats"}))[0]["body"]["data"]
        assert [n["uid"] for n in stats["nodes"]] == [h.node.uid]


async def test_node_publishes_its_ping(harness_factory) -> None:
    async with harness_factory(make_options(node_ping_interval=3)) as h:
        seen: list[bytes] = []
        engine = h.node.engine
        # the memory engine has one handler (this node, which ignores its own
        # ping): record what the tick publishes on the way through
        real = engine.publish_control

        async def record(data: bytes) -> None:
            seen.append(data)
            await real(data)

        engine.publish_control = record  # type: ignore[method-assign]
        h.clock.advance(3)
        await h.node.tick()
        uid, method, params = control.decode(seen[-1])
        assert (uid, method) == (h.node.uid, "ping")
        assert params["info"]["uid"] == h.node.uid and params["info"]["version"] == app.__version__
        assert set(params["info"]) == {"uid", "version", "name", "started_at", "metrics"}


async def test_node_command_metrics(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, sub("news"))
        await api(h, {"method": "publish", "params": {"channel": "news", "data": 1}})
        info = (await api(h, {"method": "node"}))[0]["body"]["data"]
        assert info["uid"] == h.node.uid and info["version"] == app.__version__ and info["name"] == "test-node"
        m = info["metrics"]
        assert m["node_num_clients"] == 1 and m["node_num_channels"] == 1 and m["node_num_subscriptions"] == 1
        assert m["client_num_connect"] == 1 and m["client_num_subscribe"] == 1
        assert m["node_num_client_msg_published"] == 1 and m["client_num_msg_queued"] == 1
        assert m["http_api_num_requests"] == 2 and m["client_bytes_in"] > 0 and m["client_bytes_out"] > 0
        assert m["node_num_connections"] == 1
        assert m["node_memory_sys"] > 1024 * 1024  # this process's RSS, read from /proc
        text = h.node.metrics.registry.get_sample_value("sockhub_client_connects_total")
        assert text == 1.0


async def test_interval_metrics_roll(harness_factory) -> None:
    async with harness_factory(make_options(node_metrics_interval=60)) as h:
        await h.connect("1")
        h.clock.advance(60)
        await h.node.tick()
        await h.connect("2")
        first = (await api(h, {"method": "stats"}))[0]["body"]["data"]["nodes"][0]["metrics"]
        assert first["client_num_connect"] == 1  # the interval that ended had one connect
        h.clock.advance(60)
        await h.node.tick()
        second = (await api(h, {"method": "stats"}))[0]["body"]["data"]["nodes"][0]["metrics"]
        assert second["client_num_connect"] == 1 and second["node_num_clients"] == 2


async def test_reload_changes_rules_connections_stay(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        assert (await h.send(s, sub("fresh:a")))["error"] == "namespace not found"
        new = make_options(secret="new-secret")
        new.namespaces.append(Namespace("fresh", ChannelOptions()))
        h.node.reload(new)
        assert (await h.send(s, sub("fresh:a")))["body"]["status"] is True
        assert s.close_args is None
        other = h.open()
        await other.connection.on_message(json.dumps({"method": "connect", "params": {
            "user": "1", "timestamp": "1", "info": "", "token": "0" * 64}}))
        assert other.close_advice()["reason"] == "invalid token"


async def test_shutdown_closes_everyone_with_reconnect() -> None:
    clock = FakeClock()
    options = make_options()
    node = Node(options, MemoryEngine(options, clock=clock), clock=clock, tick_interval=3600)
    await node.start()
    sessions = []
    for transport in ("websocket", "xhr_streaming"):
        session = RecordingSession(transport)
        conn = node.connection_factory(session)
        session.connection = conn
        conn.on_open()
        sessions.append(session)
    await sessions[0].connection.on_message(json.dumps({"method": "connect", "params": token("1", clock())}))
    await sessions[0].connection.on_message(json.dumps(sub("public:x")))
    await node.shutdown()
    for session in sessions:
        assert session.close_advice() == {"reason": "shutting down", "reconnect": True}
        assert session.messages()[-1]["body"] == {"reason": "shutting down", "reconnect": True}
    assert node.hub.num_channels == 0 and node.hub.num_clients == 0
    assert node.metrics.values()["node_num_connections"] == 0


async def test_engine_subscribe_failure_rolls_back(harness_factory, clock, options) -> None:
    from tests.app.conftest import FaultyEngine

    engine = FaultyEngine(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        ok = await h.connect("2")
        s = await h.connect("1")
        engine.failing = {"subscribe"}
        await s.connection.on_message(json.dumps(sub("public:p")))
        assert s.close_advice() == {"reason": "internal server error", "reconnect": True}
        assert h.node.hub.channel_clients("public:p") == ()
        engine.failing = {"add_presence"}
        s = await h.connect("1")
        await s.connection.on_message(json.dumps(sub("public:p")))
        assert s.close_advice() == {"reason": "internal server error", "reconnect": True}
        await h.node.idle()
        assert h.node.hub.channel_clients("public:p") == ()
        assert await engine.channels() == []  # the engine was told the channel is gone again
        engine.failing = set()
        assert (await h.send(ok, sub("public:p")))["body"]["status"] is True
        assert ok.close_args is None


async def test_lost_messages_without_a_known_position_close_recover_subscribers(harness_factory) -> None:
    """The engine reports channels whose messages were lost (Redis PUB/SUB was
    down) and the node knows no position to fill from: the subscribers of
    recover channels are closed to recover by themselves; the others keep
    their connection (regression: they silently carried on with a gap)."""
    async with harness_factory(make_options(insufficient_state_jitter=0)) as h:
        kept, moved, both = await h.connect("1"), await h.connect("2"), await h.connect("3")
        await h.send(kept, sub("news"))
        await h.send(moved, sub("hist:a"))
        await h.send(both, sub("news")), await h.send(both, sub("hist:a"))
        h.node.handle_lost(["news", "hist:a", "hist:nobody"])
        await asyncio.sleep(0.05)  # closes are spread over the (here zero) jitter
        for session in (moved, both):
            assert session.messages()[-1] == {"method": "disconnect",
                                              "body": {"reason": "insufficient state", "reconnect": True}}
            assert session.close_advice() == {"reason": "insufficient state", "reconnect": True}
        assert kept.close_args is None
        await h.node.idle()
        assert h.node.hub.channel_clients("hist:a") == () and h.node.hub.channel_clients("news") == (kept.connection,)
        assert h.node.gaps.closed == 2


def _numbers(session: RecordingSession, channel: str) -> list[int]:
    return [m["body"]["data"] for m in session.messages()
            if m.get("method") == "message" and m["body"]["channel"] == channel]


async def test_a_lost_gap_is_filled_from_history_once_in_order(harness_factory) -> None:
    """A gap history covers: the missed messages from history, then the live
    ones held back meanwhile but those the fill delivered; nobody closed."""
    async with harness_factory(make_options(insufficient_state_jitter=0)) as h:
        a = await h.connect("1")
        await h.send(a, sub("hist:a"))
        await api(h, {"method": "publish", "params": {"channel": "hist:a", "data": 1}})
        h.node.handle_lost(["hist:a"])  # the fill is spawned; live messages wait behind it
        await api(h, {"method": "publish", "params": {"channel": "hist:a", "data": 2}})
        assert _numbers(a, "hist:a") == [1]
        await h.node.idle()
        assert _numbers(a, "hist:a") == [1, 2]
        # The PUB/SUB copy of what the fill read from history may come after the read's
        # reply (Redis: two connections): it is not delivered again.
        late = (await h.node.engine.history("hist:a", limit=1, reverse=True)).publications[0]
        h.node.handle_message(late)
        await api(h, {"method": "publish", "params": {"channel": "hist:a", "data": 3}})
        h.node.handle_message(late)  # after a newer one nothing is dropped any more (none such come)
        assert _numbers(a, "hist:a") == [1, 2, 3, 2]
        assert a.close_args is None and h.node.gaps.filled == 1


async def test_a_gap_trimmed_from_history_closes_recover_subscribers(harness_factory) -> None:
    """history_size 3 and five messages behind: not covered, the client is
    closed and gets none of the messages after the gap first."""
    async with harness_factory(make_options(insufficient_state_jitter=0)) as h:
        a = await h.connect("1")
        await h.send(a, sub("hist:a"))
        await api(h, {"method": "publish", "params": {"channel": "hist:a", "data": 1}})
        h.node.handle_lost(["hist:a"])
        for n in range(2, 7):
            await api(h, {"method": "publish", "params": {"channel": "hist:a", "data": n}})
        await h.node.idle()
        await asyncio.sleep(0.05)
        assert a.close_advice() == {"reason": "insufficient state", "reconnect": True}
        assert _numbers(a, "hist:a") == [1]
