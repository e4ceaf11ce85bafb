"""The names a config may use besides the option fields: Centrifugo 1.4's
and v5's spellings (docs/config-v5.md has the table), the Centrifugo keys
sockhub accepts and does not use, and the duration options with the Go
duration text Centrifugo v5 writes ("300s", "1m30s", "500ms")."""
from __future__ import annotations

import re

#: Other spellings of some keys: Centrifugo 1.4's, and v5's where it renamed one.
ALIASES: dict[str, str] = {
    "web_password": "admin_password",
    "web_secret": "admin_secret",
    "insecure_web": "insecure_admin",
    "prefix": "http_prefix",
    "channel_prefix": "redis_prefix",
    # Centrifugo v5's spelling (docs/config-v5.md has the whole table)
    "api_insecure": "insecure_api",
    "client_insecure": "insecure",
    "admin_insecure": "insecure_admin",
    "admin_web_path": "web_path",
    "tls": "ssl",
    "tls_cert": "ssl_cert",
    "tls_key": "ssl_key",
    "client_expired_close_delay": "expired_connection_close_delay",
    "client_expired_sub_close_delay": "expired_subscription_close_delay",
    "client_stale_close_delay": "stale_connection_close_delay",
    "client_presence_update_interval": "presence_ping_interval",
    "global_presence_ttl": "presence_expire_interval",
    "client_user_connection_limit": "user_connection_limit",
    "websocket_message_size_limit": "client_request_max_size",
    "channel_max_length": "max_channel_length",
    "channel_private_prefix": "private_channel_prefix",
    "channel_namespace_boundary": "namespace_channel_boundary",
    "channel_user_boundary": "user_channel_boundary",
    "channel_user_separator": "user_channel_separator",
    # channel options (top level and in namespaces)
    "history_ttl": "history_lifetime",
    "force_recovery": "recover",
    # Redis (redis_address and the other server lists: app.config.redis_addresses)
    "redis_sentinel_master_name": "redis_master_name",
    # Centrifugo 2.x's spelling (also inside namespaces; docs/config-2x.md has the whole table)
    "history_recover": "recover",
    "client_anonymous": "allow_anonymous_connect_without_token",
    "client_ping_interval": "ping_interval",
    "websocket_ping_interval": "ping_interval",
    "client_presence_ping_interval": "presence_ping_interval",
    "client_presence_expire_interval": "presence_expire_interval",
    "proxy_extra_http_headers": "proxy_http_headers",
}

#: Centrifugo 2.x switches that turn one of our options off: ``{key: option}``.
NEGATED: dict[str, str] = {"sockjs_disable": "sockjs"}

#: Centrifugo keys that set several options at once: ``{key: options}``
#: (``internal_port`` moves the API, admin, metrics and health handlers).
SPREAD: dict[str, tuple[str, ...]] = {"internal_port": ("api_port", "admin_port")}

#: Accepted keys whose one value here is what sockhub always does: that
#: value is taken silently, another is warned about as not used.
FIXED_VALUES: dict[str, bool] = {"subscribe_to_publish": True, "v3_use_offset": True}

#: Integer options a Centrifugo 2.x file may give as decimal text
#: (``"port": "8000"``: its ports are strings there).
INT_TEXT_KEYS = frozenset({"port", "api_port", "admin_port", "internal_port"})

#: Centrifugo v5 channel options sockhub accepts and does not use.
IGNORED_CHANNEL_KEYS = frozenset({
    "allow_positioning", "force_positioning", "allow_recovery", "force_push_join_leave",
    "history_meta_ttl", "channel_regex",
    "subscribe_proxy_name", "publish_proxy_name", "sub_refresh_proxy_name", "allowed_delta_types",
    "force_recovery_mode", "delta_publish",
    # Centrifugo 2.x: sockhub always requires the subscription to publish (as with true)
    "subscribe_to_publish",
    # Centrifugo 3.x's client limits of history and recovery (no limit here)
    "history_max_publication_limit", "recover_max_publication_limit",
})

#: Centrifugo 1.x keys sockhub accepts and does not use (Go runtime, autocert...).
IGNORED_KEYS = frozenset({
    "gomaxprocs", "client_queue_initial_capacity", "client_message_write_timeout",
    "message_send_timeout", "websocket_compression", "websocket_compression_level",
    "websocket_compression_min_size", "websocket_read_buffer_size",
    "websocket_write_buffer_size", "redis_pool", "redis_pubsub_num_workers",
    "ssl_autocert", "ssl_autocert_host_whitelist", "ssl_autocert_cache_dir",
    "ssl_autocert_email", "ssl_autocert_force_rsa", "ssl_autocert_server_name",
    "ssl_autocert_http", "ssl_autocert_http_addr",
    # Centrifugo 2.x: sockhub always sends offsets and epochs (what this flag turned on)
    "v3_use_offset",
    # Centrifugo v5's (its defaults file names them all; these have no use here)
    "health", "client_concurrency", "client_channel_position_check_delay",
    "client_connection_rate_limit", "client_history_max_publication_limit",
    "client_recovery_max_publication_limit", "client_connect_include_server_time", "global_history_meta_ttl",
    "websocket_write_timeout", "websocket_use_write_buffer_pool", "usage_stats_disable", "swagger",
    "node_info_metrics_aggregate_interval", "disallow_anonymous_connection_tokens", "uni_websocket",
    "uni_sse", "uni_http_stream", "uni_grpc", "grpc_api", "webtransport", "http3",
    "internal_address", "admin_external", "api_external", "tls_external", "prometheus_port",
    "user_subscribe_to_personal", "user_personal_channel_namespace", "user_personal_single_connection",
    "redis_use_lists", "redis_io_timeout", "redis_force_resp2", "redis_client_name", "redis_user",
    # Centrifugo 2.x's (docs/config-2x.md says why each has no use here)
    "admin_handler_prefix", "websocket_handler_prefix", "sockjs_handler_prefix", "api_handler_prefix",
    "prometheus_handler_prefix", "health_handler_prefix", "api_disable", "broker", "nats_url", "nats_prefix",
    "nats_dial_timeout", "nats_write_timeout", "graphite", "graphite_host", "graphite_port", "graphite_prefix",
    "graphite_interval", "graphite_tags", "grpc_api_port", "grpc_api_key", "grpc_api_tls", "grpc_api_tls_disable",
    "grpc_api_tls_cert", "grpc_api_tls_key", "memory_history_meta_ttl", "redis_history_meta_ttl",
    "redis_sequence_ttl", "redis_streams", "redis_idle_timeout", "redis_tls", "redis_tls_skip_verify",
    "redis_sentinel_password", "shutdown_termination_delay", "token_jwks_public_endpoint", "tls_autocert",
    "tls_autocert_host_whitelist", "tls_autocert_cache_dir", "tls_autocert_email", "tls_autocert_force_rsa",
    "tls_autocert_server_name", "tls_autocert_http", "tls_autocert_http_addr",
}) | IGNORED_CHANNEL_KEYS


#: Options that are durations in seconds: besides a number, a file,
#: environment variable or flag may give them as Go duration text, as
#: Centrifugo v5 does ("300s", "1m30s", "500ms"); an int option takes the
#: duration rounded up to whole seconds.
DURATION_KEYS = frozenset({
    "admin_login_backoff", "admin_login_backoff_max", "http_header_timeout", "http_keepalive_timeout",
    "connection_lifetime", "client_slow_close_grace", "ping_interval", "pong_timeout",
    "presence_ping_interval", "presence_expire_interval", "expired_connection_close_delay",
    "expired_subscription_close_delay", "stale_connection_close_delay", "node_ping_interval",
    "node_metrics_interval", "shutdown_timeout", "shutdown_drain", "sockjs_heartbeat_delay",
    "sockjs_disconnect_delay", "redis_connect_timeout", "redis_read_timeout", "redis_write_timeout",
    "history_lifetime",
    # the proxy hooks' timeouts ("1s" as Centrifugo v5 writes them)
    "proxy_connect_timeout", "proxy_refresh_timeout", "proxy_subscribe_timeout", "proxy_publish_timeout",
    "proxy_rpc_timeout", "proxy_sub_refresh_timeout",
})

_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}
#: The longest duration text read (a Go duration is at most ~290 years anyway).
MAX_DURATION_TEXT = 64


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration ("300s", "1m30s", "1.5h", "500ms", "0"), or
    None when ``text`` is not one (no sign: durations here are not negative)."""
    text = text.strip()
    if text == "0":
        return 0.0
    if len(text) > MAX_DURATION_TEXT or not _DURATION.fullmatch(text):
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
