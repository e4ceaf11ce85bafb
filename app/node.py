"""The node sockhub runs: the protocol-neutral core with the Centrifugo 1.x
dialect over it (its client connections and its API), protocol v2 beside
it on the raw websocket endpoint and on its own SockJS endpoint, and the current-style server API
(``/api/<method>``).

:class:`Node` is where the dialect meets the core; the core
(app.core.node.NodeCore) never imports a dialect.
"""
from __future__ import annotations

import time
from typing import Callable

from app.core.client import Client, ClientDialect
from app.core.engine import Engine
from app.core.node import NodeCore
from app.core.values import Message
from app.dialects.choose import V1, V1X, V2, DialectTable
from app.dialects.v1.dialect import make_v1
from app.dialects.v1x.api import ApiRunner
from app.dialects.v1x.dialect import V1x
from app.dialects.v1x.wire import message_json
from app.dialects.v2.dialect import make_v2_dialects
from app.dialects.v2api.runner import ServerApi
from app.options import Options
from app.proxy.hooks import Proxy
from transports.emulated import EMULATED_TRANSPORTS
from transports.interfaces import SessionHandle

#: The client endpoints' path under ``http_prefix`` (SockJS and raw websocket).
CLIENT_ENDPOINT = "/connection"
#: The raw websocket endpoint under it: 1.x, protocol v1 and v2, told apart by
#: the first frame (app.dialects.choose.FirstFrame).
WEBSOCKET_ENDPOINT = CLIENT_ENDPOINT + "/websocket"
#: The SockJS endpoint of protocol v2 (JSON only, docs/protocol-v2.md §1.2),
#: a SockJS prefix of its own routed before :data:`CLIENT_ENDPOINT`'s.
SOCKJS_ENDPOINT = CLIENT_ENDPOINT + "/sockjs"
#: The bidirectional-emulation transports (``/connection/http_stream``,
#: ``/connection/sse``, with ``/emulation``): protocol v2 only.
EMULATION_ENDPOINT = CLIENT_ENDPOINT + "/emulation"


def _watch_body(message: Message) -> bytes:
    """A publication of a ``watch`` channel as the admin page reads it."""
    return message_json(message).encode()


class Node(NodeCore):
    """A node core whose clients and API speak the 1.x dialect."""

    def __init__(self, options: Options, engine: Engine, clock: Callable[[], float] = time.time,
                 tick_interval: float | None = None) -> None:
        super().__init__(options, engine, _watch_body, clock, tick_interval)
        #: The proxy hooks (app.proxy), one HTTP client for both dialects.
        self.proxy = Proxy(lambda: self.options)
        self.v1x = V1x(self)
        self.v2, v2_emulation = make_v2_dialects(self)
        self.v1 = make_v1(self)
        #: The dialects of each client endpoint (app.dialects.choose); 1.x
        #: first: it writes what is closed before the first frame.
        #: ``websocket_disable`` (Centrifugo v5's switch) leaves protocol v2 off
        #: the raw websocket: a v2 first frame is then invalid 1.x input.
        websocket: dict[str, ClientDialect] = {V1X: self.v1x, V1: self.v1}
        if not options.websocket_disable:
            websocket[V2] = self.v2
        self.dialects = DialectTable({CLIENT_ENDPOINT: {V1X: self.v1x}, WEBSOCKET_ENDPOINT: websocket,
                                      # protocol v2 first: it writes what is closed before a first frame
                                      SOCKJS_ENDPOINT: {V2: self.v2.json, V1: self.v1.json},
                                      EMULATION_ENDPOINT: {V2: v2_emulation}})
        self.api = ApiRunner(self)
        self.api_queue = self.api.execute_queued
        #: The current-style API, ``POST /api/<method>`` (app.dialects.v2api).
        self.server_api = ServerApi(self)

    def connection_factory(self, session: SessionHandle) -> Client:
        """What the transports router of :data:`CLIENT_ENDPOINT` calls for
        every new session: a client in the dialect the endpoint decides (its
        raw websocket is :data:`WEBSOCKET_ENDPOINT`, HTTP streaming and SSE
        :data:`EMULATION_ENDPOINT`, SockJS the rest)."""
        transport = session.transport
        endpoint = (WEBSOCKET_ENDPOINT if transport == "raw_websocket"
                    else EMULATION_ENDPOINT if transport in EMULATED_TRANSPORTS else CLIENT_ENDPOINT)
        return Client(self.clients, session, self.dialects.dialect_for(endpoint, session.request))

    def sockjs_v2_factory(self, session: SessionHandle) -> Client:
        """What the transports router of :data:`SOCKJS_ENDPOINT` calls for
        every new session: a protocol v2 client in JSON (its router batches
        replies as newline-joined lines in one SockJS message)."""
        return Client(self.clients, session, self.dialects.dialect_for(SOCKJS_ENDPOINT, session.request))

    async def shutdown(self) -> None:
        await super().shutdown()
        self.proxy.close()
