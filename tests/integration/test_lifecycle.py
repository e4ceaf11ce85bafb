"""/health, graceful shutdown on SIGTERM/SIGINT, and SIGHUP reload, against a
real sockhub process with real websocket clients."""
from __future__ import annotations

import json
import signal
import time
from typing import Callable

import pytest

from app.dialects.v1x.auth import api_sign, connection_token
from tests.integration.conftest import SECRET
from tests.integration.httpclient import request
from tests.integration.wsclient import Closed, ProtocolClient
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
SHUTTING_DOWN = {"reason": "shutting down", "reconnect": True}


def publish(hub: SockhubProcess, channel: str, data: object) -> None:
    body = json.dumps({"method": "publish", "params": {"channel": channel, "data": data}}).encode()
    response = request(hub.port, "POST", "/api/", body,
                       {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, body)})
    assert response.status == 200 and json.loads(response.body)[0]["error"] is None, response.text


def wait_for_log(hub: SockhubProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in hub.logs():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{hub.logs()}"
        time.sleep(0.05)


def test_health_200_while_serving(sockhub: Start) -> None:
    hub = sockhub()
    response = request(hub.port, "GET", "/health")
    assert response.status == 200 and json.loads(response.body) == {"status": "ok"}


def test_sigterm_flushes_then_closes_clients_with_reconnect_advice(sockhub: Start) -> None:
    hub = sockhub()
    clients = [ProtocolClient(hub.ws_url) for _ in range(3)]
    for index, client in enumerate(clients):
        client.connect(SECRET, str(index))
        assert client.subscribe("news").get("error") in (None, "")
    # Published just before the signal: delivered before the close, not lost.
    publish(hub, "news", {"n": 1})
    silent = ProtocolClient(hub.ws_url)  # open, but never sent connect
    hub.signal(signal.SIGTERM)
    closed = silent.wait_closed()
    assert closed.code == 3000 and json.loads(closed.reason) == SHUTTING_DOWN
    silent.close()
    for client in clients:
        closed = client.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == SHUTTING_DOWN
        messages = [p["body"]["data"] for p in client.pushes if p.get("method") == "message"]
        assert messages == [{"n": 1}]
        client.close()
    assert hub.wait() == 0
    assert "Traceback" not in hub.logs()


def test_sigint_is_graceful_too(sockhub: Start) -> None:
    hub = sockhub()
    with ProtocolClient(hub.ws_url) as client:
        client.connect(SECRET, "1")
        hub.signal(signal.SIGINT)
        closed = client.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == SHUTTING_DOWN
    assert hub.wait() == 0


def test_health_and_api_503_while_draining(sockhub: Start) -> None:
    hub = sockhub({"shutdown_drain": 1.5})
    with ProtocolClient(hub.ws_url) as client:
        client.connect(SECRET, "1")
        hub.signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while hub.health() == 200:
            assert time.monotonic() < deadline, "health never turned 503"
            time.sleep(0.02)
        assert hub.health() == 503
        body = b'{"method": "channels", "params": {}}'
        response = request(hub.port, "POST", "/api/", body,
                           {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, body)})
        assert response.status == 503
        closed = client.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == SHUTTING_DOWN
    assert hub.wait() == 0


def test_sighup_reloads_namespaces_and_keeps_connections(sockhub: Start) -> None:
    hub = sockhub({"namespaces": [{"name": "chat"}]})
    with ProtocolClient(hub.ws_url) as client:
        client.connect(SECRET, "1")
        assert client.subscribe("chat:room").get("error") in (None, "")
        assert client.subscribe("news:today")["error"] == "namespace not found"
        config = json.loads(hub.config_path.read_text())
        config["namespaces"].append({"name": "news", "history_size": 5, "history_lifetime": 60})
        hub.config_path.write_text(json.dumps(config))
        hub.signal(signal.SIGHUP)
        wait_for_log(hub, "configuration reloaded")
        # Same connection: the new namespace applies, the old subscription stays.
        assert client.subscribe("news:today").get("error") in (None, "")
        publish(hub, "chat:room", "still here")
        assert client.next_push("message")["body"]["data"] == "still here"


def test_sighup_with_a_broken_config_keeps_the_old_one(sockhub: Start) -> None:
    hub = sockhub()
    hub.config_path.write_text('{"secret": ')
    hub.signal(signal.SIGHUP)
    wait_for_log(hub, "reload refused")
    assert hub.health() == 200
    with ProtocolClient(hub.ws_url) as client:
        client.connect(SECRET, "1")  # the old secret still works


def test_sighup_new_secret_applies_to_new_connections(sockhub: Start) -> None:
    hub = sockhub()
    config = json.loads(hub.config_path.read_text())
    config["secret"] = "rotated-secret"
    hub.config_path.write_text(json.dumps(config))
    hub.signal(signal.SIGHUP)
    wait_for_log(hub, "configuration reloaded")
    with ProtocolClient(hub.ws_url) as client:
        client.connect("rotated-secret", "1")
    with ProtocolClient(hub.ws_url) as client:
        timestamp = str(int(time.time()))
        with pytest.raises(Closed) as closed:
            client.call("connect", {"user": "1", "timestamp": timestamp,
                                    "token": connection_token(SECRET, "1", timestamp)})
        assert json.loads(closed.value.reason) == {"reason": "invalid token", "reconnect": False}


def test_port_in_use_is_one_line(sockhub: Start) -> None:
    from tests.support.server import run_sockhub

    hub = sockhub()
    result = run_sockhub(["--config", str(hub.config_path), "--port", str(hub.port), "--address", "127.0.0.1"])
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "sockhub: error:" in last and str(hub.port) in last, result.stderr
    assert "Traceback" not in result.stderr


def test_json_logs_under_sockhub_names(sockhub: Start) -> None:
    hub = sockhub({"log_format": "json", "log_level": "debug"})
    hub.stop()
    lines = [json.loads(line) for line in hub.logs().splitlines() if line.strip()]
    assert lines, hub.logs()
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    names = {line["logger"] for line in lines}
    assert "sockhub.server" in names and all(n.startswith(("sockhub", "tornado")) for n in names)
    assert any(line["message"].startswith("listening on") for line in lines)


def test_log_level_error_is_quiet(sockhub: Start) -> None:
    hub = sockhub({}, "--log_level", "error")
    hub.stop()
    assert hub.logs().strip() == ""


def test_sockjs_test_server_subcommand() -> None:
    import subprocess

    from tests.support.net import free_port, wait_port
    from tests.support.server import SOCKHUB

    port = free_port()
    proc = subprocess.Popen([str(SOCKHUB), "sockjs-test-server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        echo = json.loads(request(port, "GET", "/echo/info").body)
        disabled = json.loads(request(port, "GET", "/disabled_websocket_echo/info").body)
        cookie = json.loads(request(port, "GET", "/cookie_needed_echo/info").body)
        assert (echo["websocket"], disabled["websocket"], cookie["cookie_needed"]) == (True, False, True)
        assert request(port, "GET", "/echo").text == "Welcome to SockJS!\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_sigterm_closes_a_sockjs_xhr_streaming_session(sockhub: Start) -> None:
    """The close reaches an HTTP streaming transport too: the ``disconnect``
    push, then SockJS ``c[3000,"<advice>"]``, after the reply queued before."""
    import http.client

    hub = sockhub()
    base = "/connection/000/streamsession"
    stream = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
    stream.request("POST", base + "/xhr_streaming")
    response = stream.getresponse()
    assert response.status == 200
    assert response.readline().strip(b"h\n") == b""  # the 2 KiB prelude of h's
    assert response.readline() == b"o\n"
    timestamp = str(int(time.time()))
    command = json.dumps({"uid": "1", "method": "connect", "params": {
        "user": "5", "timestamp": timestamp, "token": connection_token(SECRET, "5", timestamp)}})
    sent = request(hub.port, "POST", base + "/xhr_send", json.dumps([command]).encode(),
                   {"Content-Type": "text/plain"})
    assert sent.status == 204
    frame = response.readline()
    assert frame.startswith(b"a[") and json.loads(json.loads(frame[1:])[0])["method"] == "connect"
    hub.signal(signal.SIGTERM)
    push = json.loads(json.loads(response.readline()[1:])[0])  # the disconnect push first
    assert push == {"method": "disconnect", "body": SHUTTING_DOWN}
    close = response.readline()
    assert close.startswith(b"c[")
    code, reason = json.loads(close[1:])
    assert code == 3000 and json.loads(reason) == SHUTTING_DOWN
    stream.close()
    assert hub.wait() == 0


def publish_blobs(hub: SockhubProcess, channel: str, count: int, size: int) -> None:
    blob = "x" * size
    for i in range(count):
        publish(hub, channel, {"i": i, "blob": blob})


def test_shutdown_flushes_a_large_backlog_first(sockhub: Start) -> None:
    """10 MB queued for a client that reads only after SIGTERM: every message
    arrives, in order, before the close frame."""
    # Generous: under coverage on a loaded CI machine 10 MB took more than 20 s.
    hub = sockhub({"client_queue_max_size": 100_000_000, "shutdown_timeout": 60})
    with ProtocolClient(hub.ws_url, timeout=60) as client:
        client.connect(SECRET, "1")
        client.subscribe("big")
        publish_blobs(hub, "big", 10, 1_000_000)
        hub.signal(signal.SIGTERM)
        closed = client.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == SHUTTING_DOWN
        numbers = [p["body"]["data"]["i"] for p in client.pushes if p.get("method") == "message"]
        assert numbers == list(range(10))
    code = hub.wait(90)
    assert code == 0, hub.logs()


def test_shutdown_is_forced_after_shutdown_timeout(sockhub: Start) -> None:
    """A client that never reads cannot hold the process: it exits (status 1)
    once shutdown_timeout has passed."""
    import socket

    hub = sockhub({"client_queue_max_size": 200_000_000, "shutdown_timeout": 1})
    client = ProtocolClient(hub.ws_url)
    client.connect(SECRET, "1")
    client.subscribe("big")
    client.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    publish_blobs(hub, "big", 30, 1_000_000)  # far more than the socket buffers hold
    started = time.monotonic()
    hub.signal(signal.SIGTERM)
    assert hub.wait(15) == 1
    assert 1 <= time.monotonic() - started < 10
    assert "dropped the queues of 1 client(s)" in hub.logs()
    client.close()


def test_sighup_applies_the_log_level(sockhub: Start) -> None:
    hub = sockhub({"log_level": "error"})
    assert hub.logs().strip() == ""
    config = json.loads(hub.config_path.read_text())
    config["log_level"] = "info"
    hub.config_path.write_text(json.dumps(config))
    hub.signal(signal.SIGHUP)
    wait_for_log(hub, "configuration reloaded")
