"""The proxy's HTTP client: one POST per hook call, bounded in time and size.

Tornado's own clients, made for this object (``force_instance``: no shared
class-level client is configured or replaced):

* ``curl`` (:class:`tornado.curl_httpclient.CurlAsyncHTTPClient`) when pycurl
  imports: libcurl keeps connections to the backend alive and reuses them;
* ``simple`` (:class:`tornado.simple_httpclient.SimpleAsyncHTTPClient`)
  otherwise: one TCP connection per call (bench/proxy_latency.py measures
  what that costs on loopback).

Bounds: at most ``max_connections`` calls in flight (more wait in the
client's queue, within their own timeout); each call ends within its
``timeout`` (connecting, waiting in the queue and reading included); an
answer longer than ``max_response`` bytes is not kept (the call fails as
soon as it is past the bound: the rest is read and dropped, or the
connection closed); compressed answers are not asked for.  Every failure
(refused, timed out, a status other than 200, too long) is
:func:`app.proxy.wire.internal` (with the status, which
``proxy_http_status_code_transforms`` may turn into another error or a
disconnect: app.proxy.transforms): error 100 for the client, never a
traceback; a warning on ``sockhub.proxy``, at most one per endpoint every
:data:`WARN_EVERY` s.
"""
from __future__ import annotations

import importlib.util
import logging
import ssl
import time
from typing import Sequence

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders, HTTPInputError
from tornado.iostream import StreamClosedError
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from app.proxy.wire import HookError, internal

logger = logging.getLogger("sockhub.proxy")

CURL, SIMPLE = "curl", "simple"
#: A failing endpoint is logged at most once per this many seconds (a backend
#: down while thousands of clients connect is one line, with a count).
WARN_EVERY = 10.0


def best_kind(wanted: str = "auto") -> str:
    """``wanted`` (``curl`` or ``simple``); for ``auto``: ``curl`` when pycurl
    is installed, else ``simple``.  ``curl`` without pycurl is ``simple``, warned."""
    installed = importlib.util.find_spec("pycurl") is not None
    if wanted == CURL and not installed:
        logger.warning("proxy_http_client curl: pycurl is not installed; the simple client is used")
    if wanted == SIMPLE:
        return SIMPLE
    return CURL if installed else SIMPLE


class ProxyHttp:
    """POSTs JSON to the backend.  Made outside a loop; the Tornado client is
    made at the first call, in the running loop, and closed by :meth:`close`."""

    def __init__(self, max_response: int, max_connections: int = 64, kind: str = "auto") -> None:
        self.kind = best_kind(kind)
        self._max_response = max_response
        self._max_connections = max_connections
        self._client: AsyncHTTPClient | None = None
        #: endpoint -> (when last warned, failures not logged since); bounded
        #: by the configured endpoints (six at most, more after reloads)
        self._warned: dict[str, tuple[float, int]] = {}

    def _http(self) -> AsyncHTTPClient:
        if self._client is None:
            logger.info("proxy hooks: %s HTTP client", self.kind)
            if self.kind == CURL:
                from tornado.curl_httpclient import CurlAsyncHTTPClient
                self._client = CurlAsyncHTTPClient(force_instance=True, max_clients=self._max_connections)
            else:
                self._client = SimpleAsyncHTTPClient(force_instance=True, max_clients=self._max_connections,
                                                     max_body_size=self._max_response + 1)
        return self._client

    async def post(self, url: str, body: bytes, headers: Sequence[tuple[str, str]], timeout: float) -> bytes:
        """The body of the backend's 200 answer; :class:`HookError` (100) otherwise."""
        chunks: list[bytes] = []
        size = 0

        def take(chunk: bytes) -> None:
            nonlocal size
            size += len(chunk)
            if size <= self._max_response:
                chunks.append(chunk)
            else:
                chunks.clear()  # past the bound: nothing more is kept

        sent = HTTPHeaders()
        for name, value in headers:
            sent.add(name, value)
        sent["Content-Type"] = "application/json"
        request = HTTPRequest(url, method="POST", body=body, headers=sent, request_timeout=timeout,
                              connect_timeout=timeout, follow_redirects=False, decompress_response=False,
                              streaming_callback=take)
        try:
            response = await self._http().fetch(request, raise_error=False)
        except (HTTPClientError, HTTPInputError, StreamClosedError, OSError, ssl.SSLError, ValueError) as exc:
            raise self._failed(url, f"{type(exc).__name__}: {exc}") from None
        if size > self._max_response:
            raise self._failed(url, f"answer longer than {self._max_response} bytes")
        if response.code != 200:
            raise self._failed(url, f"status {response.code} ({response.error})", response.code)
        return b"".join(chunks)

    def _failed(self, url: str, why: str, status: int = 0) -> HookError:
        now = time.monotonic()
        last, quiet = self._warned.get(url, (-WARN_EVERY, 0))
        if now - last >= WARN_EVERY:
            if len(self._warned) > 64:
                self._warned.clear()
            self._warned[url] = (now, 0)
            more = f" ({quiet} more failures since the last warning)" if quiet else ""
            logger.warning("proxy %s: %s%s", url, why, more)
        else:
            self._warned[url] = (last, quiet + 1)
        return internal(why, status)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
