"""The real cent 3.0.1 (PyPI, installed apart in .venv/cent3: it is the same
``cent`` package as the pinned cent 2.1.0) calls every method it has
(presence_stats through ``add``/``send``) of the Centrifugo 2 server API, ``POST /api`` (newline-delimited commands), against
a real sockhub, while a 1.x websocket client watches what it publishes; a
wrong key is refused; the 1.x API at ``/api/`` keeps working."""
from __future__ import annotations

import json
import subprocess
from typing import Any, Callable

from tests.integration.test_cent5_client import CONFIG, KEY, post, watcher
from tests.support.server import ROOT, SockhubProcess, python_executable

Start = Callable[..., SockhubProcess]
CENT3 = ROOT / ".venv" / "cent3"
DATA = {"from": "cent3", "text": "h\u00e9llo \u2603", "list": [1.5, None, True]}

CENT3_SCRIPT = r'''
import json, sys
from cent import Client, CentException

url, key, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = Client(url, api_key=key, timeout=5)
out = {}

def call(name, method, *args):
    try:
        out[name] = method(*args)
    except CentException as exc:
        out[name] = {"raised": type(exc).__name__, "text": str(exc)}

call("publish", client.publish, "news", data)
call("publish_uid", client.publish, "news", {"n": 2}, "some-uid")
call("broadcast", client.broadcast, ["news", "public:room"], {"n": 3})
call("presence", client.presence, "news")
call("history", client.history, "news")
call("channels", client.channels)
call("info", client.info)
call("unknown_channel", client.publish, "nope:x", {})
client.add("publish", {"channel": "public:room", "data": {"n": 4}})
client.add("presence_stats", {"channel": "news"})
client.add("no_such_method", {})
client.add("channels", {})
out["several"] = client.send()
call("history_remove", client.history_remove, "news")
call("history_after_remove", client.history, "news")
call("wrong_key", Client(url, api_key="wrong", timeout=5).info)
call("unsubscribe", client.unsubscribe, "42", "news")
call("disconnect", client.disconnect, "42")
print(json.dumps(out))
'''


def run_cent3(hub: SockhubProcess, key: str = KEY) -> dict[str, Any]:
    result = subprocess.run([python_executable(), "-c", CENT3_SCRIPT, hub.url, key, json.dumps(DATA)],
                            capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": str(CENT3), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_cent3_every_method_reaches_a_1x_subscriber(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    with watcher(hub) as ws:
        out = run_cent3(hub)
        assert out["publish"] is None and out["publish_uid"] is None and out["broadcast"] is None
        news = [ws.next_push("message")["body"] for _ in range(4)]
        by_channel = [(m["channel"], m["data"]) for m in news]
        assert by_channel[:2] == [("news", DATA), ("news", {"n": 2})]
        assert sorted(by_channel[2:], key=str) == [("news", {"n": 3}), ("public:room", {"n": 3})]

        presence = out["presence"]
        assert list(presence) == [ws.client_id] and presence[ws.client_id]["user"] == "42"
        # no limit: the whole stream, as Centrifugo 2 answers
        assert [p["data"] for p in out["history"]] == [DATA, {"n": 2}, {"n": 3}]
        assert sorted(out["channels"]) == ["news", "public:room"]
        (node,) = out["info"]["nodes"]
        assert node["num_clients"] == 1 and node["uid"]
        assert out["unknown_channel"] == {"raised": "ResponseError", "text": str({"code": 102, "message": "unknown channel"})}

        publish, stats, unknown, channels = out["several"]  # replies in order, one per line
        assert publish == {"result": {"offset": 0, "epoch": ""}} or publish == {"result": {}}
        assert stats == {"result": {"num_clients": 1, "num_users": 1}}
        assert unknown == {"error": {"code": 104, "message": "method not found"}}
        assert sorted(channels["result"]["channels"]) == ["news", "public:room"]
        assert ws.next_push("message")["body"]["data"] == {"n": 4}

        assert out["history_remove"] is None and out["history_after_remove"] == []
        assert out["wrong_key"]["raised"] == "RequestException" and "401" in out["wrong_key"]["text"]
        assert out["unsubscribe"] is None
        assert ws.next_push("unsubscribe")["body"]["channel"] == "news"
        assert out["disconnect"] is None
        assert ws.wait_closed().code == 3000
    assert "Traceback" not in hub.logs()


def test_the_centrifugo_2_envelope(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    key = {"Authorization": "apikey " + KEY}
    publish = b'{"method":"publish","params":{"channel":"news","data":{"x":1}}}'
    assert post(hub, "/api", publish, {}) == (401, b"")
    assert post(hub, "/api", publish, {"Authorization": "apikey wrong"}) == (401, b"")
    assert post(hub, "/api?api_key=" + KEY, publish, {})[0] == 200
    # ids echoed, method by number or any case, blank lines skipped
    body = b'{"id":7,"method":5,"params":{"channel":"news"}}\n\n{"method":"PRESENCE_STATS","params":{"channel":"news"}}\n'
    status, answer = post(hub, "/api", body, key)
    assert status == 200 and answer.decode().split("\n") == [
        '{"id":7,"result":{"num_clients":0,"num_users":0}}', '{"result":{"num_clients":0,"num_users":0}}']
    assert post(hub, "/api", b'{"method":"unsubscribe","params":{"channel":"news"}}', key) == (
        200, b'{"error":{"code":107,"message":"bad request"}}')
    # the whole request refused before anything runs
    for bad in (b"", b"\n\n", b"[]", b"{", b'{"method":[]}', b'{"method":"publish","params":{"channel":5}}',
                publish + b"\n" + b'{"method":"publish","params":[]}'):
        status, _ = post(hub, "/api", bad, key)
        assert status == 400, bad
    assert post(hub, "/api", publish, {**key, "Content-Type": "application/octet-stream"})[0] == 415
    status, answer = post(hub, "/api", b'{"method":"history","params":{"channel":"news"}}', key)
    assert status == 200 and [p["data"] for p in json.loads(answer)["result"]["publications"]] == [{"x": 1}]
    assert "Traceback" not in hub.logs()
