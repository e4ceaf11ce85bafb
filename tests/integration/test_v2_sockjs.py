"""``/connection/sockjs``, protocol v2 over SockJS (docs/protocol-v2.md
§1.2), on the wire against a real sockhub process, beside the 1.x SockJS
endpoint ``/connection``: replies of one flush in one SockJS message
joined by newlines; v2 pings ``{}`` and no SockJS heartbeat; closes as
``c[code,"reason"]`` with a plain reason and no disconnect push (bad input,
the server API's disconnect, shutdown); the 1.x endpoint unchanged."""
from __future__ import annotations

import http.client
import json
import signal
import socket
import time
import urllib.request
from typing import Any, Callable, Iterator

import jwt
import pytest

from tests.integration.conftest import SECRET
from tests.integration.httpclient import request
from tests.support.server import SockhubProcess

Start = Callable[..., SockhubProcess]
API_KEY = "v2-sockjs-api-key"
#: v2 pings every second, SockJS heartbeats (of the 1.x endpoint) every 0.3 s
CONFIG: dict[str, Any] = {"api_key": API_KEY, "presence": True, "ping_interval": 1, "pong_timeout": 5,
                          "sockjs_heartbeat_delay": 0.3}
PREFIX = "/connection/sockjs"


def token(user: str) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time() + 3600)}, SECRET, algorithm="HS256")


class Stream:
    """One xhr_streaming session of a SockJS endpoint, read frame by frame."""

    def __init__(self, port: int, prefix: str = PREFIX, session: str = "s1") -> None:
        self.port = port
        self.base = f"{prefix}/000/{session}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("POST", self.base + "/xhr_streaming")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        self._buffer = b""
        prelude = self._line()
        assert prelude == "h" * 2048, prelude  # sockjs-protocol's prelude for xhr_streaming

    def _line(self) -> str:
        while b"\n" not in self._buffer:
            chunk = self.response.read1(65536)
            if not chunk:
                raise EOFError(self._buffer)
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def frames(self) -> Iterator[str]:
        while True:
            yield self._line()

    def frame(self) -> str:
        return self._line()

    def messages(self) -> list[str]:
        """The next ``a[...]`` frame's SockJS messages."""
        frame = self.frame()
        assert frame.startswith("a["), frame
        messages: list[str] = json.loads(frame[1:])
        return messages

    def send(self, *messages: str) -> int:
        return request(self.port, "POST", self.base + "/xhr_send", json.dumps(list(messages)).encode(),
                       {"Content-Type": "text/plain"}).status

    def close(self) -> None:
        self.conn.close()


def api(hub: SockhubProcess, method: str, params: dict[str, Any]) -> Any:
    """The result of a current-style API call (``POST /api/<method>``)."""
    req = urllib.request.Request(f"{hub.url}/api/{method}", data=json.dumps(params).encode(),
                                 headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read()).get("result")


@pytest.fixture
def hub(sockhub: Start) -> SockhubProcess:
    return sockhub(CONFIG)


def connected(hub: SockhubProcess, session: str = "s1", user: str = "42") -> Stream:
    stream = Stream(hub.port, session=session)
    assert stream.frame() == "o"
    assert stream.send(json.dumps({"id": 1, "connect": {"token": token(user)}})) == 204
    (reply,) = stream.messages()
    assert json.loads(reply)["connect"]["client"]
    return stream


@pytest.mark.async_timeout(60)
def test_replies_of_one_frame_share_one_sockjs_message(hub: SockhubProcess) -> None:
    """connect, subscribe and presence sent as one SockJS message of three
    lines (as centrifuge-js batches them) come back as one SockJS message of
    three lines, in order."""
    info = json.loads(request(hub.port, "GET", PREFIX + "/info").body)
    assert info["websocket"] is True
    stream = Stream(hub.port)
    try:
        assert stream.frame() == "o"
        commands = [{"id": 1, "connect": {"token": token("42")}}, {"id": 2, "subscribe": {"channel": "news"}},
                    {"id": 3, "presence": {"channel": "news"}}]
        assert stream.send("\n".join(json.dumps(c) for c in commands)) == 204
        (message,) = stream.messages()
        replies = [json.loads(line) for line in message.split("\n")]
        assert [r["id"] for r in replies] == [1, 2, 3]
        client = replies[0]["connect"]["client"]
        assert replies[0]["connect"]["ping"] == 1 and replies[0]["connect"]["pong"] is True
        assert replies[1] == {"id": 2, "subscribe": {}}
        assert replies[2]["presence"]["presence"][client]["user"] == "42"
    finally:
        stream.close()


@pytest.mark.async_timeout(60)
def test_v2_pings_and_no_sockjs_heartbeat(hub: SockhubProcess) -> None:
    """Over ~2.5 s: pings ``{}`` every second (each answered with the pong
    ``{}``), never an ``h`` frame; the 1.x endpoint keeps its heartbeats."""
    stream = connected(hub)
    try:
        started = time.monotonic()
        pings = 0
        while time.monotonic() - started < 2.5:
            frame = stream.frame()
            assert frame == 'a["{}"]', frame
            pings += 1
            assert stream.send("{}") == 204
        assert pings >= 2
    finally:
        stream.close()
    old = Stream(hub.port, prefix="/connection", session="old")
    try:
        assert old.frame() == "o" and old.frame() == "h"
    finally:
        old.close()


@pytest.mark.async_timeout(60)
def test_bad_input_closes_with_a_plain_reason(hub: SockhubProcess) -> None:
    """A SockJS message that is not a v2 command: ``c[3501,"bad request"]``,
    nothing before it (no disconnect push)."""
    stream = connected(hub)
    try:
        assert stream.send("not json") == 204
        assert stream.frame() == 'c[3501,"bad request"]'
    finally:
        stream.close()
    stream = Stream(hub.port, session="s2")
    try:
        assert stream.frame() == "o"
        # A first frame that is no v2 connect: the endpoint serves protocol v1 too,
        # and the first-frame rule (§7) reads it as v1, which closes as v1 does.
        assert stream.send(json.dumps({"id": 1, "subscribe": {"channel": "news"}})) == 204  # before connect
        assert stream.frame() == 'c[3003,"{\\"reason\\":\\"bad request\\",\\"reconnect\\":false}"]'
    finally:
        stream.close()
    # a body that is not JSON at all: refused by the transport, 400
    status = request(hub.port, "POST", PREFIX + "/000/s3/xhr_send", b"[not json").status
    assert status in (400, 404)  # 404: no such session yet, as sockjs-protocol answers


@pytest.mark.async_timeout(60)
def test_api_disconnect_and_shutdown_close_frames(hub: SockhubProcess) -> None:
    """The server API's disconnect: ``c[3503,"force disconnect"]``; a
    shutdown: ``c[3001,"shutdown"]`` after what was queued, exit status 0."""
    first = connected(hub, "d1", user="7")
    second = connected(hub, "d2", user="8")
    try:
        (node,) = api(hub, "info", {})["nodes"]
        assert node["num_clients"] == 2 and node["num_users"] == 2  # the node counts v2 SockJS clients
        assert api(hub, "disconnect", {"user": "7"}) == {}
        assert next(f for f in first.frames() if f != 'a["{}"]') == 'c[3503,"force disconnect"]'
        hub.signal(signal.SIGTERM)
        assert next(f for f in second.frames() if f != 'a["{}"]') == 'c[3001,"shutdown"]'
        assert hub.wait(20) == 0
    finally:
        first.close()
        second.close()


@pytest.mark.async_timeout(60)
def test_routes_beside_the_1x_endpoint(hub: SockhubProcess) -> None:
    """``/connection/sockjs/...`` is v2's, ``/connection/...`` still 1.x's
    (its greeting, info and a 1.x connect); no raw websocket under v2's."""
    assert request(hub.port, "GET", PREFIX).text == "Welcome to SockJS!\n"
    assert request(hub.port, "GET", "/connection").text == "Welcome to SockJS!\n"
    assert request(hub.port, "GET", PREFIX + "/websocket").status == 404
    old = Stream(hub.port, prefix="/connection", session="old")
    try:
        assert old.frame() == "o"
        assert old.send(json.dumps({"uid": "1", "method": "connect", "params": {"user": "", "token": ""}})) == 204
        frame = old.frame()
        while frame == "h":
            frame = old.frame()
        (message,) = json.loads(frame[1:])
        # the 1.x dialect answered: its disconnect message, JSON advice
        assert json.loads(message)["method"] == "disconnect"
        assert old.frame().startswith('c[3000,"{\\"reason\\":')
    finally:
        old.close()


@pytest.mark.async_timeout(60)
def test_allowed_origins_at_the_handshake(sockhub: Start) -> None:
    """``allowed_origins`` on /connection/sockjs as on every v2 transport: a
    new session from another Origin is refused 403 (HTTP receiver, websocket
    upgrade); an allowed one, or none (not a browser), opens; the 1.x SockJS
    endpoint does not check it."""
    hub = sockhub({**CONFIG, "allowed_origins": ["http://good.example"]})

    def opened(prefix: str, session: str, origin: str | None) -> tuple[int, bytes]:
        headers = {"Origin": origin} if origin else {}
        response = request(hub.port, "POST", f"{prefix}/000/{session}/xhr", b"", headers)
        return response.status, response.body

    assert opened(PREFIX, "o1", "http://evil.example") == (403, b"origin not allowed")
    assert opened(PREFIX, "o2", "http://good.example") == (200, b"o\n")
    assert opened(PREFIX, "o3", None) == (200, b"o\n")
    assert opened("/connection", "o4", "http://evil.example") == (200, b"o\n")
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    refused = request(hub.port, "GET", PREFIX + "/000/o5/websocket", None,
                      {**upgrade, "Origin": "http://evil.example"})
    assert refused.status == 403
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as sock:  # allowed: 101
        head = "".join(f"{k}: {v}\r\n" for k, v in {**upgrade, "Origin": "http://good.example"}.items())
        sock.sendall(f"GET {PREFIX}/000/o6/websocket HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")


@pytest.mark.async_timeout(60)
def test_protocol_v1_over_the_same_endpoint(hub: SockhubProcess) -> None:
    """centrifuge-js 2.x's protocol v1 on ``/connection/sockjs`` too, told
    apart by its first frame: connect (method 0 omitted) and subscribe (1)
    in one SockJS message come back as one message of two v1 replies; a
    publication arrives as a v1 push; the ``ping`` command (7) is answered."""
    stream = Stream(hub.port, session="v1")
    try:
        assert stream.frame() == "o"
        assert stream.send(json.dumps({"id": 1, "params": {"token": token("42")}}) + "\n"
                           + json.dumps({"id": 2, "method": 1, "params": {"channel": "news"}})) == 204
        (message,) = stream.messages()
        connect, subscribe = (json.loads(line) for line in message.split("\n"))
        assert connect["id"] == 1 and connect["result"]["client"] and "error" not in connect, connect
        assert subscribe["id"] == 2 and "error" not in subscribe, subscribe
        api(hub, "publish", {"channel": "news", "data": {"n": 1}})
        (push,) = (json.loads(m) for m in stream.messages())
        assert push["result"]["channel"] == "news" and push["result"]["data"]["data"] == {"n": 1}, push
        assert stream.send(json.dumps({"id": 3, "method": 7})) == 204
        assert [json.loads(m) for m in stream.messages()] == [{"id": 3}]
    finally:
        stream.close()
