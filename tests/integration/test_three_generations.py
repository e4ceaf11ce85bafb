"""All three generations on one node at once, each with its real client:
centrifuge 1.x's protocol (the test's 1.x client), centrifuge-js 2.8.5
(protocol v1, JSON and protobuf, under node) and centrifuge-python 0.7.0
(protocol v2), all subscribed to one channel of ``/connection/websocket``;
one publication through each API (the 1.x ``/api/`` with cent 2.1.0, the
Centrifugo 2 ``/api`` with cent 3.0.1, the current-style ``/api/publish``)
reaches every client once, in order."""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import cent as cent21
import pytest

from tests.integration.conftest import SECRET
from tests.integration.test_cent3_client import CENT3
from tests.integration.test_cent5_client import KEY, post
from tests.integration.test_v2_python_client import Events, disconnect, new_client, token, until
from tests.integration.wsclient import ProtocolClient
from tests.support.server import ROOT, SockhubProcess, python_executable

LISTEN = Path(__file__).with_name("js") / "v1listen.js"
CONFIG: dict[str, Any] = {"api_key": KEY, "presence": True, "history_size": 10, "history_lifetime": 60}
SENT = [{"via": "1.x"}, {"via": "centrifugo2"}, {"via": "current"}]


def publish_three_ways(hub: SockhubProcess) -> None:
    assert cent21.Client(hub.url, SECRET, timeout=5).publish("news", SENT[0]) is None
    script = ("import json, sys; from cent import Client; "
              "Client(sys.argv[1], api_key=sys.argv[2], timeout=5).publish('news', json.loads(sys.argv[3]))")
    done = subprocess.run([python_executable(), "-c", script, hub.url, KEY, json.dumps(SENT[1])],
                          capture_output=True, text=True, timeout=30, env={"PYTHONPATH": str(CENT3), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    status, _ = post(hub, "/api/publish", json.dumps({"channel": "news", "data": SENT[2]}).encode(), {"X-API-Key": KEY})
    assert status == 200


async def listener(hub: SockhubProcess, format_name: str) -> asyncio.subprocess.Process:
    url = hub.ws_url + ("?format=protobuf" if format_name == "protobuf" else "")
    node = await asyncio.create_subprocess_exec("node", str(LISTEN), url, format_name, token("7"), str(len(SENT)),
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert node.stdout is not None
    ready = await asyncio.wait_for(node.stdout.readline(), 20)
    assert json.loads(ready) == {"ready": True}, ready
    return node


async def received(node: asyncio.subprocess.Process) -> list[Any]:
    out, err = await asyncio.wait_for(node.communicate(), 30)
    assert node.returncode == 0, err.decode()
    seen: list[Any] = json.loads(out)
    return seen


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.async_timeout(90)
async def test_one_publication_per_api_reaches_every_generation_once(sockhub: Callable[..., SockhubProcess]) -> None:
    hub = sockhub(CONFIG)
    old = ProtocolClient(hub.ws_url)
    events = Events()
    v2 = new_client(hub, events, False, token=token("42"))
    nodes: list[asyncio.subprocess.Process] = []
    try:
        old.connect(SECRET, "1")
        assert not old.subscribe("news").get("error")
        await v2.connect()
        await v2.new_subscription("news", events=events).subscribe()
        await until(lambda: events.subscribed)
        nodes = [await listener(hub, "json"), await listener(hub, "protobuf")]
        await asyncio.to_thread(publish_three_ways, hub)
        for node in nodes:
            assert await received(node) == SENT
        await until(lambda: len(events.publications) == len(SENT))
        await asyncio.sleep(0.3)  # anything duplicated would have come by now
        assert [p.pub.data for p in events.publications] == SENT
        messages = [await asyncio.to_thread(old.next_push, "message") for _ in SENT]
        assert [m["body"]["data"] for m in messages] == SENT
    finally:
        for node in nodes:
            if node.returncode is None:
                node.kill()
                await node.wait()
        old.close()
        await disconnect(v2)
    assert "Traceback" not in hub.logs()
