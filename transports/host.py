"""What a SockJS handler or websocket sink needs of the service it serves.

Every request handler (greeting, /info, iframe, xhr_send/jsonp_send, the
HTTP receiving transports, both websocket upgrades) and both websocket sinks
get a :class:`SessionHost` instead of the whole router: the settings, the
session directory (find one, make one, the factory that opens it), the
admission check for new HTTP sessions, and the two shared objects a
response or a websocket flush writes through.  :class:`SockJSRouter
<transports.router.SockJSRouter>` implements it; nothing here imports the
router or the handlers, so the arrows point from the router to the handlers
and from both to this module.
"""
from __future__ import annotations

from typing import Protocol

from transports.frames import BatchMemo
from transports.interfaces import NO_REQUEST, ConnectionFactory, OpenRequest
from transports.registry import Outgoing
from transports.session import Session
from transports.settings import SockJSSettings


class SessionHost(Protocol):
    """The SockJS service seen from its handlers (see the module docstring)."""

    @property
    def settings(self) -> SockJSSettings:
        """The service's settings (read per request: never copied)."""
        ...

    @property
    def sockjs_url(self) -> str:
        """The sockjs-client script the iframe page loads."""
        ...

    @property
    def connection_factory(self) -> ConnectionFactory:
        """What a handler passes to :meth:`Session.start` for a new session."""
        ...

    @property
    def batches(self) -> BatchMemo:
        """The merged websocket frames shared by the sessions of one flush."""
        ...

    @property
    def finishing(self) -> set[Outgoing]:
        """HTTP responses that left their session and are still being
        written: a response adds itself until Tornado has written its end,
        and a graceful shutdown waits for them."""
        ...

    def admission(self) -> str | None:
        """None, or why an HTTP transport must not make a new session now
        (answered 503).  Asked only when the session id is unknown."""
        ...

    def get_session(self, session_id: str) -> Session | None:
        """The live HTTP session (detachable) with this id, if any."""
        ...

    def new_session(self, session_id: str, transport: str, remote_ip: str,
                    request: OpenRequest = NO_REQUEST) -> Session:
        """Create and register a session; the caller starts it with
        :attr:`connection_factory` and its sink."""
        ...
