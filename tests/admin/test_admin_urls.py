"""admin_urls: which rules --admin and --web add, and the page files they serve."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.httpserver import HTTPServer
from tornado.web import Application

from app.admin import AdminHub, AdminSocket, Rules, admin_urls
from app.admin_auth import AuthHandler
from app.options import Options
from tests.admin.test_admin_socket import FakeApi
from tests.support.net import free_port


@dataclass
class FakeEngine:
    name: str = "Memory"


@dataclass
class FakeEvents:
    listeners: list[Callable[[str, int], None]] = field(default_factory=list)
    watching: list[bool] = field(default_factory=list)

    def add_listener(self, listener: Callable[[str, int], None]) -> None:
        self.listeners.append(listener)

    def watch(self, watching: bool) -> None:
        self.watching.append(watching)


@dataclass
class FakeNode:
    api: FakeApi
    engine: FakeEngine
    options: Options
    listeners: list[Callable[[bytes], None]] = field(default_factory=list)
    events: FakeEvents = field(default_factory=FakeEvents)

    def add_admin_listener(self, listener: Callable[[bytes], None]) -> None:
        self.listeners.append(listener)

    def series(self) -> dict[str, Any]:
        return {"nodes": []}


def rules_for(opts: Options) -> Rules:
    return admin_urls(FakeNode(FakeApi(), FakeEngine(), opts))


def test_the_hub_listens_to_the_node() -> None:
    node, hub = FakeNode(FakeApi(), FakeEngine(), Options(admin=True)), AdminHub()
    admin_urls(node, hub)
    assert node.listeners == [hub.broadcast]
    assert node.events.listeners == [hub.events]
    assert admin_urls(FakeNode(FakeApi(), FakeEngine(), Options()), hub) == []


def test_no_admin_no_rules() -> None:
    assert rules_for(Options()) == []


def test_admin_is_the_socket_alone() -> None:
    rules = rules_for(Options(admin=True, http_prefix="/x"))
    assert [(path, handler) for path, handler, _ in rules] == [("/x/socket", AdminSocket)]


def test_web_adds_login_and_page() -> None:
    rules = rules_for(Options(web=True))
    handlers = [handler for _, handler, _ in rules]
    assert AdminSocket in handlers and AuthHandler in handlers


async def _get(port: int, path: str, **kwargs: Any) -> tuple[int, bytes]:
    try:
        resp = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}{path}", follow_redirects=False, **kwargs)
    except HTTPClientError as exc:
        return exc.code, exc.response.body if exc.response else b""
    return resp.code, resp.body


async def test_page_served_under_the_prefix_without_catch_all() -> None:
    opts = Options(web=True, http_prefix="/ops", admin_password="p", admin_secret="s")
    port = free_port()
    server = HTTPServer(Application(rules_for(opts)))
    server.listen(port, "127.0.0.1")
    try:
        code, body = await _get(port, "/ops/")
        assert code == 200 and b'id="login-form"' in body and b"admin.js" in body
        assert (await _get(port, "/ops/admin.js"))[0] == 200
        assert (await _get(port, "/ops/admin.css"))[0] == 200
        assert (await _get(port, "/ops"))[0] == 301
        assert (await _get(port, "/ops/health"))[0] == 404  # left to other rules
        assert (await _get(port, "/ops/../app/admin.py"))[0] in (400, 403, 404)
        code, body = await _get(port, "/ops/auth/", method="POST", body=urlencode({"password": "p"}))
        assert code == 200 and b'"token"' in body
    finally:
        server.stop()


async def test_web_path_serves_another_directory(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>custom admin</p>")
    port = free_port()
    server = HTTPServer(Application(rules_for(replace(Options(web=True), web_path=str(tmp_path)))))
    server.listen(port, "127.0.0.1")
    try:
        assert await _get(port, "/") == (200, b"<p>custom admin</p>")
    finally:
        server.stop()
