"""One line about each option of :mod:`app.options`, for ``sockhub --help``.

The table sits beside the dataclass rather than in it so the fields stay
one line each; ``tests/integration/test_cli.py`` checks that every field has
a line here and that ``--help`` shows it.  :data:`CHOICES` holds the options
that take one of a few words (the values app.config accepts).
"""
from __future__ import annotations

from app.config import ENGINES, LOG_FORMATS, LOG_LEVELS, PROXY_HTTP_CLIENTS, V2_PERMISSIONS

#: The words an option accepts, shown in ``--help`` beside its description.
CHOICES: dict[str, tuple[str, ...]] = {
    "engine": ENGINES,
    "log_level": LOG_LEVELS,
    "log_format": LOG_FORMATS,
    "proxy_http_client": PROXY_HTTP_CLIENTS,
    "v2_permissions": V2_PERMISSIONS,
}

DESCRIPTIONS: dict[str, str] = {
    # identity and modes
    "secret": "HMAC key of connection tokens and signed API requests (genconfig writes a random one)",
    "token_hmac_secret_key": "HMAC key of protocol v2 JWTs (HS256/384/512); empty: the secret",
    "token_audience": "protocol v2 JWTs must carry this aud; empty: not checked",
    "token_issuer": "protocol v2 JWTs must carry this iss; empty: not checked",
    "token_rsa_public_key": "PEM public key of protocol v2 JWTs signed RS256/384/512; empty: those are refused",
    "token_ecdsa_public_key": "PEM public key of protocol v2 JWTs signed ES256/384/512; empty: those are refused",
    "v2_permissions": "protocol v2 permission rules: v5 (the allow_* switches alone), 1.x (the 1.x channel "
                      "options, switches granting more), auto (v5 when secret is empty)",
    "allow_anonymous_connect_without_token": "protocol v1 and v2: a connect without a token is an anonymous "
                                             "connection (Centrifugo 2.x: client_anonymous)",
    "allowed_origins": "Origin headers a protocol v2 transport accepts, * as a wildcard (JSON list or "
                       "comma-separated); empty: any (403 at the handshake otherwise)",
    "name": "this node's name in stats and the admin page (empty: hostname_port)",
    "insecure": "clients connect without a token, anonymous and allowed everything (development only)",
    "insecure_api": "the HTTP API accepts requests without a signature (or API key)",
    "api_key": "key of the current-style API POST /api/<method> (X-API-Key); empty: that API answers 401",
    "insecure_admin": "the admin page and socket need no login",
    "admin": "serve the admin socket (the API over a websocket) without the page",
    "web": "serve the admin page and the demo (/demo/)",
    "web_path": "directory of another admin page to serve instead of the built-in one",
    "admin_password": "password of the admin page login; login is disabled while it or admin_secret is empty",
    "admin_secret": "key signing admin session tokens; login is disabled while it or admin_password is empty",
    "admin_login_max_failures": "wrong admin passwords in a row from one address that start a lockout",
    "admin_login_backoff": "first admin login lockout in seconds, doubled for each further failure",
    "admin_login_backoff_max": "longest admin login lockout in seconds; also how long a failure is remembered",
    "admin_login_max_addresses": "client addresses the login throttle tracks at most (oldest evicted)",
    "prometheus": "serve GET /metrics on the client port too (always served on admin_port when set)",
    "log_level": "least severe log level written",
    "log_format": "log lines as text or as one JSON object each",
    "log_file": "write the log to this file instead of stderr",
    "pid_file": "write the process id to this file while running",
    "debug": "Centrifugo's debug flag, accepted and without effect (use --log_level debug)",
    # network
    "address": "interface address to listen on (empty: all)",
    "port": "TCP port of client connections (and of the API and admin unless moved)",
    "api_port": "serve the HTTP API on this port instead (0: the client port)",
    "admin_port": "serve the admin socket, page and /metrics on this port instead (0: the client port)",
    "http_prefix": "path prefix of every endpoint, e.g. /rt (starts with /, no trailing /)",
    "ssl": "serve HTTPS and WSS (needs ssl_cert and ssl_key)",
    "ssl_cert": "PEM certificate chain file for ssl",
    "ssl_key": "PEM private key file for ssl",
    "http_header_timeout": "seconds a new connection has to send its first request headers (0: no limit)",
    "http_keepalive_timeout": "seconds a kept-alive connection may wait before its next request (0: no limit)",
    # connections
    "connection_lifetime": "seconds a connection token stays valid before the client must refresh (0: forever)",
    "max_channel_length": "longest channel name in characters",
    "user_connection_limit": "connections one user may hold on a node (0: no limit)",
    "client_channel_limit": "channels one connection may subscribe to",
    "client_request_max_size": "largest client message in bytes (websocket frame or SockJS message)",
    "client_queue_max_size": "bytes queued for one client before it is closed as slow",
    "client_slow_close_grace": "seconds a slow client gets to read its close before it is dropped",
    "insufficient_state_jitter": "seconds over which clients closed with insufficient state (messages "
                                 "lost that history cannot fill) are spread, so they do not reconnect at once",
    "ping_interval": "seconds between pings on a raw websocket (protocol v2: its {} pings)",
    "pong_timeout": "seconds a protocol v2 client has to answer a ping before close 3012; 0: never asked",
    "presence_ping_interval": "seconds between refreshes of a connection's presence entries",
    "presence_expire_interval": "seconds a presence entry lives without a refresh",
    "expired_connection_close_delay": "seconds past its lifetime a connection may stay before it is closed",
    "expired_subscription_close_delay": "protocol v2: seconds past its token's expiry a subscription may stay "
                                        "before it is left (unsubscribe push 2501)",
    "stale_connection_close_delay": "seconds a connection may stay without sending connect",
    "client_connection_limit": "client connections per node over all transports (0: no limit)",
    "client_unauthenticated_limit": "connections per node still waiting to send connect (0: no limit)",
    "client_connection_rate_limit": "new client connections per second a node accepts (one second's worth at "
                                    "once); past it they are refused with reconnect advice (1013, SockJS "
                                    "c[1013,..], HTTP 503); 0: no limit",
    "node_ping_interval": "seconds between this node's announcements to the other nodes",
    "node_metrics_interval": "seconds between snapshots of the interval metrics in stats",
    "api_max_body_size": "largest HTTP API request body in bytes (413 past it)",
    "idempotent_result_ttl": "seconds a publish's idempotency_key is remembered: the same key into the same "
                             "channel within it publishes nothing and answers the first publish's result",
    "shutdown_timeout": "seconds a graceful shutdown waits for clients to take their queues",
    "shutdown_drain": "seconds /health answers 503 before the listeners close",
    # channel names
    "webhook_endpoint": "URL online status and occupancy events are POSTed to (signed, batched, retried); empty: none",
    "webhook_secret": "HMAC-SHA256 key of the webhooks' X-Sockhub-Signature header; empty: the secret",
    "webhook_timeout": "seconds one webhook POST may take before it counts as failed",
    "webhook_batch_size": "events per webhook POST at most",
    "webhook_retry_max": "longest pause in seconds between retries of a failing webhook POST",
    "status_grace": "seconds a user, channel or member left empty waits before its offline/vacated/removed event",
    "status_channel": "channel the status events are also published into (a dashboard subscribes); empty: none",
    "private_channel_prefix": "prefix of private channels (subscribing needs a signature)",
    "namespace_channel_boundary": "separator between a namespace and the rest of a channel name",
    "user_channel_boundary": "separator before the user ids allowed in a channel name",
    "user_channel_separator": "separator between the user ids allowed in a channel name",
    "client_channel_boundary": "separator before the client id allowed in a channel name",
    # SockJS
    "sockjs_url": "sockjs-client script the SockJS iframe loads (empty: the copy sockhub serves)",
    "sockjs_heartbeat_delay": "seconds between SockJS heartbeat frames",
    "sockjs_disconnect_delay": "seconds a SockJS session outlives its last polling request",
    "sockjs_response_limit": "bytes after which a streaming SockJS response is ended (the client reconnects)",
    "sockjs_max_body_size": "largest xhr_send/jsonp_send body in bytes (413 past it)",
    # protocol v2 transports
    "websocket_disable": "protocol v2 is not served on /connection/websocket (the 1.x dialect still is)",
    "sockjs": "serve protocol v2 over SockJS at /connection/sockjs (the 1.x SockJS endpoint is not affected)",
    "http_stream": "serve protocol v2's HTTP-streaming transport, /connection/http_stream with /emulation",
    "sse": "serve protocol v2's SSE transport, /connection/sse with /emulation",
    # engine
    "engine": "where channels, history and presence live: memory (one node) or redis (several nodes)",
    "redis_host": "Redis host; a comma-separated list shards channels over several",
    "redis_port": "Redis port; a comma-separated list pairs with redis_host",
    "redis_url": "redis:// URL (overrides host, port, password and db); a comma-separated list shards",
    "redis_password": "Redis password",
    "redis_db": "Redis database number",
    "redis_prefix": "prefix of every Redis key and channel sockhub uses",
    "redis_api": "also take API commands from Redis lists (Centrifugo's Redis API)",
    "redis_api_num_shards": "number of sharded Redis API lists besides the main one (0: one list)",
    "redis_master_name": "Sentinel master name (with redis_sentinels)",
    "redis_sentinels": "Sentinel addresses host:port,host:port",
    "redis_cluster": "the Redis servers given (host/port or url) form a Redis Cluster",
    "redis_connect_timeout": "seconds to connect to Redis",
    "redis_read_timeout": "seconds to wait for a Redis reply",
    "redis_write_timeout": "seconds to send a command to Redis",
    # proxy hooks
    "proxy_connect_endpoint": "URL the server POSTs to when a client connects without a token (docs/proxy.md); empty: off",
    "proxy_connect_timeout": "seconds the connect hook may take (error 100 after)",
    "proxy_refresh_endpoint": "URL asked when a connection the connect hook made expires; empty: off",
    "proxy_refresh_timeout": "seconds the refresh hook may take",
    "proxy_subscribe_endpoint": "URL asked before a subscribe in channels with proxy_subscribe; empty: off",
    "proxy_subscribe_timeout": "seconds the subscribe hook may take (error 100 after)",
    "proxy_publish_endpoint": "URL asked before a client publish in channels with proxy_publish; empty: off",
    "proxy_publish_timeout": "seconds the publish hook may take (error 100 after)",
    "proxy_rpc_endpoint": "URL that answers the client rpc command (protocol v2); empty: rpc is error 108",
    "proxy_rpc_timeout": "seconds the rpc hook may take (error 100 after)",
    "proxy_sub_refresh_endpoint": "URL asked when a subscription the subscribe hook made expires; empty: off",
    "proxy_sub_refresh_timeout": "seconds the sub_refresh hook may take",
    "proxy_http_headers": "client request headers forwarded to the hooks, comma-separated (Cookie,Authorization)",
    "proxy_max_response_size": "bytes of a hook's answer at most; a longer one is error 100",
    "proxy_max_connections": "hook calls in flight at most; more wait in a queue within their own timeout",
    "proxy_http_client": "HTTP client of the hooks: curl keeps connections alive (needs pycurl), auto: curl if installed",
    "proxy_emulated_headers": "names of the client's ConnectRequest.headers sent as HTTP headers to the hooks "
                              "(comma-separated; client-controlled input)",
    "proxy_include_connection_meta": "send the connect result's meta in refresh, subscribe, publish, rpc and "
                                     "sub_refresh calls",
    "proxy_binary_encoding": "send client data to the hooks as base64 b64data always (encoding binary)",
    "proxy_http_status_code_transforms": "JSON list mapping a backend's HTTP status to a client error or "
                                         "disconnect (docs/proxy.md); default: error 100",
    # channel options (top level: channels without a namespace)
    "watch": "channel option: admin pages watching see its messages",
    "publish": "channel option: clients may publish into it",
    "anonymous": "channel option: connections without a user id may subscribe",
    "presence": "channel option: keep who is subscribed",
    "join_leave": "channel option: tell subscribers when someone subscribes or leaves",
    "history_size": "channel option: messages kept in its history (0: none)",
    "history_lifetime": "channel option: seconds its history lives after the last message",
    "history_drop_inactive": "channel option: start no new history while it has no subscribers",
    "recover": "channel option: a client reconnecting gets the messages it missed from history",
    "proxy_subscribe": "channel option: ask proxy_subscribe_endpoint before a subscribe (docs/proxy.md)",
    "proxy_publish": "channel option: ask proxy_publish_endpoint before a client publish (it may replace the data)",
    "proxy_sub_refresh": "channel option: ask proxy_sub_refresh_endpoint when a proxied subscription expires",
    # Centrifugo 2.x's and 3.x's client restrictions (every dialect; docs/config-2x.md)
    "server_side": "channel option: clients may not subscribe (error 103); tokens, proxies and the API still "
                   "subscribe them",
    "presence_disable_for_client": "channel option: presence and presence_stats for the server API only "
                                   "(clients: error 108 not available)",
    "history_disable_for_client": "channel option: history for the server API only (clients: error 108 not "
                                  "available); recovery still works",
    "protected": "channel option (Centrifugo 3.x): clients subscribe without a token or proxy only to "
                 "user-limited channels naming them (else error 103)",
    # Centrifugo v5's permission switches (protocol v2; app.dialects.v2.permissions)
    "allow_subscribe_for_client": "channel option, v2: connections with a user subscribe without a token",
    "allow_subscribe_for_anonymous": "channel option, v2: with allow_subscribe_for_client, anonymous ones too",
    "allow_publish_for_subscriber": "channel option, v2: its subscribers may publish into it",
    "allow_publish_for_client": "channel option, v2: any connection with a user may publish into it",
    "allow_publish_for_anonymous": "channel option, v2: anonymous connections may publish too (with the above)",
    "allow_presence_for_subscriber": "channel option, v2: its subscribers may ask presence and presence_stats",
    "allow_presence_for_client": "channel option, v2: any connection with a user may ask its presence",
    "allow_presence_for_anonymous": "channel option, v2: anonymous connections may ask presence too",
    "allow_history_for_subscriber": "channel option, v2: its subscribers may ask its history",
    "allow_history_for_client": "channel option, v2: any connection with a user may ask its history",
    "allow_history_for_anonymous": "channel option, v2: anonymous connections may ask history too",
    "allow_user_limited_channels": "channel option, v2: a user named after # subscribes without a token",
}
