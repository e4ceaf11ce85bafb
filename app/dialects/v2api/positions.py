"""Stream positions as the API writes them: a publication's ``offset`` and a
channel's ``epoch`` (docs/protocol-v2.md §7, §9.1).

THE one place the API reads them: the engines set ``offset``/``epoch`` on a
message as they publish it and on every message history returns (channels
without history: 0 and "", left out of results).
"""
from __future__ import annotations

import json

from app.core.values import Message


def offset_of(message: Message) -> int:
    """The publication's offset in its channel (0: unknown)."""
    offset = getattr(message, "offset", 0)
    return offset if isinstance(offset, int) else 0


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
