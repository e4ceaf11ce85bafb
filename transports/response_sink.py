"""What an HTTP response that carries one session's frames does as its
Sink, shared by the SockJS receivers (transports.streaming) and the
protocol v2 HTTP streams (transports.httpstream):

* the bytes written and not yet flushed (``buffered``), and what has not
  reached the peer yet (``undelivered``: those, the end of the response
  while Tornado writes it, and the kernel's send queue);
* the end of the response (:meth:`ResponseSink._end`): detached from the
  session, finished, known to the registry's ``finishing`` set until
  written (a graceful shutdown waits for it), and a stream answered to
  HTTP/1.0 closed after it (no length, no chunking: only the close tells
  the end);
* the peer gone before the end (:meth:`on_connection_close`), and the slow
  peer dropped after its grace (transports.slowpeer).

A subclass calls :meth:`_start_sink` in ``initialize``, sets ``_done``
while it serves, and says where its registry keeps finishing responses.
"""
from __future__ import annotations

import asyncio
from typing import Any, cast

from tornado.web import RequestHandler

from transports.session import Session, Sink
from transports.slowpeer import drop_if_unfinished
from transports.sockbuf import unacked_bytes
from transports.tornado_compat import request_socket


class ResponseSink(RequestHandler):
    """The Sink half of a response handler; see the module docstring."""

    _session: Session | None
    _ended: bool
    _inflight: int
    _done: asyncio.Future[None] | None
    #: the end of the response, until Tornado has written it
    _finishing: asyncio.Future[None] | None

    def _start_sink(self) -> None:
        self._session = None
        self._ended = False
        self._inflight = 0
        self._done = None
        self._finishing = None

    def _finishing_set(self) -> set[Any]:
        """The registry's responses whose end is still being written."""
        raise NotImplementedError

    def _sink(self) -> Sink:
        """This response as the Sink its subclass completes (the writes)."""
        return cast(Sink, self)

    def _streams(self) -> bool:
        """Whether this response is a stream (else a polling answer)."""
        return True

    @property
    def buffered(self) -> int:
        return self._inflight

    @property
    def undelivered(self) -> int:
        """Bytes Tornado holds (1 while the end of the response is being
        written: its size is Tornado's), plus the kernel's send queue."""
        pending = self._inflight
        if self._finishing is not None and not self._finishing.done():
            pending += 1
        return pending + unacked_bytes(request_socket(self.request))

    def half_close(self, grace: float) -> None:
        """A closed session's response has ended already: dropped if its
        end is still being written after ``grace`` (transports.slowpeer)."""
        drop_if_unfinished(self.request, self._finishing, grace)

    def _end(self) -> None:
        """Finish the response normally and detach from the session."""
        if self._ended:
            return
        self._ended = True
        if self._session is not None:
            self._session.detach(self._sink(), aborted=False)
        finished = self.finish()
        if not finished.done():
            self._finishing = finished
            finishing = self._finishing_set()
            finishing.add(self)
            finished.add_done_callback(lambda _f: finishing.discard(self))
        if self._streams() and self.request.version == "HTTP/1.0":
            connection = self.request.connection
            finished.add_done_callback(lambda _f: connection.close())  # type: ignore[union-attr]
        self._resolve()

    def on_connection_close(self) -> None:
        """The peer dropped the response before it ended."""
        if not self._ended:
            self._ended = True
            if self._session is not None:
                self._session.detach(self._sink(), aborted=True)
            self._resolve()

    def _resolve(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
