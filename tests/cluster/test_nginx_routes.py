"""The project's nginx config in front of real nodes: it tells them the
client's address (X-Real-IP) on every location (the Host with its port is
checked by tests/admin/test_admin_nginx.py), and ``--http-prefix`` keeps
routing and SockJS stickiness for nodes under an ``http_prefix``.

(A location with a ``proxy_set_header`` of its own inherits none of the
server's; the config once set Upgrade/Connection per location, so no node
saw a client address nor the Host behind nginx.)  The client connects to
nginx from 127.0.0.2, nginx to the node from 127.0.0.1: the node's access log
(debug level) names the client only if the header came through."""
from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import jwt

from app.dialects.v1x.auth import connection_token
from tests.support.cluster import SECRET, Cluster

CLIENT_ADDRESS = "127.0.0.2"
PATHS = ["/health", "/connection/info", "/api/", "/connection/000/headers1/xhr"]


def get_from(address: str, port: int, path: str) -> bytes:
    """One ``GET path`` to 127.0.0.1:port from ``address``; the response head."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(address, 0)) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        return head


def test_every_location_passes_the_client_address(tmp_path: Path) -> None:
    with Cluster(tmp_path, count=1, log_level="debug") as cluster:
        assert cluster.nginx is not None
        for path in PATHS:
            head = get_from(CLIENT_ADDRESS, cluster.nginx.port, path)
            assert head.startswith(b"HTTP/1.1 "), head
        node = cluster.nodes[0]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(f"{p} ({CLIENT_ADDRESS})" in node.logs() for p in PATHS):
            time.sleep(0.1)
        logs = node.logs()
    for path in PATHS:
        assert f"{path} ({CLIENT_ADDRESS})" in logs, (path, logs[-3000:])


def post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    """One POST to nginx; (status, body) whatever the status."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_http_prefix_routes_and_sticks(tmp_path: Path) -> None:
    """``--http-prefix /rt`` (nginx) with ``http_prefix: /rt`` (nodes): an
    xhr-polling session's sends and polls all reach the node that holds it
    (two nodes: without stickiness each request would have one chance in two),
    and the API under the prefix answers."""
    with Cluster(tmp_path, count=2, config={"http_prefix": "/rt"}) as cluster:
        assert cluster.nginx is not None
        port, base = cluster.nginx.port, "/rt/connection/000/sticky1"
        assert post(port, base + "/xhr", b"") == (200, b"o\n")
        stamp = str(int(time.time()))
        connect = {"method": "connect", "params": {"user": "u", "timestamp": stamp, "info": "",
                                                   "token": connection_token(SECRET, "u", stamp, "")}}
        commands = [connect] + [{"uid": str(n), "method": "ping"} for n in range(6)]
        for command in commands:
            status, _ = post(port, base + "/xhr_send", json.dumps([json.dumps(command)]).encode())
            assert status == 204, status
        replies: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while len(replies) < len(commands) and time.monotonic() < deadline:
            status, frame = post(port, base + "/xhr", b"")
            assert status == 200 and frame.startswith((b"a", b"h")), (status, frame)
            if frame.startswith(b"a"):
                replies += [json.loads(item) for item in json.loads(frame[1:])]
        assert [r["method"] for r in replies] == ["connect"] + ["ping"] * 6, replies
        assert asyncio.run(cluster.result(cluster.nginx_url + "/rt", "channels")) == {"data": []}


def test_v2_sockjs_sessions_stick_and_spread(tmp_path: Path) -> None:
    """Protocol v2's SockJS (``/connection/sockjs/<server>/<session>/...``)
    behind the shipped config on two nodes: every xhr-polling request of a
    session reaches its node (each command's reply comes back), and the
    sessions spread by session id, not by the server id all of them share
    here (keyed by that, 16 sessions would all land on one node)."""
    with Cluster(tmp_path, count=2, config={"presence": True}) as cluster:
        assert cluster.nginx is not None
        port = cluster.nginx.port
        for n in range(16):
            base = f"/connection/sockjs/000/v2sticky{n}"
            assert post(port, base + "/xhr", b"") == (200, b"o\n")
            token = jwt.encode({"sub": f"u{n}", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
            commands = [{"id": 1, "connect": {"token": token}}, {"id": 2, "subscribe": {"channel": "news"}},
                        {"id": 3, "presence_stats": {"channel": "news"}}]
            replies: list[dict[str, object]] = []
            for command in commands:  # one xhr_send each, then the poll that answers it
                assert post(port, base + "/xhr_send", json.dumps([json.dumps(command)]).encode())[0] == 204
                status, frame = post(port, base + "/xhr", b"")
                assert status == 200 and frame.startswith(b"a["), (status, frame)
                replies += [json.loads(line) for item in json.loads(frame[1:]) for line in item.split("\n")]
            assert [r["id"] for r in replies] == [1, 2, 3] and not any("error" in r for r in replies), replies
        clients = asyncio.run(cluster.num_clients())
        assert sum(clients) == 16 and min(clients) > 0, clients
        assert cluster.tracebacks() == {}
