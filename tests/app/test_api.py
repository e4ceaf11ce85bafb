"""The API executor (§10): every method, error items and status codes."""
from __future__ import annotations

import json

import pytest

from app.core.errors import HttpError
from app.core.metrics import LEGACY_NAMES
from app.engines.memory import MemoryEngine
from tests.app.conftest import WrappedEngine


async def run(h, payload) -> list:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return json.loads(await h.node.api.execute(data))


async def test_publish_reaches_subscribers(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "news"}})
        items = await run(h, {"method": "publish", "params": {"channel": "news", "data": {"text": "hello"}}})
        assert items == [{"method": "publish", "error": None, "body": None}]
        push = s.last()
        assert push["method"] == "message" and push["body"]["data"] == {"text": "hello"}
        assert "client" not in push["body"] and "info" not in push["body"]


async def test_cent_body_bytes_array_with_uid_echo(harness_factory) -> None:
    async with harness_factory() as h:
        body = b'[{"method": "publish", "params": {"channel": "news", "data": {"text": "hello"}}}, ' \
               b'{"uid": "x", "method": "channels", "params": {}}]'
        items = json.loads(await h.node.api.execute(body))
        assert items[0] == {"method": "publish", "error": None, "body": None}
        assert items[1] == {"uid": "x", "method": "channels", "error": None, "body": {"data": []}}


@pytest.mark.parametrize("data", [
    b"", b"  ", b"nope", b"{bad", b"[]", b"\xff{}", b'"str"',
    b'{"method":"unknown"}',
    b'{"method":"publish","params":{"channel":"","data":1}}',
    b'{"method":"publish","params":{"channel":"news"}}',
    b'{"method":"publish","params":{"channel":5,"data":1}}',
    b'{"method":"presence","params":[]}',
    # valid JSON text, but inf once decoded: it would go out as "Infinity"
    b'{"method":"publish","params":{"channel":"news","data":{"x":1e400}}}',
])
async def test_bad_requests_are_400(harness_factory, data: bytes) -> None:
    async with harness_factory() as h:
        with pytest.raises(HttpError) as err:
            await h.node.api.execute(data)
        assert err.value.status == 400 and err.value.message.startswith("Bad Request")


async def test_bad_command_in_batch_runs_nothing(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "news"}})
        before = len(s.sent)
        with pytest.raises(HttpError):
            await run(h, [{"method": "publish", "params": {"channel": "news", "data": 1}}, {"method": "nope"}])
        assert len(s.sent) == before


async def test_every_method_success(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1", '{"n":1}')
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "public:p"}})
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "hist:h"}})
        items = await run(h, [
            {"uid": "1", "method": "publish", "params": {"channel": "hist:h", "data": {"a": 1}, "client": "c0",
                                                         "uid": "fixed-uid"}},
            {"uid": "2", "method": "broadcast", "params": {"channels": ["hist:h", "public:p"], "data": [1]}},
            {"uid": "3", "method": "presence", "params": {"channel": "public:p"}},
            {"uid": "4", "method": "history", "params": {"channel": "hist:h"}},
            {"uid": "5", "method": "channels"},
            {"uid": "6", "method": "history_remove", "params": {"channel": "hist:h"}},
            {"uid": "7", "method": "history", "params": {"channel": "hist:h"}},
        ])
        assert [i["error"] for i in items] == [None] * 7
        assert [i["uid"] for i in items] == [str(n) for n in range(1, 8)]
        cid = h.client_id(s)
        assert items[2]["body"] == {"channel": "public:p", "data": {
            cid: {"user": "1", "client": cid, "default_info": {"n": 1}}}}
        history = items[3]["body"]["data"]
        assert [m["data"] for m in history] == [[1], {"a": 1}]  # newest first
        assert history[1] == {"uid": "fixed-uid", "channel": "hist:h", "data": {"a": 1}, "client": "c0"}
        assert history[0]["uid"] != history[1]["uid"]
        assert items[4]["body"] == {"data": ["hist:h", "public:p"]}
        assert items[5]["body"] is None and items[6]["body"] == {"channel": "hist:h", "data": []}
        pushes = [m for m in s.messages() if m.get("method") == "message"]
        assert [(m["body"]["channel"], m["body"]["data"]) for m in pushes] == [
            ("hist:h", {"a": 1}), ("hist:h", [1]), ("public:p", [1])]


@pytest.mark.parametrize("command,error", [
    ({"method": "publish", "params": {"channel": "nope:x", "data": 1}}, "namespace not found"),
    ({"method": "broadcast", "params": {"channels": [], "data": 1}}, "invalid message"),
    ({"method": "broadcast", "params": {"channels": ["a", ""], "data": 1}}, "invalid message"),
    ({"method": "broadcast", "params": {"channels": ["a"]}}, "invalid message"),
    ({"method": "broadcast", "params": {"channels": ["a", "nope:x"], "data": 1}}, "namespace not found"),
    ({"method": "unsubscribe", "params": {"user": ""}}, "invalid message"),
    ({"method": "unsubscribe", "params": {"user": "1", "channel": "nope:x"}}, "namespace not found"),
    ({"method": "disconnect", "params": {}}, "invalid message"),
    ({"method": "subscribe", "params": {"user": "1"}}, "invalid message"),
    ({"method": "subscribe", "params": {"user": "1", "channel": "nope:x"}}, "namespace not found"),
    ({"method": "presence", "params": {"channel": ""}}, "invalid message"),
    ({"method": "presence", "params": {"channel": "news"}}, "not available"),
    ({"method": "presence", "params": {"channel": "nope:x"}}, "namespace not found"),
    ({"method": "history", "params": {"channel": "public:x"}}, "not available"),
    ({"method": "history_remove", "params": {}}, "invalid message"),
])
async def test_error_items(harness_factory, command: dict, error: str) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "a"}})
        before = len(s.sent)
        items = await run(h, command)
        assert items == [{"method": command["method"], "error": error, "advice": "fix", "body": None}]
        assert len(s.sent) == before  # nothing was published to anyone


async def test_engine_failure_is_503_and_client_error(harness_factory, clock, options) -> None:
    from tests.app.conftest import FaultyEngine

    engine = FaultyEngine(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "public:p"}})
        engine.failing = {"publish_message", "presence", "channels"}
        for command in ({"method": "publish", "params": {"channel": "public:p", "data": 1}},
                        {"method": "presence", "params": {"channel": "public:p"}},
                        {"method": "channels"}):
            with pytest.raises(HttpError) as err:
                await run(h, command)
            assert err.value.status == 503
        reply = await h.send(s, {"uid": "p", "method": "publish", "params": {"channel": "public:p", "data": 1}})
        assert (reply["error"], reply["advice"]) == ("internal server error", "retry")
        reply = await h.send(s, {"uid": "q", "method": "presence", "params": {"channel": "public:p"}})
        assert (reply["error"], reply["advice"]) == ("internal server error", "retry")
        assert s.close_args is None
        assert h.node.metrics.values()["node_num_engine_errors"] >= 4


async def test_queue_items_only_run_queue_methods(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "news"}})
        h.node.handle_api(b'{"method":"publish","params":{"channel":"news","data":"one"}}')
        h.node.handle_api(b'{"data":[{"method":"history_remove","params":{"channel":"news"}},'
                          b'{"method":"publish","params":{"channel":"news","data":"two"}}]}')
        h.node.handle_api(b"not json")
        h.node.handle_api(b'{"method":"unknown"}')
        await h.node.idle()
        assert [m["body"]["data"] for m in s.messages() if m.get("method") == "message"] == ["one", "two"]
        h.node.handle_api(b'{"method":"disconnect","params":{"user":"1"}}')
        await h.node.idle()
        assert s.close_advice() == {"reason": "disconnect", "reconnect": False}


async def _batch_effects(h, batch: list) -> tuple[list, list]:
    """The reply items of ``batch`` and the message pushes a subscriber of
    channels a and b received from it."""
    s = await h.connect("1")
    await h.send(s, [{"uid": "s1", "method": "subscribe", "params": {"channel": "a"}},
                     {"uid": "s2", "method": "subscribe", "params": {"channel": "b"}}])
    before = len(s.sent)
    items = await run(h, batch)
    pushes = [json.loads(text) for text in s.sent[before:]]
    return items, [p["body"] for p in pushes if p.get("method") == "message"]


BATCH = [{"method": "publish", "params": {"channel": "ab"[i % 2], "data": {"i": i}}} for i in range(150)] + [
    {"uid": "u1", "method": "publish", "params": {"channel": "nope:x", "data": 1}},  # an error item
    {"uid": "u2", "method": "publish", "params": {"channel": "a", "data": "last", "uid": "fixed"}},
]


async def test_a_batch_publishes_in_order_with_distinct_uids(harness_factory) -> None:
    async with harness_factory() as h:
        items, pushes = await _batch_effects(h, BATCH)
        assert items[:150] == [{"method": "publish", "error": None, "body": None}] * 150
        assert items[150] == {"uid": "u1", "method": "publish", "error": "namespace not found", "advice": "fix",
                              "body": None}
        assert items[151] == {"uid": "u2", "method": "publish", "error": None, "body": None}
        assert [p["data"] for p in pushes] == [{"i": i} for i in range(150)] + ["last"]
        uids = [p["uid"] for p in pushes]
        assert uids[-1] == "fixed" and len(set(uids)) == 151
        assert all(len(uid) == 22 and uid.isalnum() and uid.isascii() for uid in uids[:-1])
        assert h.node.metrics.values()["http_api_num_requests"] == 152


async def test_immediate_and_awaited_publishing_have_the_same_effects(harness_factory, clock, options) -> None:
    """The memory engine publishes without awaiting (ApiRunner.submit); with
    that turned off the API awaits every command: same items, same pushes."""
    results = []
    for immediate in (True, False):
        engine = MemoryEngine(options, clock=clock)
        async with harness_factory(options, engine if immediate else WrappedEngine(engine)) as h:
            items, pushes = await _batch_effects(h, BATCH)
            results.append((items, [(p["channel"], p["data"]) for p in pushes],
                            h.node.metrics.values()["http_api_num_requests"]))
            answer = h.node.api.submit(json.dumps(BATCH[0]).encode())
            assert isinstance(answer, bytes) is immediate  # else a coroutine to await
            if not immediate:
                await answer
    assert results[0] == results[1]


#: the 1.8 names of PER_MESSAGE -> their Prometheus family names
PROMETHEUS = {legacy: family for family, legacy in LEGACY_NAMES.items()}
PER_MESSAGE = ("node_num_client_msg_published", "node_num_client_msg_received", "client_num_msg_queued",
               "client_bytes_out")


async def test_batch_counts_every_message_in_the_exposed_counters(harness_factory, clock, options) -> None:
    """A batch run without awaiting tallies its per-message counts, which the
    registry settles into the counters when it is collected: what /metrics
    exposes (the registry, read here without Metrics.values) right after the
    request is exactly what the awaited path counts."""
    results = []
    for immediate in (True, False):
        engine = MemoryEngine(options, clock=clock)
        async with harness_factory(options, engine if immediate else WrappedEngine(engine)) as h:
            await _batch_effects(h, BATCH)
            registry = h.node.metrics.registry
            results.append({name: registry.get_sample_value(f"{PROMETHEUS[name]}_total") for name in PER_MESSAGE})
    assert results[0] == results[1]
    assert [results[0][name] for name in PER_MESSAGE[:3]] == [151, 151, 151]
    assert results[0]["client_bytes_out"] > 0
