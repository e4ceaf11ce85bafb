"""Every option of sockhub, with its default: the one place they are spelled.

The config file, ``SOCKHUB_<KEY>`` environment variables and CLI flags are all
read from these fields (see app.config).  Durations are seconds, integers as in
Centrifugo 1.x; the intervals typed ``float`` also take fractions (short timings
in tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ChannelOptions:
    """Per-namespace channel options (Centrifugo 1.x names); all off by default."""

    watch: bool = False
    publish: bool = False
    anonymous: bool = False
    presence: bool = False
    join_leave: bool = False
    history_size: int = 0
    history_lifetime: int = 0
    history_drop_inactive: bool = False
    recover: bool = False
    # proxy hooks of the channels (docs/proxy.md); each needs its endpoint
    proxy_subscribe: bool = False
    proxy_publish: bool = False
    proxy_sub_refresh: bool = False
    # Centrifugo 2.x's client restrictions (docs/config-2x.md), every dialect:
    # no client-side subscribe (server-side ones from tokens, proxies and the
    # API still work); presence (and presence_stats) and history only for the
    # server API (recovery still works)
    server_side: bool = False
    presence_disable_for_client: bool = False
    history_disable_for_client: bool = False
    #: Centrifugo 3.x: a client subscribes without a token or proxy only to
    #: the user-limited channels naming it
    protected: bool = False
    # Centrifugo v5's permission switches, all off as there (protocol v2
    # only; app.dialects.v2.permissions says what they grant in each mode)
    allow_subscribe_for_client: bool = False
    allow_subscribe_for_anonymous: bool = False
    allow_publish_for_subscriber: bool = False
    allow_publish_for_client: bool = False
    allow_publish_for_anonymous: bool = False
    allow_presence_for_subscriber: bool = False
    allow_presence_for_client: bool = False
    allow_presence_for_anonymous: bool = False
    allow_history_for_subscriber: bool = False
    allow_history_for_client: bool = False
    allow_history_for_anonymous: bool = False
    allow_user_limited_channels: bool = False


@dataclass(slots=True)
class Namespace:
    name: str
    options: ChannelOptions = field(default_factory=ChannelOptions)


@dataclass(slots=True)
class Options:
    # identity and modes
    secret: str = ""
    #: protocol v2's HS256 key for connection and subscription JWTs; "": ``secret``
    token_hmac_secret_key: str = ""
    token_audience: str = ""  # protocol v2 JWTs: "" no check, else ``aud`` must be (or list) this
    token_issuer: str = ""  # protocol v2 JWTs: "" no check, else ``iss`` must be this
    token_rsa_public_key: str = ""  # protocol v2 JWTs signed RS256/384/512: the PEM public key
    token_ecdsa_public_key: str = ""  # protocol v2 JWTs signed ES256/384/512: the PEM public key
    #: protocol v2 permissions: "v5" (Centrifugo v5's switches alone), "1.x"
    #: (the 1.x channel options, the switches granting more), "auto": v5
    #: when ``secret`` is empty (a Centrifugo v5 config has none)
    v2_permissions: str = "auto"
    allow_anonymous_connect_without_token: bool = False  # protocol v2: connect with no token is anonymous
    #: Origin headers a protocol v2 transport accepts ("*" wildcards); empty: any
    allowed_origins: list[str] = field(default_factory=list)
    name: str = ""
    insecure: bool = False
    insecure_api: bool = False
    api_key: str = ""  # the current-style API's key (X-API-Key); "": that API answers 401
    insecure_admin: bool = False
    admin: bool = False
    web: bool = False
    web_path: str = ""
    admin_password: str = ""
    admin_secret: str = ""
    # admin login throttle, per client address (app.admin_throttle)
    admin_login_max_failures: int = 5  # the wrong password in a row that starts a lockout
    admin_login_backoff: float = 1  # first lockout (s), doubling per further failure
    admin_login_backoff_max: float = 300  # longest lockout (s); also how long a failure is remembered
    admin_login_max_addresses: int = 10000  # addresses tracked at most (oldest evicted)
    prometheus: bool = False  # GET /metrics on the client port (always served on admin_port when set)
    log_level: str = "info"
    log_format: str = "text"  # "text" or "json"
    log_file: str = ""
    pid_file: str = ""
    debug: bool = False

    # network
    address: str = ""
    port: int = 8000
    api_port: int = 0  # 0: same as port
    admin_port: int = 0  # 0: same as port
    http_prefix: str = ""
    ssl: bool = False
    ssl_cert: str = ""
    ssl_key: str = ""
    http_header_timeout: float = 30  # a new connection's first request headers, in full; 0: no limit
    http_keepalive_timeout: float = 30  # after a response, the next request's headers; 0: no limit

    # connections
    connection_lifetime: int = 0
    max_channel_length: int = 255
    user_connection_limit: int = 0
    client_channel_limit: int = 128
    client_request_max_size: int = 65536
    client_queue_max_size: int = 10485760
    client_slow_close_grace: float = 3  # a "slow" client: seconds to read its close before it is dropped
    insufficient_state_jitter: float = 5  # closes for a gap history cannot fill: spread over this (s)
    ping_interval: float = 25  # raw websocket ping frames; protocol v2's app-level pings
    pong_timeout: float = 8  # protocol v2: a ping's pong within this (s) or close 3012; 0: no pongs asked
    presence_ping_interval: float = 25
    presence_expire_interval: int = 60
    expired_connection_close_delay: float = 25
    expired_subscription_close_delay: float = 25  # protocol v2: a subscription token's, likewise
    stale_connection_close_delay: float = 25
    client_connection_limit: int = 0  # client connections (all transports) per node; 0: no limit
    client_unauthenticated_limit: int = 10000  # of those, not connected yet; 0: no limit
    client_connection_rate_limit: float = 3000  # new client connections per second per node; 0: no limit
    node_ping_interval: float = 3
    node_metrics_interval: int = 60
    api_max_body_size: int = 10485760
    idempotent_result_ttl: int = 300  # a publish's idempotency_key is remembered this long (s)
    shutdown_timeout: float = 10  # graceful shutdown; forced exit after this
    shutdown_drain: float = 0  # seconds /health answers 503 before listeners close

    # proxy hooks (docs/proxy.md): Centrifugo v5's names; "" endpoint: hook off
    proxy_connect_endpoint: str = ""
    proxy_connect_timeout: float = 1
    proxy_refresh_endpoint: str = ""
    proxy_refresh_timeout: float = 1
    proxy_subscribe_endpoint: str = ""
    proxy_subscribe_timeout: float = 1
    proxy_publish_endpoint: str = ""
    proxy_publish_timeout: float = 1
    proxy_rpc_endpoint: str = ""
    proxy_rpc_timeout: float = 1
    proxy_sub_refresh_endpoint: str = ""
    proxy_sub_refresh_timeout: float = 1
    proxy_http_headers: str = ""  # comma-separated (a list in a file): client request headers forwarded
    proxy_max_response_size: int = 1048576  # a backend's answer past this many bytes is error 100
    proxy_max_connections: int = 64  # calls in flight to the backends; more wait (within their timeout)
    proxy_http_client: str = "auto"  # "curl" (kept-alive connections; needs pycurl), "simple", "auto"
    proxy_emulated_headers: str = ""  # comma-separated (a list in a file): ConnectRequest.headers forwarded
    proxy_include_connection_meta: bool = False  # the connect result's meta sent in the later hook calls
    proxy_binary_encoding: bool = False  # client data sent as b64data always ("encoding": "binary")
    proxy_http_status_code_transforms: str = ""  # JSON list (a list in a file): status -> error / disconnect
    # online status, occupancy and webhooks (docs/webhooks.md)
    webhook_endpoint: str = ""  # URL the events are POSTed to; "": none
    webhook_secret: str = ""  # HMAC-SHA256 key of the X-Sockhub-Signature header; "": the secret
    webhook_timeout: float = 5  # one POST, in seconds
    webhook_batch_size: int = 100  # events per POST at most
    webhook_retry_max: float = 10  # longest pause between retries of a failing POST (s)
    status_grace: float = 5  # a group left empty waits this long before its "off" event
    status_channel: str = ""  # channel the events are published into too; "": none

    # channel names
    private_channel_prefix: str = "$"
    namespace_channel_boundary: str = ":"
    user_channel_boundary: str = "#"
    user_channel_separator: str = ","
    client_channel_boundary: str = "&"

    # top-level channel options and namespaces
    channel: ChannelOptions = field(default_factory=ChannelOptions)
    namespaces: list[Namespace] = field(default_factory=list)

    # SockJS
    sockjs_url: str = ""  # "": the copy of sockjs-client 1.6.1 sockhub serves itself
    sockjs_heartbeat_delay: float = 25
    sockjs_disconnect_delay: float = 5
    sockjs_response_limit: int = 131072
    sockjs_max_body_size: int = 65536  # an xhr_send/jsonp_send body (413 past it)

    # protocol v2 transports (Centrifugo v5's switches; sockhub serves them
    # all unless switched off, the 1.x endpoints are not affected)
    websocket_disable: bool = False
    sockjs: bool = True
    http_stream: bool = True
    sse: bool = True

    # engine
    engine: str = "memory"  # "memory" or "redis"
    redis_host: str = "127.0.0.1"  # comma-separated list: sharding
    redis_port: str = "6379"  # comma-separated list: sharding
    redis_url: str = ""  # comma-separated list: sharding
    redis_password: str = ""
    redis_db: int = 0
    redis_prefix: str = "centrifugo"
    redis_api: bool = False
    redis_api_num_shards: int = 0
    redis_master_name: str = ""
    redis_sentinels: str = ""  # "host:port,host:port"
    redis_cluster: bool = False
    redis_connect_timeout: int = 1
    redis_read_timeout: int = 10
    redis_write_timeout: int = 1
