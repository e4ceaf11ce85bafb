"""The project's nginx.conf in front of two transport nodes."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.browser import BROWSER_TRANSPORTS, chromium, roundtrip
from tests.support.net import free_port, wait_port
from app.options import Options
from tests.support.nginx import ROOT, SHIPPED_READ_TIMEOUT, NginxProcess, render
from tests.transports.clients import HttpClient, WsClient, fetch, messages
from tests.transports.test_behaviour import next_data_frame


@contextmanager
def node(name: str, heartbeat: float = 25.0) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.transports.echo_node", "--port", str(port), "--name", name,
         "--heartbeat", str(heartbeat)], cwd=ROOT)
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def cluster(tmp: Path, heartbeat: float = 25.0, read_timeout: int | None = None) -> Iterator[tuple[int, list[int]]]:
    """Two nodes ("A", "B") behind nginx; yields nginx's port and the nodes'."""
    with ExitStack() as stack:
        nodes = [stack.enter_context(node(name, heartbeat)) for name in ("A", "B")]
        port = free_port()
        stack.enter_context(NginxProcess(tmp, port, nodes, read_timeout=read_timeout))
        yield port, nodes


async def opened(node_port: int) -> dict[str, int]:
    _, body = await fetch(node_port, "GET", "/stats")
    return dict(json.loads(body)["opened"])


@pytest.mark.browser
@pytest.mark.async_timeout(120)
async def test_browser_through_nginx(tmp_path: Path) -> None:
    with cluster(tmp_path) as (port, nodes):
        base = f"http://127.0.0.1:{port}"
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(base + "/")
            for transport in BROWSER_TRANSPORTS:
                result = await roundtrip(page, base + "/connection", transport)
                assert result.get("transport") == transport, (transport, result)
                assert result["echo"] == result["sent"], (transport, result)
        counts = [await opened(n) for n in nodes]
        assert sum(sum(c.values()) for c in counts) >= len(BROWSER_TRANSPORTS)


@pytest.mark.async_timeout(60)
async def test_sessions_of_one_ip_spread_and_stick(tmp_path: Path) -> None:
    with cluster(tmp_path) as (port, nodes):
        # 24 polling sessions from one IP: each one's polls and sends must
        # reach the same node (or xhr_send would 404), and both nodes serve.
        for i in range(24):
            client = HttpClient(port, "xhr" if i % 2 else "jsonp", prefix="/connection")
            assert await client.connect() == "o"
            for n in range(3):
                assert await client.send(f"{i}-{n}") in (200, 204)
                assert messages(await next_data_frame(client)) == [f"{i}-{n}"]
            await client.close()
        counts = [await opened(n) for n in nodes]
        assert all(sum(c.values()) > 0 for c in counts), counts
        assert sum(sum(c.values()) for c in counts) == 24
        # Websockets through the upgrade, and the API on any node.
        ws = WsClient(port, "/connection/000/abc/websocket")
        assert await ws.connect() == "o"
        await ws.send("through nginx")
        assert messages(await next_data_frame(ws)) == ["through nginx"]
        await ws.close()
        names = set()
        for _ in range(10):
            _, body = await fetch(port, "GET", "/api/whoami")
            names.add(body.decode())
        assert names == {"A", "B"}


def test_the_shipped_read_timeout_outlasts_two_heartbeats() -> None:
    """The shipped nginx.conf cuts an upstream read idle for 60 s; the
    default SockJS heartbeat (25 s) comes twice within it, so the test
    below may scale both down and keep the same ratio of margins."""
    text = render(80, [8000], Path("/tmp"))
    assert text.count(SHIPPED_READ_TIMEOUT) == 1
    assert 60 > 2 * Options().sockjs_heartbeat_delay


@pytest.mark.async_timeout(90)
async def test_idle_survives_proxy_read_timeout(tmp_path: Path) -> None:
    """nginx closes an upstream read idle for its ``proxy_read_timeout``
    (60 s shipped; 8 s here); heartbeats (25 s default; 3 s here) keep
    every transport alive through 11 s of silence.  A control cluster
    whose heartbeat never comes shows nginx does cut them."""
    (tmp_path / "beats").mkdir()
    (tmp_path / "silent").mkdir()
    with cluster(tmp_path / "beats", heartbeat=3, read_timeout=8) as (port, _), \
            cluster(tmp_path / "silent", heartbeat=1000, read_timeout=8) as (silent_port, _):
        ws = WsClient(port, "/connection/000/idle-ws/websocket")
        streams = [HttpClient(port, t, prefix="/connection")
                   for t in ("xhr_streaming", "eventsource", "htmlfile")]
        poll = HttpClient(port, "xhr", prefix="/connection")
        clients: list[HttpClient | WsClient] = [ws, *streams, poll]
        silent_ws = WsClient(silent_port, "/connection/000/silent-ws/websocket")
        silent_stream = HttpClient(silent_port, "xhr_streaming", prefix="/connection")
        for c in [*clients, silent_ws, silent_stream]:
            assert await c.connect() == "o"
        await asyncio.sleep(11)
        for c in clients:
            await c.send("still here")
            assert messages(await next_data_frame(c)) == ["still here"]
        for s in streams:
            assert s.requests == 1, "the stream was cut and reopened"
        # Without heartbeats nginx cut both after its read timeout.
        assert silent_ws.closed.is_set()
        assert silent_stream.requests == 2
        assert await silent_stream.next_frame() == 'c[1002,"Connection interrupted"]'
        for c in [*clients, silent_ws, silent_stream]:
            await c.close()
