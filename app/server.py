"""One sockhub process: the objects built from the options, the HTTP servers,
signals, reload and graceful shutdown.

:func:`make_app` builds everything (engine, node, SockJS routers, handlers)
without touching the network; :meth:`Server.run` listens and serves until
SIGTERM or SIGINT.  Shutdown order: ``/health`` and the API answer 503 (for
``shutdown_drain`` seconds while clients are still served), the
listening sockets close (no new connections), the node closes every client
with ``{"reason":"shutting down","reconnect":true}`` after what was queued for
it, sessions that never connected are closed the same way; the routers' drain
waits until each client's TCP stack acknowledged all of it, then the remaining
HTTP connections close.  Clients still holding output after
``shutdown_timeout`` seconds are dropped, counted in a log line, and the exit
status is 1 (0 when everything was delivered).
SIGHUP reads the configuration again, hands it to ``node.reload`` and applies
the log level and format.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import re
import signal
import warnings
from dataclasses import replace
from typing import Any

from jwt.warnings import InsecureKeyLengthWarning
from tornado.httpserver import HTTPServer
from tornado.web import Application, RedirectHandler, RequestHandler, StaticFileHandler

from app.admin import admin_urls
from app.config import ConfigError, ConfigSource
from app.emulation_http import Emulation, EmulationHandler
from app.core.errors import INVALID_MESSAGE, Disconnect
from app.dialects.v2api.runner import ServerApi
from app.dialects.v1x.wire import CLOSE_CODE, close_advice
from app.dialects.v2.codes import BAD_REQUEST as V2_BAD_REQUEST
from app.dialects.v2.dialect import SUBPROTOCOLS as V2_SUBPROTOCOLS
from app.engines import make_engine
from app.http_api import ApiBackend, api_fast_routes, api_urls
from app.jsclients import missing_npm_files
from app.logs import setup_logging
from app.metrics_http import metrics_urls
from app.node import CLIENT_ENDPOINT, SOCKJS_ENDPOINT, Node
from app.notices import admin_notice
from app.ops import remove_pid_file, ssl_context, write_pid_file
from app.options import Options
from app.proxy.hooks import wanted_headers
from app.resources import demo_folder, js_folder, uplot_folder
from transports.emulated import EmulatedSessions
from transports.front import BodyLimits, BodyRule, FastRoute, front_server
from transports.frames import LINES
from transports.httpstream import EmulationService
from transports.httpstream import body_rules as emulation_body_rules
from transports.httpstream import stream_rules
from transports.router import SockJSRouter
from transports.routers import Routers
from transports.settings import CLIENT_JS_DIR, SockJSSettings

logger = logging.getLogger("sockhub.server")

#: Tornado's default accept backlog (128) overflows when thousands of clients
#: reconnect at once: the kernel drops their SYNs and they retry after 1-3 s.
#: The kernel caps this at net.core.somaxconn.  bench/run.py (rate_10k): 10k
#: clients connected and subscribed in 6.3 s with 128, see the commit for after.
LISTEN_BACKLOG = 4096

#: The cyclic garbage collector's thresholds in a running server.  Thousands of
#: connections arriving at once leave long-lived objects (sessions, clients,
#: transports) and no cyclic garbage, yet with Python's default (700, 10, 10)
#: a 10k connect storm ran 9-10 full collections over every object of the
#: process: 1.0-1.3 s of a ~4 s storm.  With a full pass after 100 younger ones
#: it ran one (bench/run.py rate_10k).
GC_THRESHOLDS = (700, 10, 100)

SHUTDOWN_REASON = json.dumps({"reason": "shutting down", "reconnect": True}, separators=(",", ":"))
#: Options that only take effect at start; SIGHUP logs that they were not applied.
RESTART_ONLY = ("port", "address", "api_port", "admin_port", "engine", "http_prefix", "ssl",
                "ssl_cert", "ssl_key", "web", "admin", "log_file", "pid_file", "prometheus",
                "http_header_timeout", "http_keepalive_timeout", "sockjs_max_body_size",
                # the transports' settings and the dialect table are made at start
                "allowed_origins", "websocket_disable", "sockjs", "http_stream", "sse")
#: The body of an admin login (``password=...``); every other route's body
#: limit is an option or none at all (Server.body_limits).
ADMIN_LOGIN_MAX_BODY = 4096

Rules = list[tuple[str, type[RequestHandler], dict[str, Any]]]


class HealthHandler(RequestHandler):
    """``GET /health``: 200 ``{"status":"ok"}`` while serving, 503 once
    shutdown began."""

    def initialize(self, server: "Server") -> None:
        self._server = server

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        if self._server.shutting_down:
            self.set_status(503)
            self.finish('{"status":"shutting down"}')
        else:
            self.finish('{"status":"ok"}')

    head = get


def sockjs_settings(options: Options) -> SockJSSettings:
    """The transport settings of the options (SockJS and raw websocket)."""
    return SockJSSettings(
        heartbeat_delay=options.sockjs_heartbeat_delay,
        disconnect_delay=options.sockjs_disconnect_delay,
        response_limit=options.sockjs_response_limit,
        sockjs_url=options.sockjs_url,  # "": the router's own copy of sockjs-client
        ping_interval=options.ping_interval,
        max_message_size=options.client_request_max_size,
        max_body_size=options.sockjs_max_body_size,
        # Input the transports refuse: a client error (400, not sockjs-protocol's
        # 500), and a SockJS frame that is not JSON closes as any invalid message
        # of the 1.x dialect (the one this SockJS endpoint speaks).
        bad_input_status=400,
        bad_frame_close=(CLOSE_CODE, close_advice(Disconnect(INVALID_MESSAGE))),
        # the raw websocket serves protocol v2 too (app.node.WEBSOCKET_ENDPOINT):
        # its subprotocols, and its protobuf frames as bytes
        subprotocols=V2_SUBPROTOCOLS,
        binary_messages=True,
        # the request headers the proxy hooks forward (app.proxy)
        kept_headers=wanted_headers(options),
        allowed_origins=tuple(options.allowed_origins),
    )


def sockjs_v2_settings(options: Options) -> SockJSSettings:
    """The settings of protocol v2's SockJS endpoint (docs/protocol-v2.md
    §1.2): JSON only, replies of one flush joined by newlines in one SockJS
    message, no SockJS heartbeats while the v2 pings ``{}`` run (they keep
    a poll or stream from idling longer than ``ping_interval``), no raw
    websocket under it (``/connection/websocket`` is v2's), and a frame that
    is not JSON closed as v2's bad request."""
    return replace(
        sockjs_settings(options),
        heartbeat_delay=math.inf if options.ping_interval > 0 else options.sockjs_heartbeat_delay,
        bad_frame_close=(V2_BAD_REQUEST.code, V2_BAD_REQUEST.reason),
        raw_websocket=False,
        sockjs_origins=True,  # allowed_origins, as on every v2 transport
        subprotocols=(),
        binary_messages=False,
        batching=LINES,
    )


#: PyJWT's advice for HMAC keys (RFC 7518 §3.2).
JWT_MIN_KEY_BYTES = 32


def quiet_short_jwt_keys(options: Options) -> None:
    """Centrifugo's HMAC secrets are often short and must keep working:
    PyJWT would warn on every token verified with one, so its warning is
    turned off for this process and ours is logged once instead."""
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    key = options.token_hmac_secret_key or options.secret
    if key and len(key.encode()) < JWT_MIN_KEY_BYTES:
        logger.warning("the HMAC key of protocol v2 tokens is %d bytes, below the %d RFC 7518 advises "
                       "(token_hmac_secret_key, else secret)", len(key.encode()), JWT_MIN_KEY_BYTES)


class Server:
    """Everything of one running sockhub; built by :func:`make_app`."""

    def __init__(self, options: Options, source: ConfigSource | None, node: Node,
                 routers: Routers) -> None:
        self._options = options
        self._source = source
        self.node = node
        #: the SockJS services (v2's ``/connection/sockjs``, then the 1.x
        #: ``/connection`` with the raw websocket), in routing order
        self.routers = routers
        self.shutting_down = False
        self._http_servers: list[HTTPServer] = []
        self._stop = asyncio.Event()
        # protocol v2's HTTP streaming and SSE: their sessions live in the
        # registry of the /connection router (shutdown reaches them), found
        # by id for /emulation
        router = self._client_router = routers.at(options.http_prefix + CLIENT_ENDPOINT)
        settings = router.settings
        self.emulated = EmulatedSessions(router.registry, settings.heartbeat_delay, settings.disconnect_delay)
        self.emulation = Emulation(node, self.emulated)

    # -- what handlers read (app.http_api.ApiContext) ---------------------
    @property
    def options(self) -> Options:
        return self._options

    @property
    def api(self) -> ApiBackend:
        return self.node.api

    @property
    def server_api(self) -> ServerApi:
        return self.node.server_api

    # -- routes ------------------------------------------------------------
    def client_rules(self) -> Rules:
        """Transports, /health, the JS clients and (with --web) the demo."""
        prefix = self._options.http_prefix
        rules: Rules = self.health_rules()
        rules += self.routers.urls
        rules += self.emulation_rules()
        rules += [
            (prefix + r"/static/js/(sockjs(?:\.min)?\.js(?:\.map)?)", StaticFileHandler,
             {"path": CLIENT_JS_DIR}),
            (prefix + r"/static/js/([\w-]+(?:\.[\w-]+)*)", StaticFileHandler, {"path": str(js_folder())}),
        ]
        if self._options.web:
            rules += [
                (prefix + r"/demo", RedirectHandler, {"url": prefix + "/demo/"}),
                (prefix + r"/demo/(.*)", StaticFileHandler,
                 {"path": str(demo_folder()), "default_filename": "index.html"}),
            ]
        return rules

    def emulation_rules(self) -> Rules:
        """Protocol v2's HTTP streaming and SSE (each when its option is on)
        and, with either, ``/emulation`` (app.emulation_http)."""
        opts = self._options
        enabled = {"http_stream": opts.http_stream, "sse": opts.sse}
        if not any(enabled.values()):
            return []
        origins = tuple(opts.allowed_origins)
        service = EmulationService(self.emulated, self.node.connection_factory, self.node.admission,
                                   self._client_router.finishing, origins, wanted_headers(opts))
        rules: Rules = stream_rules(service, opts.http_prefix + CLIENT_ENDPOINT, enabled)
        rules.append((re.escape(opts.http_prefix) + r"/emulation", EmulationHandler,
                      {"emulation": self.emulation, "allowed_origins": origins}))
        return rules

    def health_rules(self) -> Rules:
        """/health at the root (load balancers), and under http_prefix too."""
        paths = {r"/health", self._options.http_prefix + r"/health"}
        return [(path, HealthHandler, {"server": self}) for path in sorted(paths)]

    def api_rules(self) -> Rules:
        return api_urls(self, self._options.http_prefix)

    def admin_rules(self) -> Rules:
        """/metrics (see metrics_rules), and with --admin/--web the admin
        socket, login and page (its chart library with the page)."""
        rules = self.metrics_rules() + admin_urls(self.node)
        if self._options.web:
            rules += [(self._options.http_prefix + r"/static/uplot/(uPlot\.iife\.min\.js|uPlot\.min\.css)",
                       StaticFileHandler, {"path": str(uplot_folder())})]
        return rules

    def metrics_rules(self) -> Rules:
        """/metrics, never public by default: served on admin_port when that
        is a port of its own, else only with ``prometheus`` on."""
        opts = self._options
        own_port = bool(opts.admin_port) and opts.admin_port != opts.port
        if not (own_port or opts.prometheus):
            return []
        return metrics_urls(self.node.metrics, opts.http_prefix)

    def applications(self) -> dict[int, Application]:
        """One Tornado application per port; the API and admin handlers join
        the client port unless api_port/admin_port are set."""
        rules_by_port: dict[int, Rules] = {}
        port = self._options.port
        rules_by_port.setdefault(port, []).extend(self.client_rules())
        rules_by_port.setdefault(self._options.api_port or port, []).extend(self.api_rules())
        rules_by_port.setdefault(self._options.admin_port or port, []).extend(self.admin_rules())
        for extra_port in (self._options.api_port, self._options.admin_port):
            if extra_port and extra_port != port:
                rules_by_port[extra_port][:0] = self.health_rules()
        return {p: Application(rules) for p, rules in rules_by_port.items()}

    def fast_routes(self) -> dict[int, list[FastRoute]]:
        """Per port, the hot requests served without the Application
        (transports.front); they answer as the application's rules would."""
        port = self._options.port
        routes: dict[int, list[FastRoute]] = {port: self.routers.fast_routes()}
        api_port = self._options.api_port or port
        routes.setdefault(api_port, []).extend(api_fast_routes(self, self._options.http_prefix))
        return routes

    def body_limits(self) -> BodyLimits:
        """What a request may carry, for every port (transports.front): an
        xhr_send/jsonp_send body up to ``sockjs_max_body_size``, an API body
        up to ``api_max_body_size`` (its fast route checks the same), an
        admin login a few KiB; no other request has a body."""
        prefix = re.escape(self._options.http_prefix)
        base = self._options.http_prefix
        rules = self.routers.body_rules() + emulation_body_rules(
            [base + CLIENT_ENDPOINT + "/http_stream", base + CLIENT_ENDPOINT + "/sse", base + "/emulation"]) + [
            BodyRule(prefix + r"/api(?:/.*)?", lambda: self._options.api_max_body_size),
            BodyRule(prefix + r"/auth/?", lambda: ADMIN_LOGIN_MAX_BODY),
        ]
        return BodyLimits(rules)

    # -- life cycle --------------------------------------------------------
    async def start(self) -> None:
        """Start the node (and its engine), then listen on every port.

        TLS files and the pid file are checked before anything starts."""
        tls = ssl_context(self._options)
        for missing in missing_npm_files():
            logger.warning("%s is missing: the browser clients cannot load it (in a checkout, "
                           "run `make js`)", missing)
        if self._options.pid_file:
            write_pid_file(self._options.pid_file)
        await self.node.start()
        # Tornado's own limit is only a backstop: the door answers 413 first.
        max_body = max(self._options.api_max_body_size * 2, 100 * 1024 * 1024)
        fast, limits = self.fast_routes(), self.body_limits()
        waits = {"idle_timeout": self._options.http_header_timeout,
                 "keepalive_timeout": self._options.http_keepalive_timeout}
        for port, application in self.applications().items():
            server = front_server(application, fast.get(port, ()), body_limits=limits, **waits,
                                  max_body_size=max_body, ssl_options=tls)
            try:
                server.listen(port, self._options.address, backlog=LISTEN_BACKLOG)
            except OSError as exc:  # the port option cannot be used: one line for the operator
                where = f"{self._options.address or '*'}:{port}"
                raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
            self._http_servers.append(server)
            logger.info("listening on %s:%d", self._options.address or "*", port)
        notice = admin_notice(self._options, self._source)
        if notice:
            logger.info("%s", notice)

    def request_stop(self) -> None:
        """Ask :meth:`serve` to shut down (signal handlers, tests)."""
        self._stop.set()

    async def serve(self) -> int:
        """Start, serve until stopped, shut down; returns the exit status."""
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        try:
            await self._stop.wait()
            return await self.shutdown()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def run(self) -> int:
        """Blocking entry point of the CLI (the process's collector tuned for
        a server: see GC_THRESHOLDS; what start-up made is frozen out of it)."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        quiet_short_jwt_keys(self._options)
        return asyncio.run(self.serve())

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        logger.info("%s: shutting down", sig.name)
        self.request_stop()

    def _on_hup(self) -> None:
        logger.info("SIGHUP: reloading configuration")
        self.reload()

    def reload(self) -> bool:
        """Read the configuration again and apply it; the old one stays on error."""
        if self._source is None:
            logger.warning("reload: no configuration source to read")
            return False
        try:
            options, warnings = self._source.load()
        except ConfigError as exc:
            logger.error("reload refused, configuration unchanged: %s", exc)
            return False
        for warning in warnings:
            logger.warning("%s", warning)
        changed = [k for k in RESTART_ONLY if getattr(options, k) != getattr(self._options, k)]
        if changed:
            logger.warning("reload: %s only change on restart", ", ".join(changed))
        if (options.log_level, options.log_format) != (self._options.log_level, self._options.log_format):
            setup_logging(options.log_level, options.log_format, self._options.log_file)
        self._options = options
        self.node.reload(options)
        logger.info("configuration reloaded")
        return True

    async def shutdown(self) -> int:
        """Graceful shutdown; returns 0 when every client got what was queued
        for it, 1 when ``shutdown_timeout`` cut it short (logged)."""
        self.shutting_down = True
        if self._options.shutdown_drain:
            # Load balancers see /health 503 and take the node out first.
            await asyncio.sleep(self._options.shutdown_drain)
        for server in self._http_servers:
            server.stop()
        code = await self._close_clients(self._options.shutdown_timeout)
        await self.routers.stop()
        for server in self._http_servers:
            await server.close_all_connections()
        if self._options.pid_file:
            remove_pid_file(self._options.pid_file)
        logger.info("stopped")
        return code


    async def _close_clients(self, timeout: float) -> int:
        """Close every client after its queue and give them ``timeout``
        seconds in all to take it (acknowledged by their TCP stack); those
        that have not by then are dropped and counted.  The exit status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.routers.hold_closing(timeout)  # the drain decides, not the close timers
        code = 0
        try:
            await asyncio.wait_for(self.node.shutdown(), timeout)
        except asyncio.TimeoutError:
            logger.error("shutdown: the node's cleanup took more than shutdown_timeout (%ss)", timeout)
            code = 1
        # Sessions the node does not know (no connect yet) are closed the same way.
        self.routers.close_all(3000, SHUTDOWN_REASON)
        dropped = await self.routers.drain(max(0.0, deadline - loop.time()))
        if dropped:
            logger.error("shutdown: dropped the queues of %d client(s) that did not take them within "
                         "shutdown_timeout (%ss)", dropped, timeout)
            return 1
        if not code:
            logger.info("shutdown: every client got what was queued for it")
        return code


def make_app(options: Options, source: ConfigSource | None = None) -> Server:
    """Build the engine, node, transports and handlers of ``options``."""
    engine = make_engine(options)
    node = Node(options, engine)
    prefix = options.http_prefix
    routers = []
    if options.sockjs:
        # v2's prefix lies under 1.x's (where "sockjs" would read as a server id): first
        routers.append(SockJSRouter(node.sockjs_v2_factory, admission=node.admission,
                                    prefix=prefix + SOCKJS_ENDPOINT, settings=sockjs_v2_settings(options)))
    routers.append(SockJSRouter(node.connection_factory, admission=node.admission, prefix=prefix + CLIENT_ENDPOINT,
                                settings=sockjs_settings(options)))
    return Server(options, source, node, Routers(routers))
