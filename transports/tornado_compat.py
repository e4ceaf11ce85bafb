"""Every place sockhub leans on Tornado internals, and why.

Tornado has no public API for the few things below; each accessor reads or
writes one internal, and the rest of transports/ and app/ calls these
instead of touching Tornado's objects itself.  setup.cfg pins the Tornado
versions they were checked against, and tests/transports/test_tornado_compat.py
exercises each one on real Tornado objects and fails, naming the internal,
when one moves or changes type: read that test's message first after a
Tornado upgrade.

* :func:`read_ahead` - ``IOStream._read_buffer``: the bytes Tornado read
  past a websocket upgrade request (a client may pipeline its first frames
  behind the request); they belong to the websocket once the socket leaves
  Tornado (``detach`` hands over the socket, not the buffer).
* :func:`write_buffer_size` - ``IOStream._write_buffer`` (a ``_StreamBuffer``
  with ``len()``; None once closed): the bytes a TLS websocket's stream
  still holds, which the ``slow`` client bound and graceful shutdown count
  (the stream has no public accessor; the ``_write_buffer_size`` counter
  read before is gone since Tornado 5.0).
* :func:`response_finished` - ``RequestHandler._finished``: a streamed-body
  handler that already answered (405 or 413 in ``prepare``) must drop the
  body chunks that still arrive; ``finish()`` raises if called twice and
  nothing public says it was.
* :class:`ContentTypeOn204` - ``RequestHandler._clear_representation_headers``:
  Tornado strips Content-Type from a 204, sockjs-protocol wants text/plain
  on xhr_send's 204 (Firefox parses a typeless body as XML); overriding
  this hook is the only way to keep it.
* :func:`disable_header_timeout` - ``HTTPServer.conn_params.header_timeout``:
  the constructor has no "no header timeout" value (0 and None both mean
  3600 s) and the front door times headers out itself; the parameters are
  read per connection, so setting them after construction applies to all.
* :func:`request_context` / :func:`connection_remote_ip` -
  ``HTTP1Connection.context`` (a private ``_HTTPRequestContext``): its
  ``remote_ip`` and ``protocol`` are what an ``HTTPServerRequest`` copies
  when built, so the front door applies the proxy headers there (as
  Tornado's own xheaders code does) and the fast routes read the client's
  address there; the ``HTTPConnection`` interface does not declare it.
* :func:`request_socket` - ``HTTP1Connection.stream``: the socket under an
  HTTP response (graceful shutdown asks the kernel what it has not sent);
  not on the ``HTTPConnection`` interface either.

Each accessor is an attribute read or write (:func:`read_ahead` copies the
bytes); only :func:`write_buffer_size` is read per delivery, and only for
TLS websockets.
"""
from __future__ import annotations

import socket
from typing import Protocol

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.iostream import IOStream
from tornado.web import RequestHandler


def read_ahead(stream: IOStream) -> bytes:
    """What ``stream`` read from its socket and nobody consumed yet (b""
    if Tornado keeps no such buffer)."""
    return bytes(getattr(stream, "_read_buffer", b""))


def write_buffer_size(stream: IOStream) -> int:
    """Bytes written to ``stream`` that it has not handed to the socket."""
    buffer = getattr(stream, "_write_buffer", None)  # None once closed
    return len(buffer) if buffer is not None else 0


def response_finished(handler: RequestHandler) -> bool:
    """``handler`` has called ``finish()`` (its response is complete)."""
    return handler._finished


class ContentTypeOn204(RequestHandler):
    """A handler whose 204 answers keep their Content-Type (Tornado drops
    it, with Content-Encoding and Content-Language; other statuses, 304
    included, are left as Tornado treats them)."""

    def _clear_representation_headers(self) -> None:
        if self.get_status() != 204:
            super()._clear_representation_headers()


def disable_header_timeout(server: HTTPServer) -> None:
    """Connections of ``server`` wait for request headers without Tornado's
    timeout (something else must bound that wait)."""
    server.conn_params.header_timeout = None


class RequestContext(Protocol):
    """The part of a connection's ``_HTTPRequestContext`` we use: what each
    ``HTTPServerRequest`` of the connection copies when it is built."""

    remote_ip: str
    protocol: str


def request_context(conn: object) -> RequestContext | None:
    """The request context of an HTTP/1.x connection (None for anything
    else): writing its ``remote_ip``/``protocol`` before the request object
    is built changes what the request reports."""
    context: RequestContext | None = getattr(conn, "context", None)
    return context


def connection_remote_ip(conn: object) -> str:
    """The client address an ``HTTPServerRequest`` of ``conn`` would report
    now ("" if unknown)."""
    return str(getattr(getattr(conn, "context", None), "remote_ip", "") or "")


def request_socket(request: HTTPServerRequest) -> socket.socket | None:
    """The socket under ``request``'s connection, or None once detached
    or closed."""
    stream: IOStream | None = getattr(request.connection, "stream", None)
    sock: socket.socket | None = getattr(stream, "socket", None)
    return sock
