"""centrifuge-js 5.8.0, unchanged (npm alias ``centrifuge5``), under node
against the websocket peer that speaks only through our codec
(tests/dialects/v2/peer.py): JSON and its protobuf build.  What the client
saw comes back from tests/dialects/v2/js/v2client.js as one JSON object;
what it sent is checked as we decoded it."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from app.dialects.v2.commands import Method
from app.dialects.v2.framing import JsonFrames, ProtobufFrames
from tests.dialects.v2.peer import running_peer

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("js") / "v2client.js"
ALEX = {"user": "42", "client": "c-1", "connInfo": {"name": "Alex"}}


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
async def test_centrifuge_js_through_our_codec(format_name: str) -> None:
    async with running_peer() as (peer, url):
        node = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), url, format_name, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(node.communicate(), 30)
    assert node.returncode == 0, err.decode()
    seen = json.loads(out)
    assert peer.formats == [format_name]

    assert seen["connected"] == {"client": "c-1", "data": {"welcome": True}, "transport": "websocket"}
    assert seen["early"] == "early"
    assert seen["serverSubscribed"] == {"channel": "server:news", "recoverable": True,
                                        "streamPosition": {"offset": 3, "epoch": "se"}}
    assert seen["serverPublications"][0]["offset"] == 4
    assert seen["subscribed"] == {"channel": "news", "recoverable": True, "streamPosition": {"offset": 5, "epoch": "e1"}}
    assert seen["publications"] == [
        {"channel": "news", "offset": 6, "data": {"n": 6}, "info": ALEX, "tags": {"k": "v"}},
        {"channel": "news", "offset": 7, "data": {"x": 1}, "info": None, "tags": None},
    ]
    assert seen["joins"] == [ALEX] and seen["leaves"] == [ALEX]
    assert seen["presence"] == {"c-1": ALEX}
    assert seen["presenceStats"] == {"numClients": 2, "numUsers": 1}
    assert seen["history"] == {"offsets": [4, 3], "first": {"h": 4}, "offset": 7, "epoch": "e1"}
    assert seen["rpc"] == {"x": 1}
    assert seen["rpcError"] == {"code": 103, "message": "permission denied"}
    assert seen["unsubscribed"] == {"code": 2000, "reason": "server unsubscribe"}

    # the first frame: connect and the subscribe of a subscription made before it
    if format_name == "json":
        assert peer.frames[0] == ('{"connect":{"token":"eyJ.t.s","data":{"x":1},"name":"js"},"id":1}\n'
                                  '{"subscribe":{"channel":"early","flag":1},"id":2}')
    first = (JsonFrames() if format_name == "json" else ProtobufFrames()).decode(peer.frames[0])
    assert [(r.id, r.method) for r in first.requests] == [(1, Method.CONNECT), (2, Method.SUBSCRIBE)]
    methods = [r.method for r in peer.requests]
    assert methods[0] is Method.CONNECT and Method.PONG in methods  # the ping came in the connect reply's frame
    connect = peer.requests[0].params
    assert (connect.token, connect.name, connect.data) == ("eyJ.t.s", "js", b'{"x":1}')
    subscribe = [r.params for r in peer.requests if r.method is Method.SUBSCRIBE][1]
    assert (subscribe.channel, subscribe.recoverable, subscribe.positioned, subscribe.join_leave, subscribe.flag) == (
        "news", True, True, True, 1)
    history = next(r.params for r in peer.requests if r.method is Method.HISTORY)
    assert (history.limit, history.reverse, history.since.offset, history.since.epoch) == (10, True, 2, "e1")
    assert {Method.PUBLISH, Method.PRESENCE, Method.PRESENCE_STATS, Method.RPC} <= set(methods)
