"""centrifuge-js 2.8.5, unchanged (npm alias ``centrifuge2``), under node
against a real sockhub's ``/connection/websocket`` in protocol v1: JSON
and its protobuf build (tests/integration/js/v1sockhub.js): a JWT connect,
subscribe, a publication from the Centrifugo 2 API (``POST /api``), one from the client, presence,
presence_stats, history, a private channel with a Centrifugo 2 subscription
token, rpc's ``not available``, the ``ping`` command answered, and recovery
after a dropped transport (two publications missed, recovered once and in
order)."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.integration.test_v2_python_client import token
from tests.integration.conftest import SECRET
from tests.integration.test_cent5_client import KEY
from tests.support.server import ROOT, SockhubProcess

SCRIPT = Path(__file__).with_name("js") / "v1sockhub.js"
CONFIG: dict[str, Any] = {
    "api_key": KEY, "presence": True, "join_leave": True, "history_size": 10, "history_lifetime": 60,
    "recover": True, "publish": True,
}


async def run_script(hub: SockhubProcess, format_name: str, api_url: str, api_key: str = "") -> dict[str, Any]:
    """What centrifuge-js 2.8.5 saw, driven by the script to its end."""
    url = hub.ws_url + ("?format=protobuf" if format_name == "protobuf" else "")
    node = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), url, format_name, token("42"), SECRET, api_url, api_key, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(node.communicate(), 45)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, err.decode()
    seen: dict[str, Any] = json.loads(out)
    return seen


def check_session(seen: dict[str, Any]) -> None:
    assert seen["connected"] == {"transport": "websocket", "client": "string"} and seen["room"] is True
    assert seen["publications"][:2] == [{"data": {"from": "api"}, "user": None, "offset": 1},
                                        {"data": {"from": "js"}, "user": "42", "offset": 2}]
    assert seen["presence"] == ["42"] and seen["presenceStats"] == {"num_clients": 1, "num_users": 1}
    assert seen["history"] == [{"from": "api"}, {"from": "js"}]
    assert seen["rpcError"] == {"code": 108, "message": "not available"}
    assert seen["ping"] is True
    assert seen["resubscribe"] == {"isResubscribe": True, "recovered": True}
    assert seen["recovered"] == [{"missed": 1}, {"missed": 2}]  # once each, in order
    assert seen["offsets"] == [1, 2, 3, 4]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.async_timeout(90)
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
async def test_centrifuge_js_2_against_sockhub(sockhub: Callable[..., SockhubProcess], format_name: str) -> None:
    hub = sockhub(CONFIG)
    check_session(await run_script(hub, format_name, hub.url + "/api", KEY))  # the Centrifugo 2 API
