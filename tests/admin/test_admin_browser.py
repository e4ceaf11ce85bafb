"""The admin page in Chromium against a real sockhub (``--web``): login refused
and accepted, the node shown, a publish from the actions form reaching a
subscribed raw-websocket client and the live view, and the screenshot showing
them.  The server and the page flow are those of scripts/screenshots.py."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.async_api import async_playwright

from tests.admin.clients import RawClient
from tests.admin.shots import ink_in_box, png_size
from tests.support.net import free_port
from tests.support.server import ROOT, SockhubProcess

pytestmark = [pytest.mark.browser, pytest.mark.async_timeout(90)]


def _load_screenshots() -> Any:
    spec = importlib.util.spec_from_file_location("sockhub_screenshots", ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


shots = _load_screenshots()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    with SockhubProcess(tmp_path_factory.mktemp("admin"), shots.CONFIG, args=["--web"]) as process:
        yield process


async def browser_page() -> Any:
    """(playwright, browser, page), opened inside the test's own event loop
    (async fixtures do not run under the suite's loop-per-test runner)."""
    playwright = await async_playwright().start()
    browser = await shots.launch(playwright)
    return playwright, browser, await browser.new_page(viewport=shots.VIEWPORT)


async def test_wrong_password_is_refused(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    try:
        await page.goto(hub.url + "/")
        await page.wait_for_selector("#login-form", state="visible")
        await page.fill("#password", "not-the-password")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_function("document.getElementById('login-error').textContent !== ''")
        assert await page.text_content("#login-error") == "wrong password"
        assert await page.is_hidden("#dashboard")
        assert await page.evaluate("sessionStorage.getItem('sockhub.admin.token')") is None
    finally:
        await browser.close()
        await playwright.stop()


async def test_right_password_shows_the_node(hub: SockhubProcess) -> None:
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        assert await page.is_hidden("#login")
        assert "Memory engine" in (await page.text_content("#server-info") or "")
        cards = page.locator("#nodes .node")
        assert await cards.count() == 1
        uptime = await page.text_content("#nodes .node [data-figure='Uptime'] dd")
        assert uptime and uptime != "–"
        memory = await page.text_content("#nodes .node [data-figure='Memory'] dd")
        assert memory and memory != "–" and any(unit in memory for unit in ("MiB", "MB", "KiB", "kB", "GiB"))
        # the figures follow the node: a client connecting shows up
        client = await RawClient.connect(hub.url, shots.CONFIG["secret"], user="figure-user")
        try:
            await shots.wait_figure(page, "Connections", 1)
            await shots.wait_figure(page, "Unique users", 1)
        finally:
            client.close()
    finally:
        await browser.close()
        await playwright.stop()


async def test_the_page_loads_its_favicon_and_nothing_fails(hub: SockhubProcess) -> None:
    """Issue 16: a favicon.ico 404, logged as a warning, on every page load."""
    playwright, browser, page = await browser_page()
    failed: list[str] = []
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        await page.wait_for_selector("#nodes .node .chart canvas")
        icon = await page.eval_on_selector("link[rel=icon]", "link => link.href")
        assert icon == hub.url + "/favicon.svg"
        response = await page.request.get(icon)
        assert response.status == 200 and response.headers["content-type"] == "image/svg+xml"
    finally:
        await browser.close()
        await playwright.stop()
    assert failed == []
    assert [line for line in hub.logs().splitlines() if "favicon" in line] == []


async def test_publish_from_the_actions_form(hub: SockhubProcess, tmp_path: Path) -> None:
    subscriber = await RawClient.connect(hub.url, shots.CONFIG["secret"], user="reader")
    assert "error" not in await subscriber.command("subscribe", {"channel": "news"})
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        data = {"text": "hello from the admin page"}
        reply = await shots.publish_from_admin(page, "news", data)
        assert reply["method"] == "publish" and reply["error"] is None

        push = await subscriber.next_push()
        assert push["method"] == "message"
        assert push["body"]["channel"] == "news" and push["body"]["data"] == data

        await page.wait_for_selector("#live li")
        live = await page.text_content("#live li") or ""
        assert "news" in live and "hello from the admin page" in live

        png = tmp_path / "admin.png"
        await page.screenshot(path=str(png))
        assert png_size(png) == (shots.VIEWPORT["width"], shots.VIEWPORT["height"])
        assert await ink_in_box(page, png, "#live li") > 300  # the message text is in the picture
        assert await ink_in_box(page, png, "#nodes .node") > 300  # and the node's figures
        assert await page.is_hidden("#live-empty")
    finally:
        subscriber.close()
        await browser.close()
        await playwright.stop()


async def test_screenshot_script(hub: SockhubProcess, tmp_path: Path) -> None:
    paths = await shots.capture(hub.url, shots.CONFIG["secret"], tmp_path, activity=2)
    assert [p.name for p in paths] == ["admin-login.png", "admin.png", "demo.png"]
    for path in paths:
        width, height = png_size(path)
        assert width == shots.VIEWPORT["width"]
        # the dashboard is taken whole (charts, actions, live messages and events)
        assert height > shots.VIEWPORT["height"] if path.name == "admin.png" else height == shots.VIEWPORT["height"]
        assert 5_000 < path.stat().st_size < shots.MAX_PNG_BYTES


async def test_insecure_admin_opens_without_login(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": "s"}, args=["--web", "--insecure_admin"]) as hub:
        playwright, browser, page = await browser_page()
        try:
            await page.goto(hub.url + "/")
            await page.wait_for_selector("#nodes .node")
            assert await page.is_hidden("#login")
            assert await page.text_content("#status") == "connected"
        finally:
            await browser.close()
            await playwright.stop()


async def test_page_under_a_prefix_on_the_admin_port(tmp_path: Path) -> None:
    admin_port = free_port()
    config = {**shots.CONFIG, "http_prefix": "/ops"}
    with SockhubProcess(tmp_path, config, args=["--web", "--admin_port", str(admin_port)]):
        playwright, browser, page = await browser_page()
        try:
            await shots.admin_login(page, f"http://127.0.0.1:{admin_port}/ops", shots.PASSWORD)
            reply = await shots.publish_from_admin(page, "news", {"via": "prefix"})
            assert reply["error"] is None
            await page.wait_for_selector("#live li")
            assert "prefix" in (await page.text_content("#live li") or "")
            # the chart library comes from the admin port too, under the prefix
            await page.wait_for_selector("#nodes .node .chart canvas")
        finally:
            await browser.close()
            await playwright.stop()


async def test_every_action_gets_the_nodes_reply(hub: SockhubProcess) -> None:
    """Each method of the actions form sends its fields and shows the node's reply item."""
    fields = {"channel": "news", "channels": "news, sport", "user": "reader", "data": '{"n": 1}'}
    playwright, browser, page = await browser_page()
    try:
        await shots.admin_login(page, hub.url, shots.PASSWORD)
        methods = await page.eval_on_selector_all("#method option", "options => options.map(o => o.value)")
        assert set(methods) >= {"publish", "broadcast", "presence", "history", "channels",
                                "unsubscribe", "disconnect", "subscribe"}
        for method in methods:
            await page.select_option("#method", method)
            for name, value in fields.items():
                if await page.is_visible(f"#{name}"):
                    await page.fill(f"#{name}", value)
            await page.evaluate("document.getElementById('reply').textContent = ''")
            await page.click("#submit-action")
            await page.wait_for_function("document.getElementById('reply').textContent !== ''")
            reply = json.loads(await page.text_content("#reply") or "{}")
            assert reply["method"] == method and "error" in reply, reply
            # errors here are the node's own (e.g. presence not enabled), never a malformed request
            assert reply["error"] in (None, "not available"), reply
    finally:
        await browser.close()
        await playwright.stop()
