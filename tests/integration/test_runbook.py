"""docs/deploy.md runs as written: its ``sh runbook`` blocks, in order, in
one bash (only its documented HUB_* variables set, to free ports and a
temporary directory), start Debian's redis-server, two sockhub nodes and
nginx on the config ``sockhub nginx-conf`` prints; the demo page opened in
Chromium through nginx gets a message published (signed HTTP API) on the
node it is *not* connected to, by the ``sh runbook-publish`` block (curl
and openssl); the ``sh runbook-stop`` block stops it all."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from app.dialects.v1x.auth import api_sign
from tests.support.browser import chromium
from tests.support.net import free_port
from tests.support.server import ROOT, run_sockhub

pytestmark = [pytest.mark.browser, pytest.mark.async_timeout(180)]
DEPLOY = ROOT / "docs" / "deploy.md"
VARIABLES = ("HUB_DIR", "HUB_REDIS_PORT", "HUB_NGINX_PORT", "HUB_NODE_PORTS")


def blocks(kind: str) -> list[str]:
    """The bodies of the code blocks whose info string is ``sh <kind>``."""
    return re.findall(rf"^```sh {kind}\n(.*?)^```$", DEPLOY.read_text(), flags=re.S | re.M)


def environment(hub_dir: Path, redis: int, nginx: int, nodes: list[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SOCKHUB_"))}
    path = os.pathsep.join([str(ROOT / ".venv" / "bin"), env.get("PATH", ""), "/usr/sbin", "/sbin"])
    return {**env, "PATH": path, "PYTHONPATH": str(ROOT), "HUB_DIR": str(hub_dir),
            "HUB_REDIS_PORT": str(redis), "HUB_NGINX_PORT": str(nginx),
            "HUB_NODE_PORTS": " ".join(map(str, nodes))}


def run_bash(script: str, env: dict[str, str], log: Path, strict: bool = True) -> int:
    """Run ``script`` in bash (``-euo pipefail`` when strict); its output to ``log``
    (a file, not a pipe: the daemons it starts keep their descriptors)."""
    flags = ["-euo", "pipefail"] if strict else []
    with open(log, "ab") as out:
        return subprocess.run(["bash", *flags, "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=120).returncode


def kill_leftovers(hub_dir: Path) -> None:
    """SIGKILL whatever a pid file under ``hub_dir`` still names (after a failed stop)."""
    for pid_file in [*hub_dir.glob("run/*.pid"), *hub_dir.glob("nginx/*.pid")]:
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        except (ValueError, IndexError, ProcessLookupError, FileNotFoundError):
            pass


async def api(port: int, secret: str, method: str, params: dict[str, Any]) -> Any:
    from tornado.httpclient import AsyncHTTPClient

    body = json.dumps({"method": method, "params": params}).encode()
    response = await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/api/", method="POST", body=body, request_timeout=10,
        headers={"Content-Type": "application/json", "X-API-Sign": api_sign(secret, body)})
    [item] = json.loads(response.body)
    assert item["error"] is None, item
    return item["body"]


def test_the_runbook_has_start_and_stop_blocks() -> None:
    start, stop = blocks("runbook"), blocks("runbook-stop")
    assert len(start) >= 5 and len(stop) == 1 and len(blocks("runbook-publish")) == 1
    script = "\n".join(start)
    for command in ("redis-server", "sockhub --config", "sockhub nginx-conf", "nginx -c"):
        assert command in script, command
    for name in VARIABLES:  # each variable has a default the reader can override
        assert f'export {name}="${{{name}:-' in script, name


async def test_runbook_runs_and_a_message_crosses_nodes(tmp_path: Path) -> None:
    hub_dir = tmp_path / "hub"
    nodes = [free_port(), free_port()]
    env = environment(hub_dir, free_port(), free_port(), nodes)
    nginx_port = int(env["HUB_NGINX_PORT"])
    log = tmp_path / "runbook.log"
    try:
        status = run_bash("\n".join(blocks("runbook")), env, log)
        assert status == 0, log.read_text()
        output = log.read_text()
        assert "PONG" in output and output.count('"status": "ok"') + output.count('"status":"ok"') == 3, output
        secret = json.loads((hub_dir / "config.json").read_text())["secret"]
        token = run_sockhub(["gentoken", "--user", "runbook", "--config", str(hub_dir / "config.json")])
        assert token.returncode == 0, token.stderr
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{nginx_port}/demo/#" + urllib.parse.quote(token.stdout.strip()))
            await page.wait_for_function("document.body.dataset.state === 'subscribed'", timeout=20000)
            counts = [(await api(port, secret, "node", {}))["data"]["metrics"]["node_num_clients"] for port in nodes]
            assert sorted(counts) == [0, 1], counts
            other = nodes[counts.index(0)]  # the node the browser is not connected to
            publish = environment(hub_dir, int(env["HUB_REDIS_PORT"]), nginx_port, [other, nodes[counts.index(1)]])
            assert run_bash("\n".join(blocks("runbook-publish")), publish, log) == 0, log.read_text()
            assert '"error":null' in log.read_text().replace(" ", ""), log.read_text()
            await page.wait_for_function("document.body.dataset.image === '/demo/night.svg'", timeout=10000)
    finally:
        stopped = run_bash("\n".join(blocks("runbook-stop")), env, log, strict=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (list(hub_dir.glob("run/sockhub-*.pid"))
                                               or (hub_dir / "nginx" / "nginx.pid").exists()):
            time.sleep(0.2)
        leftovers = sorted(p.name for p in [*hub_dir.glob("run/*.pid"), *hub_dir.glob("nginx/*.pid")])
        kill_leftovers(hub_dir)
    assert stopped == 0, log.read_text()
    assert leftovers == [], leftovers  # the stop block stopped everything (pid files removed)
    for node_log in hub_dir.glob("log/sockhub-*.log"):
        assert "Traceback" not in node_log.read_text(), node_log.read_text()


def test_systemd_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` accepts both units (with the sockhub of this
    checkout in ExecStart), and the node unit's flags make valid options."""
    from app.cli import flags_of, server_parser
    from app.config import ConfigSource

    sockhub = str(ROOT / ".venv" / "bin" / "sockhub")
    for unit in ("sockhub@.service", "sockhub-nginx.service"):
        text = (ROOT / "deploy" / unit).read_text()
        (tmp_path / unit).write_text(text.replace("/opt/sockhub/bin/sockhub", sockhub))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "sockhub@8001.service"),
                             str(tmp_path / "sockhub-nginx.service")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    node_unit = (ROOT / "deploy" / "sockhub@.service").read_text()
    [exec_start] = re.findall(r"^ExecStart=((?:.*\\\n)*.*)", node_unit, flags=re.M)
    argv = exec_start.replace("\\\n", " ").replace("%i", "8001").replace("%H", "host").split()
    assert argv[0] == "/opt/sockhub/bin/sockhub"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"secret": "unit"}))
    argv = [str(config) if arg == "/etc/sockhub/config.json" else arg for arg in argv[1:]]
    options, _ = ConfigSource(str(config), {}, flags_of(server_parser().parse_args(argv))).load()
    assert (options.engine, options.port, options.address, options.name) == ("redis", 8001, "127.0.0.1", "host-8001")
