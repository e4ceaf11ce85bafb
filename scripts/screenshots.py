#!/usr/bin/env python3
"""Screenshots for the README, taken from a real running sockhub.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts ``sockhub --web`` on a free port with a throw-away config (a secret,
an admin password, ``watch`` on, a node ping every second), opens the demo
page twice (centrifuge-js clients of users alice and bob, subscribed to
``screen-updates``) and the admin page in Chromium, logs in, makes some
traffic for ``--activity`` seconds (raw-websocket readers joining one by one,
API publishes at a changing rate) so the charts and the live events have
something to show, publishes a news item and then
``{"image": "/demo/night.svg"}`` from the admin actions form, waits until both
demo tabs show the new picture, lets one reader leave and another join (so the
newest events are of every kind), waits until the admin live view and events
show them and the node figures count them, and saves:

* ``admin-login.png``: the login form;
* ``admin.png``: the whole admin page after the publish (charts, actions,
  live messages, live events);
* ``demo.png``: the demo page after the publish.

Each PNG must stay under 300 KiB (the script fails otherwise).  The helpers
(:func:`launch`, :func:`admin_login`, :func:`publish_from_admin`) are shared
with tests/admin.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.async_api import Browser, Page, Playwright, ViewportSize, async_playwright  # noqa: E402

from app.dialects.v1x.auth import connection_token  # noqa: E402
from tests.admin.clients import RawClient, api_call  # noqa: E402
from tests.support.server import SockhubProcess  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
MAX_PNG_BYTES = 300 * 1024
PASSWORD = "admin-demo-password"
CONFIG: dict[str, Any] = {
    "secret": "screenshot-secret",
    "admin_password": PASSWORD,
    "admin_secret": "screenshot-admin-secret",
    "watch": True,
    "node_ping_interval": 1,
}
#: Seconds of made-up traffic before the pictures (the charts need a history).
ACTIVITY_S = 40.0
#: Raw-websocket readers of channel "news" (and a room each) joining during the activity.
READERS = 8
DEMO_CHANNEL = "screen-updates"
DEMO_IMAGE = "/demo/night.svg"
DEMO_USERS = ("alice", "bob")
#: Published from the admin actions form, in order; the last one swaps the demo picture.
PUBLICATIONS: list[tuple[str, Any]] = [
    ("news", {"text": "release 0.1.0 is out"}),
    (DEMO_CHANNEL, {"image": DEMO_IMAGE}),
]


async def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with the team's flags (never a download)."""
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    return await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def demo_fragment(secret: str, user: str) -> str:
    """The URL fragment the demo page reads its connect parameters from."""
    timestamp = str(int(time.time()))
    params = {"user": user, "timestamp": timestamp, "info": "",
              "token": connection_token(secret, user, timestamp, "")}
    return "#" + quote(json.dumps(params))


async def admin_login(page: Page, base_url: str, password: str) -> None:
    """Open the admin page and log in; returns once the node cards show."""
    await page.goto(base_url + "/")
    await page.wait_for_selector("#login-form", state="visible")
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#nodes .node")


async def publish_from_admin(page: Page, channel: str, data: Any) -> dict[str, Any]:
    """Fill the actions form with a publish, send it, return the reply shown."""
    await page.select_option("#method", "publish")
    await page.fill("#channel", channel)
    await page.fill("#data", json.dumps(data))
    await page.evaluate("document.getElementById('reply').dataset.before = document.getElementById('reply').textContent")
    await page.click("#submit-action")
    await page.wait_for_function("(() => { const r = document.getElementById('reply');"
                                 " return r.textContent !== r.dataset.before; })()")
    reply: dict[str, Any] = json.loads(await page.text_content("#reply") or "{}")
    return reply


async def wait_figure(page: Page, label: str, minimum: int) -> None:
    """Until the first node card shows at least ``minimum`` for ``label``."""
    await page.wait_for_function(
        "([label, minimum]) => { const cell = document.querySelector("
        "`#nodes .node [data-figure='${label}'] dd`);"
        " return cell && Number(cell.textContent.replace(/,/g, '')) >= minimum; }",
        arg=[label, minimum])


async def make_traffic(base_url: str, secret: str, seconds: float) -> list[RawClient]:
    """Readers of "news" joining one by one and API publishes to it at a
    rate that rises and falls, for ``seconds``; returns the readers."""
    readers: list[RawClient] = []
    steps = max(1, int(seconds / 0.5))
    for step in range(steps):
        if len(readers) < READERS and step % max(1, steps // READERS) == 0:
            reader = await RawClient.connect(base_url, secret, user=f"reader-{len(readers) + 1}")
            await reader.command("subscribe", {"channel": "news"})
            await reader.command("subscribe", {"channel": f"room-{len(readers) % 3}"})
            readers.append(reader)
        burst = int(6 + 5 * math.sin(step / 6))
        for n in range(burst):
            await api_call(base_url, secret, "publish", {"channel": "news", "data": {"tick": step, "n": n}})
        await asyncio.sleep(0.5)
    return readers


async def capture(base_url: str, secret: str, out: Path, activity: float = ACTIVITY_S) -> list[Path]:
    """Drive the demo and the admin page of the server at ``base_url``."""
    out.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            demos = []
            for user in DEMO_USERS:  # two tabs, so the figures show more than one client
                demo = await browser.new_page(viewport=VIEWPORT)
                await demo.goto(base_url + "/demo/" + demo_fragment(secret, user))
                await demo.wait_for_function("document.body.dataset.state === 'subscribed'")
                demos.append(demo)

            admin = await browser.new_page(viewport=VIEWPORT)
            await admin.goto(base_url + "/")
            await admin.wait_for_selector("#login-form", state="visible")
            await admin.screenshot(path=str(out / "admin-login.png"))
            await admin_login(admin, base_url, PASSWORD)
            readers = await make_traffic(base_url, secret, activity)
            await admin.wait_for_selector("#nodes .node .chart canvas")
            for channel, data in PUBLICATIONS:
                reply = await publish_from_admin(admin, channel, data)
                if reply.get("error"):
                    raise SystemExit(f"publish from the admin page failed: {reply}")
            for demo in demos:
                await demo.wait_for_function(f"document.body.dataset.image === {json.dumps(DEMO_IMAGE)}")
            # a reader leaves and another one comes: the newest events are of every kind
            readers.pop(0).close()
            newcomer = await RawClient.connect(base_url, secret, user="carol")
            await newcomer.command("subscribe", {"channel": DEMO_CHANNEL})
            readers.append(newcomer)
            await admin.wait_for_function("document.querySelector('#events tr').dataset.kind === 'subscribe'")
            await wait_figure(admin, "Connections", len(DEMO_USERS) + len(readers))
            await wait_figure(admin, "Messages in", len(PUBLICATIONS))
            await admin.screenshot(path=str(out / "admin.png"), full_page=True)
            for reader in readers:
                reader.close()
            await demos[0].screenshot(path=str(out / "demo.png"))
        finally:
            await browser.close()
    return [out / "admin-login.png", out / "admin.png", out / "demo.png"]


def check_sizes(paths: list[Path]) -> None:
    for path in paths:
        size = path.stat().st_size
        if size > MAX_PNG_BYTES:
            raise SystemExit(f"{path}: {size} bytes, more than {MAX_PNG_BYTES}")
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size // 1024} KiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="directory for the PNGs")
    parser.add_argument("--activity", type=float, default=ACTIVITY_S,
                        help="seconds of traffic before the pictures (default %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        with SockhubProcess(Path(tmp), CONFIG, args=["--web"], name="screenshots") as hub:
            paths = asyncio.run(capture(hub.url, CONFIG["secret"], Path(args.out), args.activity))
    check_sizes(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
