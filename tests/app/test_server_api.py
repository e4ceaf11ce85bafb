"""The current-style API's commands over a real node (app.dialects.v2api.runner):
results, per-command errors, batch, broadcast, the user operations' filters,
and the same answers whether the engine publishes at once or awaits."""
from __future__ import annotations

import json
from typing import Any

import pytest

import app
from app.dialects.v2api.params import ParamsError
from app.dialects.v2api.runner import Reply, ServerApi
from app.engines.memory import MemoryEngine
from tests.app.conftest import FaultyEngine, WrappedEngine, make_options


async def call(api: ServerApi, method: str, body: Any) -> dict[str, Any]:
    reply = api.call(method, json.dumps(body).encode())
    if not isinstance(reply, Reply):
        reply = await reply
    if reply.error is not None:
        return {"error": json.loads(reply.error.json())}
    return {"result": json.loads(reply.result)}


@pytest.mark.parametrize("wrapped", [False, True], ids=["immediate", "awaiting"])
async def test_publish_broadcast_history(harness_factory, clock, wrapped: bool) -> None:
    options = make_options()
    engine = MemoryEngine(options, clock=clock)
    async with harness_factory(options, WrappedEngine(engine) if wrapped else engine) as h:
        api = h.node.server_api
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "hist:a"}})
        first = (await call(api, "publish", {"channel": "hist:a", "data": {"n": 1}}))["result"]
        assert first["offset"] == 1 and first["epoch"]  # hist:a keeps history: its position
        assert s.last()["body"]["data"] == {"n": 1}
        reply = await call(api, "broadcast", {"channels": ["hist:a", "", "nope:x", "public:b"], "data": {"n": 2}})
        assert reply == {"result": {"responses": [
            {"result": {"offset": 2, "epoch": first["epoch"]}}, {"error": {"code": 107, "message": "bad request"}},
            {"error": {"code": 102, "message": "unknown channel"}}, {"result": {}}]}}
        await call(api, "publish", {"channel": "hist:a", "data": {"n": 3}, "skip_history": True})
        assert s.last()["body"]["data"] == {"n": 3}  # delivered, not kept
        history = await call(api, "history", {"channel": "hist:a", "limit": -1})
        assert [p["data"] for p in history["result"]["publications"]] == [{"n": 1}, {"n": 2}]
        assert await call(api, "history", {"channel": "hist:a", "since": {"offset": 0, "epoch": "x"}}) == \
            {"error": {"code": 112, "message": "unrecoverable position"}}
        assert (await call(api, "history", {"channel": "public:b", "limit": 1}))["error"]["code"] == 108
        assert (await call(api, "history_remove", {"channel": "public:b"}))["error"]["code"] == 108
        assert await call(api, "history_remove", {"channel": "hist:a"}) == {"result": {}}
        # the publications are gone, the stream position stays (as Centrifugo's)
        assert await call(api, "history", {"channel": "hist:a", "limit": 5}) == \
            {"result": {"offset": 2, "epoch": first["epoch"]}}


@pytest.mark.parametrize("method, body, code", [
    ("publish", {"data": 1}, 107), ("publish", {"channel": "x"}, 107), ("publish", {"channel": "nope:x", "data": 1}, 102),
    ("broadcast", {"channels": [], "data": 1}, 107), ("broadcast", {"channels": ["a"] * 1001, "data": 1}, 107),
    ("subscribe", {"user": "1"}, 107), ("subscribe", {"user": "1", "channel": "nope:x"}, 102),
    ("unsubscribe", {"user": "1", "channel": "nope:x"}, 102), ("presence", {}, 107),
    ("presence", {"channel": "hist:a"}, 108), ("presence_stats", {"channel": "nope:x"}, 102),
    ("history", {}, 107), ("rpc", {}, 107), ("disconnect", {"disconnect": {"reason": "r" * 33}}, 107),
    ("rpc", {"method": "m"}, 104), ("channels", {"pattern": "[x"}, 107),
])
async def test_command_errors(harness_factory, method: str, body: dict[str, Any], code: int) -> None:
    async with harness_factory() as h:
        assert (await call(h.node.server_api, method, body))["error"]["code"] == code


async def test_engine_failure_is_internal_error(harness_factory, clock) -> None:
    options = make_options()
    engine = FaultyEngine(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        engine.failing |= {"publish_message", "presence", "channels"}
        api = h.node.server_api
        for method, body in (("publish", {"channel": "a", "data": 1}), ("presence", {"channel": "public:a"}),
                             ("channels", {})):
            assert await call(api, method, body) == {"error": {"code": 100, "message": "internal server error"}}
        reply = await call(api, "broadcast", {"channels": ["a", "b"], "data": 1})
        assert [r["error"]["code"] for r in reply["result"]["responses"]] == [100, 100]


async def test_batch_in_order_and_parsed_first(harness_factory) -> None:
    async with harness_factory() as h:
        api = h.node.server_api
        body = {"commands": [{"publish": {"channel": "public:a", "data": 1}}, {"nope": {}},
                             {"presence_stats": {"channel": "public:a"}}, {"info": {}}], "parallel": True}
        replies = json.loads(await api.batch(json.dumps(body).encode()))["replies"]
        assert replies[:3] == [{"publish": {}}, {"error": {"code": 104, "message": "not found"}},
                               {"presence_stats": {}}]
        [node] = replies[3]["info"]["nodes"]
        assert node["name"] == "test-node" and node["version"] == app.__version__  # one version everywhere
        for bad in ({"commands": {}}, {"commands": [1]}, {"commands": [{"publish": {"channel": 1}}]},
                    {"parallel": 1}, {"commands": [{}] * 1001}):
            with pytest.raises(ParamsError):
                await api.batch(json.dumps(bad).encode())
        assert json.loads(await api.batch(b"{}")) == {"replies": []}


async def test_user_operations_and_their_filters(harness_factory) -> None:
    async with harness_factory() as h:
        api = h.node.server_api
        a, b, other = await h.connect("7", info='{"n":"a"}'), await h.connect("7"), await h.connect("8")
        a_id, b_id = h.client_id(a), h.client_id(b)
        reply = await call(api, "subscribe", {"user": "7", "channel": "public:x", "client": a_id, "info": {"r": 1}})
        assert reply == {"result": {}}
        assert a.last()["method"] == "subscribe" and b.last()["method"] != "subscribe"
        presence = (await call(api, "presence", {"channel": "public:x"}))["result"]["presence"]
        assert presence == {a_id: {"user": "7", "client": a_id, "conn_info": {"n": "a"}, "chan_info": {"r": 1}}}
        assert (await call(api, "presence_stats", {"channel": "public:x"}))["result"] == \
            {"num_clients": 1, "num_users": 1}
        assert (await call(api, "channels", {"pattern": "public:*"}))["result"] == \
            {"channels": {"public:x": {"num_clients": 1}}}

        await call(api, "unsubscribe", {"user": "7", "channel": "public:x", "client": b_id})
        assert "public:x" in a.connection.channels  # only b was asked
        await call(api, "unsubscribe", {"user": "7"})  # every channel
        assert not a.connection.channels and a.last()["method"] == "unsubscribe"

        await call(api, "disconnect", {"user": "7", "whitelist": [a_id],
                                       "disconnect": {"code": 4501, "reason": "banned"}})
        assert b.close_advice() == {"reason": "banned", "reconnect": False}
        assert not a.connection.closing and not other.connection.closing
        await call(api, "refresh", {"user": "7", "expired": True})
        assert a.close_advice() == {"reason": "expired", "reconnect": True}
        await call(api, "disconnect", {"user": "8"})
        assert other.close_advice() == {"reason": "disconnect", "reconnect": False}
