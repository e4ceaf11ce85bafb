"""The one receive loop of the HTTP transports: xhr, xhr_streaming,
eventsource, htmlfile and jsonp.

Each transport only supplies a :class:`Framing` (content type, prelude, how a
frame is wrapped, whether it streams).  Polling is a stream that ends after
its first frame.  The handler is the session's :class:`~transports.session.Sink`
while it is attached; it ends the response after ``response_limit`` bytes
(streaming) or after one frame (polling), and detaches from the session.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from transports.frames import HEARTBEAT, OPEN, SEPARATE, Prepared, close_frame, messages_frame
from transports.headers import BaseHandler, allow_cors, no_cache, session_cookie, sockjs_origin_refused
from transports.host import SessionHost
from transports.interfaces import OpenRequest, kept_headers
from transports.response_sink import ResponseSink

#: sockjs-protocol: a callback may use only these characters.  The length cap
#: is ours (sockjs-client's callbacks are about a dozen characters).
CALLBACK = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")

HTMLFILE_HEAD = """<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


def _js_string(frame: str) -> str:
    """The frame as a JS string literal that is also safe inside <script>."""
    return json.dumps(frame).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _htmlfile_prelude(callback: str) -> bytes:
    head = HTMLFILE_HEAD % callback
    # IE and old WebKit render nothing before 1 KiB has arrived.
    return (head + " " * max(0, 1024 - len(head) + 14) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Framing:
    """What distinguishes one HTTP receiving transport from another."""

    name: str
    method: str
    content_type: str
    streaming: bool
    wrap: Callable[[str, str], bytes]
    prelude: Callable[[str], bytes] | None = None
    needs_callback: bool = False


FRAMINGS: dict[str, Framing] = {
    f.name: f
    for f in (
        Framing("xhr", "POST", "application/javascript;charset=UTF-8", False,
                lambda frame, cb: (frame + "\n").encode()),
        Framing("xhr_streaming", "POST", "application/javascript;charset=UTF-8", True,
                lambda frame, cb: (frame + "\n").encode(),
                prelude=lambda cb: b"h" * 2048 + b"\n"),
        Framing("eventsource", "GET", "text/event-stream", True,
                lambda frame, cb: ("data: " + frame + "\r\n\r\n").encode(),
                prelude=lambda cb: b"\r\n"),
        Framing("htmlfile", "GET", "text/html;charset=UTF-8", True,
                lambda frame, cb: ("<script>\np(" + _js_string(frame) + ");\n</script>\r\n").encode(),
                prelude=_htmlfile_prelude, needs_callback=True),
        Framing("jsonp", "GET", "application/javascript;charset=UTF-8", False,
                lambda frame, cb: ("/**/" + cb + "(" + json.dumps(frame) + ");\r\n").encode(),
                needs_callback=True),
    )
}


class ReceiverHandler(BaseHandler, ResponseSink):
    """One HTTP response that receives frames of one session (a Sink).  A
    request that would make a new session is answered 503 when the host's
    admission refuses it (the application's connection limits)."""

    framing: Framing

    def initialize(self, host: SessionHost, framing: Framing | None = None, **_: Any) -> None:
        super().initialize(host)
        assert framing is not None, "the router passes each rule its framing"
        self.framing = framing
        self.SUPPORTED_METHODS = (framing.method, "OPTIONS")
        self._callback = ""
        self._sent = 0
        self._start_sink()

    def options(self, *_: str) -> None:
        self.preflight("OPTIONS, " + self.framing.method)

    async def get(self, server_id: str, session_id: str) -> None:
        await self._serve(session_id)

    async def post(self, server_id: str, session_id: str) -> None:
        await self._serve(session_id)

    async def _serve(self, session_id: str) -> None:
        framing = self.framing
        if framing.needs_callback:
            callback = self.get_query_argument("c", "", strip=False)
            status = self.host.settings.bad_input_status  # sockjs-protocol's 500, or 400
            if not callback:
                return self.plain_error(status, '"callback" parameter required')
            if not CALLBACK.fullmatch(callback):
                return self.plain_error(status, 'invalid "callback" parameter')
            self._callback = callback
        if self.host.get_session(session_id) is None:
            if sockjs_origin_refused(self.host.settings, self.request.headers.get("Origin")):
                allow_cors(self)
                return self.plain_error(403, "origin not allowed")
            refusal = self.host.admission()
            if refusal is not None:
                allow_cors(self)
                return self.plain_error(503, f"Service Unavailable: {refusal}")
        self.set_header("Content-Type", framing.content_type)
        no_cache(self)
        allow_cors(self)
        session_cookie(self, self.host.settings.cookie_needed)
        if framing.prelude is not None:
            self.write(framing.prelude(self._callback))
            self.flush()
        self._done = asyncio.get_running_loop().create_future()
        session = self.host.get_session(session_id)
        if session is None:
            session = self.host.new_session(session_id, framing.name, self.request.remote_ip or "",
                                            OpenRequest(self.request.path, self.request.query, "", kept_headers(
                                                self.request.headers.get_all(), self.host.settings.kept_headers)))
            self._session = session
            session.start(self.host.connection_factory, self)
        else:
            self._session = session
            session.attach(self)
        if not self._ended:
            await self._done

    # -- Sink -------------------------------------------------------------------

    def write_open(self) -> None:
        self._write_frame(OPEN)

    def write_messages(self, items: list[Prepared]) -> None:
        session = self._session
        self._write_frame(messages_frame(items, session.batching if session is not None else SEPARATE))

    def write_heartbeat(self) -> None:
        self._write_frame(HEARTBEAT)

    def write_close(self, code: int, reason: str) -> None:
        if self._write_frame(close_frame(code, reason)):
            self._end()

    def abort(self) -> None:
        self._end()

    def resume(self) -> None:
        """Nothing to do: inbound data comes through xhr_send/jsonp_send."""

    # -- internals ----------------------------------------------------------------

    def _write_frame(self, frame: str) -> bool:
        """Write one wrapped frame; False if this response has ended."""
        if self._ended:
            return False
        data = self.framing.wrap(frame, self._callback)
        self.write(data)
        self._sent += len(data)
        if not self.framing.streaming or self._sent >= self.host.settings.response_limit:
            # Polling answers are finished unflushed, so they get a
            # Content-Length (and HTTP/1.0 keep-alive stays valid).
            self._end()
            return False
        self._inflight += len(data)
        size = len(data)
        self.flush().add_done_callback(lambda _f: self._written(size))
        return True

    def _written(self, n: int) -> None:
        self._inflight -= n

    def _streams(self) -> bool:
        return self.framing.streaming

    def _finishing_set(self) -> set[Any]:
        return self.host.finishing
