"""Admin tokens and the /auth/ login handler (real Tornado server on a free port)."""
from __future__ import annotations

import json
from typing import Any
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.web import Application

from app.admin_auth import INSECURE_TOKEN, LOGIN_DISABLED, AdminGate, AuthHandler, check_admin_token, make_admin_token
from app.admin_throttle import LoginThrottle, login_policy
from app.options import Options
from tests.support.net import free_port

OPTS = Options(admin_password="pa55", admin_secret="s3cret")


def test_token_round_trip_and_expiry() -> None:
    token = make_admin_token("s3cret", now=1000.0, ttl=60)
    assert check_admin_token("s3cret", token, now=1059.0)
    assert not check_admin_token("s3cret", token, now=1060.0)  # expired
    assert not check_admin_token("other", token, now=1000.0)  # another secret
    assert not check_admin_token("", token, now=1000.0)


def test_tampered_tokens_fail() -> None:
    token = make_admin_token("s3cret", now=1000.0, ttl=60)
    version, expires, nonce, mac = token.split(".")
    longer = f"{version}.{int(expires) + 10_000}.{nonce}.{mac}"
    assert not check_admin_token("s3cret", longer, now=1000.0)
    assert not check_admin_token("s3cret", token[:-1] + ("0" if token[-1] != "0" else "1"), now=1000.0)
    for junk in ("", "insecure", "v1.x.y.z", "a.b.c", "v2" + token[2:]):
        assert not check_admin_token("s3cret", junk, now=1000.0)


def test_gate_reads_options_each_time() -> None:
    current = {"opts": OPTS}
    gate = AdminGate(lambda: current["opts"], clock=lambda: 5000.0)
    token = gate.login("pa55")
    assert gate.accepts(token)
    current["opts"] = replace(OPTS, admin_secret="rotated")  # a SIGHUP reload
    assert not gate.accepts(token)
    current["opts"] = replace(OPTS, insecure_admin=True)
    assert gate.login("anything") == INSECURE_TOKEN and gate.accepts(None) and gate.insecure


def test_gate_says_what_a_login_can_do() -> None:
    assert AdminGate(lambda: OPTS).login_state() == {"login": "password"}
    assert AdminGate(lambda: replace(OPTS, insecure_admin=True)).login_state() == {"login": "none"}
    for opts in (replace(OPTS, admin_secret=""), replace(OPTS, admin_password="")):
        assert AdminGate(lambda opts=opts: opts).login_state() == {"login": "disabled", "error": LOGIN_DISABLED}


async def test_get_auth_tells_the_page_before_a_password_is_typed(port: int) -> None:
    server = _serve(port, replace(OPTS, admin_password=""))
    try:
        resp = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/auth/")
        assert resp.code == 200 and json.loads(resp.body) == {"login": "disabled", "error": LOGIN_DISABLED}
    finally:
        server.stop()


async def _post(port: int, body: str, query: str = "") -> tuple[int, dict[str, Any]]:
    client = AsyncHTTPClient()
    url = f"http://127.0.0.1:{port}/auth/{query}"
    try:
        resp = await client.fetch(url, method="POST", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    return resp.code, json.loads(resp.body)


@pytest.fixture
def port() -> int:
    return free_port()


def _serve(port: int, opts: Options) -> HTTPServer:
    gate = AdminGate(lambda: opts)
    throttle = LoginThrottle(lambda: login_policy(opts))
    server = HTTPServer(Application([(r"/auth/", AuthHandler, {"gate": gate, "throttle": throttle})]))
    server.listen(port, "127.0.0.1")
    return server


async def test_login_right_and_wrong_password(port: int) -> None:
    server = _serve(port, OPTS)
    try:
        code, body = await _post(port, urlencode({"password": "pa55"}))
        assert code == 200 and AdminGate(lambda: OPTS).accepts(body["token"])
        code, body = await _post(port, urlencode({"password": "wrong"}))
        assert code == 401 and body == {"error": "wrong password"}
        code, body = await _post(port, "")
        assert code == 401 and "token" not in body
    finally:
        server.stop()


async def test_password_in_url_is_refused(port: int) -> None:
    server = _serve(port, OPTS)
    try:
        code, body = await _post(port, urlencode({"password": "pa55"}), query="?password=pa55")
        assert code == 400 and "URL" in body["error"] and "token" not in body
    finally:
        server.stop()


async def test_login_disabled_without_password_or_secret(port: int) -> None:
    server = _serve(port, replace(OPTS, admin_secret=""))
    try:
        code, body = await _post(port, urlencode({"password": "pa55"}))
        assert code == 400 and "admin_secret" in body["error"]
    finally:
        server.stop()


async def test_insecure_admin_skips_login(port: int) -> None:
    server = _serve(port, replace(OPTS, insecure_admin=True))
    try:
        assert await _post(port, "") == (200, {"token": "insecure"})
    finally:
        server.stop()
