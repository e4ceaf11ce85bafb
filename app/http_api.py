"""The HTTP server API endpoint: ``POST {http_prefix}/api/`` (PROTOCOL.md §10).

Two request forms, as Centrifugo 1.x accepts them:

* ``Content-Type: application/json``: the raw body is the command JSON, its
  sign in the ``X-API-Sign`` header (cent 2.x);
* anything else: form fields ``data`` and ``sign`` (cent 1.3), read from the
  body first, then from the query string (Go's ``FormValue``).

The sign is checked over the exact bytes received, never over re-encoded JSON.
Checks, in order: shutting down (503), body larger than ``api_max_body_size``
(413), missing sign unless ``insecure_api`` (400), empty data (400), no secret
configured (400), sign mismatch (401).  Then the node's executor runs the
commands: 200 with its JSON array, or the status and text of its ApiError.
"""
from __future__ import annotations

import logging
from typing import Any, Protocol

from tornado import httputil
from tornado.web import RequestHandler, stream_request_body

from app.auth import api_sign, check_sign
from app.options import Options
from transports.front import FastRoute

logger = logging.getLogger("sockhub.http_api")


class ApiExecutor(Protocol):
    """The node's API (app.api.ApiExecutor): a JSON command or array in, a JSON
    array out; raises an error carrying ``status`` and ``text`` for a request
    that must fail as a whole."""

    async def execute(self, data: bytes) -> bytes: ...


class ApiContext(Protocol):
    """What the handler reads from the server, on every request (options can
    change with SIGHUP)."""

    @property
    def options(self) -> Options: ...

    @property
    def shutting_down(self) -> bool: ...

    @property
    def api(self) -> ApiExecutor: ...


class RequestRejected(Exception):
    """The request fails before the executor sees it."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _header_length(request: httputil.HTTPServerRequest) -> int | None:
    value = request.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@stream_request_body
class ApiHandler(RequestHandler):
    """One API request.  The body is streamed in so that an oversized one is
    refused (413) without being kept in memory."""

    SUPPORTED_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, context: ApiContext) -> None:
        self._context = context
        self._limit = context.options.api_max_body_size
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_big = False

    def prepare(self) -> None:
        if self.request.method != "POST":
            self.set_header("Allow", "POST")
            self._text(405, "Method Not Allowed: use POST")
            return
        length = _header_length(self.request)
        if length is not None and length > self._limit:
            self._text(413, f"Request Entity Too Large: limit {self._limit} bytes")

    def data_received(self, chunk: bytes) -> None:
        if self._too_big or self._finished:
            return
        self._size += len(chunk)
        if self._size > self._limit:
            self._too_big = True
            self._chunks.clear()
        else:
            self._chunks.append(chunk)

    async def post(self) -> None:
        try:
            data = self._checked_data(b"".join(self._chunks))
        except RequestRejected as exc:
            self._text(exc.status, exc.text)
            return
        try:
            result = await self._context.api.execute(data)
        except Exception as exc:  # the loop boundary of one API request
            status, text = getattr(exc, "status", None), getattr(exc, "text", None)
            if isinstance(status, int) and isinstance(text, str):
                self._text(status, text)
                return
            logger.exception("API request failed")
            self._text(500, "Internal Server Error")
            return
        self.set_header("Content-Type", "application/json")
        self.finish(result)

    def _checked_data(self, body: bytes) -> bytes:
        """The command bytes of an accepted request, or RequestRejected."""
        if self._context.shutting_down:
            raise RequestRejected(503, "Service Unavailable: shutting down")
        if self._too_big:
            raise RequestRejected(413, f"Request Entity Too Large: limit {self._limit} bytes")
        data, sign = self._data_and_sign(body)
        options = self._context.options
        if options.insecure_api:
            if not data:
                raise RequestRejected(400, "Bad Request: empty data")
            return data
        if not sign:
            raise RequestRejected(400, "Bad Request: missing sign")
        if not data:
            raise RequestRejected(400, "Bad Request: empty data")
        if not options.secret:
            raise RequestRejected(400, "Bad Request: no secret configured")
        if not check_sign(api_sign(options.secret, data), sign):
            raise RequestRejected(401, "Unauthorized: wrong sign")
        return data

    def _data_and_sign(self, body: bytes) -> tuple[bytes, str]:
        """``(data, sign)`` of either request form; RequestRejected for a
        form body that does not parse."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            return body, self.request.headers.get("X-API-Sign", "")
        fields: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        if body:
            try:
                httputil.parse_body_arguments(content_type, body, fields, files, self.request.headers)
            except httputil.HTTPInputError as exc:
                raise RequestRejected(400, f"Bad Request: {exc}") from None
        for name, values in self.request.query_arguments.items():
            fields.setdefault(name, values)
        data = fields.get("data", [b""])[0]
        sign = fields.get("sign", [b""])[0].decode("utf-8", "replace")
        return data, sign

    def _text(self, status: int, text: str) -> None:
        if self._finished:
            return
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text + "\n")

    # Every other method was answered 405 in prepare(); these only exist so
    # Tornado routes them there instead of answering itself.
    def get(self) -> None:
        self._text(405, "Method Not Allowed: use POST")

    head = put = delete = patch = options = get


class SlashRedirect(RequestHandler):
    """``{prefix}/api`` -> 301 to ``{prefix}/api/`` for every method, as Go's
    mux answers (Tornado's RedirectHandler only redirects GET)."""

    SUPPORTED_METHODS = ApiHandler.SUPPORTED_METHODS

    def initialize(self, url: str) -> None:
        self._url = url

    def prepare(self) -> None:
        self.redirect(self._url, permanent=True)


def api_fast_routes(context: ApiContext, prefix: str = "") -> list[FastRoute]:
    """The API requests served without Tornado's Application
    (transports.front): none yet."""
    return []


def api_urls(context: ApiContext, prefix: str = "") -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The rules for ``{prefix}/api/...`` and the 301 from ``{prefix}/api``."""
    return [
        (prefix + r"/api/.*", ApiHandler, {"context": context}),
        (prefix + r"/api", SlashRedirect, {"url": prefix + "/api/"}),
    ]
