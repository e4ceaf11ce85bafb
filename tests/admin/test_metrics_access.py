"""Who may read ``/metrics`` of a real sockhub: nobody on the client port by
default; everyone with ``--prometheus``; the admin port when it is set."""
from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.support.net import free_port
from tests.support.server import SockhubProcess

CONFIG = {"secret": "metrics-access"}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
            assert b"sockhub_node_clients" in resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def test_not_served_on_the_client_port_by_default(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, CONFIG) as hub:
        assert status(hub.url) == 404


def test_served_on_the_client_port_with_prometheus(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {**CONFIG, "prometheus": True}) as hub:
        assert status(hub.url) == 200


def test_served_on_the_admin_port_only(tmp_path: Path) -> None:
    admin_port = free_port()
    with SockhubProcess(tmp_path, CONFIG, args=["--admin_port", str(admin_port)]) as hub:
        assert status(f"http://127.0.0.1:{admin_port}") == 200
        assert status(hub.url) == 404


def test_under_the_http_prefix_with_the_flag(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {**CONFIG, "http_prefix": "/hub"}, args=["--prometheus"]) as hub:
        assert status(hub.url + "/hub") == 200
        assert status(hub.url) == 404
