"""The admin page (and a large API request) through the project's nginx config on a port that is not 80.

Chromium opens the page at nginx, logs in with the configured
``admin_password``, and publishes from the actions form; a subscriber on each
of the two Redis-engine nodes behind nginx gets the publication, whichever
node the admin socket reached.  With ``proxy_set_header Host $host`` (the
port dropped) the admin socket's same-origin check answered 403 here and the
page never left "Cannot reach the node" (issue 16, item 4)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from tests.admin.clients import RawClient
from tests.support.cluster import SECRET, Cluster
from tests.support.server import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.async_timeout(120)]


def _load_screenshots() -> Any:
    spec = importlib.util.spec_from_file_location("sockhub_screenshots", ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


shots = _load_screenshots()
ADMIN = {"web": True, "admin_password": shots.PASSWORD, "admin_secret": "nginx-admin-secret"}


async def test_admin_page_through_nginx_on_another_port(tmp_path: Path) -> None:
    with Cluster(tmp_path, count=2, config=ADMIN) as cluster:
        assert cluster.nginx is not None and cluster.nginx.port != 80
        subscribers = [await RawClient.connect(url, SECRET, user=f"reader{i}") for i, url in enumerate(cluster.urls)]
        for subscriber in subscribers:
            assert "error" not in await subscriber.command("subscribe", {"channel": "news"})
        playwright = await async_playwright().start()
        browser = await shots.launch(playwright)
        try:
            page = await browser.new_page(viewport=shots.VIEWPORT)
            await shots.admin_login(page, cluster.nginx_url, shots.PASSWORD)
            assert await page.text_content("#status") == "connected"
            data = {"text": "published through nginx"}
            reply = await shots.publish_from_admin(page, "news", data)
            assert reply["method"] == "publish" and reply["error"] is None, reply
            for subscriber in subscribers:
                push = await subscriber.next_push()
                assert push["method"] == "message", push
                assert push["body"]["channel"] == "news" and push["body"]["data"] == data
        finally:
            for subscriber in subscribers:
                subscriber.close()
            await browser.close()
            await playwright.stop()
        assert " 403 " not in (cluster.nginx.tmp / "access.log").read_text()
        assert cluster.tracebacks() == {}


async def test_api_bodies_over_nginx_default_limit_pass(tmp_path: Path) -> None:
    """A 2 MiB API request through nginx (whose own default limit is 1 MiB)
    reaches a node and its subscribers."""
    with Cluster(tmp_path, count=2) as cluster:
        subscriber = await RawClient.connect(cluster.urls[1], SECRET, user="big")
        try:
            assert "error" not in await subscriber.command("subscribe", {"channel": "big"})
            data = "x" * (2 * 1024 * 1024)
            status, items = await cluster.api(cluster.nginx_url, "publish", {"channel": "big", "data": data})
            assert status == 200 and items[0]["error"] is None, (status, str(items)[:200])
            push = await subscriber.next_push(timeout=10)
            assert push["body"]["channel"] == "big" and push["body"]["data"] == data
        finally:
            subscriber.close()
