"""The proxy hooks' connection ``meta``, emulated headers, HTTP status
transforms and binary encoding (docs/proxy.md), and the connect hook's
``expire_at`` and ``channels`` for a 1.x client, against a real backend
(tests/support/backend.py) and a real sockhub process, with centrifuge-js
5.8.0 under node, raw protocol v2 JSON frames and the 1.x websocket client."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import websocket

from tests.integration.test_proxy_hooks import HOOK_PATHS, V2Raw, _wait_for, proxy_config
from tests.integration.wsclient import Closed, ProtocolClient
from tests.support.backend import ProxyBackend
from tests.support.server import ROOT, SockhubProcess

TRANSFORMS = [{"status_code": 404, "to_error": {"code": 404, "message": "not found"}},
              {"status_code": 409, "to_error": {"code": 1409, "message": "busy", "temporary": True}},
              {"status_code": 403, "to_disconnect": {"code": 4501, "reason": "forbidden"}}]
INTERNAL = {"code": 100, "message": "internal server error", "temporary": True}


@pytest.fixture(scope="module")
def backend() -> Iterator[ProxyBackend]:
    with ProxyBackend() as started:
        yield started


@pytest.fixture(scope="module")
def hub(backend: ProxyBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    config = proxy_config(backend, proxy_include_connection_meta=True,
                          proxy_emulated_headers=["X-Token", "Authorization"],
                          proxy_http_status_code_transforms=TRANSFORMS, expired_connection_close_delay=1,
                          proxy_max_response_size=1048576)
    process = SockhubProcess(tmp_path_factory.mktemp("extras"), config, name="extrashub")
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def allow_all(backend: ProxyBackend) -> None:
    for hook in HOOK_PATHS:
        backend.answer("/" + hook, {"user": "42"} if hook == "connect" else {})


def mine(backend: ProxyBackend, path: str, client: str) -> list[dict[str, Any]]:
    return [r.body for r in backend.requests(path) if r.body and r.body.get("client") == client]


# -- meta -------------------------------------------------------------------------------------


def test_the_connect_meta_goes_with_every_later_call(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "m1", "meta": {"plan": "gold", "ids": [1, 2]}})
    client = V2Raw(hub)
    try:
        connected = client.call("connect", {})["connect"]
        assert "meta" not in json.dumps(connected)  # server-only: the client never sees it
        assert "meta" not in mine(backend, "/connect", connected["client"])[0]
        assert client.call("subscribe", {"channel": "px:m"})["subscribe"] == {}
        assert client.call("publish", {"channel": "px:m", "data": {"n": 1}}).get("publish") == {}
        assert client.call("rpc", {"method": "m", "data": {}})["rpc"] == {}
        for path in ("/subscribe", "/publish", "/rpc"):
            assert mine(backend, path, connected["client"])[-1]["meta"] == {"plan": "gold", "ids": [1, 2]}, path
    finally:
        client.close()


def test_a_refresh_meta_replaces_it_and_sub_refresh_carries_it(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "m2", "meta": {"v": 1}, "expire_at": int(time.time()) + 1})
    backend.answer("/refresh", {"expire_at": int(time.time()) + 600, "meta": {"v": 2}})
    backend.answer("/subscribe", {"expire_at": int(time.time()) + 1})
    backend.answer("/sub_refresh", {"expire_at": int(time.time()) + 600})
    client = V2Raw(hub)
    try:
        connected = client.call("connect", {})["connect"]
        client.call("subscribe", {"channel": "px:r"})
        refreshes = _wait_for(lambda: mine(backend, "/refresh", connected["client"]))
        assert refreshes[0]["meta"] == {"v": 1}
        sub_refreshes = _wait_for(lambda: mine(backend, "/sub_refresh", connected["client"]))
        assert sub_refreshes[0]["meta"] in ({"v": 1}, {"v": 2})  # whichever deadline ran first
        client.call("rpc", {"method": "m"})
        assert mine(backend, "/rpc", connected["client"])[-1]["meta"] == {"v": 2}
    finally:
        client.close()


@pytest.mark.parametrize("meta", [[1, 2], "text", {"big": "x" * 70000}])
def test_a_bad_meta_is_the_backends_fault(hub: SockhubProcess, backend: ProxyBackend, meta: Any) -> None:
    backend.answer("/connect", {"user": "m3", "meta": meta})
    client = V2Raw(hub)
    try:
        assert client.call("connect", {})["error"] == INTERNAL
    finally:
        client.close()
    assert "Traceback" not in hub.logs()


def test_a_1x_connection_keeps_its_meta(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "7", "meta": {"tier": 3}})
    with ProtocolClient(hub.ws_url) as client:
        reply = client.call("connect", {})
        assert client.subscribe("px:one")["body"]["status"] is True
        seen = mine(backend, "/subscribe", reply["body"]["client"])
        assert seen[-1]["meta"] == {"tier": 3} and seen[-1]["user"] == "7"


# -- status transforms -------------------------------------------------------------------------


def test_statuses_become_the_configured_errors_and_disconnects(hub: SockhubProcess, backend: ProxyBackend) -> None:
    client = V2Raw(hub)
    try:
        client.call("connect", {})
        backend.answer("/rpc", status=404)
        assert client.call("rpc", {"method": "m"})["error"] == {"code": 404, "message": "not found"}
        backend.answer("/rpc", status=409)
        assert client.call("rpc", {"method": "m"})["error"] == {"code": 1409, "message": "busy", "temporary": True}
        backend.answer("/rpc", status=500)  # not listed: error 100 as before
        assert client.call("rpc", {"method": "m"})["error"] == INTERNAL
        backend.answer("/subscribe", status=403)
        with pytest.raises(Closed) as closed:
            client.call("subscribe", {"channel": "px:no"})
        assert (closed.value.code, closed.value.reason) == (4501, "forbidden")
    finally:
        client.close()


def test_a_1x_client_gets_the_transformed_outcomes(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/subscribe", status=404)
    with ProtocolClient(hub.ws_url) as client:
        client.call("connect", {})
        assert client.subscribe("px:gone")["error"] == "not found"
    backend.answer("/connect", status=403)
    with ProtocolClient(hub.ws_url) as client:
        with pytest.raises(Closed) as closed:
            client.call("connect", {})
        assert json.loads(closed.value.reason) == {"reason": "forbidden", "reconnect": False}


# -- emulated headers ---------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
def test_centrifuge_js_headers_reach_every_hook(hub: SockhubProcess, backend: ProxyBackend, format_name: str) -> None:
    backend.answer("/rpc", {"data": {"ok": True}})
    done = subprocess.run(["node", str(Path(__file__).with_name("js") / "v2headers.js"), hub.ws_url, format_name],
                          cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    seen = json.loads(done.stdout)
    assert seen["rpc"] == {"ok": True}
    connect = [r for r in backend.requests("/connect") if r.body.get("client") == seen["client"]]
    rpc = [r for r in backend.requests("/rpc") if r.body.get("client") == seen["client"]]
    for request in (connect[0], rpc[0]):
        assert request.headers["x-token"] == "abc-" + format_name
        assert "x-other" not in request.headers and "x-token" not in request.body
    again = [r for r in backend.requests("/connect") if r.body.get("client") == seen["again"]]
    assert again[0].headers["x-token"] == "second"


def test_a_real_header_wins_over_an_emulated_one(hub: SockhubProcess, backend: ProxyBackend) -> None:
    ws = websocket.create_connection(hub.ws_url, timeout=10, header=["Authorization: Bearer real"])
    try:
        ws.send(json.dumps({"id": 1, "connect": {"headers": {"Authorization": "Bearer forged", "X-Token": "t"}}}))
        client = json.loads(ws.recv())["connect"]["client"]
    finally:
        ws.close(timeout=1)
        ws.shutdown()
    seen = [r for r in backend.requests("/connect") if r.body.get("client") == client][0]
    assert seen.headers["authorization"] == "Bearer real" and seen.headers["x-token"] == "t"


@pytest.mark.parametrize("headers", [
    {"X-Token": "a\r\nX-Injected: 1"},
    {"X-Token": "a\nb"},
    {"X-Token": "a\x00"},
    {"X-Token": "caf\u00e9"},
    {"X-Token": "v" * 8193},
    {f"X-H{n}": "v" for n in range(65)},
])
def test_headers_that_cannot_be_sent_refuse_the_connect(hub: SockhubProcess, backend: ProxyBackend,
                                                        headers: dict[str, str]) -> None:
    before = len(backend.requests("/connect"))
    client = V2Raw(hub)
    try:
        with pytest.raises(Closed) as closed:
            client.call("connect", {"headers": headers})
        assert (closed.value.code, closed.value.reason) == (3501, "bad request")
    finally:
        client.close()
    assert len(backend.requests("/connect")) == before  # the backend never asked
    assert "Traceback" not in hub.logs()


# -- binary encoding ---------------------------------------------------------------------------


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def test_binary_encoding_sends_b64data_and_takes_both_forms(backend: ProxyBackend, tmp_path: Path) -> None:
    hub = SockhubProcess(tmp_path, proxy_config(backend, proxy_binary_encoding=True), name="binhub").start()
    try:
        backend.answer("/connect", {"user": "b1", "b64data": b64({"hi": 1}), "b64info": b64({"n": "B"})})
        backend.answer("/subscribe", {"b64data": b64({"sub": 1}), "b64info": b64({"seat": 2})})
        backend.answer("/publish", {"b64data": b64({"replaced": True})})
        backend.answer("/rpc", {"b64data": b64({"sum": 3})})
        client = V2Raw(hub)
        try:
            connected = client.call("connect", {"data": {"a": 1}})["connect"]
            assert connected["data"] == {"hi": 1}
            assert client.call("subscribe", {"channel": "px:b", "data": {"s": 1}})["subscribe"]["data"] == {"sub": 1}
            client.ws.send(json.dumps({"id": 90, "publish": {"channel": "px:b", "data": {"p": 1}}}))
            pushes: list[Any] = []
            while not pushes:  # the reply and the push, in one frame or two
                lines = client.ws.recv().splitlines()
                pushes += [json.loads(line)["push"] for line in lines if '"push"' in line]
            assert pushes[0]["pub"]["data"] == {"replaced": True}, pushes
            assert client.call("rpc", {"method": "m", "data": {"r": 1}})["rpc"] == {"data": {"sum": 3}}
            backend.answer("/rpc", {"data": {"plain": 1}})  # the JSON form still reads
            assert client.call("rpc", {"method": "m"})["rpc"] == {"data": {"plain": 1}}
        finally:
            client.close()
        who = connected["client"]
        for path, value in (("/connect", {"a": 1}), ("/subscribe", {"s": 1}), ("/publish", {"p": 1}),
                            ("/rpc", {"r": 1})):
            body = mine(backend, path, who)[0]
            assert body["encoding"] == "binary" and "data" not in body, (path, body)
            assert json.loads(base64.b64decode(body["b64data"])) == value, path
    finally:
        hub.stop()


# -- the 1.x dialect: expire_at and channels ---------------------------------------------------


def test_a_1x_connection_is_told_the_expiry_and_closed_after_it(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "e1", "expire_at": int(time.time()) + 2})
    with ProtocolClient(hub.ws_url) as client:
        body = client.call("connect", {})["body"]
        assert body["expires"] is True and body["expired"] is False and 1 <= body["ttl"] <= 2, body
        closed = client.wait_closed()
        assert json.loads(closed.reason) == {"reason": "expired", "reconnect": True}


def test_a_1x_refresh_without_a_token_asks_the_refresh_hook(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "e2", "expire_at": int(time.time()) + 2, "meta": {"m": 1}})
    backend.answer("/refresh", {"expire_at": int(time.time()) + 600})
    with ProtocolClient(hub.ws_url) as client:
        who = client.call("connect", {})["body"]["client"]
        body = client.call("refresh", {"user": "e2"})["body"]
        assert body["expires"] is True and body["expired"] is False and body["ttl"] > 500, body
        assert mine(backend, "/refresh", who)[0]["meta"] == {"m": 1}
        time.sleep(4)  # past the first expire_at and the close delay: still open
        assert "error" not in client.call("ping", {})
        backend.answer("/refresh", {"expired": True})
        body = client.call("refresh", {})["body"]
        assert body["expires"] is True and body["expired"] is True, body


def test_1x_ignores_the_connect_channels(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """1.x has no server-side subscriptions: the backend's channels are not
    subscribed, and nothing breaks (docs/proxy.md)."""
    backend.answer("/connect", {"user": "c1", "channels": ["px:srv", "news"]})
    with ProtocolClient(hub.ws_url) as first, ProtocolClient(hub.ws_url) as second:
        first_id = first.call("connect", {})["body"]["client"]
        second.call("connect", {})
        assert second.subscribe("px:srv")["body"]["status"] is True
        presence = second.call("presence", {"channel": "px:srv"})["body"]["data"]
        assert first_id not in presence and len(presence) == 1, presence
        assert "error" not in first.call("ping", {})


def _centrifuge_1x(hub: SockhubProcess, watch: float) -> list[dict[str, Any]]:
    done = subprocess.run(["node", str(Path(__file__).with_name("js") / "v1proxy.js"), hub.url, str(watch)],
                          cwd=ROOT, capture_output=True, timeout=60,
                          env={"NODE_PATH": str(ROOT / "node_modules"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr.decode()
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
def test_centrifuge_1x_refreshes_through_the_refresh_hook(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """centrifuge-js 1.5.0: told the connect hook's expiry, it refreshes
    without a token after ``ttl``, the refresh hook extends it: connected
    throughout, past the first expiry and the close delay."""
    backend.answer("/connect", {"user": "j1", "expire_at": int(time.time()) + 2})
    backend.answer("/refresh", {"expire_at": int(time.time()) + 600})
    events = _centrifuge_1x(hub, 6)
    kinds = [e["type"] for e in events]
    # (the disconnect after "end" is the script's own)
    assert kinds[:3] == ["connect", "refresh", "end"] and events[2]["connected"] is True, events
    refreshed = mine(backend, "/refresh", events[0]["client"])
    assert len(refreshed) == 1 and refreshed[0]["user"] == "j1"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
def test_centrifuge_1x_expires_and_connects_again(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """The refresh hook says ``expired``: the client keeps asking, the server
    closes it ``expired`` after the close delay, it reconnects through the
    connect hook (a new connection)."""
    backend.answer("/connect", {"user": "j2", "expire_at": int(time.time()) + 2})
    backend.answer("/refresh", {"expired": True})
    events = _centrifuge_1x(hub, 7)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "connect" and "refresh" in kinds, events
    closed = [e for e in events if e["type"] == "disconnect"]
    assert closed and closed[0]["reason"] == "expired" and closed[0]["reconnect"] is True, events
    connects = [e for e in events if e["type"] == "connect"]
    assert len(connects) >= 2 and connects[1]["client"] != connects[0]["client"], events


def test_a_token_connection_sends_its_emulated_headers_too(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """The connect hook is not asked (a JWT), the later hooks get the headers."""
    import jwt

    from tests.integration.conftest import SECRET

    token = jwt.encode({"sub": "t1", "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    before = len(backend.requests("/connect"))
    client = V2Raw(hub)
    try:
        connected = client.call("connect", {"token": token, "headers": {"X-Token": "from-jwt-conn"}})["connect"]
        assert client.call("rpc", {"method": "m"})["rpc"] == {}
    finally:
        client.close()
    assert len(backend.requests("/connect")) == before
    rpc = [r for r in backend.requests("/rpc") if r.body.get("client") == connected["client"]]
    assert rpc[0].headers["x-token"] == "from-jwt-conn" and rpc[0].body["user"] == "t1"
