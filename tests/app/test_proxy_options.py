"""The proxy hooks' options (app/options.py, app/config.py): Centrifugo's
list form of ``proxy_http_headers`` in a file, its comma form in the
environment, and what checkconfig refuses."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import ConfigError, load_options
from app.proxy.hooks import wanted_headers


def write(tmp_path: Path, config: dict[str, object]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"secret": "s", **config}))
    return str(path)


def test_headers_as_a_list_in_a_file_or_comma_separated_in_the_environment(tmp_path: Path) -> None:
    options = load_options(write(tmp_path, {"proxy_http_headers": ["Cookie", "Authorization"]}), {})
    assert wanted_headers(options) == {"cookie", "authorization"}
    options = load_options(None, {"SOCKHUB_PROXY_HTTP_HEADERS": "X-Real-Ip, cookie", "SOCKHUB_INSECURE": "true"})
    assert wanted_headers(options) == {"x-real-ip", "cookie"}
    assert wanted_headers(load_options(None, {"SOCKHUB_INSECURE": "true"})) == frozenset()


def test_namespace_switches_and_timeouts(tmp_path: Path) -> None:
    options = load_options(write(tmp_path, {
        "proxy_subscribe_endpoint": "http://127.0.0.1:9/s", "proxy_subscribe_timeout": 0.25,
        "proxy_rpc_timeout": "1500ms",  # Centrifugo v5's duration strings
        "namespaces": [{"name": "chat", "proxy_subscribe": True, "proxy_publish": True}]}), {})
    assert options.proxy_subscribe_timeout == 0.25 and options.proxy_connect_timeout == 1
    assert options.proxy_rpc_timeout == 1.5
    chat = options.namespaces[0].options
    assert (chat.proxy_subscribe, chat.proxy_publish, chat.proxy_sub_refresh) == (True, True, False)


@pytest.mark.parametrize("config, message", [
    ({"proxy_connect_endpoint": "127.0.0.1:3000/connect"}, "proxy_connect_endpoint"),
    ({"proxy_rpc_endpoint": "ftp://backend/rpc"}, "proxy_rpc_endpoint"),
    ({"proxy_refresh_timeout": 0}, "proxy_refresh_timeout: must be more than 0"),
    ({"proxy_http_client": "requests"}, "proxy_http_client"),
    ({"proxy_http_headers": ["Cookie", 3]}, "proxy_http_headers"),
])
def test_what_is_refused(tmp_path: Path, config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_options(write(tmp_path, config), {})
