"""Operations on a real sockhub: TLS (https and wss), the pid file, and a
clear one-line error for unusable TLS files."""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from app.dialects.v1x.auth import connection_token
from tests.admin.clients import read_json
from tests.admin.test_ops import make_cert
from tests.support.net import free_port
from tests.support.server import SockhubProcess, run_sockhub


class TlsSockhub(SockhubProcess):
    """A SockhubProcess reached over https, trusting its own test certificate."""

    def __init__(self, tmp_path: Path, cert: str, key: str, config: dict[str, Any]) -> None:
        super().__init__(tmp_path, config, args=["--web", "--ssl", "--ssl_cert", cert, "--ssl_key", key])
        self.client_ssl = ssl.create_default_context(cafile=cert)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def health(self) -> int | None:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2, context=self.client_ssl) as resp:
                status: int = resp.status
                return status
        except OSError:
            return None

    def __enter__(self) -> "TlsSockhub":
        self.start()
        return self


async def test_tls_serves_https_and_the_admin_socket(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    with TlsSockhub(tmp_path, cert, key, {"secret": "tls-secret", "admin_password": "p", "admin_secret": "a"}) as hub:
        assert hub.health() == 200
        with urllib.request.urlopen(hub.url + "/auth/", data=b"password=p", timeout=5, context=hub.client_ssl) as resp:
            token = json.loads(resp.read())["token"]
        admin = await websocket_connect(HTTPRequest(f"wss://localhost:{hub.port}/socket", ssl_options=hub.client_ssl,
                                                    connect_timeout=5, request_timeout=5))
        await admin.write_message(json.dumps([{"method": "connect", "params": {"token": token}}, {"method": "ping"}]))
        replies = await read_json(admin)
        admin.close()
        assert [r["body"] for r in replies] == [True, "pong"]
        request = urllib.request.Request(hub.url + "/api/", data=b'{"method":"channels","params":{}}',
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as unsigned:  # the API answers over TLS (400: no sign)
            urllib.request.urlopen(request, timeout=5, context=hub.client_ssl)
        unsigned.value.close()
        assert unsigned.value.code == 400
        # plain http on the TLS port gets no answer
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/health", timeout=2) as resp:
                status: int | None = resp.status
        except OSError:
            status = None
        assert status != 200


async def test_tls_serves_wss(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    with TlsSockhub(tmp_path, cert, key, {"secret": "tls-secret"}) as hub:
        request = HTTPRequest(f"wss://localhost:{hub.port}/connection/websocket", ssl_options=hub.client_ssl,
                              connect_timeout=3, request_timeout=3)
        ws = await websocket_connect(request)
        timestamp = str(int(time.time()))
        token = connection_token("tls-secret", "7", timestamp, "")
        await ws.write_message(json.dumps({"uid": "1", "method": "connect",
                                           "params": {"user": "7", "timestamp": timestamp, "info": "", "token": token}}))
        reply = await read_json(ws, 3)
        ws.close()
        assert reply["uid"] == "1" and reply["body"]["client"]


def test_unusable_tls_files_are_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"secret": "s"}))
    result = run_sockhub(["--config", str(config), "--port", str(free_port()), "--address", "127.0.0.1",
                          "--ssl", "--ssl_cert", str(tmp_path / "missing.pem"), "--ssl_key", str(tmp_path / "missing.key")])
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "TLS file not found" in result.stderr and "missing.pem" in result.stderr


def test_pid_file_lives_as_long_as_the_server(tmp_path: Path) -> None:
    pid_file = tmp_path / "sockhub.pid"
    with SockhubProcess(tmp_path, {"secret": "s", "pid_file": str(pid_file)}) as hub:
        assert pid_file.read_text().strip() == str(hub.pid)
    assert hub.returncode == 0
    assert not pid_file.exists()


def test_json_logs_at_the_chosen_level(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {"secret": "s"}, args=["--log_format", "json", "--log_level", "debug"]) as hub:
        urllib.request.urlopen(hub.url + "/health", timeout=5).close()
    lines = [line for line in hub.logs().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any(e["logger"] == "sockhub.server" and e["message"].startswith("listening on") for e in entries)
    assert any("GET /health" in e["message"] for e in entries)  # access lines only at debug
    with SockhubProcess(tmp_path, {"secret": "s"}, args=["--log_level", "error"], name="quiet") as quiet:
        urllib.request.urlopen(quiet.url + "/health", timeout=5).close()
    assert "listening on" not in quiet.logs() and "GET /health" not in quiet.logs()
