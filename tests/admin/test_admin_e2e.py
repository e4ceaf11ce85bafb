"""The admin socket of a real sockhub, spoken to directly: login, the admin's
own methods, API methods through the node's executor, watch pushes; and the
admin handlers moved to ``admin_port`` under ``http_prefix``."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.admin.clients import RawClient, api_call, read_json
from tests.support.net import free_port
from tests.support.server import SockhubProcess

SECRET = "e2e-secret"
CONFIG: dict[str, Any] = {"secret": SECRET, "admin_password": "e2e-pass", "admin_secret": "e2e-admin",
          "namespaces": [{"name": "watched", "watch": True}]}


def login(base_url: str, password: str = "e2e-pass") -> str:
    body = urlencode({"password": password}).encode()
    with urllib.request.urlopen(base_url + "/auth/", data=body, timeout=5) as resp:
        token: str = json.loads(resp.read())["token"]
    return token


async def admin_socket(base_url: str, token: str, watch: bool) -> WebSocketClientConnection:
    ws = await websocket_connect(base_url.replace("http", "ws", 1) + "/socket")
    await ws.write_message(json.dumps({"method": "connect", "params": {"token": token, "watch": watch}}))
    assert await read_json(ws) == [{"method": "connect", "error": None, "body": True}]
    return ws


async def call(ws: WebSocketClientConnection, payload: Any) -> Any:
    await ws.write_message(json.dumps(payload))
    return await read_json(ws)


async def test_admin_socket_against_the_node(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, CONFIG, args=["--admin", "--web"]) as hub:
        token = login(hub.url)
        watcher = await admin_socket(hub.url, token, watch=True)
        plain = await admin_socket(hub.url, token, watch=False)
        client = await RawClient.connect(hub.url, SECRET, user="w")
        assert "error" not in await client.command("subscribe", {"channel": "watched:room"})

        [info] = await call(plain, {"method": "info"})
        assert info["body"]["data"]["engine"] == "Memory"
        assert "e2e-secret" not in json.dumps(info) and "e2e-pass" not in json.dumps(info)

        replies = await call(plain, [{"method": "channels"}, {"method": "bogus"},
                                     {"uid": "p", "method": "publish", "params": {"channel": "watched:room", "data": {"x": 1}}},
                                     {"method": "publish", "params": {"channel": "nowhere:1", "data": 1}}])
        assert replies[0]["error"] is None and "watched:room" in replies[0]["body"]["data"]
        assert replies[1]["method"] == "bogus" and replies[1]["error"]  # whole-request errors become an item
        assert replies[2] == {"uid": "p", "method": "publish", "error": None, "body": None}
        assert replies[3]["error"] == "namespace not found"

        # the publish reached the subscriber and the watcher, once each
        assert (await client.next_push())["body"]["data"] == {"x": 1}
        push = await read_json(watcher)
        assert push["method"] == "message" and push["body"]["channel"] == "watched:room"
        # a publish through the HTTP API on a channel without watch reaches no watcher
        await api_call(hub.url, SECRET, "publish", {"channel": "plain", "data": 2})
        await api_call(hub.url, SECRET, "publish", {"channel": "watched:room", "data": 3})
        assert (await read_json(watcher))["body"]["data"] == 3
        # the plain socket never got a push: its next frame is a reply
        assert (await call(plain, {"method": "ping"}))[0]["body"] == "pong"
        for ws in (watcher, plain):
            ws.close()
        client.close()


async def test_bad_token_closes_and_nothing_runs(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, CONFIG, args=["--admin"]) as hub:
        ws = await websocket_connect(hub.url.replace("http", "ws", 1) + "/socket")
        await ws.write_message(json.dumps({"method": "publish", "params": {"channel": "watched:a", "data": 1}}))
        assert await ws.read_message() is None and ws.close_code == 1008
        ws.close()
        [item] = await api_call(hub.url, SECRET, "history", {"channel": "watched:a"})
        assert item["error"] == "not available"  # (no history configured) and no crash
        # --admin alone: the socket, but no login and no page
        for path in ("/auth/", "/"):
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(hub.url + path, data=b"password=e2e-pass" if path == "/auth/" else None, timeout=5)
            missing.value.close()
            assert missing.value.code == 404, path


async def test_admin_on_its_own_port_under_a_prefix(tmp_path: Path) -> None:
    admin_port = free_port()
    config = {**CONFIG, "http_prefix": "/hub"}
    with SockhubProcess(tmp_path, config, args=["--web", "--admin_port", str(admin_port)]) as hub:
        admin_url = f"http://127.0.0.1:{admin_port}/hub"
        with urllib.request.urlopen(admin_url + "/", timeout=5) as resp:
            assert b'id="login-form"' in resp.read()
        token = login(admin_url)
        ws = await admin_socket(admin_url, token, watch=False)
        [node] = await call(ws, {"method": "node"})
        assert node["error"] is None and node["body"]["data"]["uid"]
        ws.close()
        with pytest.raises(urllib.error.HTTPError) as missing:  # not on the client port
            urllib.request.urlopen(f"{hub.url}/hub/auth/", data=b"password=e2e-pass", timeout=5)
        missing.value.close()
        assert missing.value.code == 404
