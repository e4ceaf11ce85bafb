"""The one receive path of xhr_send and jsonp_send."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from transports.headers import BaseHandler, allow_cors, no_cache, session_cookie
from transports.host import SessionHost
from transports.tornado_compat import ContentTypeOn204
from transports.strictjson import loads


class BadPayload(Exception):
    """An xhr_send/jsonp_send body sockjs-protocol says to refuse (with 500;
    the settings' ``bad_input_status``)."""


def parse_messages(payload: bytes) -> list[str]:
    """A JSON array of messages (a single JSON value counts as one)."""
    if not payload:
        raise BadPayload("Payload expected.")
    try:
        # Bounded depth; lone surrogates kept: they are JavaScript strings.
        decoded = loads(payload, surrogates=True)
    except ValueError:
        raise BadPayload("Broken JSON encoding.") from None
    items = decoded if isinstance(decoded, list) else [decoded]
    # SockJS clients send strings; anything else reaches the app as JSON text.
    return [m if isinstance(m, str) else json.dumps(m) for m in items]


class SendHandler(ContentTypeOn204, BaseHandler):
    """POST messages to an existing session (xhr_send or jsonp_send); its
    204 keeps Content-Type text/plain, as sockjs-protocol wants (Firefox
    would otherwise parse the empty body as XML)."""

    SUPPORTED_METHODS = ("POST", "OPTIONS")

    def initialize(self, host: SessionHost, jsonp: bool = False, **_: Any) -> None:
        super().initialize(host)
        self._jsonp = jsonp

    def options(self, *_: str) -> None:
        self.preflight("OPTIONS, POST")

    async def post(self, server_id: str, session_id: str) -> None:
        session = self.host.get_session(session_id)
        if session is None:
            self.set_status(404)
            self.finish()
            return
        body = self.request.body
        if len(body) > self.host.settings.max_body_size:
            return self.plain_error(413, "Payload too large.")
        try:
            messages = parse_messages(self._payload(body))
        except BadPayload as exc:
            return self.plain_error(self.host.settings.bad_input_status, str(exc))
        self.set_header("Content-Type", "text/plain;charset=UTF-8")
        no_cache(self)
        allow_cors(self)
        session_cookie(self, self.host.settings.cookie_needed)
        worker = session.receive(messages)
        if worker is not None:
            # Answer once the application has handled them: backpressure,
            # and the next poll already sees any reply.
            await worker
        if self._jsonp:
            self.finish("ok")
        else:
            self.set_status(204)
            self.finish()

    def _payload(self, body: bytes) -> bytes:
        content_type = self.request.headers.get("Content-Type", "")
        if self._jsonp and content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
            return form.get("d", [""])[0].encode("latin-1")
        return body
