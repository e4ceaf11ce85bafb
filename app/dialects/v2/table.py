"""The protocol v2 client commands: ONE dispatch table ``{Method: CommandSpec}``
(the pong, the empty command, is the dialect's own: it has no reply)."""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from app.dialects.v2.channel_cmds import SPECS as _CHANNEL_SPECS
from app.dialects.v2.commands import Method
from app.dialects.v2.session_cmds import SPECS as _SESSION_SPECS
from app.dialects.v2.spec import CommandSpec

COMMANDS: Mapping[Method, CommandSpec] = MappingProxyType({**_SESSION_SPECS, **_CHANNEL_SPECS})

__all__ = ["COMMANDS", "CommandSpec"]
