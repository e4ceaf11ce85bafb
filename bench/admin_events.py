"""What the admin page's live events cost the publish path (prints figures; not a test).

    .venv/bin/python bench/admin_events.py [--rounds 9] [--batches 200]

One node in this process (memory engine), API batches of 100 publishes (each
to its own channel, no subscriber: the publish path alone), CPU time per
publish, best and median of ``rounds`` rounds of ``batches`` batches each,
in turns: with no admin page ("off": the hot path reads one flag) and with
a page watching events ("on": each publish is recorded, at most 300 per
0.25 s flush, the rest counted as dropped).  Compare "off" with the commit
before the events (same command there, it then prints "off" only).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engines.memory import MemoryEngine  # noqa: E402
from app.node import Node  # noqa: E402
from app.options import Options  # noqa: E402

BATCH = 100


async def one_round(watching: bool, batches: int) -> float:
    """CPU microseconds per publish of one round on a fresh node."""
    options = Options(secret="s")
    node = Node(options, MemoryEngine(options))
    await node.start()
    events = getattr(node, "events", None)
    if watching and events is not None:
        events.add_listener(lambda text, count: None)
        events.watch(True)
    body = json.dumps([{"method": "publish", "params": {"channel": f"c{i}", "data": {"n": i}}}
                       for i in range(BATCH)]).encode()
    started = time.process_time()
    for _ in range(batches):
        await node.api.execute(body)
    spent = time.process_time() - started
    await node.shutdown()
    return spent / (batches * BATCH) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    modes = ["off", "on"]
    try:
        from app.core.events import EventFeed  # noqa: F401
    except ImportError:  # the commit before the live events
        modes = ["off"]
    figures: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            figures[mode].append(await one_round(mode == "on", args.batches))
    for mode, values in figures.items():
        print(f"{mode}: {min(values):.2f} µs/publish best, {statistics.median(values):.2f} median "
              f"({args.rounds} rounds of {args.batches * BATCH} publishes)")


if __name__ == "__main__":
    asyncio.run(main())
