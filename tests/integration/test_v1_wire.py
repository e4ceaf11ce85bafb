"""Protocol v1 on a real sockhub, frame by frame (docs/protocol-v1.md §2-§4),
for what centrifuge-js 2.8.5 does not show by itself: the close table and
its JSON reasons, the rules of §6.2, protobuf chosen by ``?format=protobuf``
alone and the subprotocol echoed, tokens (expired, invalid, Centrifugo 2
subscription tokens), refresh, server-side subscriptions, join/leave and
the pushes the API causes."""
from __future__ import annotations

import json
import time
from typing import Any

import jwt
import websocket

from tests.integration.conftest import SECRET
from tests.integration.test_cent5_client import KEY, post
from tests.integration.test_v2_python_client import token
from tests.support.server import SockhubProcess
from typing import Callable

from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v2.framing import uvarint

Start = Callable[..., SockhubProcess]
CONFIG: dict[str, Any] = {"api_key": KEY, "presence": True, "join_leave": True, "history_size": 10,
                          "history_lifetime": 60, "recover": True, "publish": True}


class V1:
    """A JSON protocol v1 connection: commands out, replies and pushes in."""

    def __init__(self, hub: SockhubProcess, query: str = "", **kwargs: Any) -> None:
        self.ws = websocket.create_connection(hub.ws_url + query, timeout=10, **kwargs)
        self.pushes: list[dict[str, Any]] = []
        self.replies: dict[int, dict[str, Any]] = {}
        self.next_id = 0

    def send(self, method: int | None, params: dict[str, Any] | None = None, id: int | None = None) -> int:
        self.next_id += 1
        command: dict[str, Any] = {"id": self.next_id if id is None else id}
        if method is not None:
            command["method"] = method
        if params is not None:
            command["params"] = params
        self.ws.send(json.dumps(command))
        return int(command["id"])

    def read(self) -> None:
        for line in self.ws.recv().split("\n"):
            value = json.loads(line)
            if "id" in value:
                self.replies[value["id"]] = value
            else:
                self.pushes.append(value["result"])

    def call(self, method: int | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        number = self.send(method, params)
        while number not in self.replies:
            self.read()
        return self.replies[number]

    def push(self) -> dict[str, Any]:
        while not self.pushes:
            self.read()
        return self.pushes.pop(0)

    def closed(self) -> tuple[int, dict[str, Any]]:
        """The close frame's code and its JSON advice."""
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.ws.shutdown()
                return int.from_bytes(data[:2], "big"), json.loads(data[2:])

    def close(self) -> None:
        self.ws.close(timeout=2)


def test_the_rules_of_a_frame_and_the_close_table(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    early = V1(hub)
    early.send(1, {"channel": "news"})  # before connect
    assert early.closed() == (3003, {"reason": "bad request", "reconnect": False})
    bad = V1(hub)
    bad.send(None, {"token": "not.a.jwt"})
    assert bad.closed() == (3002, {"reason": "invalid token", "reconnect": False})
    expired = V1(hub)
    reply = expired.call(None, {"token": token("42", ttl=-10)})
    assert reply["error"] == {"code": 109, "message": "token expired"}  # JS 2.8.5 refreshes, then connects
    expired.close()
    client = V1(hub)
    assert client.call(None, {"token": token("42"), "name": "js"})["result"]["client"]
    assert client.call(99) == {"id": 1 + 1, "error": {"code": 104, "message": "method not found"}}
    assert client.call("PRESENCE_STATS", {"channel": "news"})["error"]["code"] == 103  # type: ignore[arg-type]
    assert client.call(7) == {"id": 4}  # the ping's reply has no result
    client.send(7, id=0)  # id 0 on anything but send
    assert client.closed() == (3003, {"reason": "bad request", "reconnect": False})
    empty = V1(hub)
    empty.call(None, {"token": token("1")})
    empty.ws.send("")
    assert empty.closed()[0] == 3003
    assert "Traceback" not in hub.logs()


def test_protobuf_by_the_query_alone_and_the_subprotocol_echoed(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    connect = pb.Command(id=1, params=pb.ConnectRequest(token=token("42")).SerializeToString()).SerializeToString()
    for query, protocols in (("?format=protobuf", None), ("?format=protobuf", ["centrifuge-protobuf"]),
                             ("", ["centrifuge-protobuf"])):
        ws = websocket.create_connection(hub.ws_url + query, timeout=10, subprotocols=protocols)
        try:
            assert ws.subprotocol == (protocols[0] if protocols else None)
            ws.send_binary(uvarint(len(connect)) + connect)
            frame = ws.recv()
            assert isinstance(frame, bytes)
            reply = pb.Reply.FromString(frame[1:])
            assert reply.id == 1 and pb.ConnectResult.FromString(reply.result).client
        finally:
            ws.close(timeout=2)


def test_private_channels_take_centrifugo_2_subscription_tokens(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    client = V1(hub)
    me = client.call(None, {"token": token("42")})["result"]["client"]

    def sub_token(**claims: Any) -> str:
        return jwt.encode({"channel": "$room", **claims}, SECRET, algorithm="HS256")

    assert client.call(1, {"channel": "$room"})["error"]["code"] == 103  # no token
    assert client.call(1, {"channel": "$room", "token": sub_token(client="other")})["error"]["code"] == 103
    assert client.call(1, {"channel": "$room", "token": sub_token()})["error"]["code"] == 103  # no client
    expired = sub_token(client=me, exp=int(time.time()) - 5)
    assert client.call(1, {"channel": "$room", "token": expired})["error"]["code"] == 109
    short = client.call(1, {"channel": "$room", "token": sub_token(client=me, exp=int(time.time()) + 60)})
    assert short["result"]["expires"] is True and 0 < short["result"]["ttl"] <= 60
    refreshed = client.call(11, {"channel": "$room", "token": sub_token(client=me, exp=int(time.time()) + 600)})
    assert refreshed["result"]["expires"] is True and refreshed["result"]["ttl"] > 60
    assert client.call(2, {"channel": "$room"}) == {"id": client.next_id, "result": {}}
    eto = client.call(1, {"channel": "$room", "token": sub_token(client=me, exp=int(time.time()) + 60, eto=True)})
    assert "expires" not in eto["result"]  # eto: the token is checked, the subscription does not expire
    client.close()


def test_refresh_server_side_subscriptions_join_leave_and_api_pushes(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    client = V1(hub)
    connected = client.call(None, {"token": token("42", ttl=30, channels=["feed"], info={"name": "Alex"})})
    result = connected["result"]
    assert result["expires"] is True and 0 < result["ttl"] <= 30 and "feed" in result["subs"]
    refreshed = client.call(10, {"token": token("42", ttl=600)})["result"]
    assert refreshed["client"] == result["client"] and refreshed["ttl"] > 30 and refreshed["version"]
    other = V1(hub)
    other.call(None, {"token": token("7")})
    assert client.call(1, {"channel": "news"})["result"]["recoverable"] is True
    assert other.call(1, {"channel": "news"})["result"]
    join = client.push()
    assert join == {"type": 1, "channel": "news", "data": {"info": {"user": "7", "client": join["data"]["info"]["client"]}}}
    stats = client.call(5, {"channel": "news"})
    assert stats["result"] == {"num_clients": 2, "num_users": 2}
    status, _ = post(hub, "/api", b'{"method":"publish","params":{"channel":"feed","data":{"to":"feed"}}}',
                     {"Authorization": "apikey " + KEY})
    assert status == 200
    assert client.push() == {"channel": "feed", "data": {"data": {"to": "feed"}, "offset": 1}}  # server-side
    post(hub, "/api", b'{"method":"unsubscribe","params":{"user":"7","channel":"news"}}', {"Authorization": "apikey " + KEY})
    assert other.push() == {"type": 3, "channel": "news", "data": {}}
    leave = client.push()
    assert leave["type"] == 2 and leave["data"]["info"]["user"] == "7"
    post(hub, "/api", b'{"method":"disconnect","params":{"user":"7"}}', {"Authorization": "apikey " + KEY})
    assert other.closed() == (3012, {"reason": "force disconnect", "reconnect": False})
    client.send(10, {"token": token("43")})  # another user's token
    assert client.closed() == (3002, {"reason": "invalid token", "reconnect": False})
    assert "Traceback" not in hub.logs()


def test_a_centrifugo_2_config_file_works_unchanged(sockhub: Start) -> None:
    """Centrifugo 2.x's key names, namespaces with their own options (not
    inherited from the top level, as 2.x did)."""
    secret = "centrifugo-2-hmac-secret-key-of-32-bytes"
    hub = sockhub({
        "token_hmac_secret_key": secret, "api_key": "c2-key", "publish": True, "presence": True,
        "join_leave": True, "history_size": 10, "history_lifetime": 60, "history_recover": True,
        "v3_use_offset": True,
        "namespaces": [{"name": "chat", "publish": True, "history_size": 5, "history_lifetime": 30,
                        "history_recover": True}, {"name": "bare"}],
    })
    client = V1(hub)
    signed = jwt.encode({"sub": "42", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    assert client.call(None, {"token": signed})["result"]["client"]
    for channel in ("news", "chat:room"):
        assert client.call(1, {"channel": channel})["result"]["recoverable"] is True, channel
    assert "recoverable" not in client.call(1, {"channel": "bare:x"})["result"]  # nothing inherited
    assert client.call(3, {"channel": "bare:x", "data": {}})["error"]["code"] == 103  # publish not inherited
    status, answer = post(hub, "/api", b'{"method":"publish","params":{"channel":"chat:room","data":{"a":1}}}',
                          {"Authorization": "apikey c2-key"})
    assert status == 200 and json.loads(answer)["result"]["offset"] == 1
    assert client.push() == {"channel": "chat:room", "data": {"data": {"a": 1}, "offset": 1}}
    client.close()
    assert "unknown key" not in hub.logs()


def test_an_unrefreshed_connection_is_closed_expired(sockhub: Start) -> None:
    hub = sockhub({**CONFIG, "expired_connection_close_delay": 1})
    client = V1(hub)
    assert client.call(None, {"token": token("42", ttl=1)})["result"]["ttl"] == 1
    started = time.monotonic()
    assert client.closed() == (3005, {"reason": "expired", "reconnect": True})  # JS 2.8.5 refreshes, reconnects
    assert time.monotonic() - started < 8
