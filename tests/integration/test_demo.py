"""The quick-start demo in Chromium: ``sockhub --insecure --web`` serves
/demo/; a publish of {"image": url} on ``screen-updates`` through the API
changes the picture in every open tab, which the screenshots show."""
from __future__ import annotations

import base64
from typing import Any, Callable

import cent
import pytest

from tests.integration.browser import chromium
from tests.integration.conftest import SECRET
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
DAY_SKY = (0x8F, 0xD3, 0xFF)  # static/demo/day.svg background
NIGHT_SKY = (0x0B, 0x10, 0x26)  # static/demo/night.svg background

# Decodes a PNG in the browser itself (no imaging library needed) and reads
# the colour of one pixel.
PIXEL_AT = """async ([png, x, y]) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  return Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def close_to(colour: list[int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(colour, expected))


async def picture_colour(decoder: Any, png: bytes) -> list[int]:
    return await decoder.evaluate(PIXEL_AT, [base64.b64encode(png).decode(), 20, 20])


@pytest.mark.browser
@pytest.mark.async_timeout(90)
async def test_demo_picture_changes_in_every_tab(sockhub: Start) -> None:
    hub = sockhub({"insecure": True}, "--web")
    async with chromium() as browser:
        tabs = [await browser.new_page(viewport={"width": 800, "height": 900}) for _ in range(2)]
        for tab in tabs:
            await tab.goto(hub.url + "/demo/")
            await tab.wait_for_function("document.body.dataset.state === 'subscribed'", timeout=15000)
            await tab.wait_for_function("document.getElementById('picture').naturalWidth > 0")
        decoder = await browser.new_page()

        before = [await tab.locator("#picture").screenshot() for tab in tabs]
        for shot in before:
            assert close_to(await picture_colour(decoder, shot), DAY_SKY)

        cent.Client(hub.url, SECRET, timeout=5).publish("screen-updates", {"image": "/demo/night.svg"})
        for tab in tabs:
            await tab.wait_for_function("document.body.dataset.image === '/demo/night.svg'", timeout=10000)
            await tab.wait_for_function(
                "document.getElementById('picture').complete && document.getElementById('picture').naturalWidth > 0")
        after = [await tab.locator("#picture").screenshot() for tab in tabs]
        for shot_before, shot_after in zip(before, after):
            assert shot_before != shot_after
            assert close_to(await picture_colour(decoder, shot_after), NIGHT_SKY)
        assert await tabs[0].locator("#caption").inner_text() == "/demo/night.svg"


@pytest.mark.browser
@pytest.mark.async_timeout(60)
@pytest.mark.parametrize("prefix", ["", "/rt"])
async def test_demo_uses_the_js_served_by_sockhub(sockhub: Start, prefix: str) -> None:
    hub = sockhub({"insecure": True, "http_prefix": prefix}, "--web")
    requested: list[str] = []
    failed: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
        await page.goto(hub.url + prefix + "/demo/")
        await page.wait_for_function("document.body.dataset.state === 'subscribed'", timeout=15000)
        # the curl hint names this server (scheme, host, port, prefix), not localhost:8000
        hint = await page.text_content("#hint") or ""
        assert f"curl -X POST {hub.url}{prefix}/api/ " in hint and "localhost:8000" not in hint
        # our own favicon, served with the page (no favicon.ico 404 in the log)
        icon = await page.eval_on_selector("link[rel=icon]", "link => link.href")
        assert icon == f"{hub.url}{prefix}/demo/favicon.svg"
        response = await page.request.get(icon)
        assert response.status == 200 and response.headers["content-type"] == "image/svg+xml"
    assert failed == []
    scripts = [url for url in requested if url.endswith(".js")]
    assert f"{hub.url}{prefix}/static/js/centrifuge.js" in scripts
    assert f"{hub.url}{prefix}/static/js/sockjs.min.js" in scripts
    assert any(url.startswith(f"{hub.url}{prefix}/connection/") for url in requested)
    assert all(url.startswith(hub.url) for url in requested), requested  # no CDN, nothing external


def test_demo_only_with_web(sockhub: Start) -> None:
    from tests.integration.httpclient import request

    hub = sockhub({"insecure": True})
    assert request(hub.port, "GET", "/demo/").status == 404
    assert request(hub.port, "GET", "/static/js/centrifuge.js").status == 200


@pytest.mark.browser
@pytest.mark.async_timeout(60)
async def test_demo_with_a_secret_takes_gentoken_parameters(sockhub: Start) -> None:
    import json
    import urllib.parse

    from tests.support.server import run_sockhub

    hub = sockhub({}, "--web")  # not insecure: the page needs a token
    token = run_sockhub(["gentoken", "--user", "demo", "--config", str(hub.config_path)])
    assert token.returncode == 0, token.stderr
    fragment = urllib.parse.quote(token.stdout.strip())
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(hub.url + "/demo/#" + fragment)
        await page.wait_for_function("document.body.dataset.state === 'subscribed'", timeout=15000)
        cent.Client(hub.url, SECRET, timeout=5).publish("screen-updates", {"image": "/demo/night.svg"})
        await page.wait_for_function("document.body.dataset.image === '/demo/night.svg'", timeout=10000)
        # Without the parameters the page cannot connect to a secured server.
        bare = await browser.new_page()
        await bare.goto(hub.url + "/demo/")
        await bare.wait_for_function("document.body.dataset.state === 'disconnected'", timeout=15000)
    assert json.loads(token.stdout)["user"] == "demo"
