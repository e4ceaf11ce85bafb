"""Debian's Chromium through Python playwright, and a sockjs-client test page.

``chromium()`` launches the browser with the team's flags (never a downloaded
one).  ``SOCKJS_PAGE`` is a page that loads sockjs-client 1.6.1 (copied from
node_modules into transports/clientjs, as served by the router at
``<prefix>/static/sockjs.min.js``) and exposes ``window.roundtrip(url, transport)``: open a SockJS connection
restricted to one transport, send a message, and report the transport in use
and the echo.
"""
from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: sockjs-client's names of the transports the browser tests go through
BROWSER_TRANSPORTS = ["websocket", "xhr-streaming", "xhr-polling", "eventsource", "htmlfile",
                      "jsonp-polling", "iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling"]

SOCKJS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>sockjs-client test page</title></head>
<body>
<script src="%(client_js)s"></script>
<script>
"use strict";
window.roundtrip = function (url, transport, timeoutMs) {
  return new Promise(function (resolve) {
    var sock = new SockJS(url, null, {transports: [transport]});
    var probe = "echo " + transport + " " + Math.random();
    var done = function (result) { clearTimeout(timer); resolve(result); };
    var timer = setTimeout(function () {
      done({error: "timeout", transport: sock.transport});
      sock.close();
    }, timeoutMs || 10000);
    sock.onopen = function () { sock.send(probe); };
    sock.onmessage = function (e) {
      done({transport: sock.transport, echo: e.data, sent: probe});
      sock.close();
    };
    sock.onclose = function (e) { done({error: "closed " + e.code + " " + e.reason}); };
  });
};
</script>
</body></html>
"""


def sockjs_page(client_js: str) -> str:
    """The test page, loading sockjs-client from ``client_js``."""
    return SOCKJS_PAGE % {"client_js": client_js}


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless Debian Chromium (playwright Browser)."""
    from playwright.async_api import async_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def roundtrip(page: Any, url: str, transport: str, timeout_ms: int = 10000) -> dict[str, Any]:
    """Run ``window.roundtrip`` in ``page`` (see the module docstring)."""
    result: dict[str, Any] = await page.evaluate(
        "([u, t, ms]) => window.roundtrip(u, t, ms)", [url, transport, timeout_ms])
    return result
