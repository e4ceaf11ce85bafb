"""The admin page usable at once: ``sockhub genconfig`` then ``sockhub --web``
in the same folder (no flag naming the file) logs the admin URL and where the
password is, and Chromium logs in with that password and sees the version the
API reports.  Without a password the page says what to set.  ``make run``'s
own commands (read from the Makefile) log the URL and where the password is."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from tornado.httpclient import AsyncHTTPClient

import app
from app.admin_auth import LOGIN_DISABLED
from tests.admin.clients import api_call
from tests.admin.test_admin_browser import shots
from tests.support.net import free_port
from tests.support.server import ROOT, SockhubProcess, run_sockhub

pytestmark = [pytest.mark.browser, pytest.mark.async_timeout(90)]


async def test_genconfig_then_web_logs_in_at_once(tmp_path: Path) -> None:
    assert run_sockhub(["genconfig"], cwd=tmp_path).returncode == 0
    written = json.loads((tmp_path / "config.json").read_text())
    with SockhubProcess(tmp_path, cwd=tmp_path, config_flag=False, args=["--web"]) as hub:
        notice = f"admin: http://127.0.0.1:{hub.port}/ (password: admin_password in {tmp_path / 'config.json'})"
        assert notice in hub.logs()
        (node,) = await api_call(hub.url, written["secret"], "node", {})
        assert node["body"]["data"]["version"] == app.__version__
        (stats,) = await api_call(hub.url, written["secret"], "stats", {})
        assert [n["version"] for n in stats["body"]["data"]["nodes"]] == [app.__version__]
        playwright = await async_playwright().start()
        browser = await shots.launch(playwright)
        try:
            page = await browser.new_page(viewport=shots.VIEWPORT)
            await shots.admin_login(page, hub.url, written["admin_password"])
            header = await page.text_content("#server-info") or ""
            assert re.match(rf"sockhub {re.escape(app.__version__)} · ", header), header
        finally:
            await browser.close()
            await playwright.stop()


async def test_login_disabled_says_what_to_set(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": "s"}, args=["--web"]) as hub:
        assert f"admin: http://127.0.0.1:{hub.port}/ (login disabled: set admin_password and admin_secret" in hub.logs()
        playwright = await async_playwright().start()
        browser = await shots.launch(playwright)
        try:
            page = await browser.new_page(viewport=shots.VIEWPORT)
            await page.goto(hub.url + "/")
            await page.wait_for_selector("#login-form", state="visible")
            # said at once, before anyone types a password
            await page.wait_for_function("document.getElementById('login-error').textContent !== ''")
            assert await page.text_content("#login-error") == LOGIN_DISABLED
            await page.evaluate("document.getElementById('login-error').textContent = ''")
            await page.fill("#password", "anything")
            await page.click("#login-form button[type=submit]")
            await page.wait_for_function("document.getElementById('login-error').textContent !== ''")
            shown = await page.text_content("#login-error")
            assert shown == LOGIN_DISABLED
            assert "set admin_password and admin_secret" in shown and "sockhub genconfig" in shown
        finally:
            await browser.close()
            await playwright.stop()


def make_recipe(target: str) -> list[str]:
    """The command lines of a target of the project's Makefile."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith(target + ":")))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


async def test_make_run_names_the_admin_page_and_its_password(tmp_path: Path) -> None:
    """``make run``'s own commands (its config.json and run recipes, with
    $(BIN) and $(PORT) filled in) in an empty folder: the log names the admin
    URL and where the password is, and that password logs in."""
    port = free_port()
    bin_dir = str(ROOT / ".venv" / "bin")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SOCKHUB_")}, "PYTHONPATH": str(ROOT)}
    commands = [line.replace("$(BIN)", bin_dir).replace("$(PORT)", str(port)).split()
                for line in make_recipe("config.json") + make_recipe("run")]
    assert [c[1:2] for c in commands] == [["genconfig"], ["--config"]], commands
    assert subprocess.run(commands[0], cwd=tmp_path, env=env, capture_output=True, timeout=60).returncode == 0
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(commands[1], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        client = AsyncHTTPClient()
        deadline = time.monotonic() + 30
        while "listening" not in log.read_text() or "admin: " not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.1)
        assert f"admin: http://localhost:{port}/ (password: admin_password in config.json)" in log.read_text()
        password = json.loads((tmp_path / "config.json").read_text())["admin_password"]
        response = await client.fetch(f"http://127.0.0.1:{port}/auth/", method="POST",
                                      body=urllib.parse.urlencode({"password": password}), raise_error=False)
        assert response.code == 200 and json.loads(response.body)["token"], response.body
    finally:
        proc.terminate()
        proc.wait(15)
