"""Issue 11, parts 6 and 7, against real sockhub processes.

* Shutdown as documented: SIGTERM closes every client after what was queued
  for it; the process exits 0 only when every client's TCP stack has taken
  all of it, and 1, with a log line naming how many clients' queues were
  dropped, when a client that stopped reading could not take it within
  ``shutdown_timeout`` (the other clients still get everything).
* ``slow`` told: a client past ``client_queue_max_size`` gets the
  ``disconnect`` push and the close frame with the ``slow`` advice in place
  of what the socket had not taken, the connection is half-closed, and the
  server lets go of it within ``client_slow_close_grace`` (raw websocket
  and SockJS websocket).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import threading
import time
import uuid
from typing import Any, Callable

import jwt
import pytest
import websocket

from app.dialects.v1x.auth import api_sign, connection_token
from tests.integration.conftest import SECRET
from tests.integration.httpclient import request
from tests.integration.wsclient import Closed, ProtocolClient
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
SHUTTING_DOWN = {"reason": "shutting down", "reconnect": True}
SLOW = {"reason": "slow", "reconnect": False}
SLOW_PUSH = {"method": "disconnect", "body": SLOW}


# -- helpers ------------------------------------------------------------------------


def api(hub: SockhubProcess, method: str, params: dict[str, Any]) -> Any:
    body = json.dumps({"method": method, "params": params}).encode()
    response = request(hub.port, "POST", "/api/", body,
                       {"Content-Type": "application/json", "X-API-Sign": api_sign(SECRET, body)})
    assert response.status == 200, response.text
    [item] = json.loads(response.body)
    assert item["error"] is None, item
    return item["body"]


def publish_many(hub: SockhubProcess, channel: str, count: int, size: int) -> None:
    blob = "x" * size
    for i in range(count):
        api(hub, "publish", {"channel": channel, "data": {"i": i, "blob": blob}})


def node_metric(hub: SockhubProcess, name: str) -> int:
    return int(api(hub, "node", {})["data"]["metrics"][name])


def holds_peer(pid: int, peer_port: int) -> bool:
    """Whether the process still holds a TCP socket whose remote end is the
    local port ``peer_port`` (matched by inode: /proc/<pid>/fd and
    /proc/<pid>/net/tcp).  Exact where a count of sockets is not: HTTP
    connections of the test's own API calls come and go meanwhile."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    with open(f"/proc/{pid}/net/tcp") as table:
        for row in table.readlines()[1:]:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == peer_port and fields[9] in inodes:
                return True
    return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``check`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout}s"
        time.sleep(0.02)
    return time.monotonic() - started


def masked_frame(text: str) -> bytes:
    """A client-to-server websocket text frame."""
    payload, key = text.encode(), os.urandom(4)
    size = len(payload)
    head = bytes((0x81, 0x80 | size)) if size < 126 else bytes((0x81, 0x80 | 126)) + size.to_bytes(2, "big")
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def command(uid: str, method: str, params: dict[str, Any]) -> str:
    return json.dumps({"uid": uid, "method": method, "params": params})


def connect_params(user: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"user": user, "timestamp": timestamp, "token": connection_token(SECRET, user, timestamp)}


def stalled_subscriber(hub: SockhubProcess, channel: str) -> socket.socket:
    """A raw websocket that connects, subscribes and never reads: a receive
    buffer of a few KiB set before the handshake, so nearly everything sent
    to it stays on the server's side."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /connection/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    sock.sendall(masked_frame(command("1", "connect", connect_params("stalled"))))
    sock.sendall(masked_frame(command("2", "subscribe", {"channel": channel})))
    return sock


class Reader(threading.Thread):
    """Reads a ProtocolClient until its close frame (in the background)."""

    def __init__(self, client: ProtocolClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.closed: Closed | None = None
        self.start()

    def run(self) -> None:
        self.closed = self.client.wait_closed()

    def numbers(self) -> list[int]:
        return [p["body"]["data"]["i"] for p in self.client.pushes if p.get("method") == "message"]


class SockJSWebSocket:
    """The Centrifugo protocol over SockJS's websocket transport
    (``o``, ``h``, ``a[...]``, ``c[code,"reason"]`` frames)."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        session = uuid.uuid4().hex[:12]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}/connection/000/{session}/websocket",
                                              timeout=timeout)
        assert self.ws.recv() == "o"
        self.messages: list[dict[str, Any]] = []
        self.close_frame: list[Any] | None = None

    def call(self, uid: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.ws.send(json.dumps([command(uid, method, params)]))
        while True:
            for item in self._next_items():
                if item.get("uid") == uid:
                    assert not item.get("error"), item
                    return item
                self.messages.append(item)

    def read_until_close(self) -> list[Any]:
        """Every message until the SockJS close frame; that frame."""
        while self.close_frame is None:
            self.messages.extend(self._next_items())
        return self.close_frame

    def _next_items(self) -> list[dict[str, Any]]:
        opcode, data = self.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise AssertionError(f"websocket closed before the SockJS close frame: {data!r}")
        text = data.decode()
        if text.startswith("a"):
            return [json.loads(item) for item in json.loads(text[1:])]
        if text.startswith("c"):
            self.close_frame = json.loads(text[1:])
        return []

    def close(self) -> None:
        self.ws.shutdown()


# -- part 6: shutdown ----------------------------------------------------------------


def test_sigterm_delivers_every_queue_then_exits_0(sockhub: Start) -> None:
    """Clients that read only after SIGTERM: all of their queue (MiBs each,
    mostly still on the server) arrives, in order, before the close."""
    # Generous: under coverage on a loaded CI machine the drain takes ~16 s.
    hub = sockhub({"shutdown_timeout": 60})
    raw = [ProtocolClient(hub.ws_url, timeout=60) for _ in range(2)]
    for index, client in enumerate(raw):
        client.connect(SECRET, f"raw{index}")
        assert client.subscribe("news").get("error") in (None, "")
    sockjs = SockJSWebSocket(hub.port, timeout=60)
    sockjs.call("1", "connect", connect_params("sockjs"))
    sockjs.call("2", "subscribe", {"channel": "news"})
    publish_many(hub, "news", 100, 30_000)  # 3 MB to each client, none reading yet
    hub.signal(signal.SIGTERM)
    readers = [Reader(client) for client in raw]
    close = sockjs.read_until_close()
    for reader in readers:
        reader.join(60)
        assert reader.closed is not None and reader.closed.code == 3000
        assert json.loads(reader.closed.reason) == SHUTTING_DOWN
        assert reader.numbers() == list(range(100))
        reader.client.close()
    assert close[0] == 3000 and json.loads(close[1]) == SHUTTING_DOWN
    assert [m["body"]["data"]["i"] for m in sockjs.messages if m.get("method") == "message"] == list(range(100))
    assert sockjs.messages[-1] == {"method": "disconnect", "body": SHUTTING_DOWN}
    sockjs.close()
    code = hub.wait(60)
    logs = hub.logs()
    assert code == 0, logs
    assert "every client got what was queued for it" in logs and "dropped" not in logs, logs
    assert "Traceback" not in logs


def test_a_client_that_stopped_reading_makes_the_exit_status_1(sockhub: Start) -> None:
    """Its queue cannot leave within shutdown_timeout: it is dropped, counted
    in one log line, exit 1; the clients that read got everything."""
    # 5 s: time enough for the two readers to take 6 MB on a busy machine
    hub = sockhub({"shutdown_timeout": 5, "client_queue_max_size": 200_000_000})
    stalled = stalled_subscriber(hub, "big")
    readers = []
    for index in range(2):
        client = ProtocolClient(hub.ws_url, timeout=30)
        client.connect(SECRET, f"reader{index}")
        # their own channel: what they take is small, so this process's reader
        # threads keep up whatever the machine (coverage traces them too)
        assert client.subscribe("small").get("error") in (None, "")
        readers.append(Reader(client))
    wait_until(lambda: node_metric(hub, "node_num_clients") == 3, 5, "three clients")
    publish_many(hub, "big", 60, 100_000)  # 6 MB: far more than the stalled socket takes
    publish_many(hub, "small", 60, 100)
    started = time.monotonic()
    hub.signal(signal.SIGTERM)
    assert hub.wait(30) == 1
    assert 5 <= time.monotonic() - started < 15
    for reader in readers:
        reader.join(10)
        assert reader.closed is not None and json.loads(reader.closed.reason) == SHUTTING_DOWN
        assert reader.numbers() == list(range(60))
        reader.client.close()
    stalled.close()
    logs = hub.logs()
    assert "shutdown: dropped the queues of 1 client(s) that did not take them within shutdown_timeout" in logs, logs
    assert "every client got" not in logs and "Traceback" not in logs


def refused(port: int) -> bool:
    """Whether a new TCP connection to ``port`` is refused."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_new_connections_are_refused_while_the_queues_drain(sockhub: Start) -> None:
    """SIGTERM: the port stops taking connections at once, while a client
    that stopped reading still holds the drain (the process is running)."""
    hub = sockhub({"shutdown_timeout": 4, "client_queue_max_size": 200_000_000})
    stalled = stalled_subscriber(hub, "big")
    wait_until(lambda: node_metric(hub, "node_num_clients") == 1, 5, "the client")
    publish_many(hub, "big", 30, 100_000)
    assert not refused(hub.port)
    hub.signal(signal.SIGTERM)
    wait_until(lambda: refused(hub.port), 2, "new connections refused")
    assert hub.proc is not None and hub.proc.poll() is None  # still draining
    assert hub.wait(30) == 1
    stalled.close()


def test_bytes_in_the_kernel_are_not_delivered_yet(sockhub: Start) -> None:
    """Less than the kernel's socket buffers hold: handed to the socket, not
    read by the client.  Until its TCP stack acknowledges it, it is not
    delivered (exit 1), however empty the process's own buffers are."""
    hub = sockhub({"shutdown_timeout": 1})
    stalled = stalled_subscriber(hub, "small")
    wait_until(lambda: node_metric(hub, "node_num_clients") == 1, 5, "the client")
    publish_many(hub, "small", 10, 10_000)  # 100 kB
    hub.signal(signal.SIGTERM)
    assert hub.wait(15) == 1
    assert "dropped the queues of 1 client(s)" in hub.logs()
    stalled.close()


# -- part 7: slow told -----------------------------------------------------------------


def flood_until_slow(hub: SockhubProcess, channel: str, size: int = 200_000, limit: int = 200) -> float:
    """Publish to a client that does not read until it is closed ``slow``;
    returns when that was seen (time.monotonic())."""
    before = node_metric(hub, "node_num_slow_disconnects")
    for i in range(limit):
        api(hub, "publish", {"channel": channel, "data": {"i": i, "blob": "x" * size}})
        if node_metric(hub, "node_num_slow_disconnects") > before:
            return time.monotonic()
    raise AssertionError(f"not closed slow after {limit} publishes of {size} bytes")


SLOW_CONFIG = {"client_queue_max_size": 1_000_000, "client_slow_close_grace": 2}


# The two tests below read again after the slow close, so the release is
# driven by the client's reading (fast or slow on a loaded machine), not by
# the grace: they check that it happens, with a generous bound; the grace
# itself is timed by the never-reading test further down.


def test_slow_raw_websocket_client_learns_it_and_is_let_go(sockhub: Start) -> None:
    hub = sockhub(SLOW_CONFIG)
    with ProtocolClient(hub.ws_url, timeout=10) as client:
        port = client.ws.sock.getsockname()[1]
        client.connect(SECRET, "slowpoke")
        assert client.subscribe("big").get("error") in (None, "")
        flood_until_slow(hub, "big")
        closed = client.wait_closed()  # the client reads again
        assert closed.code == 3000 and json.loads(closed.reason) == SLOW  # not a 1006
        assert client.pushes[-1] == SLOW_PUSH
        numbers = [p["body"]["data"]["i"] for p in client.pushes if p.get("method") == "message"]
        assert numbers == list(range(len(numbers)))  # what it got is in order, no gap before the cut
        wait_until(lambda: not holds_peer(hub.pid, port), 10, "the connection released")
        assert node_metric(hub, "node_num_clients") == 0


def test_slow_sockjs_websocket_client_learns_it_and_is_let_go(sockhub: Start) -> None:
    hub = sockhub(SLOW_CONFIG)
    client = SockJSWebSocket(hub.port, timeout=10)
    try:
        port = client.ws.sock.getsockname()[1]
        client.call("1", "connect", connect_params("slowpoke"))
        client.call("2", "subscribe", {"channel": "big"})
        flood_until_slow(hub, "big")
        code, reason = client.read_until_close()
        assert code == 3000 and json.loads(reason) == SLOW
        assert client.messages[-1] == SLOW_PUSH
        wait_until(lambda: not holds_peer(hub.pid, port), 10, "the connection released")
    finally:
        client.close()


def test_slow_client_that_never_reads_again_is_dropped_after_the_grace(sockhub: Start) -> None:
    """Nobody reads: the hard close comes client_slow_close_grace after the
    slow one, not after minutes, and the others are not held up."""
    hub = sockhub(SLOW_CONFIG)
    stalled = stalled_subscriber(hub, "big")
    stalled_port = stalled.getsockname()[1]
    with ProtocolClient(hub.ws_url) as other:
        other.connect(SECRET, "other")
        assert other.subscribe("lobby").get("error") in (None, "")
        wait_until(lambda: node_metric(hub, "node_num_clients") == 2, 5, "two clients")
        slow_at = flood_until_slow(hub, "big")
        api(hub, "publish", {"channel": "lobby", "data": "still served"})
        assert other.next_push("message")["body"]["data"] == "still served"
        assert holds_peer(hub.pid, stalled_port)
        waited = wait_until(lambda: not holds_peer(hub.pid, stalled_port), 6, "the slow connection released")
        assert 1.0 <= time.monotonic() - slow_at <= 2 + 1.5, waited
    stalled.close()


def _v2_token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time() + 3600)}, SECRET, algorithm="HS256")


#: The dialects beside 1.x on the raw websocket: their connect and subscribe
#: frames, the slow close they must see, and a publication's number.
NEW_DIALECTS = {
    "v2": ([{"id": 1, "connect": {"token": _v2_token("slowpoke")}}, {"id": 2, "subscribe": {"channel": "big"}}],
           (3008, "slow"), lambda item: item.get("push", {}).get("pub", {}).get("data", {}).get("i")),
    "v1": ([{"id": 1, "params": {"token": _v2_token("slowpoke")}}, {"id": 2, "method": 1, "params": {"channel": "big"}}],
           (3008, '{"reason":"slow","reconnect":true}'),
           lambda item: item.get("result", {}).get("data", {}).get("data", {}).get("i")),
}


@pytest.mark.parametrize("dialect", list(NEW_DIALECTS))
def test_slow_v2_and_v1_clients_learn_it_from_their_close(sockhub: Start, dialect: str) -> None:
    """Protocol v2 and v1 (JSON, raw websocket): a client that stopped
    reading and reads again gets its dialect's slow close (3008) after the
    messages it was sent, in order, instead of a bare EOF; then it is let go."""
    hub = sockhub(SLOW_CONFIG)
    commands, expected_close, number = NEW_DIALECTS[dialect]
    ws = websocket.create_connection(hub.ws_url, timeout=10)
    try:
        port = ws.sock.getsockname()[1]
        for item in commands:
            ws.send(json.dumps(item))
            reply = json.loads(ws.recv())
            assert reply.get("id") == item["id"] and "error" not in reply, reply
        flood_until_slow(hub, "big")
        numbers: list[int] = []
        while True:  # the client reads again
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            for line in data.decode().split("\n"):
                if (n := number(json.loads(line))) is not None:
                    numbers.append(n)
        code, reason = int.from_bytes(data[:2], "big"), data[2:].decode()
        assert (code, reason) == expected_close  # not a 1006
        assert numbers and numbers == list(range(len(numbers)))  # in order, no gap before the cut
        wait_until(lambda: not holds_peer(hub.pid, port), 10, "the connection released")
        assert node_metric(hub, "node_num_clients") == 0
    finally:
        ws.shutdown()


class SlowXhrStream:
    """A SockJS xhr-streaming session (the 1.x protocol) whose receiving
    request has a receive buffer of a few KiB, connected and subscribed to
    ``big``; it reads only when told to."""

    def __init__(self, hub: SockhubProcess) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", hub.port))
        self.port = self.sock.getsockname()[1]
        self.stream = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=20)
        self.stream.sock = self.sock
        base = f"/connection/000/{uuid.uuid4().hex[:12]}"
        self.stream.request("POST", base + "/xhr_streaming")
        self.response = self.stream.getresponse()
        assert self.response.readline().strip(b"h") == b"\n" and self.response.readline() == b"o\n"
        for uid, method, params in (("1", "connect", connect_params("slowpoke")),
                                    ("2", "subscribe", {"channel": "big"})):
            sent = request(hub.port, "POST", base + "/xhr_send", json.dumps([command(uid, method, params)]).encode())
            assert sent.status == 204, sent.status
            assert f'\\"uid\\":\\"{uid}\\"' in self.response.readline().decode()

    def close(self) -> None:
        self.stream.close()


#: the slow advice over the SockJS streaming transports: no response limit in the way
SLOW_STREAM_CONFIG = {**SLOW_CONFIG, "sockjs_response_limit": 100_000_000}


def test_slow_xhr_streaming_client_learns_it_from_the_stream(sockhub: Start) -> None:
    """A receiver that stopped reading and reads again finds, after the
    messages its socket took, the ``disconnect`` push and ``c[3000,...]``
    with the slow advice, then the end of the response."""
    hub = sockhub(SLOW_STREAM_CONFIG)
    client = SlowXhrStream(hub)
    try:
        flood_until_slow(hub, "big")
        items: list[dict[str, Any]] = []
        while (line := client.response.readline().decode()).startswith("a"):  # the client reads again
            items += [json.loads(item) for item in json.loads(line[1:])]
        code, reason = json.loads(line[1:])
        assert (code, json.loads(reason)) == (3000, SLOW), line[:200]
        assert items[-1] == SLOW_PUSH
        numbers = [item["body"]["data"]["i"] for item in items if item.get("method") == "message"]
        assert numbers == list(range(len(numbers)))  # in order, no gap before the cut
        assert client.response.read() == b""  # the response has ended
        assert node_metric(hub, "node_num_clients") == 0
    finally:
        client.close()


def test_slow_xhr_streaming_client_that_never_reads_again_is_dropped_after_the_grace(sockhub: Start) -> None:
    """The response's end cannot be written to a receiver that never reads:
    its connection is dropped client_slow_close_grace after the slow close
    (it used to stay open until the peer went away by itself)."""
    hub = sockhub(SLOW_STREAM_CONFIG)
    client = SlowXhrStream(hub)
    try:
        slow_at = flood_until_slow(hub, "big")
        assert holds_peer(hub.pid, client.port)
        wait_until(lambda: not holds_peer(hub.pid, client.port), 10, "the slow connection released")
        assert 1.0 <= time.monotonic() - slow_at <= 2 + 1.5
    finally:
        client.close()
    assert "Traceback" not in hub.logs() and " ERROR " not in hub.logs()


@pytest.mark.parametrize("path", ["/connection/http_stream", "/connection/sse"])
def test_slow_v2_stream_that_never_reads_again_is_dropped_after_the_grace(sockhub: Start, path: str) -> None:
    """Protocol v2 over HTTP streaming and SSE (a server-side subscription
    from the token's ``channels``): a stream that stopped reading is closed
    slow and its connection dropped client_slow_close_grace later."""
    hub = sockhub(SLOW_CONFIG)
    token = jwt.encode({"sub": "slowpoke", "exp": int(time.time() + 3600), "channels": ["big"]}, SECRET,
                       algorithm="HS256")
    body = json.dumps({"id": 1, "connect": {"token": token}}).encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", hub.port))
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        sock.settimeout(10)
        received = b""
        while b'"connect"' not in received:
            received += sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 200 "), received[:100]
        wait_until(lambda: node_metric(hub, "node_num_clients") == 1, 5, "the client")
        port = sock.getsockname()[1]
        slow_at = flood_until_slow(hub, "big")
        assert holds_peer(hub.pid, port)
        wait_until(lambda: not holds_peer(hub.pid, port), 10, "the slow connection released")
        assert 1.0 <= time.monotonic() - slow_at <= 2 + 1.5
    finally:
        sock.close()
    assert "Traceback" not in hub.logs() and " ERROR " not in hub.logs()
