"""``allowed_origins`` with a real browser: Chromium opens the websocket
from a page on an allowed origin (its own Origin header, which a page
cannot forge) and from one that is not listed; the first connects with a
protocol v2 JWT, the second is refused at the handshake (403: the browser
sees the socket fail before it opens)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tornado.web import Application, RequestHandler

from tests.integration.v5config import Keys, v5_config
from tests.support.browser import chromium
from tests.support.net import free_port, serving
from tests.support.server import SockhubProcess

KEYS = Keys()

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body><script>
window.attempt = function (url, token) {
  return new Promise(function (resolve) {
    var ws = new WebSocket(url), opened = false;
    ws.onopen = function () { opened = true; ws.send(JSON.stringify({id: 1, connect: {token: token}})); };
    ws.onmessage = function (event) { resolve({opened: opened, reply: JSON.parse(event.data)}); ws.close(); };
    ws.onclose = function (event) { resolve({opened: opened, code: event.code}); };
  });
};
</script></body></html>"""


class PageHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE)


@pytest.mark.browser
@pytest.mark.async_timeout(90)
async def test_a_browser_on_an_allowed_origin_connects_and_another_is_refused(tmp_path: Path) -> None:
    port = free_port()
    allowed = f"http://127.0.0.1:{port}"  # the same page as http://localhost:{port} is another origin
    config: dict[str, Any] = {**v5_config(KEYS), "allowed_origins": [allowed]}
    with SockhubProcess(tmp_path, config, name="origins") as hub:
        async with serving(Application([(r"/", PageHandler)]), port), chromium() as browser:
            page = await browser.new_page()
            token = KEYS.token("RS256", sub="42")
            await page.goto(allowed + "/")
            result = await page.evaluate("([url, token]) => window.attempt(url, token)", [hub.ws_url, token])
            assert result["opened"] and result["reply"]["connect"]["client"], result
            await page.goto(f"http://localhost:{port}/")
            result = await page.evaluate("([url, token]) => window.attempt(url, token)", [hub.ws_url, token])
            assert result == {"opened": False, "code": 1006}, result
        logs = hub.logs()
    assert "Traceback" not in logs, logs
