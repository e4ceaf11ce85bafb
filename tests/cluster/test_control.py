"""API ``unsubscribe`` and ``disconnect`` sent to one node (or through nginx)
act on the user's connections on every node (control messages through Redis)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.clients import Recorder, until
from tests.support.cluster import Cluster


@pytest.mark.async_timeout(60)
async def test_unsubscribe_and_disconnect_reach_every_node(tmp_path: Path) -> None:
    with Cluster(tmp_path, 3, {"presence": True}) as cluster:
        alice = [await Recorder.connect(url, "alice") for url in cluster.urls]
        bob = [await Recorder.connect(url, "bob") for url in cluster.urls]
        for client in alice + bob:
            for channel in ("a", "b"):
                assert (await client.command("subscribe", {"channel": channel}))["body"]["status"] is True

        # unsubscribe alice from "a" through nginx: every node drops her, bob stays.
        assert await cluster.result(cluster.nginx_url, "unsubscribe", {"user": "alice", "channel": "a"}) is None

        async def presence_users(channel: str) -> list[str]:
            body = await cluster.result(cluster.urls[2], "presence", {"channel": channel})
            return sorted(info["user"] for info in body["data"].values())

        async def alice_gone_from_a() -> bool:
            return await presence_users("a") == ["bob"] * 3

        await until(alice_gone_from_a, what="alice unsubscribed on every node")
        assert await presence_users("b") == ["alice"] * 3 + ["bob"] * 3
        await cluster.result(cluster.urls[0], "publish", {"channel": "a", "data": {"n": 1}})
        await cluster.result(cluster.urls[0], "publish", {"channel": "b", "data": {"n": 2}})
        for client in bob:
            await until(lambda: client.numbers("b") == [2] and client.numbers("a") == [1], what="bob's messages")
        for client in alice:
            await until(lambda: client.numbers("b") == [2], what="alice's message")
            assert client.numbers("a") == []

        # disconnect alice via node 1: her connections on all three nodes close without reconnect.
        assert await cluster.result(cluster.urls[1], "disconnect", {"user": "alice"}) is None
        for client in alice:
            await until(lambda: client.closed is not None, what="alice disconnected")
            assert client.closed == (3000, '{"reason":"disconnect","reconnect":false}')
        for client in bob:
            async def only_bobs(client: Recorder = client) -> bool:
                reply = await client.command("presence", {"channel": "b"})
                return sorted(i["user"] for i in reply["body"]["data"].values()) == ["bob"] * 3

            await until(only_bobs, what="alice's presence removed")
            assert not client.closed
        for client in alice + bob:
            await client.close()
        assert cluster.tracebacks() == {}
