"""Added latency per connect with a connect proxy (backend on loopback).

    PYTHONPATH=. .venv/bin/python bench/proxy_latency.py [--connects 400]

Starts a backend (a Tornado app in its own process answering
``{"result":{"user":"1"}}``) and, per HTTP client (``simple``, and ``curl``
when pycurl imports), a sockhub with ``proxy_connect_endpoint``.  Each run
makes ``--connects`` pairs of protocol v2 connects (open the websocket,
send ``connect``, read the reply, close): one with a JWT, then one without
a token (the connect hook), interleaved so a shared machine's load falls on
both; prints the median and p90 of each and the median of the pairs'
differences: the latency the hook adds to a connect.  First, the
HTTP call alone per client, in this process (5 x ``--connects`` calls).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.net import free_port, wait_port  # noqa: E402
from tests.support.server import SockhubProcess  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret"


def backend(port: int) -> None:
    """The backend process: answers every POST at once (keep-alive)."""
    import asyncio

    from tornado.web import Application, RequestHandler

    class Connect(RequestHandler):
        def post(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.write(b'{"result":{"user":"1"}}')

    async def serve() -> None:
        Application([(r"/connect", Connect)]).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


def connect_once(url: str, command: str) -> float:
    """Seconds for one connect (websocket open + connect reply)."""
    started = time.perf_counter()
    ws = websocket.create_connection(url, timeout=10)
    ws.send(command)
    reply = json.loads(ws.recv())
    taken = time.perf_counter() - started
    assert "connect" in reply, reply
    ws.close()
    return taken


def paired(url: str, n: int, token: str) -> tuple[list[float], list[float], list[float]]:
    """``n`` pairs, a JWT connect then a hook connect, interleaved so that the
    load of a shared machine falls on both alike: the two lists of seconds
    and each pair's difference."""
    with_token = json.dumps({"id": 1, "connect": {"token": token}})
    with_hook = json.dumps({"id": 1, "connect": {}})
    tokens, hooks, differences = [], [], []
    for _ in range(n):
        a, b = connect_once(url, with_token), connect_once(url, with_hook)
        tokens.append(a)
        hooks.append(b)
        differences.append(b - a)
    return tokens, hooks, differences


def http_calls(kind: str, port: int, n: int) -> dict[str, Any]:
    """The hook's HTTP call alone (app.proxy.http), in this process: ``n`` calls."""
    import asyncio

    from app.proxy.http import ProxyHttp

    async def calls() -> list[float]:
        http = ProxyHttp(65536, 8, kind)
        taken = []
        for _ in range(n):
            started = time.perf_counter()
            await http.post(f"http://127.0.0.1:{port}/connect", b"{}", (), 1.0)
            taken.append(time.perf_counter() - started)
        http.close()
        return taken

    return {"client": kind, "http_call": summary(asyncio.run(calls())[n // 10:])}


def summary(taken: list[float]) -> dict[str, float]:
    ordered = sorted(taken)
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3)}


def run(kind: str, backend_port: int, n: int, tmp: Path) -> dict[str, Any]:
    config = {"secret": SECRET, "proxy_connect_endpoint": f"http://127.0.0.1:{backend_port}/connect",
              "proxy_http_client": kind, "log_level": "warning"}
    hub = SockhubProcess(tmp, config, name=f"bench-{kind}").start()
    try:
        token = jwt.encode({"sub": "1"}, SECRET, algorithm="HS256")
        paired(hub.ws_url, 50, token)  # warm up both paths
        with_token, with_proxy, added = paired(hub.ws_url, n, token)
    finally:
        hub.stop()
    return {"client": kind, "token": summary(with_token), "proxy": summary(with_proxy),
            "added_median_ms": round(statistics.median(added) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connects", type=int, default=400)
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        backend(args.backend)
        return
    import importlib.util
    import tempfile
    kinds = ["simple"] + (["curl"] if importlib.util.find_spec("pycurl") else [])
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--backend", str(port)])
    try:
        wait_port(port)
        for kind in kinds:
            print(json.dumps(http_calls(kind, port, args.connects * 5)))
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                print(json.dumps(run(kind, port, args.connects, Path(tmp))))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
