"""Redis SIGKILLed and restarted (empty: no persistence) under three real
nodes during a steady numbered publish stream through their HTTP APIs.

What must hold:
* every node stays up: /health answers 200 throughout, the processes are
  alive at the end and their logs hold no traceback;
* while Redis is down the API answers a clear 503 and client commands that
  need Redis get ``internal server error`` with advice ``retry`` (a
  subscribe, which cannot be half done, closes with reconnect advice);
* every node comes back by itself (API 200 again, no action from anyone);
* once its node is subscribed again, every client is closed with
  ``insufficient state`` and reconnect advice (messages published before the
  node resubscribed never reached it), and a client that then resubscribes
  with recover (its last uid) ends up with every message published since
  Redis came back, none twice, in order; messages accepted before the kill
  had all been delivered live.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.clients import Recorder, until
from tests.cluster.pages import PageServer, client_params, entries, numbers, wait_entries
from tests.cluster.stream import HealthWatch, Publisher
from tests.support.browser import chromium
from tests.support.cluster import SECRET, Cluster

CHANNEL = "stream"
CONFIG = {"presence": True, "publish": True, "history_size": 1000, "history_lifetime": 300, "recover": True}
TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "xhr-polling"]
DOWN = 2.5  # seconds Redis stays down: the listeners' backoff reaches its 2 s cap


async def _has(page: Any, name: str, n: int) -> bool:
    return n in await numbers(page, name)


async def check_commands_while_down(cluster: Cluster, client: Recorder) -> None:
    for method in ("presence", "history"):
        reply = await client.command(method, {"channel": CHANNEL})
        assert (reply.get("error"), reply.get("advice")) == ("internal server error", "retry"), reply
    reply = await client.command("publish", {"channel": CHANNEL, "data": {"n": 0}})
    assert (reply.get("error"), reply.get("advice")) == ("internal server error", "retry"), reply
    # A new subscription cannot be registered: closed with reconnect advice.
    other = await Recorder.connect(cluster.urls[1], "late")
    with pytest.raises(ConnectionError):
        await other.command("subscribe", {"channel": "other"})
    assert other.closed is not None and other.closed[0] == 3000, other.closed
    assert other.closed[1] == '{"reason":"internal server error","reconnect":true}'
    await other.close()


async def resubscribe(url: str, old: Recorder, user: str) -> tuple[Recorder, list[int], bool]:
    """Once the node closed ``old`` (it lost messages while Redis was away),
    reconnect and subscribe with recover from the last uid ``old`` got;
    returns the new client, the recovered numbers (oldest first) and the flag."""
    await until(lambda: old.closed is not None, what="the node closing a client that missed messages")
    assert old.closed == (3000, '{"reason":"insufficient state","reconnect":true}')
    last = old.uids(CHANNEL)[-1]
    await old.close()
    new = await Recorder.connect(url, user)
    reply = await new.command("subscribe", {"channel": CHANNEL, "recover": True, "last": last})
    assert reply.get("error") is None, reply
    recovered = [m["data"]["n"] for m in reversed(reply["body"]["messages"])]
    return new, recovered, reply["body"]["recovered"]


@pytest.mark.browser
@pytest.mark.async_timeout(120)
async def test_redis_killed_and_restarted_during_a_publish_stream(tmp_path: Path) -> None:
    pages = PageServer()
    with Cluster(tmp_path, 3, CONFIG) as cluster:
        async with pages.serving(), chromium() as browser:
            await run_faults(cluster, await browser_clients(browser, pages, cluster))


async def browser_clients(browser: Any, pages: PageServer, cluster: Cluster) -> Any:
    """centrifuge-js clients through nginx, one per transport, in one page."""
    page = await (await browser.new_context()).new_page()
    await page.goto(pages.page_url(cluster.nginx_url))
    for transport in TRANSPORTS:
        params = client_params(SECRET, f"b-{transport}", cluster.nginx_url + "/connection", transport, CHANNEL)
        await page.evaluate("([n, p]) => window.startClient(n, p)", [transport, params])
        await wait_entries(page, transport, "subscribe")
    return page


async def run_faults(cluster: Cluster, page: Any) -> None:
    clients = [await Recorder.connect(url, f"u{i}") for i, url in enumerate(cluster.urls)]
    for client in clients:
        assert (await client.command("subscribe", {"channel": CHANNEL}))["body"]["status"] is True
    health = HealthWatch(cluster.nodes)
    health.start()
    stream = Publisher(cluster, cluster.urls, CHANNEL)
    stream.start()
    try:
        killed_at = await redis_down(cluster, stream, clients[0])
        await asyncio.to_thread(cluster.start_redis)
        back_at = asyncio.get_running_loop().time()
        await stream.wait(lambda: len(stream.ok(after=back_at)) >= 30, what="publishes after Redis came back")
        # Each client resubscribes with recover, on its own node or through nginx.
        urls = [cluster.urls[0], cluster.nginx_url, cluster.urls[2]]
        moved = [await resubscribe(url, old, f"u{i}") for i, (url, old) in enumerate(zip(urls, clients))]
        await stream.wait(lambda: len(stream.ok(after=back_at)) >= 60, what="publishes after the resubscribes")
    finally:
        await stream.stop()
        await health.stop()
    barrier = stream.limit + 1
    await cluster.result(cluster.urls[1], "publish", {"channel": CHANNEL, "data": {"n": barrier}})
    # Everything accepted since Redis came back, then the barrier; and all accepted before the kill.
    wanted = [n for n in stream.ok(after=back_at)] + [barrier]
    before_kill = set(stream.ok(before=killed_at))
    for old, (new, recovered, flag) in zip(clients, moved):
        await until(lambda: barrier in new.numbers(CHANNEL), what="barrier")
        check_sequence(old.numbers(CHANNEL) + recovered + new.numbers(CHANNEL), wanted, before_kill, flag)
        assert before_kill <= set(old.numbers(CHANNEL))  # live, before the kill
        await new.close()
    # centrifuge-js, told to reconnect, recovers by itself: the same messages, once, in order.
    for name in TRANSPORTS:
        await until(lambda: _has(page, name, barrier), what=f"barrier in {name}")
        disconnects = [(d["reason"], d["reconnect"]) for d in await entries(page, name, "disconnect")]
        assert ("insufficient state", True) in disconnects, disconnects
        assert (await entries(page, name, "subscribe"))[-1]["resubscribe"] is True
        check_sequence(await numbers(page, name), wanted, before_kill, name)
    assert health.checks > 20 and health.bad == []
    assert all(node.proc is not None and node.proc.poll() is None for node in cluster.nodes)
    assert cluster.tracebacks() == {}


async def redis_down(cluster: Cluster, stream: Publisher, client: Recorder) -> float:
    """Kill Redis in the stream; check the API and client commands while it
    is down (for DOWN seconds at least); returns when it was killed."""
    loop = asyncio.get_running_loop()
    await stream.wait(lambda: len(stream.ok()) >= 20, what="20 publishes")
    await asyncio.to_thread(cluster.kill_redis)
    killed_at = loop.time()
    await check_commands_while_down(cluster, client)
    await stream.wait(lambda: sum(1 for o in stream.outcomes if o.status == 503 and o.at > killed_at) >= 6
                      and loop.time() > killed_at + DOWN, what="503s while Redis is down")
    failed = [o for o in stream.outcomes if o.status != 200 and o.at > killed_at]
    assert all(o.status == 503 and "Service Unavailable" in o.error for o in failed), failed
    assert not stream.ok(after=killed_at + 1.0)  # nothing accepted while down
    return killed_at


def check_sequence(seen: list[int], wanted: list[int], before_kill: set[int], who: object) -> None:
    """No number twice; from the first one accepted after Redis came back,
    exactly ``wanted`` in order; everything accepted before the kill."""
    assert len(seen) == len(set(seen)), f"{who}: duplicates: {seen}"
    first = wanted[0]
    assert [n for n in seen if n >= first] == wanted, (who, seen)
    assert before_kill <= set(seen), who
