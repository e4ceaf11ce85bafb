"""The seam between the node and its engine.

The engine never imports the node, clients or the API.  It reports back
through the :class:`EngineHandler` given to :meth:`Engine.run`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.core.values import ClientInfo, HistoryPage, Message, StreamPosition


class EngineError(Exception):
    """The engine could not do what was asked (e.g. Redis unavailable).

    ``unknown`` False: the command was not done (it never reached the
    backend, or the backend refused it); True: the outcome is unknown (it
    was sent and no answer came in time: it may have been done, e.g. a
    publish delivered after a stall).  The node turns it into ``internal
    server error`` (clients, with retry advice) or a 503 (HTTP API) whose
    message says which."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    size: int = 0
    lifetime: int = 0  # seconds
    drop_inactive: bool = False

    @property
    def enabled(self) -> bool:
        return self.size > 0 and self.lifetime > 0


class EngineHandler(Protocol):
    """Implemented by the node; called by the engine for everything it receives.

    Every message published on any node (this one included) reaches
    ``handle_message`` exactly once per node that subscribed the channel."""

    def handle_message(self, message: Message) -> None: ...

    def handle_join(self, channel: str, info: ClientInfo) -> None: ...

    def handle_leave(self, channel: str, info: ClientInfo) -> None: ...

    def handle_control(self, data: bytes) -> None: ...

    def handle_admin(self, data: bytes) -> None: ...

    def handle_api(self, data: bytes) -> None:
        """One item popped from the Redis API queue (``<prefix>.api[.N]``):
        the raw bytes a backend RPUSHed (a JSON API command, or the pre-1.6
        ``{"data":[...]}`` envelope).  Each item reaches exactly one node.
        Only the Redis engine with ``redis_api`` calls it."""
        ...

    def handle_lost(self, channels: list[str]) -> None:
        """The engine's subscription connection failed and is subscribed
        again: messages of ``channels`` published meanwhile did NOT reach
        this node.  Called once the channels are subscribed again and before
        any message that arrives through the new connection (so the node can
        have its clients recover from history).  Only the Redis engine calls
        it."""
        ...


class Engine(Protocol):
    """Broker, history and presence behind a node.

    Every method may raise :class:`EngineError`, promptly (within a couple of
    seconds) when its backend is unavailable; ``unsubscribe`` never does.
    Messages of one channel published from one node reach every node in
    publish order.  Implementations: app.engines.memory (delivers to the
    handler synchronously, inside ``publish_*``) and app.engines.redis
    (delivers asynchronously, through Redis, to every node including the
    publisher).  tests/engines/test_contract.py is the executable contract."""

    #: "Memory" or "Redis": what admin `info` reports.
    name: str

    async def run(self, handler: EngineHandler) -> None:
        """Start (connect, subscribe control channels).  Returns once ready,
        or, for Redis, after a short wait when it is unreachable: the engine
        keeps connecting in the background and the node stays up."""
        ...

    async def shutdown(self) -> None: ...

    async def publish_message(self, message: Message, history: HistoryOptions, idempotency_key: str = "") -> None:
        """Deliver to every node subscribed to ``message.channel`` and, when
        ``history.enabled``, append it to the channel's stream (at most
        ``history.size`` kept, lifetime renewed on each publish).

        Positions: appending gives the message the stream's next offset (the
        newest + 1) and its epoch, in one atomic step with the history write
        and the delivery, so every node receives the message with the same
        ``offset``/``epoch`` and offsets of one channel never repeat or skip
        within an epoch, whichever nodes publish.  When the call returns,
        ``message.offset``/``message.epoch`` hold them too.  A channel
        without a stream starts one: a new random epoch, offset 1.  Without
        history (or not appended, below) the message has offset 0, epoch "".

        With ``drop_inactive``, no new stream is started for a channel that
        has no subscriber anywhere (and no touch mark).

        With an ``idempotency_key``: when a publish with the same key into
        the same channel was made within ``idempotent_result_ttl`` seconds
        (by any node sharing the engine), nothing is published and the
        message gets that first publish's offset and epoch; the check and
        the publish are one atomic step."""
        ...

    async def publish_join(self, channel: str, info: ClientInfo) -> None: ...

    async def publish_leave(self, channel: str, info: ClientInfo) -> None: ...

    async def publish_control(self, data: bytes) -> None:
        """To every node, this one included."""
        ...

    async def publish_admin(self, data: bytes) -> None: ...

    async def subscribe(self, channel: str) -> None:
        """This node has its first local subscriber of ``channel``."""
        ...

    async def unsubscribe(self, channel: str, history: HistoryOptions | None = None) -> None:
        """This node's last local subscriber of ``channel`` left.

        Pass the channel's ``history`` options when they have ``drop_inactive``:
        new history is then still started for ``history.lifetime`` seconds
        after the last subscriber left (the "touch" of docs/protocol-1x.md §13), so a
        client that reconnects can recover what it missed meanwhile."""
        ...

    async def add_presence(self, channel: str, uid: str, info: ClientInfo, expire: int) -> None: ...

    async def remove_presence(self, channel: str, uid: str) -> None: ...

    async def presence(self, channel: str) -> dict[str, ClientInfo]: ...

    async def history(self, channel: str, limit: int = -1, since: StreamPosition | None = None,
                      reverse: bool = False, lifetime: int = 0) -> HistoryPage:
        """The channel's kept publications (each with its offset and epoch)
        and its current position, read atomically.

        ``limit``: -1 (any negative) all, 0 none (the position alone), N at
        most N.  Oldest first, or newest first with ``reverse``.  ``since``:
        forward, only publications after ``since.offset``; reverse, only
        those before it.  ``since.epoch`` is not compared here: the caller
        compares it with the returned position's.  ``lifetime`` > 0: a
        channel without a stream gets one (a new epoch, offset 0, living
        ``lifetime`` seconds unless published to), so a subscriber that read
        its position before the first publish sees the epoch later
        publications carry; 0 reads only ((0, "") when there is none).

        The 1.x dialect's read is ``reverse=True`` (newest first)."""
        ...

    async def remove_history(self, channel: str) -> None:
        """Drop the kept publications; the position (offset counter and
        epoch) stays, so a client that missed them is told it cannot
        recover rather than given a wrong "nothing missed"."""
        ...

    async def channels(self) -> list[str]:
        """Channels with at least one subscriber on any node."""
        ...


@runtime_checkable
class ImmediateEngine(Protocol):
    """The capability of an engine that publishes without awaiting (the
    memory engine): each method has the effects and guarantees of its
    :class:`Engine` namesake, complete when the call returns, so the API's
    batches need no coroutine per message.  Whoever publishes checks for it
    ONCE, when it is given the engine (app.core.publisher.Publisher);
    an engine wrapped by something that only forwards the async methods
    (a test double injecting faults) simply does not have it."""

    def publish_message_now(self, message: Message, history: HistoryOptions, idempotency_key: str = "") -> None: ...

    def publish_admin_now(self, data: bytes) -> None: ...
