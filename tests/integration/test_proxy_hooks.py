"""The proxy hooks (app.proxy, docs/proxy.md) against a real backend
(tests/support/backend.py) and a real sockhub process, with real clients:
centrifuge-python 0.7.0 and centrifuge-js 5.8.0 under node (protocol v2,
JSON and protobuf), raw protocol v2 JSON frames, and the 1.x raw websocket
client.

Each hook allows, denies with an error, disconnects, times out, answers
garbage, another status or too much; the client sees the outcome in its
dialect's form."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import websocket

from tests.integration.conftest import SECRET
from tests.integration.test_v2_python_client import FORMATS, Events, as_sent, disconnect, new_client, until
from tests.integration.wsclient import Closed, ProtocolClient
from tests.support.backend import ProxyBackend
from tests.support.server import ROOT, SockhubProcess

HOOK_PATHS = ("connect", "refresh", "subscribe", "publish", "rpc", "sub_refresh")
MAX_RESPONSE = 65536


def proxy_config(backend: ProxyBackend, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"secret": SECRET, "proxy_http_headers": ["Cookie", "Authorization"],
                              "proxy_max_response_size": MAX_RESPONSE, "namespaces": [
                                  {"name": "px", "proxy_subscribe": True, "proxy_publish": True, "presence": True,
                                   "proxy_sub_refresh": True},
                                  {"name": "pub", "proxy_publish": True}]}
    for hook in HOOK_PATHS:
        config[f"proxy_{hook}_endpoint"] = backend.url("/" + hook)
        config[f"proxy_{hook}_timeout"] = 1
    config.update(extra)
    return config


@pytest.fixture(scope="module")
def backend() -> Iterator[ProxyBackend]:
    with ProxyBackend() as started:
        yield started


@pytest.fixture(scope="module")
def hub(backend: ProxyBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path_factory.mktemp("proxy"), proxy_config(backend), name="proxyhub")
    process.start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def allow_all(request: pytest.FixtureRequest) -> None:
    """Every hook allows (user "42") unless a test says otherwise."""
    if "backend" in request.fixturenames:
        backend: ProxyBackend = request.getfixturevalue("backend")
        for hook in HOOK_PATHS:
            backend.answer("/" + hook, {"user": "42"} if hook == "connect" else {})


# -- protocol v2 with centrifuge-python ---------------------------------------------


@pytest.mark.async_timeout(60)
@FORMATS
async def test_the_python_sdk_through_every_hook(hub: SockhubProcess, backend: ProxyBackend,
                                                 use_protobuf: bool) -> None:
    backend.answer("/connect", {"user": "42", "info": {"name": "Al"}, "data": {"hello": "w"}, "channels": ["feed"]})
    backend.answer("/subscribe", {"info": {"role": "guest"}, "data": {"welcome": 1}})
    backend.answer("/publish", {"data": {"n": 1, "checked": True}})
    backend.answer("/rpc", {"data": {"sum": 3}})
    before = len(backend.requests())
    events = Events()
    client = new_client(hub, events, use_protobuf, data=as_sent(use_protobuf, {"from": "client"}),
                        headers={"Authorization": "Bearer abc", "Cookie": "sid=1", "X-Other": "no"})
    await client.connect()
    try:
        await until(lambda: events.connected and events.server_subscribed)
        connected = events.connected[0]
        assert connected.data == as_sent(use_protobuf, {"hello": "w"})
        assert events.server_subscribed[0].channel == "feed"
        seen = backend.requests("/connect")[-1]
        assert seen.body == {"client": connected.client, "transport": "websocket",
                             "protocol": "protobuf" if use_protobuf else "json", "encoding": "json",
                             "name": "python", "version": "", "data": {"from": "client"}}
        assert seen.headers["authorization"] == "Bearer abc" and seen.headers["cookie"] == "sid=1"
        assert "x-other" not in seen.headers and seen.headers["content-type"] == "application/json"

        sub = client.new_subscription("px:room", events=events)
        await sub.subscribe()
        await until(lambda: events.subscribed)
        assert events.subscribed[0].data == as_sent(use_protobuf, {"welcome": 1})
        assert backend.requests("/subscribe")[-1].body["channel"] == "px:room"
        assert backend.requests("/subscribe")[-1].body["user"] == "42"

        await sub.publish(as_sent(use_protobuf, {"n": 1}))
        await until(lambda: events.publications)
        assert events.publications[0].pub.data == as_sent(use_protobuf, {"n": 1, "checked": True})
        assert backend.requests("/publish")[-1].body["data"] == {"n": 1}

        result = await client.rpc("sum", as_sent(use_protobuf, {"a": 1, "b": 2}))
        assert result.data == as_sent(use_protobuf, {"sum": 3})
        rpc = backend.requests("/rpc")[-1].body
        assert rpc["method"] == "sum" and rpc["data"] == {"a": 1, "b": 2} and rpc["user"] == "42"
        assert len(backend.requests()) - before == 4
    finally:
        await disconnect(client)


# -- protocol v2, raw JSON frames: every outcome of every hook -------------------------


class V2Raw:
    """Protocol v2 JSON over websocket-client: one command, its reply."""

    def __init__(self, hub: SockhubProcess) -> None:
        self.ws = websocket.create_connection(hub.ws_url, timeout=10)
        self.ids = iter(range(1, 1000))

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        command_id = next(self.ids)
        self.ws.send(json.dumps({"id": command_id, method: params}))
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise Closed(int.from_bytes(data[:2], "big"), data[2:].decode())
            for line in data.decode().splitlines():
                reply = json.loads(line)
                if reply.get("id") == command_id:
                    return reply  # type: ignore[no-any-return]

    def next_item(self) -> dict[str, Any]:
        """The next reply or push (raises Closed at the close frame)."""
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise Closed(int.from_bytes(data[:2], "big"), data[2:].decode())
            lines = [json.loads(line) for line in data.decode().splitlines()]
            items = [item for item in lines if item]  # {} is a ping
            if items:
                return items[0]  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            if self.ws.connected:
                self.ws.close(timeout=1)
        finally:
            self.ws.shutdown()


#: scenario -> (backend answer kwargs, the error the client gets or the close)
SCENARIOS: dict[str, tuple[dict[str, Any], Any]] = {
    "deny": ({"error": {"code": 1000, "message": "go away"}}, {"code": 1000, "message": "go away"}),
    "deny_temporary": ({"error": {"code": 403, "message": "later", "temporary": True}},
                       {"code": 403, "message": "later", "temporary": True}),
    "disconnect": ({"disconnect": {"code": 4501, "reason": "banned"}}, Closed(4501, "banned")),
    "slow": ({"result": {}, "delay": 3}, {"code": 100, "message": "internal server error", "temporary": True}),
    "garbage": ({"raw": b"<html>oops</html>"}, {"code": 100, "message": "internal server error", "temporary": True}),
    "status_500": ({"status": 500}, {"code": 100, "message": "internal server error", "temporary": True}),
    "too_long": ({"raw": b'{"result":{"data":"' + b"x" * MAX_RESPONSE + b'"}}'},
                 {"code": 100, "message": "internal server error", "temporary": True}),
    "code_out_of_range": ({"error": {"code": 99, "message": "mine"}},
                          {"code": 100, "message": "internal server error", "temporary": True}),
}


def _answer(backend: ProxyBackend, hook: str, how: dict[str, Any]) -> None:
    how = dict(how)
    backend.answer("/" + hook, how.pop("result", None), **how)


def _run(client: V2Raw, hook: str) -> dict[str, Any]:
    """The hook's command (after what it needs); its reply."""
    if hook == "connect":
        return client.call("connect", {})
    assert "error" not in client.call("connect", {})
    if hook == "subscribe":
        return client.call("subscribe", {"channel": "px:room"})
    if hook == "publish":
        assert "error" not in client.call("subscribe", {"channel": "pub:room"})
        return client.call("publish", {"channel": "pub:room", "data": {"n": 1}})
    return client.call("rpc", {"method": "m", "data": {}})


@pytest.mark.parametrize("hook", ["connect", "subscribe", "publish", "rpc"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_outcome_of_every_hook(hub: SockhubProcess, backend: ProxyBackend, hook: str, scenario: str) -> None:
    how, expected = SCENARIOS[scenario]
    _answer(backend, hook, how)
    client = V2Raw(hub)
    started = time.monotonic()
    try:
        if isinstance(expected, Closed):
            with pytest.raises(Closed) as closed:
                _run(client, hook)
            assert (closed.value.code, closed.value.reason) == (expected.code, expected.reason)
            return
        reply = _run(client, hook)
        assert reply["error"] == expected, reply
        if scenario == "slow":
            assert time.monotonic() - started < 2.5  # the 1 s timeout, not the backend's 3 s
        # the connection lives on: another command is answered
        backend.answer("/rpc", {"data": {"ok": 1}})
        if hook != "connect":
            assert client.call("rpc", {"method": "m"})["rpc"] == {"data": {"ok": 1}}
    finally:
        client.close()


def test_a_publish_hook_that_is_not_switched_on_is_not_asked(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """Top-level channels have no proxy_publish: the ``publish`` option decides (off: 103)."""
    client = V2Raw(hub)
    try:
        client.call("connect", {})
        client.call("subscribe", {"channel": "plain"})
        before = len(backend.requests("/publish"))
        assert client.call("publish", {"channel": "plain", "data": {}})["error"]["code"] == 103
        assert len(backend.requests("/publish")) == before
    finally:
        client.close()


def _presence_users(client: V2Raw, channel: str) -> set[str]:
    reply = client.call("presence", {"channel": channel})
    assert "error" not in reply, reply
    return {info["user"] for info in reply["presence"].get("presence", {}).values()}


def test_overrides_and_subs_of_the_connect_and_subscribe_hooks(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """The connect answer's ``subs`` (with ``info``, ``data`` and an
    ``override``) beside its ``channels``, and the subscribe answer's
    ``override``, change the channel's options for that subscription only:
    here ``presence`` off in ``px:`` channels that keep presence."""
    backend.answer("/connect", {"user": "ov", "channels": ["px:two"], "subs": {
        "px:one": {"info": {"r": 1}, "data": {"hello": 1}, "override": {"presence": {"value": False}}}}})
    backend.answer("/subscribe", {"override": {"presence": {"value": False}}})
    client, other = V2Raw(hub), V2Raw(hub)
    try:
        subs = client.call("connect", {})["connect"]["subs"]
        assert set(subs) == {"px:one", "px:two"} and subs["px:one"]["data"] == {"hello": 1}
        assert _presence_users(client, "px:one") == set()  # overridden
        assert _presence_users(client, "px:two") == {"ov"}  # the namespace's presence
        assert "error" not in client.call("subscribe", {"channel": "px:three"})
        backend.answer("/subscribe", {})
        assert "error" not in other.call("connect", {}) and "error" not in other.call(
            "subscribe", {"channel": "px:three"})
        assert _presence_users(client, "px:three") == {"ov"}  # only the other one's subscription
        backend.answer("/subscribe", {"override": {"presence": True}})  # not {"value": bool}
        assert client.call("subscribe", {"channel": "px:four"})["error"]["code"] == 100
        backend.answer("/connect", {"user": "ov", "subs": {"px:one": {"override": {"force_nothing": {}}}}})
        third = V2Raw(hub)
        try:
            assert third.call("connect", {})["error"]["code"] == 100
        finally:
            third.close()
    finally:
        client.close()
        other.close()


# -- server-side refresh of connections and subscriptions -------------------------------------


def _wait_for(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not in time")


def test_the_refresh_hook_extends_then_ends_a_connection(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "r1", "expire_at": int(time.time()) + 1})
    backend.answer("/refresh", {"expire_at": int(time.time()) + 3})
    client = V2Raw(hub)
    try:
        reply = client.call("connect", {})["connect"]
        assert "expires" not in reply and "ttl" not in reply, reply  # server-side refresh
        first = _wait_for(lambda: [r for r in backend.requests("/refresh") if r.body["client"] == reply["client"]])
        assert first[0].body["user"] == "r1"
        backend.answer("/rpc", {"data": {"alive": True}})
        assert client.call("rpc", {"method": "m"})["rpc"] == {"data": {"alive": True}}
        backend.answer("/refresh", {"expired": True})
        with pytest.raises(Closed) as closed:
            while True:
                client.next_item()
        assert (closed.value.code, closed.value.reason) == (3005, "connection expired")
        assert len([r for r in backend.requests("/refresh") if r.body["client"] == reply["client"]]) == 2
    finally:
        client.close()


def test_the_sub_refresh_hook_ends_a_subscription(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/subscribe", {"expire_at": int(time.time()) + 1})
    backend.answer("/sub_refresh", {"expired": True})
    client = V2Raw(hub)
    try:
        connected = client.call("connect", {})["connect"]
        reply = client.call("subscribe", {"channel": "px:short"})["subscribe"]
        assert "expires" not in reply and "ttl" not in reply, reply
        push = client.next_item()
        assert push["push"] == {"channel": "px:short", "unsubscribe": {"code": 2501, "reason": "subscription expired"}}
        seen = [r.body for r in backend.requests("/sub_refresh") if r.body["client"] == connected["client"]]
        assert seen == [{"client": connected["client"], "transport": "websocket", "protocol": "json",
                         "encoding": "json", "user": "42", "channel": "px:short"}]
    finally:
        client.close()


# -- the 1.x dialect ----------------------------------------------------------------------


def reply_client(presence: dict[str, Any]) -> str:
    assert len(presence) == 1, presence
    return next(iter(presence))


def test_a_1x_client_connects_and_subscribes_through_the_hooks(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", {"user": "7", "info": {"name": "Bo"}})
    backend.answer("/subscribe", {"info": {"seat": 3}})
    with ProtocolClient(hub.ws_url, header=["Authorization: Bearer one"], cookie="sid=2") as client:
        reply = client.call("connect", {})
        assert reply["body"]["client"] and not reply.get("error"), reply
        seen = backend.requests("/connect")[-1]
        assert seen.body == {"client": reply["body"]["client"], "transport": "websocket", "protocol": "json",
                             "encoding": "json", "name": "", "version": ""}
        assert seen.headers["cookie"] == "sid=2" and seen.headers["authorization"] == "Bearer one"
        # a private channel: the hook replaces the sign
        reply = client.subscribe("$px:secret")
        assert reply["body"]["status"] is True and not reply.get("error"), reply
        assert backend.requests("/subscribe")[-1].body["user"] == "7"
        presence = client.call("presence", {"channel": "$px:secret"})["body"]["data"]
        mine = presence[client.client_id or reply_client(presence)]
        assert (mine["user"], mine["default_info"], mine["channel_info"]) == ("7", {"name": "Bo"}, {"seat": 3})
        backend.answer("/subscribe", error={"code": 403, "message": "permission denied"})
        reply = client.subscribe("px:closed")
        assert reply["error"] == "permission denied", reply
        backend.answer("/subscribe", status=502)
        reply = client.subscribe("px:down")
        assert (reply["error"], reply.get("advice")) == ("internal server error", "retry"), reply
        # publish: the hook allows (px has no publish option) and replaces the data
        backend.answer("/publish", {"data": {"n": 2}})
        reply = client.call("publish", {"channel": "$px:secret", "data": {"n": 1}})
        assert reply["body"]["status"] is True and not reply.get("error"), reply
        assert client.next_push("message")["body"]["data"] == {"n": 2}
        assert backend.requests("/publish")[-1].body["data"] == {"n": 1}


@pytest.mark.parametrize("how, reason, reconnect", [
    ({"disconnect": {"code": 4500, "reason": "banned"}}, "banned", False),
    ({"error": {"code": 401, "message": "who are you"}}, "who are you", False),
    ({"raw": b"nope"}, "internal server error", True),
])
def test_a_1x_connect_refused_by_the_hook(hub: SockhubProcess, backend: ProxyBackend, how: dict[str, Any],
                                         reason: str, reconnect: bool) -> None:
    _answer(backend, "connect", how)
    with ProtocolClient(hub.ws_url) as client:
        with pytest.raises(Closed) as closed:
            client.call("connect", {})
        assert json.loads(closed.value.reason) == {"reason": reason, "reconnect": reconnect}


def test_a_1x_token_still_works_beside_the_hook(hub: SockhubProcess, backend: ProxyBackend) -> None:
    before = len(backend.requests("/connect"))
    with ProtocolClient(hub.ws_url) as client:
        client.connect(SECRET, "9")
    assert len(backend.requests("/connect")) == before


# -- a backend down for 10 s -----------------------------------------------------------------


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_backend_down_for_10s_blocks_nothing_and_leaks_nothing(
        sockhub: Callable[..., SockhubProcess], tmp_path: Path) -> None:
    with ProxyBackend() as backend:
        backend.answer("/connect", {"user": "5"})
        hub = sockhub(proxy_config(backend))
        watcher = ProtocolClient(hub.ws_url)
        watcher.connect(SECRET, "w")
        probe = V2Raw(hub)
        assert "connect" in probe.call("connect", {})
        probe.close()
        time.sleep(0.5)
        baseline = _fds(hub.pid)
        backend.down()
        outcomes, pings = [], []
        until_time = time.monotonic() + 10
        while time.monotonic() < until_time:
            client = V2Raw(hub)
            started = time.monotonic()
            outcomes.append((client.call("connect", {})["error"]["code"], time.monotonic() - started))
            client.close()
            started = time.monotonic()
            watcher.call("ping", {})
            pings.append(time.monotonic() - started)
            time.sleep(0.1)
        backend.up()
        client = V2Raw(hub)
        assert "connect" in client.call("connect", {})
        client.close()
        watcher.close()
        assert len(outcomes) >= 20 and {code for code, _ in outcomes} == {100}
        assert max(took for _, took in outcomes) < 1.5, outcomes
        assert max(pings) < 0.5, pings
        deadline = time.monotonic() + 10
        while _fds(hub.pid) > baseline and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _fds(hub.pid) <= baseline, (baseline, _fds(hub.pid))
        # a warning per endpoint every 10 s at most, not one per failed call
        warned = [line for line in hub.logs().splitlines() if "sockhub.proxy: proxy http" in line]
        assert 1 <= len(warned) <= 3 < len(outcomes), warned


# -- protocol v2 with centrifuge-js 5.8.0 under node -------------------------------------------

JS_SCRIPT = Path(__file__).with_name("js") / "v2proxy.js"


def _node(hub: SockhubProcess, format_name: str, mode: str) -> Any:
    done = subprocess.run(["node", str(JS_SCRIPT), hub.ws_url, format_name, mode], cwd=ROOT,
                          capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
@pytest.mark.parametrize("format_name", ["json", "protobuf"])
def test_centrifuge_js_through_the_hooks(hub: SockhubProcess, backend: ProxyBackend, format_name: str) -> None:
    backend.answer("/connect", {"user": "js1", "data": {"hello": "js"}})
    backend.answer("/subscribe", {"data": {"welcome": 2}})
    backend.answer("/publish", {"data": {"n": 1, "checked": True}})
    backend.answer("/rpc", {"data": {"sum": 3}})
    seen = _node(hub, format_name, "allow")
    assert seen == {"connectData": {"hello": "js"}, "subscribeData": {"welcome": 2},
                    "publication": {"n": 1, "checked": True}, "rpc": {"sum": 3}}
    connect = [r.body for r in backend.requests("/connect") if r.body.get("name") == "js"][-1]
    assert connect["data"] == {"from": "js"} and connect["protocol"] == format_name


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node.js")
def test_centrifuge_js_refused_by_the_connect_hook(hub: SockhubProcess, backend: ProxyBackend) -> None:
    backend.answer("/connect", disconnect={"code": 4500, "reason": "banned"})
    assert _node(hub, "json", "refused") == {"code": 4500, "reason": "banned", "state": "disconnected"}


def test_a_1x_sockjs_client_connects_through_the_hook(hub: SockhubProcess, backend: ProxyBackend) -> None:
    """SockJS (its websocket transport): the hook hears ``sockjs`` and the cookie."""
    backend.answer("/connect", {"user": "s1"})
    ws = websocket.create_connection(f"ws://127.0.0.1:{hub.port}/connection/0/prx1/websocket", timeout=10,
                                     cookie="sid=sockjs")
    try:
        assert ws.recv() == "o"
        ws.send(json.dumps([json.dumps({"uid": "1", "method": "connect", "params": {}})]))
        frame = ws.recv()
        assert frame.startswith("a["), frame
        reply = json.loads(json.loads(frame[1:])[0])
        assert reply["body"]["client"] and not reply.get("error"), reply
        seen = backend.requests("/connect")[-1]
        assert (seen.body["transport"], seen.body["client"]) == ("sockjs", reply["body"]["client"])
        assert seen.headers["cookie"] == "sid=sockjs"
    finally:
        ws.close(timeout=1)
        ws.shutdown()


@pytest.mark.async_timeout(60)
async def test_an_http_stream_client_through_the_connect_hook(backend: ProxyBackend, tmp_path: Path) -> None:
    """Protocol v2 over HTTP streaming (emulation): the hook hears
    ``http_stream`` and the forwarded cookie."""
    from tests.support.emulation import Stream

    backend.answer("/connect", {"user": "hs1", "data": {"via": "stream"}})
    hub = SockhubProcess(tmp_path, proxy_config(backend, http_stream=True), name="streamhub").start()
    try:
        stream = await Stream.open(hub.port, "POST", "/connection/http_stream",
                                   json.dumps({"id": 1, "connect": {}}).encode(), "json",
                                   {"Content-Type": "application/json", "Cookie": "sid=hs"})
        try:
            reply = await stream.next_item()
            assert reply["id"] == 1 and reply["connect"]["data"] == {"via": "stream"}, reply
        finally:
            stream.close()
        seen = [r for r in backend.requests("/connect") if r.body.get("client") == reply["connect"]["client"]]
        assert seen[0].body["transport"] == "http_stream" and seen[0].headers["cookie"] == "sid=hs"
    finally:
        hub.stop()
