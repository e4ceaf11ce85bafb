"""Admin on two sockhub nodes sharing a real Redis: a message published on one
node's watched channel reaches the admin watching on the other, and ``stats``
through the admin socket lists both nodes."""
from __future__ import annotations

import asyncio
from pathlib import Path

from tests.admin.clients import api_call, read_json
from tests.admin.test_admin_e2e import admin_socket, call, login
from tests.support.redis import redis_server
from tests.support.server import SockhubProcess

SECRET = "redis-admin-secret"


async def test_watch_and_stats_across_nodes(tmp_path: Path) -> None:
    with redis_server() as redis:
        config = {"secret": SECRET, "admin_password": "pw", "admin_secret": "as", "watch": True,
                  "engine": "redis", "redis_url": redis.url, "redis_prefix": "admintest",
                  "node_ping_interval": 0.2}
        with SockhubProcess(tmp_path, config, args=["--web"], name="a") as a, \
                SockhubProcess(tmp_path, config, args=["--web"], name="b") as b:
            watcher = await admin_socket(b.url, login(b.url, "pw"), watch=True)
            [item] = await api_call(a.url, SECRET, "publish", {"channel": "anywhere", "data": {"from": "a"}})
            assert item["error"] is None
            push = await read_json(watcher)
            assert push["method"] == "message" and push["body"]["data"] == {"from": "a"}

            [info] = await call(watcher, {"method": "info"})
            assert info["body"]["data"]["engine"] == "Redis"
            for _ in range(100):  # nodes learn of each other through node pings
                [stats] = await call(watcher, {"method": "stats"})
                if len(stats["body"]["data"]["nodes"]) == 2:
                    break
                await asyncio.sleep(0.05)
            assert len(stats["body"]["data"]["nodes"]) == 2
            watcher.close()
