"""Stream positions as the API writes them: a publication's ``offset`` and a
channel's ``epoch`` (shared/CENTRIFUGAL.md §1.10, §4.1).

THE one place the API reads them.  The engines do not keep positions yet
(the positions work adds ``offset``/``epoch`` to messages and history):
until then every offset reads 0 and every epoch "", so results leave them
out (zero values are omitted) and ``since`` finds nothing newer than an
offset.  When messages carry them, :func:`offset_of` and
:func:`stream_top` are what changes.
"""
from __future__ import annotations

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


def published() -> str:
    """The result of a publish: ``{offset, epoch}`` once the engines return
    the new publication's position; until then both are zero, left out."""
    return "{}"
