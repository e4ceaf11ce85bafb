"""Settings of a SockJS router (one dataclass, defaults as sockjs-node's)."""
from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from transports.frames import SEPARATE

#: The folder of this package's copy of sockjs-client (the version package.json
#: pins), made by ``make js`` and the wheel build from node_modules (see
#: app.jsclients; git ignores it).  The router serves the file itself
#: (``<prefix>/static/sockjs.min.js``) so the iframe transports need no CDN.
CLIENT_JS_DIR = str(files("transports").joinpath("clientjs"))
DEFAULT_CLIENT_JS = CLIENT_JS_DIR + "/sockjs.min.js"


@dataclass
class SockJSSettings:
    """Tunables of the transport layer.

    Durations are seconds.  ``response_limit`` is the number of bytes after
    which a streaming response is ended so the browser can free it (the client
    reconnects and nothing is lost).  ``max_message_size`` bounds one inbound
    websocket message, ``max_body_size`` one xhr_send/jsonp_send body (the
    port's FrontDoor refuses a larger one before reading it, see
    :meth:`SockJSRouter.body_rules`).  ``sockjs_url`` is the
    script the iframe page loads; empty means the copy served by the router.
    ``ping_interval`` is how often a raw websocket gets a ping frame;
    ``subprotocols`` are the websocket subprotocols its upgrade may accept
    (the client's first offer among them is chosen); ``binary_messages``:
    its binary frames reach the application as bytes (else they are read
    as UTF-8 text, like SockJS frames).  ``allowed_origins``: the Origin
    patterns the raw websocket's upgrade accepts (403 otherwise; empty: any;
    :func:`transports.headers.origin_allowed`); with ``sockjs_origins``
    they apply to the SockJS sessions too: the first request of a new
    session (an HTTP receiver, or the websocket upgrade) is answered 403.
    ``batching`` is how the
    router's sessions merge several queued messages into one frame until the
    application says otherwise (transports.frames: one SockJS message each,
    or ``LINES``: one SockJS message of newline-joined lines).  A
    ``heartbeat_delay`` of ``math.inf`` turns SockJS heartbeats off (the
    application pings its clients itself).
    ``kept_headers``: the request headers (lower-cased names) each
    session's OpenRequest keeps for the application (bounded, see
    transports.interfaces.kept_headers).

    Input the transport layer itself refuses (see :mod:`transports.strictjson`):
    ``bad_input_status`` is the status of an xhr_send/jsonp_send body that is
    not JSON and of a bad JSONP callback, with sockjs-protocol's text
    (``Broken JSON encoding.``): 500 is what sockjs-protocol checks (the
    conformance server keeps it); sockhub answers 400, a client error
    (sockjs-client treats every status but 200/204 alike).
    ``bad_frame_close`` is how a SockJS websocket that sent a frame that is not
    JSON is closed: None, sockjs-node's answer (a close frame 3000 ``Broken
    framing.``, no ``c[...]`` frame, as sockjs-protocol checks); or
    ``(code, reason)``: the session is closed with it like any other (a
    ``c[code,reason]`` frame, then the close frame), so that the application's
    dialect can tell its client not to come back with the same input.
    """

    heartbeat_delay: float = 25.0
    disconnect_delay: float = 5.0
    response_limit: int = 131072
    sockjs_url: str = ""
    cookie_needed: bool = False
    websocket_enabled: bool = True
    max_message_size: int = 65536
    max_body_size: int = 65536
    raw_websocket: bool = True
    ping_interval: float = 25.0
    client_js_path: str = DEFAULT_CLIENT_JS
    bad_input_status: int = 500
    bad_frame_close: tuple[int, str] | None = None
    subprotocols: tuple[str, ...] = ()
    binary_messages: bool = False
    allowed_origins: tuple[str, ...] = ()
    #: lower-cased names of the request headers a session's OpenRequest keeps
    kept_headers: frozenset[str] = frozenset()
    sockjs_origins: bool = False
    batching: str = SEPARATE

    @property
    def tick_interval(self) -> float:
        """Period of the one timer that drives heartbeats and expiry.

        A fifth of the shortest delay, so a deadline is missed by at most 20 %,
        and never more than a second apart (cheap: the tick only pops due
        sessions off a heap)."""
        shortest = min(self.heartbeat_delay, self.disconnect_delay, self.ping_interval)
        return max(0.005, min(1.0, shortest / 5))
