"""One bench scenario on sockhub under py-spy: where the server's time goes.

    .venv/bin/python bench/profile.py rate_1k [--scale 1] [--top 30] [--rate 250]
        [--connect] [-- extra sockhub flags]

Starts a fresh sockhub, lets the load client connect (not profiled), then
records py-spy samples while messages flow (--connect: while the clients
connect and subscribe instead) and prints the functions with
the most samples: "self" (the function itself) and "total" (with callees).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import CLIENT, pinned  # noqa: E402
from bench.scenarios import SCENARIOS  # noqa: E402
from bench.servers import ROOT, SOCKHUB_CLIENT, sockhub_argv  # noqa: E402
from tests.support.net import free_port, wait_port  # noqa: E402


def summarize(collapsed: Path, top: int) -> None:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"{samples} samples")
    for title, counter in (("self", own), ("total", total)):
        print(f"\n-- {title} --")
        for frame, n in counter.most_common(top):
            print(f"{100 * n / samples:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=list(SCENARIOS))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples/s")
    parser.add_argument("--connect", action="store_true", help="profile the connect storm instead")
    parser.add_argument("extra", nargs="*", help="extra sockhub flags (after --)")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(pinned(sockhub_argv(port, tuple(args.extra)), 1), cwd=ROOT)
    collapsed = Path(tempfile.mkstemp(suffix=".txt")[1])
    try:
        wait_port(port, timeout=30)
        config = dict(SOCKHUB_CLIENT, url=f"http://127.0.0.1:{port}", **SCENARIOS[args.scenario].client_config(args.scale))
        spy_argv = [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(server.pid), "-r",
                    str(args.rate), "-f", "raw", "-o", str(collapsed), "--nonblocking"]
        spy = subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if args.connect else None
        time.sleep(1.0 if args.connect else 0)
        client = subprocess.Popen(pinned(["node", str(CLIENT), json.dumps(config)], 0), cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert client.stdin is not None and client.stdout is not None
        print(client.stdout.readline().strip())
        if spy is None:
            spy = subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        else:
            spy.send_signal(2)
        client.stdin.write("go\n")
        client.stdin.flush()
        out, _ = client.communicate(timeout=300)
        print(out.strip().splitlines()[-1])
        if spy.poll() is None:
            spy.send_signal(2)
        spy.wait(30)
        summarize(collapsed, args.top)
    finally:
        server.terminate()
        server.wait(10)
        os.unlink(collapsed)


if __name__ == "__main__":
    main()
