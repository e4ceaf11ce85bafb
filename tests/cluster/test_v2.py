"""Protocol v2 clients (centrifuge-python 0.7.0, JSON and protobuf) on two
nodes over Redis, one of them through nginx with the shipped config: a
publication from the API of a third place, one from a client, presence
across nodes."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import pytest

from tests.integration.test_v2_python_client import Events, as_sent, client_at, disconnect, until
from tests.support.cluster import SECRET, Cluster


def token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


@pytest.mark.async_timeout(90)
async def test_v2_clients_on_two_nodes_share_channels(tmp_path: Path) -> None:
    with Cluster(tmp_path, 2, {"presence": True, "publish": True}) as cluster:
        ws_urls = [cluster.urls[0].replace("http://", "ws://"), cluster.nginx_url.replace("http://", "ws://")]
        events = [Events(), Events()]
        clients = []
        for index, (base, use_protobuf) in enumerate(zip(ws_urls, (False, True))):
            client = client_at(base + "/connection/websocket", events[index], use_protobuf, token=token(f"u{index}"))
            await client.connect()
            await client.new_subscription("news", events=events[index]).subscribe()
            clients.append(client)
        try:
            await until(lambda: all(e.subscribed for e in events))
            await cluster.result(cluster.urls[1], "publish", {"channel": "news", "data": {"n": 1}})
            await until(lambda: all(e.publications for e in events))
            await clients[1].publish("news", as_sent(True, {"n": 2}))
            await until(lambda: len(events[0].publications) == 2)
            assert [p.pub.data for p in events[0].publications] == [{"n": 1}, {"n": 2}]
            assert events[0].publications[1].pub.info.user == "u1"

            async def both_present() -> bool:
                found = await clients[0].presence("news")
                return sorted(c.user for c in found.clients.values()) == ["u0", "u1"]

            deadline = time.monotonic() + 10
            while not await both_present():
                assert time.monotonic() < deadline, "presence across nodes"
                await asyncio.sleep(0.1)
        finally:
            for client in clients:
                await disconnect(client)
        assert cluster.tracebacks() == {}
