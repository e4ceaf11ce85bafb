"""SIGHUP on a real sockhub: a new namespace, channel options, secret and
admin password apply to what comes next, and open connections stay open."""
from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from tests.admin.clients import RawClient, api_call
from tests.support.server import FAST_TIMINGS, SockhubProcess

OLD_SECRET, NEW_SECRET = "old-secret", "new-secret"
OLD: dict[str, Any] = {"secret": OLD_SECRET, "admin_password": "old-pass", "admin_secret": "adm", "namespaces": []}
NEW: dict[str, Any] = {"secret": NEW_SECRET, "admin_password": "new-pass", "admin_secret": "adm",
                       "namespaces": [{"name": "chat", "history_size": 10, "history_lifetime": 60}]}


async def reload_with(hub: SockhubProcess, config: dict[str, Any]) -> None:
    """Rewrite the config file, send SIGHUP, wait for the server to say it reloaded."""
    hub.config_path.write_text(json.dumps({**FAST_TIMINGS, **config}))
    seen = hub.logs().count("configuration reloaded")
    hub.signal(signal.SIGHUP)
    for _ in range(200):
        if hub.logs().count("configuration reloaded") > seen:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("no reload logged:\n" + hub.logs())


async def login_status(hub: SockhubProcess, password: str) -> int:
    try:
        resp = await AsyncHTTPClient().fetch(hub.url + "/auth/", method="POST", body=urlencode({"password": password}))
    except HTTPClientError as exc:
        return exc.code
    return resp.code


async def test_sighup_applies_namespaces_and_keeps_connections(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, OLD, args=["--web"]) as hub:
        old = await RawClient.connect(hub.url, OLD_SECRET, user="old")
        assert "error" not in await old.command("subscribe", {"channel": "news"})
        refused = await old.command("subscribe", {"channel": "chat:1"})
        assert refused["error"] == "namespace not found"

        await reload_with(hub, NEW)

        # a new connection signs with the new secret and gets the new namespace
        new = await RawClient.connect(hub.url, NEW_SECRET, user="new")
        assert "error" not in await new.command("subscribe", {"channel": "chat:1"})
        # the old connection is still open, keeps its subscription, and sees the namespace too
        assert "error" not in await old.command("subscribe", {"channel": "chat:1"})
        [item] = await api_call(hub.url, NEW_SECRET, "publish", {"channel": "news", "data": {"after": "reload"}})
        assert item["error"] is None
        assert (await old.next_push())["body"]["data"] == {"after": "reload"}
        # the namespace's channel options (history) apply
        await api_call(hub.url, NEW_SECRET, "publish", {"channel": "chat:1", "data": "kept"})
        [history] = await api_call(hub.url, NEW_SECRET, "history", {"channel": "chat:1"})
        assert [m["data"] for m in history["body"]["data"]] == ["kept"]
        # the old secret signs nothing any more; the new admin password logs in
        with pytest.raises(HTTPClientError) as refused_sign:
            await api_call(hub.url, OLD_SECRET, "channels", {})
        assert refused_sign.value.code == 401
        assert await login_status(hub, "old-pass") == 401
        assert await login_status(hub, "new-pass") == 200
        assert old.open and new.open
        old.close()
        new.close()


async def test_bad_config_on_sighup_keeps_the_old_one(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, OLD) as hub:
        client = await RawClient.connect(hub.url, OLD_SECRET, user="u")
        hub.config_path.write_text("{not json")
        hub.signal(signal.SIGHUP)
        for _ in range(200):
            if "reload refused" in hub.logs():
                break
            await asyncio.sleep(0.025)
        assert "reload refused" in hub.logs()
        assert "error" not in await client.command("subscribe", {"channel": "news"})
        [item] = await api_call(hub.url, OLD_SECRET, "channels", {})
        assert item["error"] is None and "news" in item["body"]["data"]
        client.close()
