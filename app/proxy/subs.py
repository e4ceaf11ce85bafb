"""The subscription parts of proxy answers (docs/protocol-v2.md §10.2):
a subscribe result's ``override`` and a connect result's ``subs``
(channel -> ``{info, b64info, data, b64data, override}``), read into the
core's values; a wrong shape is the hook's ``internal`` error, as every
other malformed answer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from app.core import overrides
from app.core.overrides import Override
from app.proxy import wire

#: What a ``subs`` entry may hold.
_SUB_KEYS = frozenset({"info", "b64info", "data", "b64data", "override"})


@dataclass(frozen=True, slots=True)
class ProxySub:
    """A channel the connect hook subscribes the connection to."""

    channel: str
    info: str = ""  # channel info, raw JSON, "" for none
    data: str = ""  # its SubscribeResult.data, raw JSON, "" for none
    override: Override = overrides.NO_OVERRIDE


def override(result: Mapping[str, Any]) -> Override:
    """A result's ``override`` (the channel's options when absent)."""
    try:
        return overrides.parse(result.get("override"))
    except overrides.OverrideInvalid as exc:
        raise wire.internal(str(exc)) from None


def subs(result: Mapping[str, Any], limit: int) -> tuple[ProxySub, ...]:
    """A connect result's ``subs`` (at most ``limit`` channels)."""
    value = result.get("subs")
    if value is None:
        return ()
    if not isinstance(value, dict) or len(value) > limit:
        raise wire.internal(f"subs is not an object of at most {limit} channels")
    found = []
    for channel, entry in value.items():
        if not channel or not isinstance(entry, dict) or not entry.keys() <= _SUB_KEYS:
            raise wire.internal("a subs entry is not an object of known options")
        found.append(ProxySub(channel, wire.raw_json(entry, "info") or "", wire.raw_json(entry) or "",
                              override(entry)))
    return tuple(found)
