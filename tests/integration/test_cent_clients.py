"""The real Python API clients, unchanged: cent 2.1.0 (JSON body, X-API-Sign)
and cent 1.3.0 (form data + sign, run in a subprocess from .venv/cent13) call
every API method against a real sockhub while a websocket client watches."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable

import cent
import pytest

from tests.integration.conftest import SECRET
from tests.integration.wsclient import ProtocolClient
from tests.support.server import ROOT, SockhubProcess, python_executable

Start = Callable[..., SockhubProcess]
CONFIG = {"presence": True, "join_leave": True, "history_size": 10, "history_lifetime": 60,
          "namespaces": [{"name": "public", "publish": True}]}
CENT13 = ROOT / ".venv" / "cent13"

CENT13_SCRIPT = r'''
import json, sys
from cent.core import Client

url, secret = sys.argv[1], sys.argv[2]
client = Client(url, secret, timeout=5)
out = {}
out["publish"] = client.publish("news", {"from": "cent13", "n": 1})
out["broadcast"] = client.broadcast(["news", "public:room"], {"from": "cent13", "n": 2})
out["presence"] = client.presence("news")
out["history"] = client.history("news")
out["channels"] = client.channels()
out["stats"] = client.stats()
out["unknown_namespace"] = client.publish("nope:x", {})
out["unsubscribe"] = client.unsubscribe("42", "news")
out["disconnect"] = client.disconnect("42")
out["wrong_secret"] = Client(url, "wrong", timeout=5).publish("news", {})
print(json.dumps({k: repr(v) if isinstance(v, Exception) or (isinstance(v, tuple) and isinstance(v[1], Exception)) else v
                  for k, v in out.items()}))
'''


def watcher(hub: SockhubProcess) -> ProtocolClient:
    client = ProtocolClient(hub.ws_url)
    client.connect(SECRET, "42", info='{"name":"Alex"}')
    for channel in ("news", "public:room"):
        assert client.subscribe(channel).get("error") in (None, ""), channel
    return client


def test_cent_21_every_method(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    with watcher(hub) as ws:
        api = cent.Client(hub.url, SECRET, timeout=5)
        assert api.publish("news", {"from": "cent21", "n": 1}) is None
        assert ws.next_push("message")["body"]["data"] == {"from": "cent21", "n": 1}
        api.broadcast(["news", "public:room"], {"n": 2})
        got = {ws.next_push("message")["body"]["channel"] for _ in range(2)}
        assert got == {"news", "public:room"}

        presence = api.presence("news")
        assert list(presence) == [ws.client_id]
        assert presence[ws.client_id]["user"] == "42"
        assert presence[ws.client_id]["default_info"] == {"name": "Alex"}

        history = api.history("news")
        assert [m["data"]["n"] for m in history] == [2, 1]  # newest first
        assert set(api.channels()) == {"news", "public:room"}
        stats = api.stats()
        assert len(stats["nodes"]) == 1 and "metrics_interval" in stats

        api.add("node", {})  # cent has no helper for `node`; its batch call works
        node = api.send()[0]
        assert node["error"] is None and node["body"]["data"]["uid"] == stats["nodes"][0]["uid"]

        # Beyond 1.x, through cent's generic batch call: server-side subscribe of
        # every connection of a user, and history removal.
        api.add("subscribe", {"user": "42", "channel": "public:extra"})
        api.add("history_remove", {"channel": "news"})
        replies = api.send()
        assert [(r["method"], r["error"]) for r in replies] == [("subscribe", None), ("history_remove", None)]
        assert "public:extra" in api.channels()
        assert api.history("news") == []

        with pytest.raises(cent.ResponseError, match="namespace not found"):
            api.publish("nope:x", {})
        with pytest.raises(cent.RequestException):
            cent.Client(hub.url, "wrong-secret", timeout=5).publish("news", {})

        api.unsubscribe("42", "news")
        assert ws.next_push("unsubscribe")["body"]["channel"] == "news"
        api.disconnect("42")
        closed = ws.wait_closed()
        assert closed.code == 3000 and json.loads(closed.reason) == {"reason": "disconnect", "reconnect": False}


def test_cent_21_insecure_api(sockhub: Start) -> None:
    hub = sockhub({"insecure_api": True})
    api = cent.Client(hub.url, "", timeout=5, insecure_api=True)
    assert api.publish("news", {"x": 1}) is None
    assert api.channels() == []


def test_cent_13_every_method(sockhub: Start) -> None:
    hub = sockhub(CONFIG)
    with watcher(hub) as ws:
        result = subprocess.run([python_executable(), "-W", "error", "-c", CENT13_SCRIPT, hub.url, SECRET],
                                capture_output=True, text=True, timeout=60,
                                env={"PYTHONPATH": str(CENT13), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["publish"] is None and out["broadcast"] is None  # 1.3 returns the error only
        presence, error = out["presence"]
        assert error is None and presence[ws.client_id]["user"] == "42"
        history, error = out["history"]
        assert error is None and [m["data"]["n"] for m in history] == [2, 1]
        assert sorted(out["channels"][0]) == ["news", "public:room"]
        assert len(out["stats"][0]["nodes"]) == 1
        assert "namespace not found" in out["unknown_namespace"]
        assert "401" in out["wrong_secret"]
        assert out["unsubscribe"] is None and out["disconnect"] is None

        messages = [ws.next_push("message")["body"] for _ in range(3)]
        assert [(m["channel"], m["data"]["n"]) for m in messages if m["channel"] == "news"] == [("news", 1), ("news", 2)]
        assert ws.next_push("unsubscribe")["body"]["channel"] == "news"
        closed = ws.wait_closed()
        assert json.loads(closed.reason) == {"reason": "disconnect", "reconnect": False}


def test_cent_13_runs_on_this_python() -> None:
    """cent 1.3.0 (2017) imports and builds a signed form request on Python 3.11
    with warnings as errors."""
    script = ("from cent.core import Client, generate_api_sign; c = Client('http://h', 's');"
              "url, sign, data = c.prepare([{'method': 'channels', 'params': {}}]);"
              "print(url, sign == generate_api_sign('s', data))")
    result = subprocess.run([python_executable(), "-W", "error", "-c", script], capture_output=True,
                            text=True, timeout=30, env={"PYTHONPATH": str(CENT13)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://h/api/", "True"]
    assert Path(CENT13, "cent", "core.py").exists()
