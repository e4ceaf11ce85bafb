"""Key and PUB/SUB topic names (docs/protocol-1x.md §13) and shard selection.

With prefix P and chID = ``P.message.<channel>``:

- topics ``P.message.<ch>``, ``P.join.<ch>``, ``P.leave.<ch>``, ``P.control``, ``P.admin``;
- keys ``P.history.stream.<chID>`` (a Redis Stream), ``P.history.meta.<chID>``
  (HASH: epoch, newest offset), ``P.history.touch.<chID>``,
  ``P.presence.set.<chID>``, ``P.presence.hash.<chID>``, ``P.api``, ``P.api.<n>``.

In Redis Cluster mode chID is written inside a hash tag, ``{P.message.<ch>}``,
so the keys a multi-key Lua script touches (stream + meta + touch, set + hash) hash to
the same slot.  Redis takes the tag from the first ``{`` to the next ``}``;
since both keys share everything after their first ``{``, they always land
together, whatever the channel name holds (the prefix must not contain braces).
"""
from __future__ import annotations

from dataclasses import dataclass

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv1a64(data: bytes) -> int:
    """The 64-bit FNV-1a hash of ``data``."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash: a bucket in [0, buckets)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941143 + 1) & _MASK64
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def shard_index(channel: str, shards: int) -> int:
    """Which of ``shards`` Redis instances holds ``channel``."""
    if shards <= 1:
        return 0
    return jump_hash(fnv1a64(channel.encode()), shards)


@dataclass(frozen=True, slots=True)
class Names:
    """Every name the engine uses, derived from the prefix once."""

    prefix: str
    cluster: bool = False

    @property
    def control(self) -> str:
        return self.prefix + ".control"

    @property
    def admin(self) -> str:
        return self.prefix + ".admin"

    @property
    def message_prefix(self) -> str:
        return self.prefix + ".message."

    @property
    def join_prefix(self) -> str:
        return self.prefix + ".join."

    @property
    def leave_prefix(self) -> str:
        return self.prefix + ".leave."

    def topics(self, channel: str) -> tuple[str, str, str]:
        """The three per-channel topics: message, join, leave."""
        return (self.message_prefix + channel, self.join_prefix + channel, self.leave_prefix + channel)

    def _chid(self, channel: str) -> str:
        chid = self.message_prefix + channel
        return "{" + chid + "}" if self.cluster else chid

    def history_stream(self, channel: str) -> str:
        return f"{self.prefix}.history.stream.{self._chid(channel)}"

    def history_meta(self, channel: str) -> str:
        return f"{self.prefix}.history.meta.{self._chid(channel)}"

    def history_touch(self, channel: str) -> str:
        return f"{self.prefix}.history.touch.{self._chid(channel)}"

    def idempotency(self, channel: str, key: str) -> str:
        """A publish's idempotency key (STRING "offset:epoch", TTL), in the channel's slot."""
        return f"{self.prefix}.idempotency.{self._chid(channel)}.{key}"

    def presence_set(self, channel: str) -> str:
        return f"{self.prefix}.presence.set.{self._chid(channel)}"

    def presence_hash(self, channel: str) -> str:
        return f"{self.prefix}.presence.hash.{self._chid(channel)}"

    def api_queues(self, num_shards: int) -> list[str]:
        base = self.prefix + ".api"
        return [base] + [f"{base}.{n}" for n in range(num_shards)]
