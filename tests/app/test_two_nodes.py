"""Two nodes on one real redis-server (the Redis engine): publications,
control messages (API unsubscribe/disconnect/subscribe acting on the other
node) and node pings (``stats`` lists both nodes)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, AsyncIterator, Callable, Iterator

import pytest

import app
from app.engines.redis import RedisEngine
from app.dialects.v2api.runner import Reply
from app.node import Node
from app.options import ChannelOptions, Namespace, Options
from tests.app.conftest import SECRET, RecordingSession, token
from tests.support.redis import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def options_for(redis: RedisServer, prefix: str) -> Options:
    options = Options(secret=SECRET, engine="redis", redis_url=redis.url, redis_prefix=prefix,
                      redis_read_timeout=3, node_ping_interval=0.2)
    options.namespaces = [Namespace("public", ChannelOptions(anonymous=True, presence=True, join_leave=True))]
    return options


@contextlib.asynccontextmanager
async def two_nodes(redis: RedisServer) -> AsyncIterator[tuple[Node, Node]]:
    prefix = f"n{time.monotonic_ns()}"
    nodes = [Node(options_for(redis, prefix), RedisEngine(options_for(redis, prefix))) for _ in range(2)]
    for node in nodes:
        await node.start()
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            await node.shutdown()


async def until(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def connect(node: Node, user: str) -> RecordingSession:
    session = RecordingSession()
    session.connection = node.connection_factory(session)
    session.connection.on_open()
    await session.connection.on_message(json.dumps({"uid": "1", "method": "connect",
                                                    "params": token(user, time.time())}))
    assert session.last()["body"]["client"]
    return session


async def api(node: Node, command: dict) -> list:
    return json.loads(await node.api.execute(json.dumps(command).encode()))


def methods(session: RecordingSession) -> list[str]:
    """Methods of the pushes (no uid) the session received."""
    return [m.get("method") for m in session.messages() if "uid" not in m]


@pytest.mark.async_timeout(30)
async def test_publish_and_control_across_nodes(redis: RedisServer) -> None:
    async with two_nodes(redis) as (one, two):
        a = await connect(one, "a")
        await a.connection.on_message(json.dumps({"uid": "s", "method": "subscribe",
                                                  "params": {"channel": "public:x"}}))
        await until(lambda: "public:x" in one.hub.channels())
        await api(two, {"method": "publish", "params": {"channel": "public:x", "data": {"n": 1}}})
        await until(lambda: "message" in methods(a))
        assert a.last()["body"]["data"] == {"n": 1}

        await api(two, {"method": "subscribe", "params": {"user": "a", "channel": "news"}})
        await until(lambda: "subscribe" in methods(a))
        assert "news" in a.connection.channels
        assert a.last() == {"method": "subscribe", "body": {"channel": "news", "status": True, "last": "",
                                                           "messages": None, "recovered": False}}
        await api(two, {"method": "unsubscribe", "params": {"user": "a", "channel": "public:x"}})
        await until(lambda: "unsubscribe" in methods(a))
        assert "public:x" not in a.connection.channels
        assert a.last() == {"method": "unsubscribe", "body": {"channel": "public:x", "status": True}}

        await api(two, {"method": "disconnect", "params": {"user": "a"}})
        await until(lambda: a.close_args is not None)
        assert a.close_advice() == {"reason": "disconnect", "reconnect": False}


@pytest.mark.async_timeout(30)
async def test_stats_lists_both_nodes(redis: RedisServer) -> None:
    async with two_nodes(redis) as (one, two):
        want = {one.uid, two.uid}
        for node in (one, two):
            await until(lambda: {n["uid"] for n in node.nodes()} == want)
        items = await api(one, {"method": "stats"})
        nodes = items[0]["body"]["data"]["nodes"]
        assert {n["uid"] for n in nodes} == want
        assert all(n["version"] == app.__version__ and "metrics" in n for n in nodes)


async def server_api(node: Node, method: str, body: dict) -> dict:
    reply = node.server_api.call(method, json.dumps(body).encode())
    if not isinstance(reply, Reply):
        reply = await reply
    assert reply.error is None, reply.error
    return json.loads(reply.result)


@pytest.mark.async_timeout(30)
async def test_current_style_api_across_nodes(redis: RedisServer) -> None:
    """/api/<method> on one node acts on the other's connections, with its
    client filter, whitelist and reason; info lists both nodes."""
    async with two_nodes(redis) as (one, two):
        a, b = await connect(one, "a"), await connect(one, "a")
        a_id, b_id = a.connection.id, b.connection.id
        await server_api(two, "subscribe", {"user": "a", "channel": "public:y", "client": a_id, "info": {"r": 1}})
        await until(lambda: "public:y" in a.connection.channels)
        assert "public:y" not in b.connection.channels
        await until(lambda: "public:y" in one.hub.channels())
        presence: dict[str, Any] = {}
        for _ in range(100):  # the presence entry is written after the hub registration
            presence = await server_api(two, "presence", {"channel": "public:y"})
            if a_id in presence["presence"]:
                break
            await asyncio.sleep(0.02)
        assert presence["presence"][a_id]["chan_info"] == {"r": 1}

        await server_api(two, "publish", {"channel": "public:y", "data": {"n": 1}})
        await until(lambda: "message" in methods(a))
        await server_api(two, "unsubscribe", {"user": "a", "channel": "public:y", "client": b_id})
        await server_api(two, "disconnect", {"user": "a", "whitelist": [a_id],
                                             "disconnect": {"code": 3001, "reason": "moved"}})
        await until(lambda: b.close_args is not None)
        assert b.close_advice() == {"reason": "moved", "reconnect": True}
        assert "public:y" in a.connection.channels and a.close_args is None

        for node in (one, two):
            await until(lambda: len(node.nodes()) == 2)
        info = await server_api(two, "info", {})
        assert {n["uid"] for n in info["nodes"]} == {one.uid, two.uid}
        assert sum(n.get("num_clients", 0) for n in info["nodes"]) == 1  # a (b was closed)
