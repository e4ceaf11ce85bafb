"""app.core.overrides: the ``override`` object's shapes, and what it changes
of a channel's options (the end-to-end proof is in
tests/integration/test_v2_server_subs.py and test_proxy_hooks.py)."""
from __future__ import annotations

from typing import Any

import pytest

from app.core import overrides
from app.core.overrides import NO_OVERRIDE, Override
from app.options import ChannelOptions


def test_every_entry_and_the_empty_value() -> None:
    parsed = overrides.parse({"presence": {"value": True}, "join_leave": {}, "force_push_join_leave": {"value": False},
                              "force_positioning": {"value": True}, "force_recovery": {"value": True}})
    assert parsed == Override(presence=True, join_leave=False, push_join_leave=False, positioning=True,
                              recovery=True)
    assert overrides.parse(None) is NO_OVERRIDE and overrides.parse({}) is NO_OVERRIDE


@pytest.mark.parametrize("value", [1, [], "x", {"presense": {"value": True}}, {"presence": True},
                                   {"presence": {"value": 1}}, {"presence": {"value": True, "x": 1}}])
def test_a_wrong_shape_is_refused(value: Any) -> None:
    with pytest.raises(overrides.OverrideInvalid):
        overrides.parse(value)


def test_options_change_only_where_an_entry_says() -> None:
    channel = ChannelOptions(presence=True, join_leave=True, history_size=5, history_lifetime=60)
    assert NO_OVERRIDE.options(channel) is channel
    changed = Override(presence=False, recovery=True).options(channel)
    assert (changed.presence, changed.join_leave, changed.recover, changed.history_size) == (False, True, True, 5)
    assert (channel.presence, channel.recover) == (True, False)  # the namespace's own options untouched
