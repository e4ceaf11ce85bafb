"""Seeded fuzz of what reaches the status events from outside: user and
channel names (any text a client or token may carry) through both stores
(the Redis one a real redis-server, whose Lua cuts member groups by bytes),
and a backend answering anything (status codes, slow answers, dropped
connections, garbage bodies) to the webhook drain.  Names come back exactly
(or, unencodable, produce nothing and no error); every event is delivered
once accepted, in order, and nothing is logged at ERROR."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from app.core.status import StatusEngine, StatusStore, StatusTracker
from app.core.status_memory import MemoryStatusStore
from app.engines.memory import MemoryEngine
from app.engines.redis import RedisEngine
from app.options import Options
from app.core.webhooks import WebhookDrain
from tests.engines.harness import RecordingHandler, redis_options, running
from tests.fuzz.generators import SURROGATES
from tests.support.net import free_port
from tests.support.redis import RedisServer, redis_server

SEED = 20261207
NAMES = 200
POSTS = 60


def name(rng: random.Random) -> str:
    pieces = ["a", ":", "#", "$", "&", ",", "0", "12:", "m3:", "\x00", "\n", "é", "漢", "🙂", '"', "\\", " ",
              "{", "}", "%d", "..", "-1"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
    if rng.random() < 0.05:
        text += rng.choice(SURROGATES)
    if rng.random() < 0.03:
        text = "x" * rng.choice((255, 300, 4000))
    return text


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


class _Client:
    def __init__(self, n: int, user: str) -> None:
        self.id = f"client-{n}"
        self.user = user


@contextlib.asynccontextmanager
async def store_of(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[StatusStore]:
    if kind == "memory":
        yield MemoryStatusStore()
        return
    server: RedisServer = request.getfixturevalue("redis")
    engine = RedisEngine(redis_options(server.url))
    assert isinstance(engine, StatusEngine)
    async with running(engine, RecordingHandler()):
        yield engine.status_store()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_names_come_back_exactly(kind: str, request: pytest.FixtureRequest,
                                       caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(SEED)
    options = Options(status_grace=0.0)
    async with store_of(kind, request) as store:
        tracker = StatusTracker(store, lambda: options, time.time)
        tracker.start(True)
        expected: list[tuple[str, str, str]] = []
        for n in range(NAMES):
            user, channel = name(rng), name(rng)
            client = _Client(n, user if rng.random() < 0.9 else "")
            tracker.connected(client)
            tracker.subscribed(client, channel, presence=True)
            tracker.unsubscribed(client, channel)
            tracker.disconnected(client)
            ok = all(_encodes(s) for s in (client.user, channel))
            if ok:
                expected += [("channel_occupied", channel, "")]
                if client.user:
                    expected = [("user_online", "", client.user)] + expected
                    expected += [("member_added", channel, client.user)]
        await tracker.stop()
        events: list[dict[str, Any]] = []
        while batch := await store.take("fuzz", 500, 5):
            assert await store.ack("fuzz", len(batch))
            events += [json.loads(raw) for raw in batch]
        got = {(e["name"], e.get("channel", ""), e.get("user_id", "")) for e in events}
        assert set(expected) <= got
        assert tracker.idle
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class _Fuzzed(RequestHandler):
    def initialize(self, rng: random.Random, accepted: list[dict[str, Any]]) -> None:
        self.rng = rng
        self.accepted = accepted

    async def post(self) -> None:
        choice = self.rng.randrange(8)
        if choice == 0:  # too slow: the drain gives up (webhook_timeout)
            await asyncio.sleep(0.5)
        if choice == 1:  # the connection dropped mid-answer
            assert self.request.connection is not None and self.request.connection.stream is not None
            self.request.connection.stream.close()
            return
        status = self.rng.choice([200, 201, 204, 301, 400, 404, 500, 502, 503]) if choice < 6 else 200
        if 200 <= status < 300:
            self.accepted.extend(json.loads(self.request.body)["events"])
        self.set_status(status)
        if status != 204:
            self.finish(self.rng.choice([b"", b"\xff\xfe", b"{" * 100, b"ok" * 1000]))


@pytest.mark.async_timeout(120)
async def test_any_backend_answer_ends_in_delivery(caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(SEED)
    accepted: list[dict[str, Any]] = []
    port = free_port()
    server = HTTPServer(Application([("/hook", _Fuzzed, {"rng": rng, "accepted": accepted})]))
    server.listen(port, "127.0.0.1")
    options = Options(webhook_endpoint=f"http://127.0.0.1:{port}/hook", webhook_timeout=0.3,
                      webhook_retry_max=0.05, webhook_batch_size=3, status_grace=0.0)
    engine = MemoryEngine(options)
    store = engine.status_store()
    tracker = StatusTracker(store, lambda: options, time.time)
    tracker.start(True)
    for n in range(POSTS):
        tracker.connected(_Client(n, f"u{n}"))
    await tracker.stop()
    drain = WebhookDrain(store, lambda: options, _nowhere, time.time, lambda: "fuzz")
    drain.start()
    try:
        deadline = time.monotonic() + 90
        while await store.pending() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await drain.stop()
        server.stop()
    unique = list(dict.fromkeys(e["id"] for e in accepted))  # a 2xx lost in a timeout comes again
    assert len(unique) == POSTS
    assert [e["user_id"] for e in {e["id"]: e for e in accepted}.values()] == [f"u{n}" for n in range(POSTS)]
    assert drain.failures > 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("sockhub")]


async def _nowhere(channel: str, event: str) -> None:
    return None
