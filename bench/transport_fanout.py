"""Fan-out over SockJS websocket: sockhub's transports vs sockjs-tornado 1.0.7.

    .venv/bin/python bench/transport_fanout.py [--sizes 1000,5000] [--seconds 5]

For each size and each server (same run, one after the other), a server
process runs a broadcast service (every message of any session goes to every
session) and a Node load client (bench/clients/fanout.js, npm `ws`) opens the
subscribers plus one publisher, which sends ``rate`` ~100-byte messages a
second.  Printed: deliveries/s, p50/p99 latency (send -> receive, one clock),
lost (not delivered within the drain time), and the server's RSS growth per
connection (sampled once everyone is connected, before publishing).
The offered load is about 100k deliveries/s at either size by default
(1,000 x 100/s and 5,000 x 20/s).  This prints figures; it asserts nothing.
sockjs-tornado is imported only here, in its own process.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.net import free_port, wait_port  # noqa: E402

SERVERS = ("sockhub", "sockjs-tornado")
#: the design alternative measured once (``--servers sockhub,tornado-wsh``):
#: Tornado's own WebSocketHandler, frame text built once, write_message per peer
ALTERNATIVES = ("tornado-wsh",)


# -- the servers (each runs in its own process: `--serve NAME --port N`) -----------


def serve_sockhub(port: int) -> None:
    from tornado.web import Application

    from transports.frames import Prepared
    from transports.interfaces import Connection, SessionHandle
    from transports.router import SockJSRouter

    sessions: set[SessionHandle] = set()

    class Member:
        def __init__(self, session: SessionHandle) -> None:
            self.session = session

        def on_open(self) -> None:
            sessions.add(self.session)

        async def on_message(self, text: str) -> None:
            frame = Prepared(text)  # encoded once for every subscriber
            for session in sessions:
                session.send_frame(frame)

        def on_close(self) -> None:
            sessions.discard(self.session)

    def factory(session: SessionHandle) -> Connection:
        return Member(session)

    async def main() -> None:
        router = SockJSRouter(factory, "/bcast")
        Application(router.urls).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


def serve_tornado_wsh(port: int) -> None:
    import json

    from tornado.web import Application
    from tornado.websocket import WebSocketClosedError, WebSocketHandler

    peers: set[WebSocketHandler] = set()

    class Member(WebSocketHandler):
        def open(self, *_: str) -> None:
            peers.add(self)
            self.write_message("o")

        def on_message(self, message: str | bytes) -> None:
            frame = "a" + json.dumps(json.loads(message))  # built once
            for peer in list(peers):
                try:
                    peer.write_message(frame)
                except WebSocketClosedError:
                    peers.discard(peer)

        def on_close(self) -> None:
            peers.discard(self)

    async def main() -> None:
        Application([(r"/bcast/[^/]+/[^/]+/websocket", Member)]).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the driver -------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_one(server: str, connections: int, rate: float, seconds: float, size: int) -> dict[str, object]:
    port = free_port()
    if server == "sockjs-tornado":  # the same peer server as bench/run.py's
        argv = [sys.executable, str(ROOT / "bench/peers/sockjs_tornado_bcast.py"), str(port)]
    else:
        argv = [sys.executable, __file__, "--serve", server, "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT)
    try:
        wait_port(port)
        time.sleep(0.3)
        base_rss = rss_kib(proc.pid)
        client = subprocess.Popen(
            ["node", str(ROOT / "bench/clients/fanout.js"), f"ws://127.0.0.1:{port}/bcast",
             str(connections), str(rate), str(seconds), str(size)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdout is not None and client.stdin is not None
        ready = client.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"load client failed: {ready!r}")
        time.sleep(0.5)
        per_conn = (rss_kib(proc.pid) - base_rss) * 1024 / (connections + 1)
        client.stdin.write("go\n")
        client.stdin.flush()
        out, _ = client.communicate(timeout=seconds + 120)
        result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
        result["rss_per_conn_kib"] = round(per_conn / 1024, 1)
        result["server"] = server
        return result
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=("sockhub", *ALTERNATIVES), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--offered", type=float, default=100_000.0,
                        help="offered deliveries/s (rate = offered / connections)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=100, help="message bytes")
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    if args.serve:
        serve = {"sockhub": serve_sockhub, "tornado-wsh": serve_tornado_wsh}[args.serve]
        serve(args.port)
        return
    header = f"{'server':<15}{'conns':>7}{'msg/s':>7}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'lost':>9}{'RSS/conn':>10}"
    print(header)
    for connections in (int(n) for n in args.sizes.split(",")):
        rate = args.offered / connections
        for server in args.servers.split(","):
            r = run_one(server, connections, rate, args.seconds, args.size)
            print(f"{server:<15}{connections:>7}{rate:>7.0f}{r['deliveries_per_s']:>14}"
                  f"{_ms(r['p50_ms']):>9}{_ms(r['p99_ms']):>9}{r['lost']:>9}"
                  f"{r['rss_per_conn_kib']:>7} KiB", flush=True)


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):.0f}"  # type: ignore[arg-type]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
