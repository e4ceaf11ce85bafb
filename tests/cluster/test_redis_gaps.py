"""Redis faults under two real nodes during numbered publish streams: the
nodes fill the gap from history instead of closing their clients
(app.core.gaps).

* ``test_gaps_filled_through_redis_faults``: Redis with AOF (every write
  fsynced) SIGKILLed for 5 s and restarted with its data, SIGSTOPped for
  5 s and for 15 s, and its PUB/SUB connections killed (``CLIENT KILL TYPE
  pubsub``), while two streams publish through both nodes' APIs, one
  channel with ``recover`` and one without.  Every raw 1.x client on both
  nodes, and a centrifuge-python 0.7.0 client (protocol v2, JSON on one
  node, protobuf on the other, a positioned and recoverable subscription),
  ends with exactly what the channel's history holds (every acknowledged
  message and those whose answer was lost in the stall), each once, in
  history order (v2: offsets 1, 2, 3...), and none of them is closed.
* ``test_empty_redis_closes_recover_subscribers_spread``: Redis restarted
  empty (no persistence: the streams' epochs change): the subscribers of
  the recover channel are closed with ``insufficient state`` and reconnect
  advice, spread over ``insufficient_state_jitter``, with nothing of the
  new epoch delivered to them first; each closed client resubscribes and
  gets the new history.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.clients import Recorder, until
from tests.cluster.test_v2 import token
from tests.integration.test_v2_python_client import Events, client_at, disconnect
from tests.cluster.stream import Publisher
from tests.support.cluster import Cluster

RECOVER = "stream"
PLAIN = "plain:stream"  # history, no recover
CHANNELS = (RECOVER, PLAIN)
CONFIG: dict[str, Any] = {
    "publish": True, "history_size": 5000, "history_lifetime": 600, "recover": True,
    "namespaces": [{"name": "plain", "publish": True, "history_size": 5000, "history_lifetime": 600}],
}
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")
CLIENTS_PER_NODE = 4
DOWN = 5.0


async def connect_all(cluster: Cluster) -> list[Recorder]:
    clients = []
    for index, url in enumerate(cluster.urls):
        for k in range(CLIENTS_PER_NODE):
            client = await Recorder.connect(url, f"u{index}-{k}")
            for channel in CHANNELS:
                reply = await client.command("subscribe", {"channel": channel})
                assert reply["body"]["status"] is True, reply
            clients.append(client)
    return clients


async def history_numbers(cluster: Cluster, channel: str) -> list[int]:
    """The channel's stream, oldest first (the 1.x history is newest first)."""
    body = await cluster.result(cluster.urls[0], "history", {"channel": channel})
    return [m["data"]["n"] for m in reversed(body["data"])]


async def back(streams: list[Publisher], since: float, count: int = 30) -> None:
    for stream in streams:
        await stream.wait(lambda s=stream: len(s.ok(after=since)) >= count, timeout=40,
                          what=f"publishes after the fault in {stream.channel}")


async def sigkill_with_data(cluster: Cluster, streams: list[Publisher]) -> None:
    await asyncio.to_thread(cluster.kill_redis)
    await asyncio.sleep(DOWN)
    await asyncio.to_thread(cluster.start_redis)
    await back(streams, asyncio.get_running_loop().time())


async def sigstop(cluster: Cluster, streams: list[Publisher], seconds: float = DOWN) -> None:
    cluster.pause_redis(True)
    try:
        await asyncio.sleep(seconds)
    finally:
        cluster.pause_redis(False)
    await back(streams, asyncio.get_running_loop().time())


async def long_sigstop(cluster: Cluster, streams: list[Publisher]) -> None:
    await sigstop(cluster, streams, 15.0)


def _gap_lines(cluster: Cluster) -> str:
    return "".join(line + "\n" for node in cluster.nodes for line in node.logs().splitlines()
                   if "gap" in line or "lost" in line or "back" in line)


def _n(data: Any) -> int:
    """The number of a v2 publication's data (JSON: decoded already; protobuf: the bytes)."""
    value = json.loads(data) if isinstance(data, (bytes, str)) else data
    return int(value["n"])


async def v2_clients(cluster: Cluster) -> list[tuple[Any, Events]]:
    """centrifuge-python on each node (JSON, protobuf), positioned and recoverable in RECOVER."""
    out = []
    for index, url in enumerate(cluster.urls):
        events = Events()
        client = client_at(url.replace("http://", "ws://") + "/connection/websocket", events, index == 1,
                           token=token(f"v2-{index}"))
        await client.connect()
        await client.new_subscription(RECOVER, events=events, positioned=True, recoverable=True).subscribe()
        out.append((client, events))
    await until(lambda: all(events.subscribed for _, events in out), what="v2 subscribed")
    return out


async def pubsub_killed(cluster: Cluster, streams: list[Publisher]) -> None:
    assert cluster.redis is not None
    await asyncio.to_thread(cluster.redis.cli, "CLIENT", "KILL", "TYPE", "pubsub")
    await back(streams, asyncio.get_running_loop().time())


@pytest.mark.async_timeout(300)
async def test_gaps_filled_through_redis_faults(tmp_path: Path) -> None:
    with Cluster(tmp_path, 2, CONFIG, nginx=False, redis_args=PERSISTENT) as cluster:
        clients = await connect_all(cluster)
        v2 = await v2_clients(cluster)
        streams = [Publisher(cluster, cluster.urls, channel, pause=0.02) for channel in CHANNELS]
        for stream in streams:
            stream.start()
        try:
            await back(streams, float("-inf"), 20)
            for fault in (sigkill_with_data, sigstop, long_sigstop, pubsub_killed):
                await fault(cluster, streams)
        finally:
            for stream in streams:
                await stream.stop()
        for channel, stream in zip(CHANNELS, streams):
            barrier = stream.first + stream.limit
            await cluster.result(cluster.urls[1], "publish", {"channel": channel, "data": {"n": barrier}})
            for client in clients:
                await until(lambda c=client: barrier in c.numbers(channel), timeout=30, what=f"barrier {channel}")
            wanted = await history_numbers(cluster, channel)
            acknowledged = stream.ok()
            assert set(acknowledged) <= set(wanted)
            assert len(set(wanted)) == len(wanted)
            failed = [o for o in stream.outcomes if o.status != 200 or o.error is not None]
            for client in clients:
                got = client.numbers(channel)
                first = next((i for i, (a, b) in enumerate(zip(got, wanted)) if a != b), min(len(got), len(wanted)))
                assert got == wanted, (channel, first, got[max(0, first - 5):first + 5],
                                       wanted[max(0, first - 5):first + 5], _gap_lines(cluster))
            # Honest answers: "not done" was not done; "outcome unknown" may have been.
            not_done = [o.n for o in failed if o.status == 503 and o.error.strip().endswith("publish not done")]
            unknown = [o.n for o in failed if o.status == 503 and "publish outcome unknown" in o.error]
            assert len(not_done) + len(unknown) == len(failed), [o for o in failed if o.n not in not_done + unknown]
            assert not set(not_done) & set(wanted)
            print(f"{channel}: {len(wanted)} messages in history, {len(acknowledged)} acknowledged, "
                  f"{len(not_done)} answered 'not done' (none delivered), {len(unknown)} 'outcome unknown' "
                  f"({len(set(unknown) & set(wanted))} of them delivered); "
                  f"each of {len(clients)} clients got every message of the history once, in order")
            if channel == RECOVER:
                for _, events in v2:
                    await until(lambda e=events: any(_n(p.pub.data) == barrier for p in e.publications),
                                timeout=30, what="barrier in v2")
                    assert [_n(p.pub.data) for p in events.publications] == wanted
                    assert [p.pub.offset for p in events.publications] == list(range(1, len(wanted) + 1))
        closed = [c.closed for c in clients if c.closed is not None]
        v2_closed = [events.disconnected for _, events in v2 if events.disconnected]
        print(f"clients closed: {len(closed)} of {len(clients)} (1.x), {len(v2_closed)} of {len(v2)} (v2)")
        assert closed == [] and v2_closed == []
        for client, _ in v2:
            await disconnect(client)
        logs = "".join(node.logs() for node in cluster.nodes)
        print("".join(line + "\n" for line in logs.splitlines() if "gap" in line or "lost" in line))
        assert "filled from history" in logs
        assert cluster.tracebacks() == {}
        for client in clients:
            await client.close()


@pytest.mark.async_timeout(180)
async def test_empty_redis_closes_recover_subscribers_spread(tmp_path: Path) -> None:
    jitter = 3.0
    with Cluster(tmp_path, 2, {**CONFIG, "insufficient_state_jitter": jitter}, nginx=False) as cluster:
        clients = await connect_all(cluster)
        stream = Publisher(cluster, cluster.urls, RECOVER, pause=0.02)
        stream.start()
        try:
            await back([stream], float("-inf"), 20)
            await asyncio.to_thread(cluster.kill_redis)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(cluster.start_redis)
            back_at = asyncio.get_running_loop().time()
            closed_at: dict[int, float] = {}

            def all_closed() -> bool:
                for index, client in enumerate(clients):
                    if client.closed is not None and index not in closed_at:
                        closed_at[index] = asyncio.get_running_loop().time()
                return len(closed_at) == len(clients)

            await until(all_closed, timeout=30, what="every recover subscriber closed")
            await back([stream], back_at, 10)
        finally:
            await stream.stop()
        spread = max(closed_at.values()) - min(closed_at.values())
        print(f"clients closed: {len(closed_at)} of {len(clients)}, over {spread:.2f} s (jitter {jitter} s)")
        assert all(c.closed == (3000, '{"reason":"insufficient state","reconnect":true}') for c in clients)
        assert spread > jitter / 4
        # Each resubscribes with recover from its last uid: that epoch is gone, so not recovered,
        # and the reply holds the new stream.
        wanted = await history_numbers(cluster, RECOVER)
        for index, old in enumerate(clients):
            new = await Recorder.connect(cluster.urls[index % 2], f"again{index}")
            reply = await new.command("subscribe", {"channel": RECOVER, "recover": True, "last": old.uids(RECOVER)[-1]})
            assert reply["body"]["recovered"] is False, reply
            got = [m["data"]["n"] for m in reversed(reply["body"]["messages"])]
            assert got == wanted, (got, wanted)
            assert not set(old.numbers(RECOVER)) & set(wanted)  # nothing of the new epoch reached the old one
            await new.close()
            await old.close()
        assert cluster.tracebacks() == {}
