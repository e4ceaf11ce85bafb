"""The protocol-neutral values: messages and client infos as they travel
between node, engines and clients, stream positions and history pages,
verified credentials, connect outcomes and subscribe recoveries.

Raw JSON fields (``data``, ``default_info``, ``channel_info``) are kept as the
JSON text they arrived as and are written out byte for byte; they are
validated once, where they enter the server.  How a value looks on a wire is
each dialect's (and each engine's) business: nothing here encodes itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

_B62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


#: byte -> base-62 digit (b % 62), for bytes.translate: the per-message id in
#: C instead of a generator (bench/run.py batch_1k measures it)
_TO_B62 = bytes(_B62[b % 62] for b in range(256))


def new_uid() -> str:
    """A 22-character base-62 message id, like the NATS nuid Centrifugo uses."""
    return os.urandom(22).translate(_TO_B62).decode()


def new_epoch() -> str:
    """A stream epoch: 8 random base-62 characters (47 bits)."""
    return new_uid()[:8]


class UidSource:
    """:func:`new_uid` ids drawn ``batch`` at a time from one os.urandom
    call: one syscall per 64 messages of an API batch instead of one each."""

    __slots__ = ("_batch", "_pool")

    def __init__(self, batch: int = 64) -> None:
        self._batch = batch
        self._pool: list[str] = []

    def take(self) -> str:
        pool = self._pool
        if not pool:
            text = os.urandom(22 * self._batch).translate(_TO_B62).decode()
            pool.extend(text[i:i + 22] for i in range(0, len(text), 22))
        return pool.pop()


@dataclass(slots=True)
class ClientInfo:
    user: str
    client: str
    default_info: str = ""  # raw JSON or ""
    channel_info: str = ""  # raw JSON or ""


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a channel's stream stands: the ``offset`` of its newest
    publication (1, 2, 3... per channel; 0 before the first) in the stream
    ``epoch``, a random string made when the stream starts and changed
    whenever it is lost (expired, or Redis came back empty), so an offset
    is only meaningful together with its epoch."""

    offset: int
    epoch: str


#: The position of a channel that keeps no history: positions exist only
#: where history is kept (as in Centrifugo, docs/protocol-v2.md §7).
NO_POSITION = StreamPosition(0, "")


@dataclass(slots=True)
class Message:
    """A publication.  ``offset`` and ``epoch`` are its place in the channel's
    stream, set by the engine when it publishes into a channel with history
    (atomically with the history write); 0 and "" where no history is kept.
    The 1.x dialect never writes them."""

    uid: str
    channel: str
    data: str  # raw JSON
    client: str = ""
    info: ClientInfo | None = None
    offset: int = 0
    epoch: str = ""

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.offset, self.epoch)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """What a history read returns: the publications asked for, in the
    order asked for, and the stream's current position, read atomically
    with them."""

    publications: list[Message]
    position: StreamPosition


@dataclass(frozen=True, slots=True)
class Credentials:
    """A connect or refresh whose credentials the dialect has verified: the
    user, its connection info (valid raw JSON or "") and the token's time."""

    user: str
    info: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    """The outcome of a connect or refresh: the client id ("" when the
    credentials had expired and the connection stays unauthenticated),
    whether the connection expires, whether it has expired, and its
    lifetime in seconds."""

    client: str
    expires: bool
    expired: bool
    ttl: int


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a successful subscribe tells about the channel's stream: the
    newest message uid (``last``; "" when unknown or none kept), and when the
    client asked to recover, the messages it missed, newest first (None: it
    did not ask, or recovery is off), and whether those are all of them."""

    last: str = ""
    messages: list[Message] | None = None
    recovered: bool = False
