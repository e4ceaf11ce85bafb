"""Status events per second the outbox sustains (prints figures; not a test).

    .venv/bin/python bench/status_outbox.py [--users 5000] [--batch 100]

For the memory store and the Redis store (a redis-server of its own, no
persistence), two figures:

* ``produce``: ``users`` connections enter and then leave their user group
  (no grace) through a :class:`~app.core.status.StatusTracker`, as the
  core's hooks do: one ``user_online`` and one ``user_offline`` each, so
  2 x users events written into the outbox; events/s until the outbox holds
  them all;
* ``deliver``: a :class:`~app.core.webhooks.WebhookDrain` POSTs them, signed, in
  batches of ``--batch`` to a Tornado backend in the same process that
  answers 200; events/s until the outbox is empty.

Both run on one event loop of one core (the backend's cost is included).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tornado.httpserver import HTTPServer  # noqa: E402
from tornado.web import Application, RequestHandler  # noqa: E402

from app.core.engine import Engine  # noqa: E402
from app.core.status import StatusEngine, StatusTracker  # noqa: E402
from app.engines.memory import MemoryEngine  # noqa: E402
from app.engines.redis import RedisEngine  # noqa: E402
from app.options import Options  # noqa: E402
from app.core.webhooks import WebhookDrain  # noqa: E402
from tests.engines.harness import RecordingHandler  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.redis import redis_server  # noqa: E402


class _Ok(RequestHandler):
    def post(self) -> None:
        self.finish("ok")


class _Client:
    def __init__(self, n: int) -> None:
        self.id = f"c{n}"
        self.user = f"u{n}"



async def run(engine: Engine, options: Options, users: int) -> tuple[float, float]:
    await engine.run(RecordingHandler())
    assert isinstance(engine, StatusEngine)
    store = engine.status_store()
    tracker = StatusTracker(store, lambda: options, time.time)
    tracker.start(True)
    clients = [_Client(n) for n in range(users)]
    started = time.perf_counter()
    for client in clients:
        tracker.connected(client)
    for client in clients:
        tracker.disconnected(client)
    while await store.pending() < 2 * users:
        await asyncio.sleep(0.005)
    produce = 2 * users / (time.perf_counter() - started)
    await tracker.stop()
    drain = WebhookDrain(store, lambda: options, _no_publish, time.time, lambda: "bench")
    started = time.perf_counter()
    drain.start()
    while await store.pending() > 0:
        await asyncio.sleep(0.005)
    deliver = 2 * users / (time.perf_counter() - started)
    await drain.stop()
    await engine.shutdown()
    return produce, deliver


async def _no_publish(channel: str, event: str) -> None:
    return None


async def main(users: int, batch: int) -> None:
    port = free_port()
    server = HTTPServer(Application([("/hook", _Ok)]))
    server.listen(port, "127.0.0.1")
    common = {"webhook_endpoint": f"http://127.0.0.1:{port}/hook", "webhook_secret": "s", "status_grace": 0,
              "webhook_batch_size": batch}
    print(f"{users} users, 2 events each, batches of {batch}")
    options = Options(**common)
    produce, deliver = await run(MemoryEngine(options), options, users)
    print(f"memory  produce {produce:9.0f} events/s   deliver {deliver:9.0f} events/s")
    with redis_server() as redis:
        options = Options(engine="redis", redis_url=redis.url, redis_prefix="bench", **common)
        produce, deliver = await run(RedisEngine(options), options, users)
        print(f"redis   produce {produce:9.0f} events/s   deliver {deliver:9.0f} events/s")
    server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.batch))
