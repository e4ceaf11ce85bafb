"""The downstream of the bidirectional-emulation transports: one streamed
HTTP response per session (docs/protocol-v2.md §1.3, §1.4).

* ``POST <path>/http_stream``: the body is the session's first frame
  (``Content-Type: application/octet-stream``: binary, handed to the
  application as bytes; anything else: UTF-8 text); the response carries
  each message followed by ``\\n`` (text) or as it is (binary: the
  application's messages are self-delimiting), and no Content-Type.
* ``GET <path>/sse?cf_connect=<frame>`` or ``POST <path>/sse`` with the frame
  as body: ``text/event-stream``, a ``\\r\\n`` prelude, then one
  ``data: <message>\\n\\n`` event per message (text only).

Both: ``OPTIONS`` answers the CORS preflight (204, ``Access-Control-Max-Age:
300``), other methods 405; an ``Origin`` that ``allowed_origins`` does not
allow gets 403; a body is bounded by the port's front door (413,
see :func:`body_rules`); a request without a frame gets 400; when the
sessions are at their bound or the application's admission refuses, 503.
The response has the no-cache headers of the reference server and is
flushed after each write; what one loop iteration queued for the session is
one write (the registry's flush).  The session ends with the response: the
application's close ends it normally (whatever the application wrote before
it, e.g. a disconnect message, is delivered first), the peer's going away
aborts it.  Heartbeats are the application's (its own ping messages): the
transport writes none.

The upstream (the emulation POSTs) is the application's: it finds the
session with :meth:`EmulatedSessions.get` and hands it frames with
``session.receive``.
"""
from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from transports.emulated import HTTP_STREAM, SSE, EmulatedSessions
from transports.front import BodyRule
from transports.frames import Prepared
from transports.headers import allow_cors, origin_allowed
from transports.interfaces import ConnectionFactory, OpenRequest, kept_headers
from transports.response_sink import ResponseSink
from tornado.web import RequestHandler

#: The reference server's bound on a first frame or an emulation body.
MAX_BODY = 65536
#: How long a browser may cache a preflight answer (the reference server's).
PREFLIGHT_MAX_AGE = "300"
STREAM_CACHE_CONTROL = "private, no-cache, no-store, must-revalidate, max-age=0"
BINARY_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class StreamFraming:
    """How one emulation transport writes its response."""

    name: str
    methods: tuple[str, ...]
    content_type: str | None
    prelude: bytes
    wrap: Callable[[Prepared], bytes]


def _line(item: Prepared) -> bytes:
    return item.data if item.data is not None else (item.text + "\n").encode()


def _event(item: Prepared) -> bytes:
    return ("data: " + item.text + "\n\n").encode()


FRAMINGS = {
    HTTP_STREAM: StreamFraming(HTTP_STREAM, ("POST",), None, b"", _line),
    SSE: StreamFraming(SSE, ("GET", "POST"), "text/event-stream; charset=utf-8", b"\r\n", _event),
}


class EmulationService:
    """What the stream handlers need: the sessions, the application's
    factory and admission (None, or why no new session now)."""

    def __init__(self, sessions: EmulatedSessions, connection_factory: ConnectionFactory,
                 admission: Callable[[], str | None], finishing: set[Any],
                 allowed_origins: tuple[str, ...] = (), kept_headers: frozenset[str] = frozenset()) -> None:
        self.sessions = sessions
        self.connection_factory = connection_factory
        self.admission = admission
        #: ``allowed_origins`` patterns (transports.headers.origin_allowed)
        self.allowed_origins = allowed_origins
        #: the request headers a session's OpenRequest keeps (transports.interfaces.kept_headers)
        self.kept_headers = kept_headers
        #: responses whose session has ended and which Tornado is still writing
        #: (the router's: a graceful shutdown waits for them)
        self.finishing = finishing


def preflight(handler: RequestHandler, methods: str) -> None:
    """The CORS preflight of an emulation transport or endpoint (§1.3)."""
    handler.set_status(204)
    allow_cors(handler)
    handler.set_header("Access-Control-Allow-Methods", methods)
    handler.set_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE)
    handler.clear_header("Content-Type")
    handler.finish()


def stream_headers(handler: RequestHandler) -> None:
    """The no-cache headers of a streamed response (§1.3)."""
    handler.set_header("Cache-Control", STREAM_CACHE_CONTROL)
    handler.set_header("Pragma", "no-cache")
    handler.set_header("Expire", "0")
    handler.set_header("X-Accel-Buffering", "no")
    if handler.request.version == "HTTP/1.1":
        handler.set_header("Connection", "keep-alive")


def plain(handler: RequestHandler, status: int, text: str) -> None:
    """A refusal: status and a short text, CORS allowed so a page can read it."""
    handler.set_status(status)
    allow_cors(handler)
    handler.set_header("Content-Type", "text/plain; charset=utf-8")
    handler.finish(text)


class StreamHandler(ResponseSink):
    """One session's response (its Sink); see the module docstring."""

    def initialize(self, service: EmulationService, framing: StreamFraming) -> None:
        self.service = service
        self.framing = framing
        self.SUPPORTED_METHODS = (*framing.methods, "OPTIONS")
        self._start_sink()

    def compute_etag(self) -> str | None:
        return None

    def options(self) -> None:
        preflight(self, ", ".join((*self.framing.methods, "OPTIONS")))

    async def get(self) -> None:
        frame = self.get_query_argument("cf_connect", "", strip=False)
        await self._serve(frame)

    async def post(self) -> None:
        body = self.request.body
        if self.request.headers.get("Content-Type", "").startswith(BINARY_CONTENT_TYPE) \
                and self.framing.name == HTTP_STREAM:
            await self._serve(body)
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return plain(self, 400, "the body is not UTF-8 text")
        await self._serve(text)

    async def _serve(self, frame: str | bytes) -> None:
        if not frame:
            return plain(self, 400, "no initial frame" if self.framing.name == HTTP_STREAM
                         else 'missing "cf_connect"')
        service = self.service
        if not origin_allowed(service.allowed_origins, self.request.headers.get("Origin")):
            return plain(self, 403, "origin not allowed")
        refusal = "too many sessions" if service.sessions.full else service.admission()
        if refusal is not None:
            return plain(self, 503, f"Service Unavailable: {refusal}")
        framing = self.framing
        self.clear_header("Content-Type")
        if framing.content_type is not None:
            self.set_header("Content-Type", framing.content_type)
        stream_headers(self)
        allow_cors(self)
        if framing.prelude:
            self.write(framing.prelude)
        self.flush()  # the client's transport opens on the headers
        self._done = asyncio.get_running_loop().create_future()
        request = OpenRequest(self.request.path, self.request.query, "",
                              kept_headers(self.request.headers.get_all(), service.kept_headers))
        session = service.sessions.new_session(uuid.uuid4().hex, framing.name, self.request.remote_ip or "",
                                               request)
        self._session = session
        session.start(service.connection_factory, self)
        session.receive((frame,))
        if not self._ended:
            await self._done

    # -- Sink -----------------------------------------------------------------------

    def write_open(self) -> None:
        """Nothing: the headers (and prelude) were flushed already."""

    def write_messages(self, items: list[Prepared]) -> None:
        if self._ended:
            return
        wrap = self.framing.wrap
        data = wrap(items[0]) if len(items) == 1 else b"".join(wrap(item) for item in items)
        self.write(data)
        size = len(data)
        self._inflight += size
        self.flush().add_done_callback(lambda f: self._written(f, size))

    def _written(self, future: "asyncio.Future[None]", size: int) -> None:
        self._inflight -= size
        if not future.cancelled():
            future.exception()  # a peer gone mid-write: on_connection_close says so

    def write_heartbeat(self) -> None:
        """Nothing: the application's pings keep the stream alive."""

    def write_close(self, code: int, reason: str) -> None:
        self._end()

    def abort(self) -> None:
        if not self._ended:
            connection = self.request.connection
            if connection is not None:
                connection.close()  # type: ignore[attr-defined]
            self.on_connection_close()

    def resume(self) -> None:
        """Nothing: inbound frames come with the emulation POSTs."""

    def _finishing_set(self) -> set[Any]:
        return self.service.finishing


def stream_rules(service: EmulationService, base: str, enabled: dict[str, bool]) -> list[tuple[str, Any, dict[str, Any]]]:
    """Tornado rules for the enabled transports under ``base`` (a path such
    as ``/connection``, not a pattern)."""
    return [(re.escape(base) + "/" + name, StreamHandler, {"service": service, "framing": framing})
            for name, framing in FRAMINGS.items() if enabled.get(name)]


def body_rules(paths: list[str], limit: int = MAX_BODY) -> list[BodyRule]:
    """The front door's bound on the bodies of these paths (413 past it)."""
    return [BodyRule(re.escape(path), lambda: limit) for path in paths]
