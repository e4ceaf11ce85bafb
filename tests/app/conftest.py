"""Fixtures for the command logic: a recording Session (the one fake allowed,
at the transports seam), a real MemoryEngine, a Node on an injectable clock."""
from __future__ import annotations

import json
from typing import Any, AsyncIterator, Callable

import pytest

from app.dialects.v1x import auth
from app.core.engine import EngineError
from app.engines.memory import MemoryEngine
from app.node import Node
from app.options import ChannelOptions, Namespace, Options
from transports.frames import Prepared
from transports.interfaces import NO_REQUEST

SECRET = "secret"


class FakeClock:
    """Seconds that only move when a test says so."""

    def __init__(self, now: float = 1_500_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSession:
    """Implements transports.interfaces.SessionHandle and records what was sent.

    ``pending`` is what pending_bytes reports (tests raise it to simulate a
    peer that does not read).  close() ends the session and calls the
    connection's on_close once, as every transport does."""

    _ids = 0

    def __init__(self, transport: str = "websocket") -> None:
        RecordingSession._ids += 1
        self.id = f"s{RecordingSession._ids}"
        self.transport = transport
        self.remote_ip = "127.0.0.1"
        self.request = NO_REQUEST
        self.batching = "separate"
        self.sent: list[str] = []
        self.binary: list[bytes] = []
        self.frames: list[Prepared] = []
        self.close_args: tuple[int, str] | None = None
        self.close_grace: float | None = None
        #: len(sent) when drop_queued() was called (None: never)
        self.dropped_at: int | None = None
        self.pending = 0
        self.connection: Any = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending_bytes(self) -> int:
        return self.pending

    def send(self, text: str) -> None:
        if not self._closed:
            self.sent.append(text)

    def send_binary(self, data: bytes) -> None:
        if not self._closed:
            self.binary.append(data)

    def send_frame(self, frame: Prepared) -> None:
        if not self._closed:
            self.frames.append(frame)
            if frame.data is None:
                self.sent.append(frame.text)
            else:
                self.binary.append(frame.data)

    def close(self, code: int = 3000, reason: str = "Go away!", grace: float | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self.close_args = (code, reason)
        self.close_grace = grace
        if self.connection is not None:
            self.connection.on_close()

    def drop_queued(self) -> int:
        self.dropped_at = len(self.sent)
        return 0

    # helpers for tests

    def messages(self) -> list[Any]:
        return [json.loads(text) for text in self.sent]

    def last(self) -> Any:
        return json.loads(self.sent[-1])

    def close_advice(self) -> dict[str, Any] | None:
        if self.close_args is None:
            return None
        assert self.close_args[0] == 3000
        return json.loads(self.close_args[1])


def token(user: str, timestamp: float, info: str = "") -> dict[str, str]:
    ts = str(int(timestamp))
    return {"user": user, "timestamp": ts, "info": info, "token": auth.connection_token(SECRET, user, ts, info)}


def make_options(**kw: Any) -> Options:
    options = Options(secret=SECRET, name="test-node")
    options.channel = ChannelOptions()
    options.namespaces = [
        Namespace("public", ChannelOptions(anonymous=True, publish=True, presence=True, join_leave=True)),
        Namespace("hist", ChannelOptions(publish=True, history_size=3, history_lifetime=60, recover=True)),
        Namespace("watched", ChannelOptions(publish=True, watch=True)),
    ]
    for key, value in kw.items():
        setattr(options, key, value)
    return options


class WrappedEngine:
    """An engine that forwards the async Engine methods to ``inner`` (a real
    engine), and only those: it lacks the memory engine's immediate forms
    (app.core.engine.ImmediateEngine), so the node awaits every publish.
    Test doubles change what they need by overriding a method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return str(self.inner.name)

    async def run(self, handler: Any) -> None:
        await self.inner.run(handler)

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def publish_message(self, message: Any, history: Any) -> None:
        await self.inner.publish_message(message, history)

    async def publish_join(self, channel: str, info: Any) -> None:
        await self.inner.publish_join(channel, info)

    async def publish_leave(self, channel: str, info: Any) -> None:
        await self.inner.publish_leave(channel, info)

    async def publish_control(self, data: bytes) -> None:
        await self.inner.publish_control(data)

    async def publish_admin(self, data: bytes) -> None:
        await self.inner.publish_admin(data)

    async def subscribe(self, channel: str) -> None:
        await self.inner.subscribe(channel)

    async def unsubscribe(self, channel: str, history: Any = None) -> None:
        await self.inner.unsubscribe(channel, history)

    async def add_presence(self, channel: str, uid: str, info: Any, expire: int) -> None:
        await self.inner.add_presence(channel, uid, info, expire)

    async def remove_presence(self, channel: str, uid: str) -> None:
        await self.inner.remove_presence(channel, uid)

    async def presence(self, channel: str) -> Any:
        return await self.inner.presence(channel)

    async def history(self, channel: str, limit: int = -1, since: Any = None, reverse: bool = False,
                      lifetime: int = 0) -> Any:
        return await self.inner.history(channel, limit, since, reverse, lifetime)

    async def remove_history(self, channel: str) -> None:
        await self.inner.remove_history(channel)

    async def channels(self) -> list[str]:
        return list(await self.inner.channels())


class FaultyEngine(WrappedEngine):
    """A real engine whose calls named in ``failing`` raise EngineError (as a
    Redis engine does when Redis is unreachable)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.failing: set[str] = set()

    def _check(self, name: str) -> None:
        if name in self.failing:
            raise EngineError(f"{name} failed (injected)")

    async def subscribe(self, channel: str) -> None:
        self._check("subscribe")
        await super().subscribe(channel)

    async def unsubscribe(self, channel: str, history: Any = None) -> None:
        self._check("unsubscribe")
        await super().unsubscribe(channel, history)

    async def publish_message(self, message: Any, history: Any) -> None:
        self._check("publish_message")
        await super().publish_message(message, history)

    async def publish_join(self, channel: str, info: Any) -> None:
        self._check("publish_join")
        await super().publish_join(channel, info)

    async def publish_control(self, data: bytes) -> None:
        self._check("publish_control")
        await super().publish_control(data)

    async def add_presence(self, channel: str, uid: str, info: Any, expire: int) -> None:
        self._check("add_presence")
        await super().add_presence(channel, uid, info, expire)

    async def presence(self, channel: str) -> Any:
        self._check("presence")
        return await super().presence(channel)

    async def history(self, channel: str, limit: int = -1, since: Any = None, reverse: bool = False,
                      lifetime: int = 0) -> Any:
        self._check("history")
        return await super().history(channel, limit, since, reverse, lifetime)

    async def channels(self) -> list[str]:
        self._check("channels")
        return await super().channels()


class Harness:
    """A started node and helpers to open and drive clients."""

    def __init__(self, node: Node, clock: FakeClock) -> None:
        self.node = node
        self.clock = clock

    def open(self, transport: str = "websocket") -> RecordingSession:
        session = RecordingSession(transport)
        conn = self.node.connection_factory(session)
        session.connection = conn
        conn.on_open()
        return session

    async def send(self, session: RecordingSession, payload: Any) -> Any:
        """Send a command (object/array, or raw text) and return the new reply."""
        before = len(session.sent)
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await session.connection.on_message(text)
        new = session.sent[before:]
        return json.loads(new[-1]) if new else None

    async def connect(self, user: str = "42", info: str = "", transport: str = "websocket") -> RecordingSession:
        session = self.open(transport)
        reply = await self.send(session, {"uid": "1", "method": "connect",
                                          "params": token(user, self.clock(), info)})
        assert reply["body"]["client"], reply
        return session

    def client_id(self, session: RecordingSession) -> str:
        return session.connection.id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def options() -> Options:
    return make_options()


@pytest.fixture
def harness_factory(clock: FakeClock) -> Callable[..., Any]:
    """``async with`` helper: start a node on options, shut it down after."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(options: Options | None = None, engine: Any = None) -> AsyncIterator[Harness]:
        opts = options or make_options()
        node = Node(opts, engine or MemoryEngine(opts, clock=clock), clock=clock, tick_interval=3600)
        await node.start()
        try:
            yield Harness(node, clock)
        finally:
            await node.shutdown()

    return make
