"""Protocol v2's emulation across nodes (app/emulation_http.py): two real
nodes on Redis and nginx with the shipped config.  An emulation request
that reaches the node without the session (nginx is not sticky for
``/emulation``: the session is in the body) is forwarded to the node that
holds the stream over the engine's control channel; its replies come down
that stream.  JSON (SSE and http_stream through nginx) and protobuf."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from pathlib import Path

import jwt
import pytest

from app.dialects.v2 import protocol_pb2 as pb
from tests.support.cluster import SECRET, Cluster
from tests.support.emulation import Stream, emulation_json, post, protobuf_frame

JSON = {"Content-Type": "application/json"}
BINARY = {"Content-Type": "application/octet-stream"}


def token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def post_until_known(port: int, body: bytes, headers: dict[str, str], timeout: float = 15) -> int:
    """POST /emulation until the receiving node knows the session's node
    (it learns the others from their pings: 404 before that)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, _ = await post(port, "/emulation", body, headers)
        if status != 404 or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.2)


@pytest.mark.async_timeout(90)
async def test_emulation_requests_reach_the_session_on_another_node(tmp_path: Path) -> None:
    with Cluster(tmp_path, 2, {"presence": True, "publish": True}) as cluster:
        first, second = (port_of(u) for u in cluster.urls)
        connect = json.dumps({"id": 1, "connect": {"token": token("42")}}).encode()

        # JSON: the stream on node 0, the emulation request to node 1
        stream = await Stream.open(first, "POST", "/connection/http_stream", connect, "json", JSON)
        try:
            reply = (await stream.next_item())["connect"]
            body = emulation_json(reply["session"], reply["node"], {"id": 2, "subscribe": {"channel": "news"}})
            assert await post_until_known(second, body, JSON) == 204
            assert await stream.next_item() == {"id": 2, "subscribe": {}}
            pong = emulation_json(reply["session"], reply["node"], {"id": 3, "presence": {"channel": "news"}})
            assert (await post(second, "/emulation", pong, JSON))[0] == 204
            presence = await stream.next_item()
            assert [c["user"] for c in presence["presence"]["presence"].values()] == ["42"]
        finally:
            stream.close()

        # protobuf: the EmulationRequest's frame crosses the control channel as bytes
        frame = protobuf_frame(pb.Command(id=1, connect=pb.ConnectRequest(token=token("7"))))
        binary = await Stream.open(second, "POST", "/connection/http_stream", frame, "protobuf", BINARY)
        try:
            connected = (await binary.next_item()).connect
            body = pb.EmulationRequest(session=connected.session, node=connected.node, data=protobuf_frame(
                pb.Command(id=2, subscribe=pb.SubscribeRequest(channel="news")))).SerializeToString()
            assert await post_until_known(first, body, BINARY) == 204
            assert (await binary.next_item()).id == 2
        finally:
            binary.close()

        # through nginx: the SSE stream on whichever node, every emulation
        # request on whichever node (round-robin), all of them answered
        nginx = port_of(cluster.nginx_url)
        query = urllib.parse.urlencode({"cf_connect": json.dumps({"id": 1, "connect": {"token": token("9")}})})
        sse = await Stream.open(nginx, "GET", "/connection/sse?" + query, kind="sse")
        try:
            reply = (await sse.next_item())["connect"]
            for n in range(4):
                body = emulation_json(reply["session"], reply["node"], {"id": 10 + n, "subscribe": {
                    "channel": f"room{n}"}})
                assert await post_until_known(nginx, body, JSON) == 204
            ids = sorted([(await sse.next_item())["id"] for _ in range(4)])
            assert ids == [10, 11, 12, 13]
            assert (await post(nginx, "/emulation", emulation_json("s", "no-such-node", {}), JSON))[0] == 404
        finally:
            sse.close()
        assert cluster.tracebacks() == {}
