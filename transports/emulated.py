"""Sessions of the bidirectional-emulation transports (HTTP streaming, SSE):
downstream is one streamed HTTP response, upstream separate POSTs that name
the session by its id.

:class:`EmulatedSessions` is their directory: a bounded map from session id
to live :class:`~transports.session.Session`, and each session's
:class:`~transports.session.Scheduler`.  The sessions themselves live in the
router's :class:`~transports.registry.SessionRegistry` (one flush callback,
one tick, and a graceful shutdown's ``close_all``/``drain`` reach them like
every other session); this map only adds the lookup by id for the upstream
POSTs and the bound.  A session is not detachable: it ends with its
response (the peer went away, or the server closed it), and leaves the map
at once, so memory returns to its baseline when clients leave.

Nothing here knows the application's protocol: what a frame holds, and who
may send one, is the application's.
"""
from __future__ import annotations

from transports.interfaces import OpenRequest
from transports.registry import SessionRegistry
from transports.session import Session

#: Transports whose sessions these are; ``http_stream`` carries binary
#: messages too (a protobuf stream), ``sse`` text only.
HTTP_STREAM = "http_stream"
SSE = "sse"
EMULATED_TRANSPORTS = frozenset({HTTP_STREAM, SSE})
#: Default bound on the live emulated sessions of one process.
DEFAULT_MAX_SESSIONS = 100_000


class EmulatedSessions:
    """The live emulated sessions by id (see the module docstring)."""

    def __init__(self, registry: SessionRegistry, heartbeat: float, linger: float,
                 max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        self._registry = registry
        self._heartbeat = heartbeat
        self._linger = linger
        self.max_sessions = max_sessions
        self._by_id: dict[str, Session] = {}

    # -- the sessions' Scheduler: the registry's, plus leaving this map ----------

    def clock(self) -> float:
        return self._registry.clock()

    @property
    def closing_held_until(self) -> float:
        return self._registry.closing_held_until

    def want_flush(self, session: Session) -> None:
        self._registry.want_flush(session)

    def reschedule(self, session: Session) -> None:
        self._registry.reschedule(session)

    def forget(self, session: Session) -> None:
        if self._by_id.get(session.id) is session:
            del self._by_id[session.id]
        self._registry.forget(session)

    # -- the directory --------------------------------------------------------

    @property
    def full(self) -> bool:
        return len(self._by_id) >= self.max_sessions

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def new_session(self, session_id: str, transport: str, remote_ip: str, request: OpenRequest) -> Session:
        """Create and register a session (the caller starts it with its
        response as sink).  The caller checked :attr:`full` first."""
        session = Session(session_id, transport, remote_ip, self, self._heartbeat, self._linger,
                          detachable=False, request=request)
        self._registry.add(session)
        self._by_id[session_id] = session
        return session
