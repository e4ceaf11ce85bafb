"""Sessions, the flush callback and the tick with an injected clock and a
fake sink (no sockets: this is the SessionHandle seam from the transport side)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from transports.frames import Prepared
from transports.interfaces import Connection, SessionHandle
from transports.router import SockJSRouter
from transports.session import Session as SessionImpl
from transports.settings import SockJSSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSink:
    writes: list[str] = field(default_factory=list)
    aborted: int = 0
    session: SessionImpl | None = None
    ends_after_write: bool = False  # a poll

    def write_open(self) -> None:
        self._write("o")

    def write_messages(self, items: list[Prepared]) -> None:
        self._write("a" + ",".join(i.text for i in items))

    def write_heartbeat(self) -> None:
        self._write("h")

    def write_close(self, code: int, reason: str) -> None:
        self.writes.append(f"c{code}")
        self.end()

    def _write(self, frame: str) -> None:
        self.writes.append(frame)
        if self.ends_after_write:
            self.end()

    def end(self) -> None:
        if self.session is not None:
            self.session.detach(self, aborted=False)

    def abort(self) -> None:
        self.aborted += 1

    def resume(self) -> None: ...

    @property
    def buffered(self) -> int:
        return 7


@dataclass
class Conn:
    events: list[str]

    def on_open(self) -> None:
        self.events.append("open")

    async def on_message(self, text: str) -> None:
        self.events.append("msg:" + text)

    def on_close(self) -> None:
        self.events.append("close")


def make(clock: Clock) -> tuple[SockJSRouter, list[str]]:
    events: list[str] = []

    def factory(session: SessionHandle) -> Connection:
        return Conn(events)

    settings = SockJSSettings(heartbeat_delay=10, disconnect_delay=5)
    return SockJSRouter(factory, "/t", settings, clock=clock), events


def start(router: SockJSRouter, transport: str, sink: FakeSink) -> SessionImpl:
    session = router.new_session("s1", transport, "127.0.0.1")
    sink.session = session
    session.start(router.connection_factory, sink)
    return session


async def test_heartbeat_every_period_whatever_the_traffic() -> None:
    clock = Clock()
    router, _ = make(clock)
    sink = FakeSink()
    session = start(router, "websocket", sink)
    clock.now += 9
    router.registry.tick()
    assert sink.writes == ["o"]
    clock.now += 1
    router.registry.tick()
    assert sink.writes == ["o", "h"]
    clock.now += 5
    session.send("x")
    await asyncio.sleep(0)  # the flush callback
    clock.now += 4.9
    router.registry.tick()
    assert sink.writes == ["o", "h", "ax"]
    clock.now += 0.1
    router.registry.tick()
    assert sink.writes == ["o", "h", "ax", "h"]
    await router.stop()


async def test_sends_of_one_iteration_leave_as_one_frame() -> None:
    clock = Clock()
    router, _ = make(clock)
    sink = FakeSink()
    session = start(router, "websocket", sink)
    for text in ("1", "2", "3"):
        session.send(text)
    assert session.pending_bytes == 3 + 7
    assert sink.writes == ["o"]  # nothing written synchronously
    await asyncio.sleep(0)
    assert sink.writes == ["o", "a1,2,3"]
    assert session.pending_bytes == 7
    await router.stop()


async def test_detached_session_expires_once_after_disconnect_delay() -> None:
    clock = Clock()
    router, events = make(clock)
    sink = FakeSink(ends_after_write=True)
    session = start(router, "xhr", sink)
    assert sink.writes == ["o"] and events == ["open"]
    session.send("queued")
    clock.now += 4.9
    router.registry.tick()
    assert events == ["open"] and router.registry.get("s1") is session
    clock.now += 0.1
    router.registry.tick()
    assert events == ["open", "close"] and router.registry.get("s1") is None
    clock.now += 100
    router.registry.tick()
    session.close()
    assert events == ["open", "close"] and len(router.registry) == 0
    await router.stop()


async def test_a_new_poll_restarts_the_expiry_clock() -> None:
    clock = Clock()
    router, events = make(clock)
    session = start(router, "xhr", FakeSink(ends_after_write=True))
    clock.now += 4
    poll = FakeSink()
    poll.session = session
    session.attach(poll)
    clock.now += 4
    router.registry.tick()
    assert events == ["open"]
    poll.end()
    clock.now += 4.9
    router.registry.tick()
    assert events == ["open"]
    clock.now += 0.2
    router.registry.tick()
    assert events == ["open", "close"]
    await router.stop()


async def test_stuck_closing_handshake_is_aborted() -> None:
    clock = Clock()
    router, events = make(clock)

    class Stubborn(FakeSink):
        def write_close(self, code: int, reason: str) -> None:
            self.writes.append(f"c{code}")  # the peer never answers

    sink = Stubborn()
    session = start(router, "websocket", sink)
    session.close(3000, "bye")
    assert events == ["open", "close"]
    clock.now += 4.9
    router.registry.tick()
    assert sink.aborted == 0
    clock.now += 0.1
    router.registry.tick()
    assert sink.aborted == 1
    await router.stop()


async def test_heap_stays_small_under_activity() -> None:
    clock = Clock()
    router, _ = make(clock)
    sessions = []
    for i in range(50):
        sink = FakeSink()
        session = router.new_session(f"w{i}", "websocket", "")
        sink.session = session
        session.start(router.connection_factory, sink)
        sessions.append(session)
    for _ in range(200):
        clock.now += 1
        for s in sessions[::2]:
            s.send("busy")
        await asyncio.sleep(0)
        router.registry.tick()
    assert router.registry.scheduled() <= len(sessions)
    await router.stop()
