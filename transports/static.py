"""The session-less SockJS URLs: greeting, /info and the iframe page."""
from __future__ import annotations

import secrets

from tornado.web import RequestHandler

from transports.headers import BaseHandler, allow_cors, cache_for_a_year, no_cache

IFRAME_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="{sockjs_url}"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"""


class GreetingHandler(BaseHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain;charset=UTF-8")
        self.finish("Welcome to SockJS!\n")


class InfoHandler(BaseHandler):
    """Server capabilities; also the client's round-trip probe (answer fast)."""

    SUPPORTED_METHODS = ("GET", "OPTIONS")

    def get(self) -> None:
        settings = self.host.settings
        self.set_header("Content-Type", "application/json;charset=UTF-8")
        no_cache(self)
        allow_cors(self)
        # Browsers have no good entropy source; sockjs-client seeds from this.
        self.finish(
            '{"websocket":%s,"cookie_needed":%s,"origins":["*:*"],"entropy":%d}'
            % (
                "true" if settings.websocket_enabled else "false",
                "true" if settings.cookie_needed else "false",
                secrets.randbits(32),
            )
        )

    def options(self) -> None:
        self.preflight("OPTIONS, GET")


class IframeHandler(BaseHandler):
    """``iframe*.html``: strongly cached, ETag and 304 (Tornado computes them)."""

    SUPPORTED_METHODS = ("GET",)

    def compute_etag(self) -> str | None:
        # Tornado's default (a hash of the body), which BaseHandler turns off.
        return RequestHandler.compute_etag(self)

    def get(self) -> None:
        self.set_header("Content-Type", "text/html;charset=UTF-8")
        cache_for_a_year(self)
        self.finish(IFRAME_PAGE.format(sockjs_url=self.host.sockjs_url))

