"""The real cent 5.2.0 (PyPI, installed apart in .venv/cent5: it is the same
``cent`` package as the pinned cent 2.1.0) calls every method of the
current-style API, ``POST /api/<method>``, against a real sockhub, while a
1.x websocket client watches what it publishes; the 1.x API keeps working on
the same server."""
from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from typing import Any, Callable

import cent as cent21

from tests.integration.conftest import SECRET
from tests.integration.httpclient import request
from tests.integration.wsclient import ProtocolClient
from tests.support.net import free_port
from tests.support.server import ROOT, SockhubProcess, python_executable

Start = Callable[..., SockhubProcess]
KEY = "api-key-for-tests"
CONFIG = {"api_key": KEY, "presence": True, "join_leave": True, "history_size": 10, "history_lifetime": 60,
          "namespaces": [{"name": "public", "publish": True}]}
CENT5 = ROOT / ".venv" / "cent5"
#: what a publisher sends, as the subscriber must read it (nested, unicode, numbers)
DATA = {"from": "cent5", "n": 1, "text": "h\u00e9llo \u2603", "list": [1.5, None, True, {"k": "v"}]}

CENT5_SCRIPT = r'''
import base64, json, sys
from cent import (Client, BatchRequest, BroadcastRequest, ChannelsRequest, DisconnectRequest,
                  HistoryRemoveRequest, HistoryRequest, InfoRequest, PresenceRequest,
                  PresenceStatsRequest, PublishRequest, RefreshRequest, SubscribeRequest,
                  UnsubscribeRequest)
from cent.exceptions import CentApiResponseError, CentUnauthorizedError

url, key, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = Client(url + "/api", key, timeout=5)
out = {}

def call(name, method, request):
    try:
        out[name] = method(request).model_dump(mode="json", exclude_none=True)
    except CentApiResponseError as exc:
        out[name] = {"code": exc.code, "message": exc.message}
    except CentUnauthorizedError:
        out[name] = "unauthorized"

call("publish", client.publish, PublishRequest(channel="news", data=data))
call("publish_b64", client.publish, PublishRequest(channel="news", data=None,
     b64data=base64.b64encode(b'{"n":2}').decode()))
call("broadcast", client.broadcast, BroadcastRequest(channels=["news", "public:room", "nope:x"], data={"n": 3}))
call("presence", client.presence, PresenceRequest(channel="news"))
call("presence_stats", client.presence_stats, PresenceStatsRequest(channel="news"))
call("history", client.history, HistoryRequest(channel="news", limit=10))
call("history_reverse", client.history, HistoryRequest(channel="news", limit=2, reverse=True))
call("history_position", client.history, HistoryRequest(channel="news"))
call("channels", client.channels, ChannelsRequest())
call("channels_pattern", client.channels, ChannelsRequest(pattern="pub*"))
call("info", client.info, InfoRequest())
call("subscribe", client.subscribe, SubscribeRequest(user="42", channel="public:extra", info={"role": "x"}))
batch = client.batch(BatchRequest(requests=[
    PublishRequest(channel="public:room", data={"n": 4}), PresenceStatsRequest(channel="news"),
    ChannelsRequest(pattern="public:*")]))
out["batch"] = [[type(r).__name__, r.model_dump(mode="json")] for r in batch.replies]
call("unknown_channel", client.publish, PublishRequest(channel="nope:x", data={}))
call("not_available", client.presence, PresenceRequest(channel="public:room"))
call("refresh", client.refresh, RefreshRequest(user="nobody"))
call("history_remove", client.history_remove, HistoryRemoveRequest(channel="news"))
call("history_after_remove", client.history, HistoryRequest(channel="news", limit=10))
call("wrong_key", Client(url + "/api", "wrong", timeout=5).info, InfoRequest())
call("unsubscribe", client.unsubscribe, UnsubscribeRequest(user="42", channel="news"))
call("disconnect", client.disconnect, DisconnectRequest(user="42"))
print(json.dumps(out))
'''


def run_cent5(hub: SockhubProcess, key: str = KEY) -> dict[str, Any]:
    result = subprocess.run([python_executable(), "-c", CENT5_SCRIPT, hub.url, key, json.dumps(DATA)],
                            capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(CENT5), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def watcher(hub: SockhubProcess) -> ProtocolClient:
    client = ProtocolClient(hub.ws_url)
    client.connect(SECRET, "42", info='{"name":"Alex"}')
    for channel in ("news", "public:room"):
        assert client.subscribe(channel).get("error") in (None, ""), channel
    return client


def post(hub: SockhubProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(hub.url + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def published(answer: tuple[int, bytes]) -> bool:
    """200 with a publish result: the new publication's position (history is on)."""
    status, body = answer
    result = json.loads(body)["result"] if status == 200 else {}
    return status == 200 and result.get("offset", 0) >= 1 and bool(result.get("epoch"))


def test_cent5_every_method_reaches_a_1x_subscriber(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    with watcher(hub) as ws:
        out = run_cent5(hub)
        # the channel keeps history: each publish answers its stream position
        assert out["publish"]["epoch"] and out["publish"]["epoch"] == out["publish_b64"]["epoch"]
        assert out["publish_b64"]["offset"] == out["publish"]["offset"] + 1 > 1
        responses = out["broadcast"]["responses"]
        assert [r.get("error", {}).get("code") for r in responses] == [None, None, 102]

        news = [ws.next_push("message")["body"] for _ in range(4)]
        by_channel = [(m["channel"], m["data"]) for m in news]
        assert by_channel[:2] == [("news", DATA), ("news", {"n": 2})]  # byte for byte, b64 decoded
        assert sorted(by_channel[2:], key=str) == [("news", {"n": 3}), ("public:room", {"n": 3})]

        presence = out["presence"]["presence"]
        assert list(presence) == [ws.client_id]
        assert presence[ws.client_id]["user"] == "42"
        assert presence[ws.client_id]["conn_info"] == {"name": "Alex"}
        assert out["presence_stats"] == {"num_clients": 1, "num_users": 1}

        assert [p["data"] for p in out["history"]["publications"]] == [DATA, {"n": 2}, {"n": 3}]
        assert [p["data"] for p in out["history_reverse"]["publications"]] == [{"n": 3}, {"n": 2}]
        assert out["history_position"]["publications"] == []  # no limit: the position only

        assert out["channels"]["channels"] == {"news": {"num_clients": 1}, "public:room": {"num_clients": 1}}
        assert set(out["channels_pattern"]["channels"]) == {"public:room"}
        (node,) = out["info"]["nodes"]
        assert node["num_clients"] == 1 and node["num_users"] == 1 and node["num_channels"] == 2
        assert node["uid"] and node["version"]

        assert out["subscribe"] == {}
        pushed = ws.next_push("subscribe")["body"]
        assert pushed["channel"] == "public:extra"
        (publish, publish_result), (stats, stats_result), (channels, channels_result) = out["batch"]
        assert (publish, stats, channels) == ("PublishResult", "PresenceStatsResult", "ChannelsResult")
        assert publish_result == {"offset": 0, "epoch": ""}
        assert stats_result == {"num_clients": 1, "num_users": 1}
        assert set(channels_result["channels"]) == {"public:room", "public:extra"}
        assert ws.next_push("message")["body"]["data"] == {"n": 4}

        assert out["unknown_channel"] == {"code": 102, "message": "unknown channel"}
        assert out["not_available"] == {"code": 108, "message": "not available"}
        assert out["refresh"] == {}
        assert out["history_remove"] == {}
        assert out["history_after_remove"].get("publications", []) == []
        assert out["wrong_key"] == "unauthorized"

        assert out["unsubscribe"] == {}
        assert ws.next_push("unsubscribe")["body"]["channel"] == "news"
        assert out["disconnect"] == {}
        closed = ws.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == {"reason": "disconnect", "reconnect": False}


def test_the_key_is_checked_as_centrifugo_does(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    body = b'{"channel":"news","data":{"x":1}}'
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "apikey wrong"},
                    {"Authorization": "Bearer " + KEY}, {"X-API-Key": "wrong", "Authorization": "apikey " + KEY}):
        assert post(hub, "/api/publish", body, headers) == (401, b""), headers
    for headers in ({"X-API-Key": KEY}, {"Authorization": "apikey " + KEY}, {"Authorization": "APIKEY " + KEY}):
        assert published(post(hub, "/api/publish", body, headers)), headers
    assert published(post(hub, "/api/publish?api_key=" + KEY, body, {}))

    no_key = sockhub({"presence": True})
    assert post(no_key, "/api/info", b"{}", {"X-API-Key": ""}) == (401, b"")
    insecure = sockhub({}, "--insecure_api")
    status, answer = post(insecure, "/api/info", b"{}", {})
    assert status == 200 and json.loads(answer)["result"]["nodes"]


def test_bad_bodies_are_400_with_the_error_body(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    key = {"X-API-Key": KEY}
    for body in (b"", b"[]", b"{", b'{"channel": 5, "data": 1}', b'{"channel": "news", "data": NaN}',
                 b'{"channel": "\\ud800", "data": 1}', b"\xff"):
        status, answer = post(hub, "/api/publish", body, key)
        assert status == 400, body
        assert json.loads(answer)["error"]["code"] == 107, answer
    status, answer = post(hub, "/api/batch", json.dumps({"commands": [{"publish": {}}] * 1001}).encode(), key)
    assert status == 400 and b"at most 1000" in answer
    # well-typed but wrong: the command's error, 200 (or a status in the transport error mode)
    assert post(hub, "/api/publish", b'{"channel": ""}', key) == (200, b'{"error":{"code":107,"message":"bad request"}}')
    status, answer = post(hub, "/api/history", b'{"channel": "nope:x"}', {**key, "X-Centrifugo-Error-Mode": "transport"})
    assert (status, json.loads(answer)) == (404, {"code": 102, "message": "unknown channel"})
    assert "Traceback" not in hub.logs()


def test_the_1x_api_keeps_its_paths(sockhub: Start) -> None:
    """/api/ and unknown suffixes stay the 1.x API (signed); cent 2.1 works beside cent 5."""
    hub = sockhub(CONFIG)
    api = cent21.Client(hub.url, SECRET, timeout=5)
    assert api.publish("news", {"n": 1}) is None
    assert [m["data"] for m in api.history("news")] == [{"n": 1}]
    status, answer = post(hub, "/api/something", b'{"method":"channels"}', {"Content-Type": "application/json"})
    assert (status, answer) == (400, b"Bad Request: missing sign\n")  # the 1.x envelope
    status, answer = post(hub, "/api/channels", b"{}", {"X-API-Key": KEY})
    assert (status, json.loads(answer)) == (200, {"result": {"channels": {}}})


def test_b64data_must_carry_json(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    body = json.dumps({"channel": "news", "b64data": base64.b64encode(b"\x00\x01binary").decode()}).encode()
    assert post(hub, "/api/publish", body, {"X-API-Key": KEY}) == (
        200, b'{"error":{"code":107,"message":"bad request"}}')
    body = json.dumps({"channel": "news", "b64data": "not base64!"}).encode()
    assert post(hub, "/api/publish", body, {"X-API-Key": KEY})[0] == 200


def test_limits_prefix_port_and_methods(sockhub: Start) -> None:
    """The routes share the 1.x API's body limit (by length and streamed),
    its 405 for other methods, http_prefix and api_port."""
    api_port = free_port()
    hub = sockhub({**CONFIG, "api_max_body_size": 2000, "http_prefix": "/rt", "api_port": api_port})
    key = {"X-API-Key": KEY}
    big = json.dumps({"channel": "news", "data": "x" * 3000}).encode()
    assert request(api_port, "POST", "/rt/api/publish", big, key).status == 413
    chunks = [big[i:i + 500] for i in range(0, len(big), 500)]
    assert request(api_port, "POST", "/rt/api/publish", iter(chunks), key, chunked=True).status == 413
    small = json.dumps({"channel": "news", "data": "x" * 1500}).encode()
    response = request(api_port, "POST", "/rt/api/publish", small, key)
    assert published((response.status, response.body))
    assert request(hub.port, "POST", "/rt/api/publish", small, key).status == 404  # moved to api_port
    for method in ("GET", "PUT", "DELETE"):
        response = request(api_port, method, "/rt/api/info")
        assert response.status == 405 and response.headers["Allow"] == "POST", method
