"""Stream positions as the API writes them: a publication's ``offset`` and a
channel's ``epoch`` (shared/CENTRIFUGAL.md §1.10, §4.1).

THE one place the API reads them: the engines set ``offset``/``epoch`` on a
message as they publish it and on every message history returns (channels
without history: 0 and "", left out of results).
"""
from __future__ import annotations

import json
from typing import Sequence

from app.core.values import Message
from app.dialects.v2api.errors import UNRECOVERABLE_POSITION, ApiError
from app.dialects.v2api.params import Position


def offset_of(message: Message) -> int:
    """The publication's offset in its channel (0: unknown)."""
    offset = getattr(message, "offset", 0)
    return offset if isinstance(offset, int) else 0


def stream_top(newest_first: Sequence[Message]) -> Position:
    """The channel's current position: the newest publication's offset,
    and the channel's epoch."""
    epoch = getattr(newest_first[0], "epoch", "") if newest_first else ""
    return Position(offset_of(newest_first[0]) if newest_first else 0, epoch if isinstance(epoch, str) else "")


def since(newest_first: list[Message], position: Position, top: Position) -> list[Message]:
    """The publications after ``position``, newest first; ``unrecoverable
    position`` (112) when it is of another epoch."""
    if position.epoch != top.epoch:
        raise ApiError(UNRECOVERABLE_POSITION)
    return [m for m in newest_first if offset_of(m) > position.offset]


def published(message: Message) -> str:
    """The result of a publish: the new publication's ``{offset, epoch}``
    (the engine set them; zero values left out: a channel without history)."""
    parts = []
    offset = offset_of(message)
    if offset:
        parts.append('"offset":' + str(offset))
    epoch = getattr(message, "epoch", "")
    if isinstance(epoch, str) and epoch:
        parts.append('"epoch":' + json.dumps(epoch))
    return "{" + ",".join(parts) + "}"
