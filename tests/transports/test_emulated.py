"""transports/emulated.py: the emulated sessions' directory is bounded and
lets a session go as soon as it ends (its stream ended or it was closed)."""
from __future__ import annotations

import asyncio

from transports.emulated import HTTP_STREAM, SSE, EmulatedSessions
from transports.interfaces import OpenRequest
from transports.registry import SessionRegistry


class Sink:
    """The smallest Sink: records what the session wrote."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.closed: tuple[int, str] | None = None

    def write_open(self) -> None:
        pass

    def write_messages(self, items: list) -> None:  # type: ignore[type-arg]
        self.written += [item.text for item in items]

    def write_heartbeat(self) -> None:
        pass

    def write_close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def half_close(self, grace: float) -> None:
        pass

    buffered = 0
    undelivered = 0


class Conn:
    def __init__(self) -> None:
        self.closed = False

    def on_open(self) -> None:
        pass

    async def on_message(self, data: str | bytes) -> None:
        pass

    def on_close(self) -> None:
        self.closed = True


async def test_bound_lookup_and_release() -> None:
    registry = SessionRegistry(0.05)
    sessions = EmulatedSessions(registry, heartbeat=25, linger=5, max_sessions=2)
    first = sessions.new_session("a", HTTP_STREAM, "127.0.0.1", OpenRequest("/connection/http_stream"))
    second = sessions.new_session("b", SSE, "127.0.0.1", OpenRequest("/connection/sse"))
    conns = [Conn(), Conn()]
    sinks = [Sink(), Sink()]
    first.start(lambda _s: conns[0], sinks[0])
    second.start(lambda _s: conns[1], sinks[1])
    assert sessions.full and len(sessions) == 2 and len(registry) == 2
    assert sessions.get("a") is first and sessions.get("nope") is None
    first.send("hello")
    await asyncio.sleep(0)  # the registry's one flush
    assert sinks[0].written == ["hello"]
    # the stream ended (the peer went away): the session ends with it, at once
    first.detach(sinks[0], aborted=True)
    assert conns[0].closed and sessions.get("a") is None and not sessions.full and len(registry) == 1
    # closed by the application: the close reaches the sink, which ends and detaches
    second.close(3000, "bye")
    assert sinks[1].closed == (3000, "bye") and conns[1].closed
    second.detach(sinks[1], aborted=False)
    assert len(sessions) == 0 and len(registry) == 0 and registry.scheduled() == 0
    registry.stop()
