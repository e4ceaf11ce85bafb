"""The project's nginx config tells the nodes the client's address
(X-Real-IP) on every location (the Host with its port is checked by
tests/admin/test_admin_nginx.py).

(A location with a ``proxy_set_header`` of its own inherits none of the
server's; the config once set Upgrade/Connection per location, so no node
saw a client address nor the Host behind nginx.)  The client connects to
nginx from 127.0.0.2, nginx to the node from 127.0.0.1: the node's access log
(debug level) names the client only if the header came through."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.cluster import Cluster

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
