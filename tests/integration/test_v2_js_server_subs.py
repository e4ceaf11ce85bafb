"""centrifuge-js 5.8.0, unchanged, under node against a server reading a
Centrifugo v5 config (tests/integration/v5config.py): a server-side
subscription from the token's ``subs`` claim (its ``data``), publications
through the client's ``publication`` event, and recovery after the server
disconnects it with a reconnect code: what was published while it was
away arrives once, in order, with ``recovered`` true
(tests/integration/js/v2serversubs.js)."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_v2_server_subs import KEYS, api
from tests.integration.v5config import v5_config
from tests.support.server import ROOT, SockhubProcess

SCRIPT = Path(__file__).with_name("js") / "v2serversubs.js"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path, v5_config(KEYS), name="v5js")
    yield process.start()
    process.stop()


async def line(node: asyncio.subprocess.Process) -> dict[str, Any]:
    assert node.stdout is not None
    raw = await asyncio.wait_for(node.stdout.readline(), 30)
    assert raw, "node ended early"
    return json.loads(raw)  # type: ignore[no-any-return]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.async_timeout(90)
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
async def test_centrifuge_js_recovers_a_server_side_subscription(hub: SockhubProcess, format_name: str) -> None:
    token = KEYS.token("RS256", sub="42", subs={"feed": {"data": {"welcome": True}}})
    node = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), hub.ws_url, format_name, token, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert node.stdin is not None
    try:
        first = await line(node)
        assert first == {"subscribed": {"channel": "feed", "recoverable": True, "wasRecovering": False,
                                        "recovered": False, "data": {"welcome": True}}}, first
        await asyncio.to_thread(api, hub, "publish", {"channel": "feed", "data": {"n": 1}})
        assert await line(node) == {"got": 1}
        await asyncio.to_thread(api, hub, "disconnect", {"user": "42", "disconnect": {"code": 4000,
                                                                                      "reason": "come back"}})
        away = (await line(node))["away"]
        # a reconnect code: the API's disconnect code does not reach v2
        # clients yet (app.dialects.v2api.runner passes reason and
        # reconnect on, not the code), they see 3004
        assert 3000 <= away < 3500 or 4000 <= away < 4500, away
        for n in (2, 3):  # while it waits 2 s to reconnect
            await asyncio.to_thread(api, hub, "publish", {"channel": "feed", "data": {"n": n}})
        back = await line(node)
        assert back["back"]["wasRecovering"] and back["back"]["recovered"], back
        assert [await line(node), await line(node)] == [{"got": 2}, {"got": 3}]
        node.stdin.write(b"done\n")
        await node.stdin.drain()
        seen = await line(node)
        out, err = await asyncio.wait_for(node.communicate(), 30)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, err.decode()
    assert seen["publications"] == [{"channel": "feed", "data": {"n": n}, "offset": n} for n in (1, 2, 3)]
