"""Per-subscription overrides of a channel's options: Centrifugo's
``override`` object (docs/protocol-v2.md §8.2, §9.1, §10.2), given by a
connection token's ``subs``, a subscription token, the subscribe and
connect proxies and the server API's ``subscribe``.

The object holds up to five entries, each ``{"value": bool}`` (a protobuf
BoolValue in JSON; ``{}`` is false):

* ``presence``: this subscription is (not) added to the channel's presence;
* ``join_leave``: its join and leave are (not) published;
* ``force_push_join_leave``: it receives the channel's join and leave
  pushes whether or not the client asked for them;
* ``force_positioning``: its reply carries the stream position (the
  channel keeps history);
* ``force_recovery``: it is recoverable (the channel keeps history).

An absent entry leaves the channel's option as it is.  Anything else (an
unknown entry, a value that is not a boolean) is :class:`OverrideInvalid`:
each source answers it in its own form (an invalid token, a proxy answer
error, an API bad request).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.options import ChannelOptions


class OverrideInvalid(ValueError):
    """An ``override`` object of the wrong shape."""


@dataclass(frozen=True, slots=True)
class Override:
    """What one subscription changes; None: the channel's option holds."""

    presence: bool | None = None
    join_leave: bool | None = None
    push_join_leave: bool | None = None
    positioning: bool | None = None
    recovery: bool | None = None

    def options(self, options: ChannelOptions) -> ChannelOptions:
        """The channel's options as this subscription sees them."""
        changes: dict[str, bool] = {}
        if self.presence is not None:
            changes["presence"] = self.presence
        if self.join_leave is not None:
            changes["join_leave"] = self.join_leave
        if self.recovery is not None:
            changes["recover"] = self.recovery
        return dataclasses.replace(options, **changes) if changes else options


#: The empty override: every option as the channel has it.
NO_OVERRIDE = Override()

#: Wire name -> field of :class:`Override`.
_FIELDS = {
    "presence": "presence",
    "join_leave": "join_leave",
    "force_push_join_leave": "push_join_leave",
    "force_positioning": "positioning",
    "force_recovery": "recovery",
}


def parse(value: Any) -> Override:
    """The override of a decoded JSON value (None: no override)."""
    if value is None:
        return NO_OVERRIDE
    if not isinstance(value, dict):
        raise OverrideInvalid("override is not an object")
    fields: dict[str, bool] = {}
    for name, entry in value.items():
        field = _FIELDS.get(name)
        if field is None:
            raise OverrideInvalid(f"override has an unknown entry {name[:40]!r}")
        if not isinstance(entry, dict) or not entry.keys() <= {"value"}:
            raise OverrideInvalid(f"override {name} is not {{\"value\": bool}}")
        flag = entry.get("value", False)
        if not isinstance(flag, bool):
            raise OverrideInvalid(f"override {name} value is not a boolean")
        fields[field] = flag
    return Override(**fields) if fields else NO_OVERRIDE
