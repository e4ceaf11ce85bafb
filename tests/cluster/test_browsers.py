"""Three ``sockhub --engine redis`` nodes, one redis-server and nginx (the
project's nginx.conf), with centrifuge-js 1.5.0 + sockjs-client 1.6.1 in
Chromium, connected through nginx over websocket, xhr-streaming, eventsource
and xhr-polling.

For every transport, clients are opened through nginx (one per browser
context, so Chromium's six-connections-per-host limit never queues a poll)
until that transport has a client on each of the three nodes; which node a
client landed on is read from the nodes' ``node_num_clients``.  Then:

* a message published through the API via nginx and directly on each node
  reaches every client exactly once, in order;
* presence and history read on every node (and through nginx) are the same,
  and list exactly the connected clients and the published messages;
* ``stats`` on every node lists the three nodes; after one is SIGKILLed the
  others list two within 2*node_ping_interval+1 s (plus slack);
* the killed node's clients reconnect through nginx to another node and
  recover what was published meanwhile (recovered true), so every client,
  moved or not, has every message exactly once.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.pages import PageServer, client_params, entries, numbers, wait_entries
from tests.cluster.stream import Publisher
from tests.support.browser import chromium
from tests.support.cluster import NODE_TIMINGS, SECRET, Cluster

TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling"]
CHANNEL = "news"
CONFIG = {"presence": True, "history_size": 1000, "history_lifetime": 300, "recover": True}
#: Attempts per transport to get a client on every node (nginx hashes the
#: random SockJS session id; 3 * (2/3)**30 is about 1e-5).
MAX_ATTEMPTS = 30


@dataclass
class Placed:
    name: str
    transport: str
    page: Any
    node: int
    client_id: str


async def place(browser: Any, pages: PageServer, cluster: Cluster, transport: str,
                placed: list[Placed]) -> None:
    """Open clients of ``transport`` through nginx until each node has one."""
    covered: set[int] = set()
    before = await cluster.num_clients()
    for attempt in range(MAX_ATTEMPTS):
        name = f"{transport}-{attempt}"
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(pages.page_url(cluster.nginx_url))
        params = client_params(SECRET, f"u-{name}", cluster.nginx_url + "/connection", transport, CHANNEL)
        await page.evaluate("([n, p]) => window.startClient(n, p)", [name, params])
        (connected,) = await wait_entries(page, name, "connect")
        await wait_entries(page, name, "subscribe")
        assert connected["transport"] == transport and await page.evaluate(f"transportOf('{name}')") == transport
        after = await cluster.num_clients()
        grown = [i for i in range(cluster.count) if after[i] == before[i] + 1]
        assert len(grown) == 1 and sum(after) == sum(before) + 1, (before, after)
        placed.append(Placed(name, transport, page, grown[0], connected["client"]))
        covered.add(grown[0])
        before = after
        if len(covered) == cluster.count:
            return
    raise AssertionError(f"{transport}: nginx put no client on some node in {MAX_ATTEMPTS} attempts")


async def publish(cluster: Cluster, url: str, n: int) -> None:
    body = await cluster.result(url, "publish", {"channel": CHANNEL, "data": {"n": n}})
    assert body is None


async def wait_numbers(client: Placed, expected: list[int], timeout: float = 20.0) -> None:
    await wait_entries(client.page, client.name, "message", len(expected), timeout)
    assert await numbers(client.page, client.name) == expected, client


async def wait_node_names(cluster: Cluster, url: str, expected: list[str], limit: float) -> None:
    deadline = time.monotonic() + limit
    while (names := await cluster.node_names(url)) != expected:
        assert time.monotonic() < deadline, f"{url} still lists {names}"
        await asyncio.sleep(0.05)


@pytest.mark.browser
@pytest.mark.async_timeout(240)
async def test_three_nodes_behind_nginx(tmp_path: Path) -> None:
    pages = PageServer()
    with Cluster(tmp_path, 3, CONFIG) as cluster:
        async with pages.serving(), chromium() as browser:
            placed: list[Placed] = []
            for transport in TRANSPORTS:
                await place(browser, pages, cluster, transport, placed)
            await publish_everywhere(cluster, placed)
            await check_agreement(cluster, placed)
            await kill_one_node(cluster, placed, victim=2)
            assert cluster.tracebacks() == {}


async def publish_everywhere(cluster: Cluster, placed: list[Placed]) -> None:
    """Published through nginx and directly on each node: every client gets
    all four, once, in order."""
    for n, url in enumerate([cluster.nginx_url, *cluster.urls], start=1):
        await publish(cluster, url, n)
    for client in placed:
        await wait_numbers(client, [1, 2, 3, 4])


async def check_agreement(cluster: Cluster, placed: list[Placed]) -> None:
    """Presence, history and stats read on every node (and through nginx)
    are the same and say what happened."""
    everywhere = [cluster.nginx_url, *cluster.urls]
    presences = [await cluster.result(url, "presence", {"channel": CHANNEL}) for url in everywhere]
    assert all(p == presences[0] for p in presences)
    assert sorted(presences[0]["data"]) == sorted(c.client_id for c in placed)
    histories = [await cluster.result(url, "history", {"channel": CHANNEL}) for url in everywhere]
    assert all(h == histories[0] for h in histories)
    assert [m["data"]["n"] for m in histories[0]["data"]] == [4, 3, 2, 1]
    uids = [e["uid"] for e in await entries(placed[0].page, placed[0].name, "message")]
    assert [m["uid"] for m in histories[0]["data"]] == uids[::-1]
    for url in cluster.urls:
        assert await cluster.node_names(url) == ["node0", "node1", "node2"]


async def kill_one_node(cluster: Cluster, placed: list[Placed], victim: int) -> None:
    """SIGKILL ``victim``: the others forget it in time; its clients (one per
    transport at least) reconnect through nginx and recover while a steady
    stream (through nginx and the live nodes) goes on, none of it failing."""
    moved = [c for c in placed if c.node == victim]
    assert {c.transport for c in moved} == set(TRANSPORTS)
    live = [i for i in range(cluster.count) if i != victim]
    cluster.kill_node(victim)
    killed_at = time.monotonic()
    stream = Publisher(cluster, [cluster.nginx_url, *(cluster.urls[i] for i in live)], CHANNEL, first=5)
    stream.start()
    try:
        forget = 2 * NODE_TIMINGS["node_ping_interval"] + 1
        for i in live:
            limit = forget + 2.0 - (time.monotonic() - killed_at)  # 2 s slack for a busy machine
            await wait_node_names(cluster, cluster.urls[i], [f"node{j}" for j in live], limit)
        for client in moved:
            await wait_entries(client.page, client.name, "connect", 2)
            subscribes = await wait_entries(client.page, client.name, "subscribe", 2)
            assert subscribes[1]["resubscribe"] is True and subscribes[1]["recovered"] is True, client
        resubscribed = asyncio.get_running_loop().time()
        await stream.wait(lambda: len(stream.ok(after=resubscribed)) >= 10, what="publishes after")
    finally:
        await stream.stop()
    assert all(o.status == 200 and o.error is None for o in stream.outcomes), stream.outcomes
    for client in placed:
        await wait_numbers(client, [1, 2, 3, 4] + stream.ok())
    alive = await cluster.num_clients()
    assert alive[victim] == 0 and sum(alive) == len(placed)
