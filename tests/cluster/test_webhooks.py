"""Status events across real nodes on one real Redis: "first in / last out"
is decided on the cluster's state, a node killed with -9 has its users go
offline once (from a survivor, after their leases run out), and a backend
down for 30 s gets every event afterwards, repeats with the same id."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.cluster.clients import Recorder, until
from tests.support.cluster import Cluster
from tests.support.webhook_backend import WebhookBackend

HOOK_SECRET = "hook-secret"


@pytest.fixture
def backend() -> Iterator[WebhookBackend]:
    server = WebhookBackend(HOOK_SECRET)
    yield server
    server.close()


def config(backend: WebhookBackend) -> dict[str, Any]:
    return {"webhook_endpoint": backend.url, "webhook_secret": HOOK_SECRET, "status_grace": 1,
            "presence_ping_interval": 0.5, "presence_expire_interval": 2, "webhook_timeout": 1,
            "webhook_retry_max": 0.5}


@pytest.mark.async_timeout(90)
async def test_a_killed_node_s_users_go_offline_once_from_a_survivor(tmp_path: Path,
                                                                      backend: WebhookBackend) -> None:
    backend.start()
    with Cluster(tmp_path, 3, config(backend), nginx=False) as cluster:
        alice0 = await Recorder.connect(cluster.urls[0], "alice")
        alice1 = await Recorder.connect(cluster.urls[1], "alice")
        bob0 = await Recorder.connect(cluster.urls[0], "bob")
        await until(lambda: backend.events("user_online", "bob") and backend.events("user_online", "alice"),
                    what="both online")
        await asyncio.sleep(0.5)
        cluster.kill_node(0)
        await until(lambda: backend.events("user_offline", "bob"), timeout=20, what="bob offline")
        await asyncio.sleep(3)  # alice's lease on node0 ran out too, but she is still on node1
        assert backend.events("user_offline", "alice") == []
        await alice1.close()
        await until(lambda: backend.events("user_offline", "alice"), timeout=20, what="alice offline")
        await asyncio.sleep(3)
        # as a backend does, drop repeats by id (node0 may die between a 200 and its ack)
        unique = {e["id"]: e for e in backend.accepted()}
        names = sorted((e["name"], e["user_id"]) for e in unique.values())
        assert names == [("user_offline", "alice"), ("user_offline", "bob"),
                         ("user_online", "alice"), ("user_online", "bob")]
        offline_from = {hit.node for hit in backend.hits for e in hit.events if e["name"] == "user_offline"}
        assert offline_from and offline_from <= {"node1", "node2"}
        assert all(hit.signed for hit in backend.hits)
        for client in (alice0, bob0):
            await client.close()
        assert cluster.tracebacks() == {}


@pytest.mark.async_timeout(150)
async def test_a_backend_down_for_30_s_gets_every_event(tmp_path: Path, backend: WebhookBackend) -> None:
    with Cluster(tmp_path, 3, config(backend), nginx=False) as cluster:
        loop = asyncio.get_running_loop()
        down_until = loop.time() + 30
        users = 0
        while loop.time() < down_until - 3:  # users come and go on every node while the backend is down
            client = await Recorder.connect(cluster.urls[users % 3], f"u{users}")
            await asyncio.sleep(1)
            await client.close()
            users += 1
        await asyncio.sleep(max(0.0, down_until - loop.time()))
        backend.answer = 500
        backend.start()
        await until(lambda: len(backend.hits) >= 2, what="refused POSTs")
        backend.answer = 200
        wanted = {(name, f"u{n}") for n in range(users) for name in ("user_online", "user_offline")}
        await until(lambda: {(e["name"], e["user_id"]) for e in backend.accepted()} == wanted, timeout=30,
                    what="every event delivered")
        await asyncio.sleep(2)
        accepted = backend.accepted()
        assert len(accepted) == len({e["id"] for e in accepted}) == 2 * users
        # in order: each user online before offline
        order = [(e["name"], e["user_id"]) for e in accepted]
        assert all(order.index(("user_online", u)) < order.index(("user_offline", u)) for _, u in wanted)
        by_id = {e["id"]: e for e in accepted}
        refused = [e for hit in backend.hits if hit.status == 500 for e in hit.events]
        assert refused and all(by_id[e["id"]] == e for e in refused)
        assert users >= 20 and cluster.tracebacks() == {}


@pytest.mark.async_timeout(90)
async def test_a_redis_restarted_empty_learns_who_is_online_again(tmp_path: Path, backend: WebhookBackend) -> None:
    backend.start()
    with Cluster(tmp_path, 2, config(backend), nginx=False) as cluster:
        alice = await Recorder.connect(cluster.urls[0], "alice")
        assert (await alice.command("subscribe", {"channel": "room"}))["body"]["status"] is True
        await until(lambda: backend.events("channel_occupied", "room"), what="room occupied")
        await asyncio.sleep(0.5)  # the drainer's acknowledgement
        cluster.kill_redis()
        cluster.start_redis()  # empty: it forgot alice and the room
        await until(lambda: len(backend.events("user_online", "alice")) == 2, timeout=30, what="alice online again")
        await until(lambda: len(backend.events("channel_occupied", "room")) == 2, what="room occupied again")
        await alice.close()
        await until(lambda: backend.events("user_offline", "alice") and backend.events("channel_vacated", "room"),
                    timeout=20, what="alice offline, room vacated")
        assert all(hit.signed for hit in backend.hits)
