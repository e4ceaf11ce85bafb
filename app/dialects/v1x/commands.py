"""The 1.x client commands: ONE dispatch table ``{method: V1xCommandSpec}``.

Each command module holds its params dataclasses and handlers; a handler
returns the reply body (JSON text, or None for none) or raises
:class:`~app.core.errors.ProtocolError` (a reply error, whose body the
spec's ``error_body`` builds) or :class:`~app.core.errors.Disconnect` (fatal).
"""
from __future__ import annotations

from app.dialects.v1x.channel_cmds import SPECS as _CHANNEL_SPECS
from app.dialects.v1x.session_cmds import SPECS as _SESSION_SPECS
from app.dialects.v1x.spec import V1xCommandSpec

COMMANDS: dict[str, V1xCommandSpec] = {**_SESSION_SPECS, **_CHANNEL_SPECS}

__all__ = ["COMMANDS", "V1xCommandSpec"]
