"""Client commands: ONE dispatch table ``{method: CommandSpec}``.

Each command module holds its params dataclasses and handlers; a handler
returns the reply body (JSON text, or None for none) or raises
:class:`~app.protocol.ProtocolError` (a reply error, whose body the spec's
``error_body`` builds) or :class:`~app.protocol.Disconnect` (fatal).
"""
from __future__ import annotations

from app.commands.channel_cmds import SPECS as _CHANNEL_SPECS
from app.commands.session_cmds import SPECS as _SESSION_SPECS
from app.commands.spec import CommandSpec

COMMANDS: dict[str, CommandSpec] = {**_SESSION_SPECS, **_CHANNEL_SPECS}

__all__ = ["COMMANDS", "CommandSpec"]
