"""Each input issue 11 saw break sockhub, against a real server: the answer
it gets now (a close in our own words, a 4xx) and no traceback in the log.

Before the fix: a lone surrogate in connect/refresh credentials or a private
channel was ``internal server error`` with ``reconnect: true``; 5,000 nested
``[`` in a SockJS frame dropped the websocket without a close frame and made
xhr_send answer 500; invalid UTF-8 in a text frame closed with Python's
``'utf-8' codec can't decode byte ...``.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Iterator

import pytest
import websocket

from app.dialects.v1x.auth import connection_token
from tests.fuzz import drive, generators as gen
from tests.support.server import SockhubProcess

INVALID = {"reason": "invalid message", "reconnect": False}
Connect = Callable[[str], websocket.WebSocket]
DEEP = "[" * 5000


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    config = {**gen.SERVER_CONFIG, "admin": True, "insecure_admin": True}
    with SockhubProcess(tmp_path_factory.mktemp("edges"), config, name="edges") as process:
        yield process
        assert drive.log_problems(process.logs()) == []


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(url)``: a websocket, shut down at the end of the test."""
    opened: list[websocket.WebSocket] = []

    def open_one(url: str) -> websocket.WebSocket:
        opened.append(websocket.create_connection(url, timeout=10))
        return opened[-1]
    yield open_one
    for ws in opened:
        ws.shutdown()


def frames_until_close(ws: websocket.WebSocket) -> tuple[list[str], int | None, str]:
    """Text frames, then the close frame's code and reason; (None, "") for
    an EOF without a close frame."""
    texts: list[str] = []
    while True:
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return texts, None, ""
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            return texts, code, data[2:].decode("utf-8")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            texts.append(data.decode())


def credentials(user: str = "42", info: str = "") -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {"user": user, "timestamp": timestamp, "info": info,
            "token": connection_token(gen.SECRET, user, timestamp, info)}


def command(method: str, params: dict[str, Any]) -> str:
    return json.dumps({"uid": "1", "method": method, "params": params})  # "\ud800" -> \ud800 escape


def assert_invalid_message(texts: list[str], code: int | None, reason: str) -> None:
    assert (code, json.loads(reason)) == (3000, INVALID)
    assert json.loads(texts[-1]) == {"method": "disconnect", "body": INVALID}


@pytest.mark.parametrize("field", ["user", "timestamp", "info", "token"])
def test_lone_surrogate_in_connect_is_invalid_message(hub: SockhubProcess, connect: Connect,
                                                      field: str) -> None:
    ws = connect(hub.ws_url)
    ws.send(command("connect", {**credentials(), field: "\ud800"}))
    assert_invalid_message(*frames_until_close(ws))


@pytest.mark.parametrize("field", ["user", "timestamp", "info", "token"])
def test_lone_surrogate_in_refresh_is_invalid_message(hub: SockhubProcess, connect: Connect,
                                                      field: str) -> None:
    ws = connect(hub.ws_url)
    ws.send(command("connect", credentials()))
    assert "error" not in json.loads(ws.recv())
    ws.send(command("refresh", {**credentials(), field: "x\udfff"}))
    assert_invalid_message(*frames_until_close(ws))


@pytest.mark.parametrize("channel", ["$\ud800", "$priv\udbff", "news\udc00", "user#\ud83d"])
def test_lone_surrogate_in_a_channel_is_invalid_message(hub: SockhubProcess, connect: Connect,
                                                          channel: str) -> None:
    ws = connect(hub.ws_url)
    ws.send(command("connect", credentials()))
    ws.recv()
    ws.send(command("subscribe", {"channel": channel, "client": "x", "sign": "0" * 64}))
    assert_invalid_message(*frames_until_close(ws))


def test_a_surrogate_pair_is_a_character(hub: SockhubProcess, connect: Connect) -> None:
    ws = connect(hub.ws_url)
    ws.send(command("connect", credentials(user="\U0001f600")))  # json.dumps: \ud83d\ude00
    reply = json.loads(ws.recv())
    assert "error" not in reply and reply["body"]["client"]
    ws.close()


def test_sockjs_websocket_deep_frame_gets_the_dialects_close(hub: SockhubProcess, connect: Connect) -> None:
    ws = connect(f"ws://127.0.0.1:{hub.port}/connection/000/deep/websocket")
    assert ws.recv() == "o"
    ws.send(DEEP)
    texts, code, reason = frames_until_close(ws)
    assert texts == ["c" + json.dumps([3000, json.dumps(INVALID, separators=(",", ":"))], separators=(",", ":"))]
    assert (code, reason) == (1000, "Normal closure")


def test_sockjs_websocket_surrogate_command_gets_a_close(hub: SockhubProcess, connect: Connect) -> None:
    ws = connect(f"ws://127.0.0.1:{hub.port}/connection/000/sur/websocket")
    assert ws.recv() == "o"
    ws.send(json.dumps([command("connect", {**credentials(), "user": "\ud800"})]))
    texts, code, _ = frames_until_close(ws)
    assert json.loads(texts[-1][1:]) == [3000, json.dumps(INVALID, separators=(",", ":"))]
    assert code == 1000


def post(hub: SockhubProcess, path: str, body: bytes, content_type: str = "text/plain") -> tuple[int, bytes]:
    request = urllib.request.Request(hub.url + path, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("send, body, content_type", [
    ("xhr_send", DEEP.encode(), "text/plain"),
    ("xhr_send", b'["' + b"x" * 10 + b'"' + b"]" * 101, "text/plain"),
    ("xhr_send", b"\xff\xfe", "text/plain"),
    ("jsonp_send", b"d=" + b"%5B" * 5000, "application/x-www-form-urlencoded"),
])
def test_xhr_and_jsonp_send_refuse_bad_json_with_400(hub: SockhubProcess, send: str, body: bytes,
                                                      content_type: str) -> None:
    base = f"/connection/000/{uuid.uuid4().hex}"
    assert post(hub, base + "/xhr", b"") == (200, b"o\n")
    assert post(hub, f"{base}/{send}", body, content_type) == (400, b"Broken JSON encoding.")
    # the session is still there: a valid frame is taken
    assert post(hub, base + "/xhr_send", json.dumps([command("connect", credentials())]).encode())[0] == 204


def send_text_bytes(ws: websocket.WebSocket, payload: bytes, fragments: int = 1) -> None:
    """A text frame whose payload is not UTF-8 (websocket-client would refuse to build one)."""
    size = max(1, len(payload) // fragments)
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    for index, part in enumerate(parts):
        opcode = websocket.ABNF.OPCODE_TEXT if index == 0 else websocket.ABNF.OPCODE_CONT
        frame = websocket.ABNF(fin=int(index == len(parts) - 1), opcode=opcode, data=part)
        ws.send_frame(frame)


@pytest.mark.parametrize("fragments", [1, 3], ids=["one frame", "fragmented"])
def test_invalid_utf8_text_frame_closes_1007_in_our_words(hub: SockhubProcess, connect: Connect,
                                                            fragments: int) -> None:
    ws = connect(hub.ws_url)
    send_text_bytes(ws, b'{"method":"\xc0\xaf connect and more bytes"}', fragments)
    texts, code, reason = frames_until_close(ws)
    assert (texts, code, reason) == ([], 1007, "Invalid UTF-8")


def test_broken_framing_closes_1002_in_our_words(hub: SockhubProcess, connect: Connect) -> None:
    ws = connect(hub.ws_url)
    ws.send_frame(websocket.ABNF(fin=1, rsv1=1, opcode=websocket.ABNF.OPCODE_TEXT, data="x"))
    texts, code, reason = frames_until_close(ws)
    assert (texts, code, reason) == ([], 1002, "Protocol error")


@pytest.mark.parametrize("body, why", [
    (command("publish", {"channel": "news", "data": "\ud800"}).encode(), "lone surrogate in a string"),
    (b'{"method":"publish","params":{"channel":"news","data":' + b"[" * 101 + b"]" * 101 + b"}}",
     "nested deeper than 100"),
    (DEEP.encode(), "nested deeper than 100"),
    (b'{"method":"publish","params":{"channel":"news","data":1e400}}', "number out of range"),
    (b'{"method": "publish",', "syntax error at character 21"),
    (b'{"method":"\xc0"}', "data is not UTF-8"),
])
def test_api_refuses_bad_json_with_400_in_our_words(hub: SockhubProcess, body: bytes, why: str) -> None:
    status, text = post(hub, "/api/", body, "application/json")
    assert (status, text.decode().strip()) == (400, f"Bad Request: malformed JSON ({why})") or \
        (status, text.decode().strip()) == (400, f"Bad Request: {why}")


def test_api_accepts_depth_100(hub: SockhubProcess) -> None:
    data = b"[" * 96 + b"1" + b"]" * 96  # with the command's 4 levels: 100
    body = b'[{"method":"publish","params":{"channel":"news","data":' + data + b"}}]"
    assert post(hub, "/api/", body, "application/json") == (200, b'[{"method":"publish","error":null,"body":null}]')


def test_admin_socket_refuses_deep_json(hub: SockhubProcess, connect: Connect) -> None:
    ws = connect(f"ws://127.0.0.1:{hub.port}/socket")
    ws.send(DEEP)
    texts, code, reason = frames_until_close(ws)
    assert (texts, code, reason) == ([], 1007, "malformed JSON")
