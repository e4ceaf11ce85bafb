"""Online status, occupancy and member events of one real sockhub (memory
engine) as a real backend receives them: signed, batched POSTs, debounced by
``status_grace``, retried until the backend answers 2xx, and published into
``status_channel`` too."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import websocket

from tests.cluster.clients import Recorder, until
from tests.support.cluster import SECRET
from tests.support.server import SockhubProcess
from tests.support.webhook_backend import WebhookBackend

GRACE = 2.0  # a reload (close, connect) fits well inside it on a loaded machine
HOOK_SECRET = "hook-secret"


@pytest.fixture
def backend() -> Iterator[WebhookBackend]:
    server = WebhookBackend(HOOK_SECRET)
    yield server
    server.close()


def config(backend: WebhookBackend, **extra: Any) -> dict[str, Any]:
    return {"secret": SECRET, "webhook_endpoint": backend.url, "webhook_secret": HOOK_SECRET,
            "status_grace": GRACE, "webhook_retry_max": 0.5, "webhook_timeout": 2, "presence": True,
            "namespaces": [{"name": "status", "anonymous": True}], **extra}


@pytest.mark.async_timeout(60)
async def test_tabs_reloads_and_the_grace(tmp_path: Path, backend: WebhookBackend) -> None:
    backend.start()
    with SockhubProcess(tmp_path, config(backend)) as hub:
        tab1 = await Recorder.connect(hub.url, "alice")
        tab2 = await Recorder.connect(hub.url, "alice")
        await until(lambda: backend.events("user_online", "alice"), what="alice online")
        await tab1.close()
        await asyncio.sleep(GRACE + 1)  # one tab left: nothing
        assert [e["name"] for e in backend.accepted()] == ["user_online"]
        await tab2.close()
        await until(lambda: backend.events("user_offline", "alice"), what="alice offline")

        tab3 = await Recorder.connect(hub.url, "alice")
        await until(lambda: len(backend.events("user_online", "alice")) == 2, what="alice online again")
        await tab3.close()
        tab4 = await Recorder.connect(hub.url, "alice")  # a reload inside the grace
        await asyncio.sleep(GRACE + 1)
        assert [e["name"] for e in backend.accepted()] == ["user_online", "user_offline", "user_online"]
        await tab4.close()
        await until(lambda: len(backend.events("user_offline", "alice")) == 2, what="alice offline again")
        await asyncio.sleep(0.5)
        assert [e["name"] for e in backend.accepted()] == ["user_online", "user_offline"] * 2
        assert all(hit.signed and hit.status == 200 for hit in backend.hits)
        ids = [e["id"] for e in backend.accepted()]
        assert len(set(ids)) == 4
        assert "Traceback" not in hub.logs()


@pytest.mark.async_timeout(60)
async def test_channels_and_presence_members(tmp_path: Path, backend: WebhookBackend) -> None:
    backend.start()
    with SockhubProcess(tmp_path, config(backend)) as hub:
        alice = await Recorder.connect(hub.url, "alice")
        bob = await Recorder.connect(hub.url, "bob")
        for client in (alice, bob):
            assert (await client.command("subscribe", {"channel": "room"}))["body"]["status"] is True
        await until(lambda: len(backend.events("member_added", "room")) == 2, what="members added")
        assert len(backend.events("channel_occupied", "room")) == 1
        assert {e["user_id"] for e in backend.events("member_added")} == {"alice", "bob"}
        assert (await alice.command("unsubscribe", {"channel": "room"}))["body"]["status"] is True
        await until(lambda: backend.events("member_removed", "room"), what="alice removed")
        assert [e["user_id"] for e in backend.events("member_removed")] == ["alice"]
        await bob.close()
        await until(lambda: backend.events("channel_vacated", "room"), what="room vacated")
        await until(lambda: backend.events("user_offline", "bob"), what="bob offline")
        assert [e["user_id"] for e in backend.events("member_removed")] == ["alice", "bob"]
        assert backend.events("user_offline", "alice") == []
        await alice.close()


@pytest.mark.async_timeout(90)
async def test_a_failing_backend_gets_every_event_again_with_its_id(tmp_path: Path, backend: WebhookBackend) -> None:
    backend.answer = 500
    with SockhubProcess(tmp_path, config(backend, webhook_batch_size=3, status_channel="status:events")) as hub:
        watcher = await Recorder.connect(hub.url, "dashboard")
        assert (await watcher.command("subscribe", {"channel": "status:events"}))["body"]["status"] is True
        users = [await Recorder.connect(hub.url, f"u{n}") for n in range(5)]
        await asyncio.sleep(1)  # down: connection refused
        backend.start()
        await until(lambda: len(backend.hits) >= 3, what="refused POSTs")  # 500: recorded, not accepted
        for user in users:
            await user.close()
        await asyncio.sleep(1)
        backend.answer = 200
        await until(lambda: len(backend.events("user_offline")) == 5, what="every event delivered")
        wanted = {("user_online", f"u{n}") for n in range(5)} | {("user_offline", f"u{n}") for n in range(5)}
        accepted = backend.accepted()
        assert {(e["name"], e["user_id"]) for e in accepted} == wanted | {("user_online", "dashboard")}
        assert len(accepted) == len({e["id"] for e in accepted}) == 11  # none twice once accepted
        assert all(len(hit.events) <= 3 for hit in backend.hits)
        refused = [e for hit in backend.hits if hit.status == 500 for e in hit.events]
        by_id = {e["id"]: e for e in accepted}
        assert refused and all(by_id[e["id"]] == e for e in refused)  # repeats: the same event, same id
        # the dashboard saw each event once, as the backend did
        await until(lambda: len(watcher.messages) == 11, what="status channel")
        assert sorted(data["id"] for _, data, _ in watcher.messages) == sorted(by_id)
        await watcher.close()


def v2_session(port: int, user: str, channel: str, hold: float) -> None:
    """A protocol v2 JSON client (blocking): connect with a JWT, subscribe,
    stay ``hold`` seconds, close."""
    token = jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/websocket", timeout=10)
    try:
        ws.send(json.dumps({"id": 1, "connect": {"token": token}}) + "\n"
                + json.dumps({"id": 2, "subscribe": {"channel": channel}}))
        replies: list[dict[str, Any]] = []
        while len(replies) < 2:
            replies += [json.loads(line) for line in ws.recv().split("\n")]
        assert replies[1] == {"id": 2, "subscribe": {}}, replies
        time.sleep(hold)
    finally:
        ws.close(timeout=2)


@pytest.mark.async_timeout(60)
async def test_protocol_v2_clients_count_the_same(tmp_path: Path, backend: WebhookBackend) -> None:
    backend.start()
    with SockhubProcess(tmp_path, config(backend)) as hub:
        session = asyncio.create_task(asyncio.to_thread(v2_session, hub.port, "carol", "lobby", 2.0))
        await until(lambda: backend.events("member_added", "lobby"), what="carol in the lobby")
        await session
        await until(lambda: backend.events("user_offline", "carol"), what="carol offline")
        await until(lambda: backend.events("member_removed", "lobby") and backend.events("channel_vacated", "lobby"),
                    what="lobby empty")
        names = sorted(e["name"] for e in backend.accepted())
        assert names == ["channel_occupied", "channel_vacated", "member_added", "member_removed",
                         "user_offline", "user_online"]


@pytest.mark.async_timeout(90)
@pytest.mark.parametrize("client", ["curl", "simple"])
async def test_the_posts_reuse_one_connection(tmp_path: Path, backend: WebhookBackend, client: str) -> None:
    """Five users one after the other: five batches (one POST each); libcurl
    sends them over one kept-alive TCP connection, the simple client opens
    one per POST (the comparison that shows the count measures reuse)."""
    backend.start()
    with SockhubProcess(tmp_path, config(backend, proxy_http_client=client)) as hub:
        users = []
        for n in range(5):
            users.append(await Recorder.connect(hub.url, f"k{n}"))
            await until(lambda: len(backend.events("user_online")) == n + 1, what=f"k{n} online")
        assert len(backend.hits) == 5 and all(hit.status == 200 for hit in backend.hits)
        if client == "curl":
            assert backend.connections == 1, backend.connections
        else:
            assert backend.connections == 5, backend.connections
        for user in users:
            await user.close()
        assert "Traceback" not in hub.logs()
