"""CORS, cookie and cache headers, and the base handler every SockJS URL uses."""
from __future__ import annotations

import re
import time
from email.utils import formatdate
from http.client import responses
from typing import Any, Sequence

from tornado.web import RequestHandler

from transports.host import SessionHost
from transports.settings import SockJSSettings

NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
ONE_YEAR = 31536000


def allow_cors(handler: RequestHandler) -> None:
    """Echo the Origin (credentials allowed) or allow any origin without them.

    "null" (file:// pages) is echoed too: sockjs-protocol requires it."""
    origin = handler.request.headers.get("Origin")
    if origin:
        handler.set_header("Access-Control-Allow-Origin", origin)
        handler.set_header("Access-Control-Allow-Credentials", "true")
    else:
        handler.set_header("Access-Control-Allow-Origin", "*")
    requested = handler.request.headers.get("Access-Control-Request-Headers")
    if requested:
        handler.set_header("Access-Control-Allow-Headers", requested)


def origin_allowed(allowed: Sequence[str], origin: str | None) -> bool:
    """Whether a request with this ``Origin`` header may open a session,
    given the ``allowed_origins`` patterns (Centrifugo v5's option): no
    patterns, or no Origin header (not a browser), always may; else the
    origin must match one pattern, case-insensitively, where ``*`` stands
    for any run of characters (``"*"`` alone: any origin,
    ``"https://*.example.com"``: its subdomains).  Every transport of
    protocol v2 calls this at its handshake and answers 403 when it is
    False."""
    if not allowed or origin is None:
        return True
    origin = origin.lower()
    for pattern in allowed:
        regex = ".*".join(re.escape(part) for part in pattern.lower().split("*"))
        if re.fullmatch(regex, origin):
            return True
    return False


def sockjs_origin_refused(settings: SockJSSettings, origin: str | None) -> bool:
    """Whether a new SockJS session from this ``Origin`` is refused (403):
    only where the settings say ``sockjs_origins`` (protocol v2's SockJS)."""
    return settings.sockjs_origins and not origin_allowed(settings.allowed_origins, origin)


def no_cache(handler: RequestHandler) -> None:
    """Session responses must never be cached (nor transformed by proxies)."""
    handler.set_header("Cache-Control", NO_CACHE)


def cache_for_a_year(handler: RequestHandler) -> None:
    handler.set_header("Cache-Control", f"public, max-age={ONE_YEAR}")
    handler.set_header("Expires", formatdate(time.time() + ONE_YEAR, usegmt=True))


def session_cookie(handler: RequestHandler, needed: bool) -> None:
    """The optional JSESSIONID cookie some load balancers stick sessions by."""
    if needed:
        value = handler.get_cookie("JSESSIONID") or "dummy"
        handler.set_cookie("JSESSIONID", value, path="/")


class BaseHandler(RequestHandler):
    """Plain-text errors, no automatic ETag, access to the service."""

    host: SessionHost

    def initialize(self, host: SessionHost, **_: Any) -> None:
        self.host = host

    def compute_etag(self) -> str | None:
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain;charset=UTF-8")
        self.finish(responses.get(status_code, "Error"))

    def plain_error(self, status: int, text: str) -> None:
        """A protocol error in sockjs-protocol's form: status and a text body."""
        self.set_status(status)
        self.set_header("Content-Type", "text/plain;charset=UTF-8")
        self.finish(text)

    def preflight(self, methods: str) -> None:
        """Answer a CORS preflight: cacheable for a year, empty body."""
        self.set_status(204)
        cache_for_a_year(self)
        allow_cors(self)
        self.set_header("Access-Control-Allow-Methods", methods)
        self.set_header("Access-Control-Max-Age", str(ONE_YEAR))
        self.finish()

    def method_not_allowed(self, allow: str) -> None:
        """405 with Allow and neither body nor Content-Type."""
        self.set_status(405)
        self.set_header("Allow", allow)
        self.clear_header("Content-Type")
        self.finish()
