"""The admin socket's own commands, its gate, watch pushes and forwarding to an
AdminApi.  The executor here is a recording fake at the node seam: the real
node's answers are covered by the end-to-end tests."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.web import Application
from tornado.websocket import WebSocketClientConnection, websocket_connect

from app.admin import AdminContext, AdminHub, AdminSocket
from app.admin_auth import AdminGate
from app.core.errors import HttpError
from app.core.values import Message
from app.dialects.v1x.wire import message_json
from app.options import Options
from tests.admin.clients import read_json
from tests.support.net import free_port

OPTS = Options(admin_password="pa55", admin_secret="s3cret", secret="api-secret")


@dataclass
class FakeApi:
    received: list[dict[str, Any]] = field(default_factory=list)

    async def execute(self, data: bytes) -> bytes:
        command = json.loads(data)
        self.received.append(command)
        if command.get("method") == "nope":
            raise HttpError(400, "unknown method")
        if command.get("method") == "explode":
            raise RuntimeError("a bug in the executor")
        item = {"method": command["method"], "error": None, "body": {"echo": command.get("params")}}
        if command.get("uid"):
            item = {"uid": command["uid"], **item}
        return json.dumps([item]).encode()


@dataclass
class Server:
    port: int
    api: FakeApi
    hub: AdminHub
    gate: AdminGate

    async def connect(self) -> WebSocketClientConnection:
        return await websocket_connect(f"ws://127.0.0.1:{self.port}/socket")

    async def login(self, watch: bool = False) -> WebSocketClientConnection:
        ws = await self.connect()
        reply = await call(ws, {"method": "connect", "params": {"token": self.gate.login("pa55"), "watch": watch}})
        assert reply == [{"method": "connect", "error": None, "body": True}]
        return ws


async def call(ws: WebSocketClientConnection, payload: Any) -> Any:
    await ws.write_message(json.dumps(payload))
    text = await ws.read_message()
    assert text is not None, f"closed: {ws.close_code} {ws.close_reason}"
    return json.loads(text)


async def start(opts: Options, hub: AdminHub | None = None) -> tuple[Server, HTTPServer]:
    api, hub = FakeApi(), (hub if hub is not None else AdminHub())
    gate = AdminGate(lambda: opts)
    ctx = AdminContext(api=api, gate=gate, hub=hub, options=lambda: opts, engine_name=lambda: "Memory",
                       series=lambda: {"window": 900.0, "nodes": [{"uid": "u1", "samples": [[1.0, 2, 3, 4.5, 6.0]]}]})
    port = free_port()
    http = HTTPServer(Application([(r"/socket", AdminSocket, {"context": ctx})]))
    http.listen(port, "127.0.0.1")
    return Server(port, api, hub, gate), http


async def assert_closed(ws: WebSocketClientConnection, code: int) -> None:
    assert await ws.read_message() is None
    ws.close()  # the client side too (Tornado warns about unclosed clients)
    assert ws.close_code == code


async def test_anything_before_connect_closes() -> None:
    srv, http = await start(OPTS)
    try:
        for first in ({"method": "ping"}, {"method": "publish", "params": {"channel": "a", "data": 1}}, [{"method": "info"}]):
            ws = await srv.connect()
            await ws.write_message(json.dumps(first))
            await assert_closed(ws, 1008)
        ws = await srv.connect()
        await ws.write_message(json.dumps({"method": "connect", "params": {"token": "v1.9999999999.00.bad"}}))
        await assert_closed(ws, 1008)
        assert srv.api.received == []  # nothing reached the node
    finally:
        http.stop()


async def test_connect_ping_info() -> None:
    srv, http = await start(OPTS)
    try:
        ws = await srv.login()
        assert await call(ws, {"uid": "7", "method": "ping"}) == [{"uid": "7", "method": "ping", "error": None, "body": "pong"}]
        [info] = await call(ws, {"method": "info"})
        data = info["body"]["data"]
        assert info["error"] is None and data["engine"] == "Memory" and data["version"]
        assert data["config"]["secret"] == "<hidden>" and data["config"]["admin_password"] == "<hidden>"
        assert "pa55" not in json.dumps(info) and "api-secret" not in json.dumps(info)
        ws.close()
    finally:
        http.stop()


async def test_api_methods_go_through_the_executor_in_order() -> None:
    srv, http = await start(OPTS)
    try:
        ws = await srv.login()
        batch = [
            {"method": "ping"},
            {"uid": "u1", "method": "publish", "params": {"channel": "news", "data": {"text": "hi"}}},
            {"method": "nope"},
            {"method": "channels"},
        ]
        reply = await call(ws, batch)
        assert [r["method"] for r in reply] == ["ping", "publish", "nope", "channels"]
        assert reply[1] == {"uid": "u1", "method": "publish", "error": None, "body": {"echo": {"channel": "news", "data": {"text": "hi"}}}}
        assert reply[2]["error"] == "unknown method"
        assert [c["method"] for c in srv.api.received] == ["publish", "nope", "channels"]
        # an executor error is a reply, not the end of the socket
        assert (await call(ws, {"method": "ping"}))[0]["body"] == "pong"
        ws.close()
    finally:
        http.stop()


async def test_watchers_get_pushes_and_everyone_gets_replies() -> None:
    srv, http = await start(OPTS)
    try:
        watcher, plain = await srv.login(watch=True), await srv.login(watch=False)
        assert len(srv.hub) == 1
        srv.hub.broadcast(b"not json")  # dropped, never sent as a broken frame
        message = Message(uid="m1", channel="watched", data='{"n":1}')
        srv.hub.broadcast(message_json(message).encode())
        push = await read_json(watcher)
        assert push == {"method": "message", "error": None, "body": {"uid": "m1", "channel": "watched", "data": {"n": 1}}}
        # the plain socket got no push: its next frame is the reply to its ping (no 1.8 quirk)
        assert (await call(plain, {"method": "ping"}))[0]["body"] == "pong"
        watcher.close()
        plain.close()
    finally:
        http.stop()


async def test_insecure_admin_starts_authenticated_and_malformed_closes() -> None:
    srv, http = await start(replace(OPTS, insecure_admin=True))
    try:
        ws = await srv.connect()
        assert (await call(ws, {"method": "ping"}))[0]["body"] == "pong"
        await ws.write_message("{not json")
        await assert_closed(ws, 1007)
    finally:
        http.stop()


async def test_slow_watcher_is_closed() -> None:
    srv, http = await start(OPTS, hub=AdminHub(max_pending=0))
    try:
        watcher = await srv.login(watch=True)
        srv.hub.broadcast(message_json(Message(uid="m1", channel="c", data="1")).encode())
        await assert_closed(watcher, 1008)
        assert watcher.close_reason == "slow" and len(srv.hub) == 0
    finally:
        http.stop()


async def test_a_socket_that_never_logs_in_is_closed() -> None:
    srv, http = await start(replace(OPTS, stale_connection_close_delay=0.2))
    try:
        idle = await srv.connect()
        await assert_closed(idle, 1008)
        # a socket that logged in in time is not affected by the timer
        ws = await srv.login()
        await asyncio.sleep(0.3)
        assert (await call(ws, {"method": "ping"}))[0]["body"] == "pong"
        ws.close()
    finally:
        http.stop()


async def test_an_executor_bug_closes_only_that_socket() -> None:
    srv, http = await start(OPTS)
    try:
        ws = await srv.login()
        await ws.write_message(json.dumps({"method": "explode"}))
        await assert_closed(ws, 1011)
        other = await srv.login()
        assert (await call(other, {"method": "ping"}))[0]["body"] == "pong"
        other.close()
    finally:
        http.stop()


async def events_socket(srv: Server) -> WebSocketClientConnection:
    ws = await srv.connect()
    params = {"token": srv.gate.login("pa55"), "watch": True, "events": True}
    assert (await call(ws, {"method": "connect", "params": params}))[0]["body"] is True
    return ws


BATCH = '{"node":"n1","name":"a","dropped":0,"events":[[1,"publish","news","u","c","1"]]}'


async def test_events_go_to_the_sockets_that_ask_and_the_node_knows() -> None:
    hub = AdminHub()
    watching: list[bool] = []
    hub.bind_events(watching.append)
    srv, http = await start(OPTS, hub=hub)
    try:
        plain_watcher = await srv.login(watch=True)
        assert watching == []  # watching messages is not watching events
        first, second = await events_socket(srv), await events_socket(srv)
        assert watching == [True]  # told once, at the first
        hub.events(BATCH, 1)
        for ws in (first, second):
            push = await read_json(ws)
            assert push["method"] == "events" and push["body"]["events"][0][1:3] == ["publish", "news"]
        # the message watcher got no event: its next frame is its ping's reply
        assert (await call(plain_watcher, {"method": "ping"}))[0]["body"] == "pong"
        first.close()
        second.close()
        for _ in range(100):
            if watching == [True, False]:
                break
            await asyncio.sleep(0.02)
        assert watching == [True, False]  # told when the last one left
        plain_watcher.close()
    finally:
        http.stop()


async def test_a_lagging_socket_skips_batches_and_learns_how_many() -> None:
    hub = AdminHub(events_max_pending=0)
    srv, http = await start(OPTS, hub=hub)
    try:
        ws = await events_socket(srv)
        hub.events(BATCH, 1)
        hub.events(BATCH, 1)  # both skipped: the socket "lags"
        hub.events_max_pending = 10
        hub.events(BATCH, 1)
        assert await read_json(ws) == {"method": "events_lost", "error": None, "body": {"lost": 2}}
        assert (await read_json(ws))["method"] == "events"
        assert (await call(ws, {"method": "ping"}))[0]["body"] == "pong"  # still open
        ws.close()
    finally:
        http.stop()


async def test_series_answers_the_nodes_samples() -> None:
    srv, http = await start(OPTS)
    try:
        ws = await srv.login()
        [item] = await call(ws, {"uid": "s", "method": "series"})
        assert item["error"] is None
        assert item["body"]["data"]["nodes"][0]["samples"] == [[1.0, 2, 3, 4.5, 6.0]]
        ws.close()
    finally:
        http.stop()
