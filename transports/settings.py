"""Settings of a SockJS router (one dataclass, defaults as sockjs-node's)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: sockjs-client 1.6.1 as npm installs it from the repository's package.json.
#: The router serves this file itself (``<prefix>/static/sockjs.min.js``) so the
#: iframe transports need no CDN; it is never copied into the repository.
DEFAULT_CLIENT_JS = str(
    Path(__file__).resolve().parent.parent
    / "node_modules" / "sockjs-client" / "dist" / "sockjs.min.js"
)


@dataclass
class SockJSSettings:
    """Tunables of the transport layer.

    Durations are seconds.  ``response_limit`` is the number of bytes after
    which a streaming response is ended so the browser can free it (the client
    reconnects and nothing is lost).  ``max_message_size`` bounds one inbound
    message (websocket) or one xhr_send/jsonp_send body.  ``sockjs_url`` is the
    script the iframe page loads; empty means the copy served by the router.
    ``ping_interval`` is how often a raw websocket gets a ping frame.
    """

    heartbeat_delay: float = 25.0
    disconnect_delay: float = 5.0
    response_limit: int = 131072
    sockjs_url: str = ""
    cookie_needed: bool = False
    websocket_enabled: bool = True
    max_message_size: int = 65536
    raw_websocket: bool = True
    ping_interval: float = 25.0
    client_js_path: str = DEFAULT_CLIENT_JS

    @property
    def tick_interval(self) -> float:
        """Period of the one timer that drives heartbeats and expiry.

        A fifth of the shortest delay, so a deadline is missed by at most 20 %,
        and never more than a second apart (cheap: the tick only pops due
        sessions off a heap)."""
        shortest = min(self.heartbeat_delay, self.disconnect_delay, self.ping_interval)
        return max(0.005, min(1.0, shortest / 5))
