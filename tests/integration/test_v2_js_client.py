"""centrifuge-js 5.8.0, unchanged (npm alias ``centrifuge5``), under node
against a real sockhub's ``/connection/websocket``: JSON and its protobuf
build (tests/integration/js/v2sockhub.js); a publication from the 1.x HTTP
API, one from the client, presence, presence_stats, history with a limit,
a private channel with a subscription token, rpc's ``not available``."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

from tests.integration.test_v2_python_client import CONFIG, api_publish, token
from tests.support.server import ROOT, SockhubProcess

SCRIPT = Path(__file__).with_name("js") / "v2sockhub.js"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.async_timeout(60)
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
async def test_centrifuge_js_5_against_sockhub(sockhub: Callable[..., SockhubProcess], format_name: str) -> None:
    hub = sockhub(CONFIG)
    node = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), hub.ws_url, format_name, token("42"), token("42", channel="$room"), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert node.stdout is not None
    try:
        ready = await asyncio.wait_for(node.stdout.readline(), 30)
        assert json.loads(ready) == {"ready": True}, ready
        await asyncio.to_thread(api_publish, hub, "news", {"from": "api"})
        out, err = await asyncio.wait_for(node.communicate(), 30)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["connected"] == {"transport": "websocket"} and seen["room"] is True
    assert seen["publications"] == [{"data": {"from": "api"}, "user": None}, {"data": {"from": "js"}, "user": "42"}]
    assert seen["presence"] == ["42"] and seen["presenceStats"] == {"numClients": 1, "numUsers": 1}
    assert seen["history"] == [{"from": "js"}]
    assert seen["rpcError"] == {"code": 108, "message": "not available"}
