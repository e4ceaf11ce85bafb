"""The protocol-neutral values: messages and client infos as they travel
between node, engines and clients, verified credentials, connect outcomes
and subscribe recoveries.

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


@dataclass(slots=True)
class Message:
    uid: str
    channel: str
    data: str  # raw JSON
    client: str = ""
    info: ClientInfo | None = None


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
