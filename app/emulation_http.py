"""``POST /emulation``: the upstream of the HTTP-streaming and SSE
transports (docs/protocol-v2.md §1.5).

The body (at most 64 KiB, the port's front door answers 413 past it) names
the ``session`` and ``node`` of the connect result and carries a frame of
commands (app.dialects.v2.emulation).  Answers:

* 204: the frame went to the session and was handled (the answer waits for
  it, as xhr_send's does: backpressure per client); its replies come down
  the session's stream.  Also when this node holds no such session any more (its stream
  ended: centrifuge-js 5.x reconnects when the stream ends, not on this);
* 204 too when ``node`` is another live node of the cluster (Redis engine,
  nginx without stickiness for this path): the frame is forwarded to it
  over the engine's control channel (app.core.control ``emulation``), and
  that node hands it to its session;
* 400: the body does not decode; 403: an ``Origin`` that
  ``allowed_origins`` does not allow; 404: ``node`` is no node this one knows
  (the memory engine knows only itself); 500: the control channel failed.

``OPTIONS`` is the CORS preflight (the SDK may be given an emulation
endpoint on another origin), other methods 405.
"""
from __future__ import annotations

import base64
import logging
from typing import Any, Awaitable, Protocol

from tornado.web import RequestHandler

from app.core.control import ControlBus
from app.core.directory import Directory
from app.core.engine import EngineError
from app.dialects.v2.emulation import Emulated, decode_emulation
from transports.emulated import EmulatedSessions
from transports.headers import allow_cors, origin_allowed
from transports.httpstream import BINARY_CONTENT_TYPE, plain, preflight

logger = logging.getLogger("sockhub.emulation")

NO_CONTENT, BAD_REQUEST, FORBIDDEN, NOT_FOUND, FAILED = 204, 400, 403, 404, 500
#: Frames a session may have waiting before forwarded ones are dropped
#: (local requests wait for theirs to be handled: they cannot pile up).
MAX_BACKLOG = 256


class EmulationNode(Protocol):
    """What the emulation endpoint uses of a node (app.core.node.NodeCore
    implements it): its id, the other nodes it knows, and the control
    channel, where it takes the ``emulation`` messages addressed to it."""

    @property
    def uid(self) -> str: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def control(self) -> ControlBus: ...


class Emulation:
    """Where an emulation request's frame goes (see the module docstring)."""

    def __init__(self, node: EmulationNode, sessions: EmulatedSessions) -> None:
        self._node = node
        self._sessions = sessions
        node.control.emulated = self.deliver_local

    def deliver_local(self, session_id: str, frame: str | bytes) -> Awaitable[None] | None:
        """Hand ``frame`` to this node's session: what handles it (await it
        to know it was handled), or None when there is no such session or
        it has :data:`MAX_BACKLOG` frames waiting already (forwarded
        requests, which nothing awaits: the frame is dropped, logged, and
        the SDK's command times out)."""
        session = self._sessions.get(session_id)
        if session is None or session.closed:
            return None
        if session.inbound_backlog >= MAX_BACKLOG:
            logger.warning("session %s: %d frames waiting, an emulation frame dropped", session_id, MAX_BACKLOG)
            return None
        return session.receive((frame,))

    async def deliver(self, emulated: Emulated) -> int:
        """The HTTP status of an emulation request (see the module docstring)."""
        node = self._node
        if emulated.node in ("", node.uid):
            handled = self.deliver_local(emulated.session, emulated.frame)
            if handled is not None:
                # answered once handled, as xhr_send is: backpressure per client
                await handled
            return NO_CONTENT
        if not node.directory.knows(emulated.node):
            return NOT_FOUND
        params: dict[str, Any] = {"node": emulated.node, "session": emulated.session}
        if isinstance(emulated.frame, bytes):
            params["b64"] = base64.b64encode(emulated.frame).decode()
        else:
            params["data"] = emulated.frame
        try:
            await node.control.send("emulation", params)
        except EngineError:
            logger.warning("emulation request for node %s not forwarded: engine failed", emulated.node)
            return FAILED
        return NO_CONTENT


class EmulationHandler(RequestHandler):
    """``<prefix>/emulation``."""

    SUPPORTED_METHODS = ("POST", "OPTIONS")

    def initialize(self, emulation: Emulation, allowed_origins: tuple[str, ...] = ()) -> None:
        self._emulation = emulation
        self._allowed_origins = allowed_origins

    def compute_etag(self) -> str | None:
        return None

    def options(self) -> None:
        preflight(self, "POST, OPTIONS")

    async def post(self) -> None:
        if not origin_allowed(self._allowed_origins, self.request.headers.get("Origin")):
            return plain(self, FORBIDDEN, "origin not allowed")
        protobuf = self.request.headers.get("Content-Type", "").startswith(BINARY_CONTENT_TYPE)
        emulated = decode_emulation(self.request.body, protobuf)
        if emulated is None or not emulated.session:
            return plain(self, BAD_REQUEST, "malformed emulation request")
        status = await self._emulation.deliver(emulated)
        if status != NO_CONTENT:
            return plain(self, status, "unknown node" if status == NOT_FOUND else "not forwarded")
        self.set_status(NO_CONTENT)
        allow_cors(self)
        self.clear_header("Content-Type")
        self.finish()
