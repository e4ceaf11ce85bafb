"""A Centrifugo 2.x config file, unchanged (genconfig's keys plus the 2.x
channel options at the top level and in namespaces), read by ``sockhub
checkconfig`` without ``--lenient`` and by a running server that enforces
each rule (docs/config-2x.md): protocol v1 frames as centrifuge-js 2.8.5
sends them, a 1.x client on the same server, the Centrifugo 2 API
(``POST /api``, ``Authorization: apikey``) and the current-style one."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest

from app.config import load_options
from tests.integration.httpclient import request
from tests.integration.test_cent5_client import post
from tests.integration.test_v1_wire import V1
from tests.integration.test_v5_config import V2
from tests.integration.wsclient import ProtocolClient
from tests.support.server import ROOT, SockhubProcess, run_sockhub

HMAC_KEY = "0b5f6a4e-5d1c-4a39-9b7e-2f8d3c6a1e90"
API_KEY = "7c2e9d14-3b8a-4f65-a1d0-5e6b7c8d9f01"
#: the deprecated 2.x name of the HMAC key, which 1.x clients sign with here
SECRET_1X = "1x-and-2x-secret"

#: What Centrifugo 2.8's ``centrifugo genconfig`` writes (internal/tools/config.go)...
GENCONFIG: dict[str, Any] = {
    "v3_use_offset": True,
    "token_hmac_secret_key": HMAC_KEY,
    "admin_password": "d2a3c1b4-9e8f-4a7b-8c6d-5e4f3a2b1c0d",
    "admin_secret": "e3b4d2c5-0f9a-4b8c-9d7e-6f5a4b3c2d1e",
    "api_key": API_KEY,
    "allowed_origins": [],
}
#: ... plus the 2.x options this file is about: top level and namespaces.
CHANNELS: dict[str, Any] = {
    "client_anonymous": True,
    "anonymous": True,
    "publish": True,
    "subscribe_to_publish": True,
    "presence": True,
    "presence_disable_for_client": True,
    "join_leave": True,
    "history_size": 10,
    "history_lifetime": 300,
    "history_recover": True,
    "history_disable_for_client": True,
    "client_presence_ping_interval": 25,
    "client_presence_expire_interval": 60,
    "websocket_ping_interval": 25,
    "client_expired_close_delay": 25,
    "client_channel_limit": 128,
    "channel_max_length": 255,
    "namespaces": [
        {"name": "srv", "server_side": True, "anonymous": True, "presence": True, "history_size": 10, "history_lifetime": 300,
         "history_recover": True},
        {"name": "open", "presence": True, "history_size": 10, "history_lifetime": 300},
        {"name": "prot", "protected": True},
        {"name": "ro.feed", "presence": True, "presence_disable_for_client": True, "history_size": 5,
         "history_lifetime": 60, "history_recover": True, "history_disable_for_client": True,
         "subscribe_to_publish": True},
    ],
}
CONFIG_2X = {**GENCONFIG, **CHANNELS}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path, CONFIG_2X, name="c2")
    yield process.start()
    process.stop()


def connection_token(user: str, **claims: Any) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + 600, **claims}, HMAC_KEY, algorithm="HS256")


def api2(hub: SockhubProcess, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One command of the Centrifugo 2 API (``POST /api``, ``apikey``)."""
    body = json.dumps({"method": method, "params": params}).encode()
    status, answer = post(hub, "/api", body, {"Authorization": "apikey " + API_KEY})
    assert status == 200, answer
    reply: dict[str, Any] = json.loads(answer)
    assert "error" not in reply, reply
    return reply["result"]  # type: ignore[no-any-return]


def subscribe_by_api(hub: SockhubProcess, user: str, channel: str) -> None:
    """A server-side subscribe through the current-style API (Centrifugo 2
    had none; sockhub serves both with the one ``api_key``)."""
    response = request(hub.port, "POST", "/api/subscribe", json.dumps({"user": user, "channel": channel}).encode(),
                       {"Content-Type": "application/json", "X-API-Key": API_KEY})
    assert response.status == 200 and "error" not in json.loads(response.text), response.text


def test_checkconfig_accepts_the_2x_file_without_lenient(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG_2X, "port": "8000", "internal_port": "9000", "sockjs_disable": False,
                                "proxy_extra_http_headers": ["Cookie"],
                                "redis_cluster_addrs": ["10.0.0.1:7000,10.0.0.2:7000"]}))
    checked = run_sockhub(["checkconfig", "-c", str(path)])
    assert checked.returncode == 0, checked.stderr
    assert "unknown key" not in checked.stderr and "warning" not in checked.stderr, checked.stderr
    options = load_options(str(path))
    assert options.allow_anonymous_connect_without_token and options.ping_interval == 25
    assert (options.port, options.api_port, options.admin_port, options.sockjs) == (8000, 9000, 9000, True)
    assert options.proxy_http_headers == "Cookie" and options.channel.recover
    assert (options.redis_url, options.redis_cluster) == ("redis://10.0.0.1:7000,redis://10.0.0.2:7000", True)
    top, srv, prot = options.channel, options.namespaces[0].options, options.namespaces[2].options
    assert top.presence_disable_for_client and top.history_disable_for_client and not top.server_side
    assert srv.server_side and not srv.presence_disable_for_client and prot.protected
    assert options.namespaces[3].name == "ro.feed"  # 2.x's namespace names may hold dots


#: Centrifugo 2.8's genconfig templates (internal/tools/config.go), filled in.
GENCONFIG_FILES = {
    "config.json": json.dumps(GENCONFIG, indent=2),
    "config.toml": "".join(f"{k} = {json.dumps(v)}\n" for k, v in GENCONFIG.items()),
    "config.yaml": "".join(f"{k}: {json.dumps(v) if isinstance(v, (bool, list)) else v}\n"
                           for k, v in GENCONFIG.items()),
}


@pytest.mark.parametrize("name", sorted(GENCONFIG_FILES))
def test_what_2x_genconfig_writes_passes_checkconfig_in_each_format(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(GENCONFIG_FILES[name])
    checked = run_sockhub(["checkconfig", "-c", str(path)])
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    options = load_options(str(path))
    assert (options.token_hmac_secret_key, options.api_key, options.allowed_origins) == (HMAC_KEY, API_KEY, [])


def test_a_2x_key_sockhub_does_not_use_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**GENCONFIG, "graphite": True, "subscribe_to_publish": False,
                                "sockjs_disable": True, "namespaces": [{"name": "x1", "server_side": True}]}))
    checked = run_sockhub(["checkconfig", "-c", str(path)])
    assert checked.returncode == 0, checked.stderr
    assert "'graphite' is a Centrifugo option sockhub does not use" in checked.stderr
    assert "'subscribe_to_publish' is a Centrifugo option" in checked.stderr  # false: not what sockhub does
    assert load_options(str(path)).sockjs is False


def test_server_side_channels_refuse_clients_and_take_the_server_subscriptions(hub: SockhubProcess) -> None:
    client = V1(hub)
    connected = client.call(None, {"token": connection_token("42", channels=["srv:feed"])})["result"]
    assert "srv:feed" in connected["subs"]  # the token's server-side subscription works
    assert client.call(1, {"channel": "srv:other"})["error"] == {"code": 103, "message": "permission denied"}
    assert client.call(1, {"channel": "srv:feed#42"})["error"]["code"] == 103  # user-limited: still the server's
    assert client.call(1, {"channel": "open:room"})["result"] == {}  # elsewhere clients subscribe
    subscribe_by_api(hub, "42", "srv:other")
    assert client.push() == {"type": 5, "channel": "srv:other", "data": {}}
    api2(hub, "publish", {"channel": "srv:other", "data": {"n": 1}})
    assert client.push() == {"channel": "srv:other", "data": {"data": {"n": 1}, "offset": 1}}
    api2(hub, "publish", {"channel": "srv:feed", "data": {"n": 2}})
    assert client.push() == {"channel": "srv:feed", "data": {"data": {"n": 2}, "offset": 1}}
    client.close()
    assert "Traceback" not in hub.logs()


def test_presence_and_history_are_for_the_server_api_and_recovery_still_works(hub: SockhubProcess) -> None:
    client = V1(hub)
    client.call(None, {"token": connection_token("42")})
    for channel in ("news", "ro.feed:a"):
        subscribed = client.call(1, {"channel": channel})["result"]
        assert subscribed["recoverable"] is True, channel
        for method in (4, 5, 6):  # presence, presence_stats, history
            assert client.call(method, {"channel": channel})["error"] == {"code": 108, "message": "not available"}
        assert list(api2(hub, "presence", {"channel": channel})["presence"].values())[0]["user"] == "42"
        assert api2(hub, "presence_stats", {"channel": channel}) == {"num_clients": 1, "num_users": 1}
    assert client.call(1, {"channel": "open:room"})["result"] == {}
    assert client.call(4, {"channel": "open:room"})["result"]["presence"]  # the options are per namespace
    assert client.call(6, {"channel": "open:room"})["result"]["epoch"]
    client.close()
    subscribed = V1(hub)
    subscribed.call(None, {"token": connection_token("42")})
    position = subscribed.call(1, {"channel": "ro.feed:a"})["result"]
    subscribed.close()
    for n in (1, 2):  # published while the subscriber was away
        api2(hub, "publish", {"channel": "ro.feed:a", "data": {"n": n}})
    assert [p["data"] for p in api2(hub, "history", {"channel": "ro.feed:a"})["publications"]] == [
        {"n": 1}, {"n": 2}]
    back = V1(hub)
    back.call(None, {"token": connection_token("42")})
    recovered = back.call(1, {"channel": "ro.feed:a", "recover": True, "offset": position.get("offset", 0),
                              "epoch": position["epoch"]})["result"]
    assert recovered["recovered"] is True
    assert [p["data"] for p in recovered["publications"]] == [{"n": 1}, {"n": 2}]
    back.close()


def test_client_anonymous_connects_without_a_token_and_protected_channels(hub: SockhubProcess) -> None:
    anonymous = V1(hub)
    assert anonymous.call(None, {})["result"]["client"]  # no token: anonymous (client_anonymous)
    assert anonymous.call(1, {"channel": "news"})["result"]["recoverable"] is True  # "anonymous": true
    assert anonymous.call(1, {"channel": "open:room"})["error"]["code"] == 103  # not in that namespace
    assert anonymous.call(3, {"channel": "news", "data": {"a": 1}})["result"] == {}  # publish, subscribed
    anonymous.close()
    client = V1(hub)
    client.call(None, {"token": connection_token("42")})
    assert client.call(1, {"channel": "prot:room"})["error"]["code"] == 103  # protected
    assert client.call(1, {"channel": "prot:room#43"})["error"]["code"] == 103  # another user's
    assert client.call(1, {"channel": "prot:room#42"})["result"] == {}  # its own user-limited channel
    assert client.call(3, {"channel": "ro.feed:x", "data": {}})["error"]["code"] == 103  # subscribe_to_publish
    client.close()


def test_without_client_anonymous_a_connect_needs_a_token(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {**CONFIG_2X, "client_anonymous": False}, name="c2strict") as hub:
        client = V1(hub)
        client.send(None, {})
        assert client.closed()[0] == 3003  # bad request: no credentials


def test_a_1x_client_on_the_same_server_is_held_to_the_same_rules(tmp_path: Path) -> None:
    with SockhubProcess(tmp_path, {**CONFIG_2X, "secret": SECRET_1X}, name="c2with1x") as hub, \
            ProtocolClient(hub.ws_url) as old:
        old.connect(SECRET_1X, "42")
        assert old.subscribe("srv:other")["error"] == "permission denied"
        assert old.subscribe("prot:room")["error"] == "permission denied"
        assert not old.subscribe("prot:room#42").get("error")
        assert not old.subscribe("news").get("error")
        assert old.call("presence", {"channel": "news"})["error"] == "not available"
        assert old.call("history", {"channel": "news"})["error"] == "not available"
        assert not old.subscribe("open:room").get("error")
        assert not old.call("presence", {"channel": "open:room"}).get("error")
        subscribe_by_api(hub, "42", "srv:other")
        assert old.next_push("subscribe")["body"]["channel"] == "srv:other"
        api2(hub, "publish", {"channel": "srv:other", "data": {"to": "1.x"}})
        assert old.next_push("message")["body"]["data"] == {"to": "1.x"}
        assert not old.subscribe("srv:other").get("error")  # the server's subscription, adopted
        assert "Traceback" not in hub.logs()


def test_a_protocol_v2_client_is_held_to_the_same_rules(tmp_path: Path) -> None:
    """The v5 switches grant everything here; the 2.x options still refuse."""
    grant = {"allow_subscribe_for_client": True, "allow_presence_for_client": True, "allow_history_for_client": True,
             "presence": True, "history_size": 5, "history_ttl": "60s", "force_recovery": True}
    config = {**GENCONFIG, "namespaces": [
        {"name": "srv", **grant, "server_side": True},
        {"name": "ro", **grant, "presence_disable_for_client": True, "history_disable_for_client": True},
        {"name": "prot", **grant, "protected": True}, {"name": "open", **grant}]}
    with SockhubProcess(tmp_path, config, name="c2v2") as hub:
        client = V2(hub)
        assert client.connect(connection_token("42"))["connect"]["client"]
        assert client.call(subscribe={"channel": "srv:a"})["error"]["code"] == 103
        assert client.call(subscribe={"channel": "prot:a"})["error"]["code"] == 103
        assert "error" not in client.call(subscribe={"channel": "prot:a#42"})
        for channel in ("ro:a", "open:a"):
            assert "error" not in client.call(subscribe={"channel": channel})
        for query in ("presence", "presence_stats", "history"):
            assert client.call(**{query: {"channel": "ro:a"}})["error"] == {"code": 108, "message": "not available"}
            assert "error" not in client.call(**{query: {"channel": "open:a"}}), query
        subscribe_by_api(hub, "42", "srv:a")  # the server's subscription
        api2(hub, "publish", {"channel": "srv:a", "data": {"to": "v2"}})
        assert {"channel": "srv:a", "pub": {"data": {"to": "v2"}, "offset": 1}} in pushes(client, "pub")
        client.close()
        assert api2(hub, "history", {"channel": "ro:a"})["publications"] == []  # the API still answers


def pushes(client: V2, kind: str) -> list[dict[str, Any]]:
    """The v2 pushes read until one of ``kind`` came."""
    seen: list[dict[str, Any]] = []
    while not any(kind in push for push in seen):
        seen += [json.loads(line)["push"] for line in client.ws.recv().split("\n") if '"push"' in line]
    return seen


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for centrifuge-js")
def test_centrifuge_js_2_8_5_on_the_2x_config(hub: SockhubProcess) -> None:
    """The real client: an anonymous connect, a server_side channel refused,
    presence and history refused, a server-side channel's publication."""
    script = Path(__file__).with_name("js") / "v1config2x.js"
    done = subprocess.run(["node", str(script), hub.ws_url, connection_token("42", channels=["srv:feed"]),
                           hub.url + "/api", API_KEY], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    not_available = {"code": 108, "message": "not available"}
    assert json.loads(done.stdout) == {
        "anonymous": "string", "serverSide": {"code": 103, "message": "permission denied"},
        "presence": not_available, "presenceStats": not_available, "history": not_available,
        "serverSidePublication": {"channel": "srv:feed", "data": {"to": "server-side"}},
    }
