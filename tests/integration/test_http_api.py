"""The HTTP API endpoint against a real sockhub: both request forms, every
status of docs/protocol-1x.md §10, and inputs that must not hurt the server."""
from __future__ import annotations

import json
import os
import urllib.parse
from typing import Callable

import pytest

from app.dialects.v1x.auth import api_sign
from tests.integration.conftest import SECRET
from tests.integration.httpclient import Response, request
from tests.support.net import free_port
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
PUBLISH = b'{"method": "publish", "params": {"channel": "news", "data": {"text": "hi"}}}'
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def post_json(port: int, body: bytes, sign: str | None = "auto", path: str = "/api/") -> Response:
    headers = {"Content-Type": JSON}
    if sign == "auto":
        sign = api_sign(SECRET, body)
    if sign is not None:
        headers["X-API-Sign"] = sign
    return request(port, "POST", path, body, headers)


def post_form(port: int, fields: dict[str, str | bytes], query: dict[str, str | bytes] | None = None,
              content_type: str = FORM) -> Response:
    path = "/api/" + ("?" + urllib.parse.urlencode(query) if query else "")
    return request(port, "POST", path, urllib.parse.urlencode(fields).encode(), {"Content-Type": content_type})


def assert_publish_ok(response: Response) -> None:
    assert response.status == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == [{"method": "publish", "error": None, "body": None}]


def test_json_body_with_header_sign(sockhub: Start) -> None:
    hub = sockhub()
    assert_publish_ok(post_json(hub.port, PUBLISH))
    # Any suffix after /api/ is the API too, as in Centrifugo's mux.
    assert_publish_ok(post_json(hub.port, PUBLISH, path="/api/project"))
    # "application/json; charset=utf-8" is still the JSON form.
    response = request(hub.port, "POST", "/api/", PUBLISH,
                       {"Content-Type": "application/json; charset=utf-8", "X-API-Sign": api_sign(SECRET, PUBLISH)})
    assert_publish_ok(response)


def test_form_data_and_sign_in_body_and_query(sockhub: Start) -> None:
    hub = sockhub()
    assert_publish_ok(post_form(hub.port, {"data": PUBLISH, "sign": api_sign(SECRET, PUBLISH)}))
    # Go's FormValue reads the query string as well.
    assert_publish_ok(post_form(hub.port, {}, {"data": PUBLISH, "sign": api_sign(SECRET, PUBLISH)}))
    assert_publish_ok(post_form(hub.port, {"data": PUBLISH}, {"sign": api_sign(SECRET, PUBLISH)}))


def test_sign_is_over_the_exact_bytes(sockhub: Start) -> None:
    hub = sockhub()
    # The same command with other whitespace is other bytes: its own sign only.
    compact = b'{"method":"publish","params":{"channel":"news","data":{"text":"hi"}}}'
    assert_publish_ok(post_json(hub.port, compact))
    response = post_json(hub.port, compact, sign=api_sign(SECRET, PUBLISH))
    assert response.status == 401


def test_batch_reply_is_an_array_in_order(sockhub: Start) -> None:
    hub = sockhub()
    body = json.dumps([{"method": "publish", "params": {"channel": "a", "data": 1}},
                       {"method": "channels", "params": {}},
                       {"method": "publish", "params": {"channel": "b", "data": [2]}}]).encode()
    response = post_json(hub.port, body)
    assert response.status == 200, response.text
    assert [item["method"] for item in json.loads(response.body)] == ["publish", "channels", "publish"]


@pytest.mark.parametrize("sign, status, text", [
    (None, 400, "missing sign"),
    ("", 400, "missing sign"),
    ("0" * 64, 401, "wrong sign"),
    ("short", 401, "wrong sign"),
    ("upper", 401, "wrong sign"),
])
def test_bad_signs(sockhub: Start, sign: str | None, status: int, text: str) -> None:
    hub = sockhub()
    if sign == "upper":
        sign = api_sign(SECRET, PUBLISH).upper()
    response = post_json(hub.port, PUBLISH, sign=sign)
    assert response.status == status and text in response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    form = post_form(hub.port, {"data": PUBLISH, **({"sign": sign} if sign is not None else {})})
    assert form.status == status and text in form.text


def test_empty_data_and_no_secret(sockhub: Start) -> None:
    hub = sockhub()
    assert post_json(hub.port, b"").status == 400
    response = post_form(hub.port, {"sign": api_sign(SECRET, b"")})
    assert response.status == 400 and "empty data" in response.text
    no_secret = sockhub({"secret": "", "insecure": True})
    response = post_json(no_secret.port, PUBLISH, sign="a" * 64)
    assert response.status == 400 and "no secret configured" in response.text


def test_insecure_api_reads_no_sign(sockhub: Start) -> None:
    hub = sockhub({"insecure_api": True})
    assert_publish_ok(post_json(hub.port, PUBLISH, sign=None))
    assert_publish_ok(post_json(hub.port, PUBLISH, sign="nonsense"))  # not even looked at
    assert_publish_ok(post_form(hub.port, {"data": PUBLISH}))
    assert post_form(hub.port, {}).status == 400


@pytest.mark.parametrize("body", [
    b"{not json", b"hello", b"[]", b'"just a string"', b"[1, 2]", b"\xff\xfe\x00",
    b'{"method": "publish", "params": "nope"}', b'{"method": "publish", "params": {"data": 1}}',
])
def test_bad_json_is_400_and_harmless(sockhub: Start, body: bytes) -> None:
    hub = sockhub()
    response = post_json(hub.port, body)
    assert response.status == 400, (body, response.status, response.text)
    assert hub.health() == 200
    assert_publish_ok(post_json(hub.port, PUBLISH))


def test_unknown_method_is_400(sockhub: Start) -> None:
    hub = sockhub()
    for body in (b'{"method": "explode", "params": {}}',
                 b'[{"method": "channels", "params": {}}, {"method": "explode", "params": {}}]'):
        response = post_json(hub.port, body)
        assert response.status == 400, response.text


def test_body_over_the_limit_is_413(sockhub: Start) -> None:
    hub = sockhub({"api_max_body_size": 2000})
    data = json.dumps({"method": "publish", "params": {"channel": "c", "data": "x" * 3000}}).encode()
    assert post_json(hub.port, data).status == 413
    # Without Content-Length (chunked), the limit holds while streaming.
    chunks = [data[i:i + 500] for i in range(0, len(data), 500)]
    response = request(hub.port, "POST", "/api/", iter(chunks),
                       {"Content-Type": JSON, "X-API-Sign": api_sign(SECRET, data)}, chunked=True)
    assert response.status == 413
    # Just under the limit is fine.
    small = json.dumps({"method": "publish", "params": {"channel": "c", "data": "x" * 1500}}).encode()
    assert_publish_ok(post_json(hub.port, small))
    assert hub.health() == 200


def test_other_methods_and_redirect(sockhub: Start) -> None:
    hub = sockhub()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = request(hub.port, method, "/api/")
        assert response.status == 405 and response.headers["Allow"] == "POST", method
    redirect = request(hub.port, "GET", "/api")
    assert redirect.status == 301 and redirect.headers["Location"] == "/api/"
    # POST /api (no slash) is the Centrifugo 2 API (tests/integration/test_cent3_client.py): its key
    assert request(hub.port, "POST", "/api", PUBLISH, {"Content-Type": JSON}).status == 401


def test_random_inputs_never_crash(sockhub: Start) -> None:
    hub = sockhub({"insecure_api": True})
    for size in (1, 7, 100, 5000):
        for content_type in (JSON, FORM, "multipart/form-data; boundary=x", "text/plain"):
            body = os.urandom(size)
            response = request(hub.port, "POST", "/api/", body, {"Content-Type": content_type})
            assert 400 <= response.status < 500, (content_type, size, response.status)
    assert hub.health() == 200
    assert "Traceback" not in hub.logs()


def test_api_port_moves_the_api(sockhub: Start) -> None:
    api_port = free_port()
    hub = sockhub({"api_port": api_port})
    assert_publish_ok(post_json(api_port, PUBLISH))
    assert post_json(hub.port, PUBLISH).status == 404
    assert request(api_port, "GET", "/health").status == 200


def test_http_prefix(sockhub: Start) -> None:
    hub = sockhub({"http_prefix": "/rt"})
    assert_publish_ok(post_json(hub.port, PUBLISH, path="/rt/api/"))
    # An unknown path takes no body: refused before it is read (issue 11).
    assert post_json(hub.port, PUBLISH, path="/api/").status == 413
    assert request(hub.port, "GET", "/api/").status == 404
