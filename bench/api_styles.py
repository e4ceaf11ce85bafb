"""API publish throughput and latency, the 1.x API beside the current style
(prints figures; not a test).

    .venv/bin/python bench/api_styles.py [--requests 20000] [--concurrency 16] [--subscribers 10] [--rounds 3]
    .venv/bin/python bench/api_styles.py --in-process [--requests 20000] [--rounds 5]

One sockhub process (memory engine, its own port); ``subscribers`` raw
websocket clients (1.x) hold the channel, so every publish is delivered
(threads of this process read them: many subscribers measure this client).
Then, in alternating rounds, ``requests`` publishes go over ``concurrency``
keep-alive connections to ``POST /api/`` (a 1.x command, HMAC-signed) and to
``POST /api/publish`` (the current style, ``X-API-Key``), one request in
flight per connection.  Per style: requests/s (the best round) and the
latency p50/p99 of every request of every round.

``--in-process`` times what follows the HTTP parsing instead, in this
process, on a node with the memory engine and no subscriber: the 1.x
envelope and ApiRunner.submit against the current style's envelope and
ServerApi, microseconds per publish (best round): the figure a shared
machine's load moves least.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websocket  # noqa: E402

from tests.support.server import SockhubProcess  # noqa: E402

SECRET = "bench-secret"
KEY = "bench-key"
CHANNEL = "bench"


def requests_of(port: int) -> dict[str, bytes]:
    """The one request of each style, as bytes on the wire."""
    legacy = json.dumps({"method": "publish", "params": {"channel": CHANNEL, "data": {"text": "hello"}}}).encode()
    sign = hmac.new(SECRET.encode(), legacy, hashlib.sha256).hexdigest()
    current = json.dumps({"channel": CHANNEL, "data": {"text": "hello"}}).encode()
    head = f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    return {
        "1.x /api/": (f"POST /api/ HTTP/1.1\r\n{head}X-API-Sign: {sign}\r\n"
                      f"Content-Length: {len(legacy)}\r\n\r\n").encode() + legacy,
        "current /api/publish": (f"POST /api/publish HTTP/1.1\r\n{head}X-API-Key: {KEY}\r\n"
                                 f"Content-Length: {len(current)}\r\n\r\n").encode() + current,
    }


async def one_connection(port: int, request: bytes, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def round_of(port: int, request: bytes, requests: int, concurrency: int,
                   latencies: list[float]) -> float:
    """Requests per second of one round."""
    per = requests // concurrency
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(port, request, per, latencies) for _ in range(concurrency)))
    return per * concurrency / (time.perf_counter() - started)


def subscribers(url: str, n: int) -> list[websocket.WebSocket]:
    out = []
    for _ in range(n):
        ws = websocket.create_connection(url, timeout=10)
        ws.send(json.dumps({"uid": "1", "method": "connect", "params": {"user": "", "info": "", "timestamp": "1",
                                                                        "token": ""}}))
        ws.recv()
        ws.send(json.dumps({"uid": "2", "method": "subscribe", "params": {"channel": CHANNEL}}))
        ws.recv()
        out.append(ws)
        threading.Thread(target=drain, args=(ws,), daemon=True).start()
    return out


def drain(ws: websocket.WebSocket) -> None:
    """Read what the subscriber is sent (it must never be a slow client)."""
    try:
        while ws.recv():
            pass
    except Exception:  # noqa: BLE001 - closed at the end of the run
        pass


async def in_process(requests: int, rounds: int) -> dict[str, float]:
    """Microseconds per publish of each style's envelope and runner (best round)."""
    from tornado.httputil import HTTPHeaders

    from app.dialects.v1x.envelope import command_data
    from app.dialects.v2api.envelope import respond
    from app.engines.memory import MemoryEngine
    from app.node import Node
    from app.options import Options

    options = Options(secret=SECRET, api_key=KEY, insecure=True)
    node = Node(options, MemoryEngine(options), tick_interval=3600)
    await node.start()
    raw = requests_of(0)
    bodies = {name: request.split(b"\r\n\r\n", 1)[1] for name, request in raw.items()}
    legacy_headers = HTTPHeaders({"Content-Type": "application/json",
                                  "X-API-Sign": hmac.new(SECRET.encode(), bodies["1.x /api/"],
                                                         hashlib.sha256).hexdigest()})
    current_headers = HTTPHeaders({"Content-Type": "application/json", "X-API-Key": KEY})

    def legacy() -> object:
        return node.api.submit(command_data(options, legacy_headers, "", bodies["1.x /api/"]))

    def current() -> object:
        return respond(node.server_api, options, current_headers, "", "publish", bodies["current /api/publish"])

    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            for name, run in (("1.x /api/", legacy), ("current /api/publish", current)):
                started = time.perf_counter()
                for _ in range(requests):
                    run()
                took = (time.perf_counter() - started) / requests * 1e6
                best[name] = min(best.get(name, took), took)
    finally:
        await node.shutdown()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="time envelope and runner only")
    args = parser.parse_args()
    if args.in_process:
        best = asyncio.run(in_process(args.requests, args.rounds))
        print(f"{args.requests} publishes x {args.rounds} rounds in process (memory engine, no subscriber)")
        for name, micros in best.items():
            print(f"{name:<24}{micros:>8.1f} us per publish  ({1e6 / micros:,.0f}/s)")
        return 0
    config = {"secret": SECRET, "api_key": KEY, "insecure": True, "log_level": "warning"}
    with tempfile.TemporaryDirectory() as tmp, SockhubProcess(Path(tmp), config, name="bench") as hub:
        held = subscribers(hub.ws_url, args.subscribers)
        styles = requests_of(hub.port)
        rates: dict[str, list[float]] = {name: [] for name in styles}
        latencies: dict[str, list[float]] = {name: [] for name in styles}
        for _ in range(args.rounds):
            for name, request in styles.items():
                rate = asyncio.run(round_of(hub.port, request, args.requests, args.concurrency, latencies[name]))
                rates[name].append(rate)
        for ws in held:
            ws.close()
    print(f"{args.requests} publishes x {args.rounds} rounds, {args.concurrency} keep-alive connections, "
          f"{args.subscribers} subscribers (memory engine)")
    print(f"{'style':<24}{'requests/s (best)':>18}{'p50 ms':>9}{'p99 ms':>9}")
    for name in styles:
        cuts = statistics.quantiles(latencies[name], n=100)
        print(f"{name:<24}{max(rates[name]):>18.0f}{cuts[49] * 1000:>9.2f}{cuts[98] * 1000:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
