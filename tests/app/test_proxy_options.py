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


def test_the_new_proxy_options_from_a_file_and_the_environment(tmp_path: Path) -> None:
    from app.proxy import transforms
    from app.proxy.headers import emulated_names
    from app.proxy.wire import HookDisconnect, HookError

    items = [{"status_code": 404, "to_error": {"code": 404, "message": "not found"}},
             {"status_code": 403, "to_disconnect": {"code": 4501, "reason": "forbidden"}}]
    options = load_options(write(tmp_path, {"proxy_http_status_code_transforms": items,
                                            "proxy_emulated_headers": ["X-Token", "Authorization"],
                                            "proxy_include_connection_meta": True, "proxy_binary_encoding": True}), {})
    parsed = transforms.parse(options.proxy_http_status_code_transforms)
    assert isinstance(parsed[404], HookError) and (parsed[404].code, parsed[404].message) == (404, "not found")
    assert isinstance(parsed[403], HookDisconnect) and (parsed[403].code, parsed[403].reason) == (4501, "forbidden")
    assert emulated_names(options) == {"x-token", "authorization"}
    assert options.proxy_include_connection_meta and options.proxy_binary_encoding
    env = load_options(None, {"SOCKHUB_INSECURE": "true", "SOCKHUB_PROXY_EMULATED_HEADERS": "X-A,X-B",
                              "SOCKHUB_PROXY_HTTP_STATUS_CODE_TRANSFORMS": json.dumps(items[:1])})
    assert emulated_names(env) == {"x-a", "x-b"} and list(transforms.parse(env.proxy_http_status_code_transforms)) == [404]
    default = load_options(None, {"SOCKHUB_INSECURE": "true"})
    assert transforms.parse(default.proxy_http_status_code_transforms) == {}
    assert not default.proxy_include_connection_meta and not default.proxy_binary_encoding


@pytest.mark.parametrize("items, message", [
    ('{"status_code": 404}', "not a list"),
    ({"status_code": 404}, "expected a string"),
    ([{"to_error": {"code": 404}}], r"\[0\]: status_code"),
    ([{"status_code": 200, "to_error": {"code": 404}}], "status_code"),
    ([{"status_code": 404}], "exactly one"),
    ([{"status_code": 404, "to_error": {"code": 404}, "to_disconnect": {"code": 4000}}], "exactly one"),
    ([{"status_code": 404, "to_error": {"code": 99}}], "400-1999"),
    ([{"status_code": 404, "to_error": {"code": 404, "temporary": "yes"}}], "temporary"),
    ([{"status_code": 403, "to_disconnect": {"code": 3000}}], "4000-4999"),
    ([{"status_code": 403, "to_disconnect": {"code": 4000, "reason": "é"}}], "ASCII"),
    ([{"status_code": 403, "to_disconnect": {"code": 4000, "reason": "x" * 124}}], "ASCII"),
    ([{"status_code": 404, "to_error": {"code": 404}}, {"status_code": 404, "to_error": {"code": 405}}], "twice"),
])
def test_bad_status_transforms_are_refused(tmp_path: Path, items: object, message: str) -> None:
    with pytest.raises(ConfigError, match="proxy_http_status_code_transforms: .*" + message):
        load_options(write(tmp_path, {"proxy_http_status_code_transforms": items}), {})


@pytest.mark.parametrize("names", [["Content-Length"], ["Host"], ["X Bad"], ["X-Ok", "Bad:Name"]])
def test_bad_emulated_header_names_are_refused(tmp_path: Path, names: list[str]) -> None:
    with pytest.raises(ConfigError, match="proxy_emulated_headers"):
        load_options(write(tmp_path, {"proxy_emulated_headers": names}), {})
