"""Instructions per delivery and per published message, counted by valgrind:
a figure that does not move with the load of a shared machine.

    .venv/bin/python bench/instructions.py [--subscribers 1000] [--publishes 20] [--batch 100] [--history 10]

Two in-process scenarios on one node (memory engine, the 1.x dialect, real
transport sessions with a sink that discards what it is given):

* ``fanout``: ``--publishes`` API publishes to one channel of
  ``--subscribers`` clients: instructions per delivery;
* ``batch``: one API request of ``--batch`` publishes to as many channels of
  one subscriber each: instructions per message;
* with ``--v2``, also ``fanout_v2json`` and ``fanout_v2pb``: ``fanout`` with
  protocol v2 subscribers (JSON, protobuf) on the raw websocket endpoint;
* with ``--v1``, ``fanout_v1json`` and ``fanout_v1pb``: the same with
  protocol v1 subscribers (centrifuge-js 2.x's frames).

``--history N`` gives the channels a history of N messages (lifetime 60 s),
so every publish also appends to it (and assigns the stream offset).

Each scenario runs under ``valgrind --tool=cachegrind`` twice, with and
without the measured part, and the difference is divided by the units: set-up
and interpreter start cancel out.  Prints the figures; asserts nothing.
Compare two commits by running it on each (``git stash`` / a worktree).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jwt  # noqa: E402

from app.dialects.v1x import auth  # noqa: E402
from app.dialects.v1 import protocol_pb2 as v1pb  # noqa: E402
from app.dialects.v2 import protocol_pb2 as pb  # noqa: E402
from app.dialects.v2.framing import uvarint  # noqa: E402
from app.engines.memory import MemoryEngine  # noqa: E402
from app.node import Node  # noqa: E402
from app.options import ChannelOptions, Options  # noqa: E402
from transports.frames import Prepared  # noqa: E402
from transports.router import SockJSRouter  # noqa: E402
from transports.interfaces import NO_REQUEST, OpenRequest  # noqa: E402
from transports.settings import SockJSSettings  # noqa: E402

SECRET = "bench-secret"


class NullSink:
    """A session Sink that writes nothing and counts the messages given to
    it in ``tally[0]`` (shared by the sinks of a run)."""

    buffered = 0
    undelivered = 0

    def __init__(self, tally: list[int]) -> None:
        self.tally = tally

    def write_open(self) -> None:
        pass

    def write_messages(self, items: list[Prepared]) -> None:
        self.tally[0] += len(items)

    def write_heartbeat(self) -> None:
        pass

    def write_close(self, code: int, reason: str) -> None:
        pass

    def half_close(self, grace: float) -> None:
        pass

    def abort(self) -> None:
        pass

    def resume(self) -> None:
        pass


def connect_frame(user: str) -> str:
    ts = str(int(time.time()))
    params = {"user": user, "timestamp": ts, "info": "", "token": auth.connection_token(SECRET, user, ts, "")}
    return json.dumps({"uid": "1", "method": "connect", "params": params})


def v2_frames(user: str, channel: str, protobuf: bool) -> list[str | bytes]:
    """Protocol v2 connect (a JWT) and subscribe, as one frame."""
    token = jwt.encode({"sub": user}, SECRET, algorithm="HS256")
    if not protobuf:
        return [json.dumps({"id": 1, "connect": {"token": token}}) + "\n"
                + json.dumps({"id": 2, "subscribe": {"channel": channel}})]
    frame = b""
    for command in (pb.Command(id=1, connect=pb.ConnectRequest(token=token)),
                    pb.Command(id=2, subscribe=pb.SubscribeRequest(channel=channel))):
        body = command.SerializeToString()
        frame += uvarint(len(body)) + body
    return [frame]


def v1_frames(user: str, channel: str, protobuf: bool) -> list[str | bytes]:
    """Protocol v1 connect (a JWT) and subscribe, as one frame."""
    token = jwt.encode({"sub": user}, SECRET, algorithm="HS256")
    if not protobuf:
        return [json.dumps({"id": 1, "params": {"token": token}}) + "\n"
                + json.dumps({"id": 2, "method": 1, "params": {"channel": channel}})]
    frame = b""
    for command in (v1pb.Command(id=1, params=v1pb.ConnectRequest(token=token).SerializeToString()),
                    v1pb.Command(id=2, method=v1pb.SUBSCRIBE,
                                 params=v1pb.SubscribeRequest(channel=channel).SerializeToString())):
        body = command.SerializeToString()
        frame += uvarint(len(body)) + body
    return [frame]


async def settle() -> None:
    """Let the loop run what is ready (tasks, the registry's flush) a fixed
    number of times: no wall-clock wait, so the count does not depend on how
    slow valgrind made the run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def scenario(name: str, subscribers: int, units: int, batch: int, history: int = 0) -> None:
    options = Options(secret=SECRET, name="bench")
    options.channel = ChannelOptions(publish=True, history_size=history, history_lifetime=60 if history else 0)
    node = Node(options, MemoryEngine(options), tick_interval=3600)  # no periodic work in the count
    await node.start()
    quiet = SockJSSettings(heartbeat_delay=3600, disconnect_delay=3600, ping_interval=3600)
    router = SockJSRouter(node.connection_factory, settings=quiet)
    channels = 1 if name.startswith("fanout") else batch
    clients = subscribers if name.startswith("fanout") else batch
    tally = [0]
    v2, v1 = name.startswith("fanout_v2"), name.startswith("fanout_v1")
    protobuf = name.endswith("pb")
    request = OpenRequest("/connection/websocket", "", "centrifuge-protobuf") if protobuf else NO_REQUEST
    for index in range(clients):
        session = router.new_session(f"s{index}", "raw_websocket", "127.0.0.1", request)
        session.start(node.connection_factory, NullSink(tally))  # type: ignore[arg-type]
        channel = "news" if channels == 1 else f"c{index}"
        if v2 or v1:
            frames = (v2_frames if v2 else v1_frames)(f"u{index}", channel, protobuf)
            await session.receive(frames)  # type: ignore[misc]
            continue
        await session.receive([connect_frame(f"u{index}")])  # type: ignore[misc]
        await session.receive([json.dumps({"uid": "2", "method": "subscribe", "params": {"channel": channel}})])  # type: ignore[misc]
    await settle()
    replies = tally[0]
    if name.startswith("fanout"):
        body = json.dumps({"method": "publish", "params": {"channel": "news", "data": {"text": "x" * 60}}}).encode()
        for _ in range(units):
            await node.api.execute(body)
            await asyncio.sleep(0)  # the registry's flush
    else:
        commands = [{"method": "publish", "params": {"channel": f"c{i}", "data": {"text": "x" * 60}}}
                    for i in range(batch)]
        body = json.dumps(commands).encode()
        for _ in range(units):
            await node.api.execute(body)
            await asyncio.sleep(0)
    await settle()
    delivered = tally[0] - replies
    expected = units * (subscribers if name.startswith("fanout") else batch)
    if delivered != expected:
        raise SystemExit(f"{name}: {delivered} deliveries, expected {expected}")
    await router.stop()
    await node.shutdown()


def count(name: str, args: argparse.Namespace, units: int) -> int:
    """Instructions of one run under cachegrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
                   sys.executable, __file__, "--run", name, "--units", str(units),
                   "--subscribers", str(args.subscribers), "--batch", str(args.batch),
                   "--history", str(args.history)]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if result.returncode != 0:
            raise SystemExit(f"{name}: valgrind failed:\n{result.stderr[-2000:]}")
        match = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
        if match is None:
            raise SystemExit(f"{name}: no instruction count in valgrind's output")
        return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--v2", action="store_true", help="also the protocol v2 fan-outs (JSON, protobuf)")
    parser.add_argument("--v1", action="store_true", help="also the protocol v1 fan-outs (JSON, protobuf)")
    parser.add_argument("--history", type=int, default=0, help="history size of the channels (0: none)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--units", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        asyncio.run(scenario(args.run, args.subscribers, args.units, args.batch, args.history))
        return
    rows: list[tuple[str, float, str]] = []
    scenarios = [("fanout", args.publishes, args.publishes * args.subscribers, "delivery"),
                 ("batch", args.batches, args.batches * args.batch, "message")]
    if args.v2:
        scenarios += [(name, args.publishes, args.publishes * args.subscribers, "delivery")
                      for name in ("fanout_v2json", "fanout_v2pb")]
    if args.v1:
        scenarios += [(name, args.publishes, args.publishes * args.subscribers, "delivery")
                      for name in ("fanout_v1json", "fanout_v1pb")]
    for name, units, per, label in scenarios:
        base = count(name, args, 0)
        measured = count(name, args, units)
        rows.append((name, (measured - base) / per, label))
    info: dict[str, Any] = {"subscribers": args.subscribers, "publishes": args.publishes, "batch": args.batch,
                            "batches": args.batches, "history": args.history}
    print(f"instructions (cachegrind, in-process; {info})")
    for name, value, label in rows:
        print(f"  {name:13s} {value:10,.0f} per {label}")


if __name__ == "__main__":
    main()
