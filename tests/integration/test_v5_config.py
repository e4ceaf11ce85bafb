"""A Centrifugo v5 config file, unchanged, read by ``sockhub checkconfig``
and by a running server: its names mapped onto the options, its durations,
and every permission switch proven with a protocol v2 client over the
websocket (allowed and denied), the allowed origins at the handshake, and
connection and subscription tokens signed RS256, ES256 and HS256."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import jwt
import pytest
import websocket

from app.config import ConfigError, load_options, parse_duration
from tests.integration.v5config import ALLOWED_ORIGIN, HMAC_KEY, Keys, v5_config
from tests.integration.wsclient import ProtocolClient
from tests.support.redis import redis_server
from tests.support.server import SockhubProcess, run_sockhub

KEYS = Keys()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[SockhubProcess]:
    process = SockhubProcess(tmp_path, v5_config(KEYS), name="v5")
    yield process.start()
    process.stop()


class V2:
    """A protocol v2 JSON client on a raw websocket: one command, its reply."""

    def __init__(self, hub: SockhubProcess, origin: str | None = None) -> None:
        # websocket-client sends an Origin of its own unless told not to
        extra: dict[str, Any] = {"origin": origin} if origin else {"suppress_origin": True}
        self.ws = websocket.create_connection(hub.ws_url, timeout=10, **extra)
        self.last_id = 0

    def call(self, **command: Any) -> dict[str, Any]:
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, **command}))
        while True:
            for line in self.ws.recv().split("\n"):
                reply = json.loads(line)
                if reply.get("id") == self.last_id:
                    return reply  # type: ignore[no-any-return]

    def connect(self, token: str = "") -> dict[str, Any]:
        return self.call(connect={"token": token} if token else {})

    def close_frame(self) -> tuple[int, str]:
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big"), data[2:].decode()

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        finally:
            self.ws.shutdown()


def error(reply: dict[str, Any]) -> int:
    """The reply's error code, 0 for a success."""
    return int(reply.get("error", {}).get("code", 0))


def user(hub: SockhubProcess, name: str = "42") -> V2:
    client = V2(hub)
    assert error(client.connect(KEYS.token(sub=name))) == 0
    return client


def anonymous(hub: SockhubProcess) -> V2:
    client = V2(hub)
    assert error(client.connect()) == 0  # allow_anonymous_connect_without_token
    return client


def test_checkconfig_accepts_the_v5_file_and_maps_its_names(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(v5_config(KEYS)))
    done = run_sockhub(["checkconfig", "-c", str(path)])
    status, output = done.returncode, done.stdout + done.stderr
    assert status == 0 and f"{path}: ok" in output, output
    assert "'health' is a Centrifugo option sockhub does not use" in output
    options = load_options(str(path))
    assert options.secret == "" and options.token_hmac_secret_key == v5_config(KEYS)["token_hmac_secret_key"]
    assert options.allowed_origins == [ALLOWED_ORIGIN, "https://*.example.org"]
    assert (options.channel.history_lifetime, options.channel.recover) == (300, True)
    assert options.expired_connection_close_delay == 1.0 and options.presence_ping_interval == 90.0
    assert options.stale_connection_close_delay == 10.0 and options.client_request_max_size == 65536
    assert options.expired_subscription_close_delay == 2.5
    spaces = {ns.name: ns.options for ns in options.namespaces}
    assert spaces["open"].history_lifetime == 60 and spaces["open"].allow_publish_for_subscriber
    assert spaces["closed"].history_lifetime == 1  # "500ms": rounded up to whole seconds
    assert spaces["wide"].allow_subscribe_for_anonymous and not spaces["open"].allow_subscribe_for_anonymous


@pytest.mark.parametrize("text, seconds", [("300s", 300), ("1m30s", 90), ("500ms", 0.5), ("1.5h", 5400),
                                           ("0", 0), ("2h45m", 9900), ("250us", 0.00025)])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5", "-1s", "1d", "s", "1.s5", "ms", "1e3s"])
def test_a_bad_duration_is_one_clear_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"token_hmac_secret_key": "k", "client_expired_close_delay": value}))
    with pytest.raises(ConfigError, match="expired_connection_close_delay: expected a number"):
        load_options(str(path))


def test_durations_and_lists_from_the_environment() -> None:
    options = load_options(None, {"SOCKHUB_TOKEN_HMAC_SECRET_KEY": "k", "SOCKHUB_PING_INTERVAL": "1m",
                                  "SOCKHUB_ALLOWED_ORIGINS": "http://a.example, http://b.example",
                                  "SOCKHUB_HISTORY_LIFETIME": "2m"})
    assert options.ping_interval == 60 and options.channel.history_lifetime == 120
    assert options.allowed_origins == ["http://a.example", "http://b.example"]


def test_a_bad_public_key_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"token_rsa_public_key": KEYS.public_pem(KEYS.ec)}))
    with pytest.raises(ConfigError, match="token_rsa_public_key: a PEM public key of another kind"):
        load_options(str(path))
    path.write_text(json.dumps({"token_ecdsa_public_key": "not a key"}))
    with pytest.raises(ConfigError, match="token_ecdsa_public_key: not a PEM public key"):
        load_options(str(path))


def test_subscribe_switches(hub: SockhubProcess) -> None:
    named, nobody = user(hub), anonymous(hub)
    try:
        assert error(named.call(subscribe={"channel": "open:a"})) == 0  # allow_subscribe_for_client
        assert error(named.call(subscribe={"channel": "news"})) == 103  # off at the top level
        assert error(named.call(subscribe={"channel": "closed:a"})) == 103  # off in the namespace
        assert error(nobody.call(subscribe={"channel": "wide:a"})) == 0  # allow_subscribe_for_anonymous
        assert error(nobody.call(subscribe={"channel": "open:a"})) == 103  # for clients with a user only
        # a subscription token grants its channel: RS256, ES256, HS256
        for index, alg in enumerate(("RS256", "ES256", "HS256")):
            channel = f"closed:t{index}"
            reply = named.call(subscribe={"channel": channel, "token": KEYS.token(alg, sub="42", channel=channel)})
            assert error(reply) == 0, (alg, reply)
        reply = named.call(subscribe={"channel": "closed:x", "token": KEYS.token("stranger", sub="42",
                                                                                channel="closed:x")})
        assert error(reply) == 103  # a signature that does not verify
    finally:
        named.close()
        nobody.close()


def test_user_limited_channels(hub: SockhubProcess) -> None:
    named = user(hub)
    try:
        assert error(named.call(subscribe={"channel": "users:#42"})) == 0
        assert error(named.call(subscribe={"channel": "users:#41,42"})) == 0
        assert error(named.call(subscribe={"channel": "users:#43"})) == 103
        assert error(named.call(subscribe={"channel": "open:#43"})) == 103  # still limited to its users
        assert error(named.call(subscribe={"channel": "closed:#42"})) == 103  # the switch is off there
    finally:
        named.close()


def test_publish_switches(hub: SockhubProcess) -> None:
    named, nobody = user(hub), anonymous(hub)
    data = {"x": 1}
    try:
        assert error(named.call(publish={"channel": "open:a", "data": data})) == 103  # not subscribed
        assert error(named.call(subscribe={"channel": "open:a"})) == 0
        assert error(named.call(publish={"channel": "open:a", "data": data})) == 0  # allow_publish_for_subscriber
        assert error(named.call(publish={"channel": "wide:b", "data": data})) == 0  # allow_publish_for_client
        assert error(nobody.call(publish={"channel": "wide:b", "data": data})) == 103  # not for anonymous
        channel = "closed:p"
        token = KEYS.token(sub="42", channel=channel)
        assert error(named.call(subscribe={"channel": channel, "token": token})) == 0
        assert error(named.call(publish={"channel": channel, "data": data})) == 103  # subscribed, no switch
    finally:
        named.close()
        nobody.close()


@pytest.mark.parametrize("method", ["presence", "presence_stats", "history"])
def test_presence_and_history_switches(hub: SockhubProcess, method: str) -> None:
    named, nobody = user(hub), anonymous(hub)
    try:
        assert error(named.call(**{method: {"channel": "open:a"}})) == 103  # for subscribers only
        assert error(named.call(subscribe={"channel": "open:a"})) == 0
        assert error(named.call(**{method: {"channel": "open:a"}})) == 0
        assert error(named.call(**{method: {"channel": "wide:a"}})) == 0  # allow_*_for_client
        assert error(nobody.call(**{method: {"channel": "wide:a"}})) == 103  # not for anonymous
        channel = "closed:h"
        assert error(named.call(subscribe={"channel": channel, "token": KEYS.token(sub="42", channel=channel)})) == 0
        assert error(named.call(**{method: {"channel": channel}})) == 103  # subscribed, no switch
    finally:
        named.close()
        nobody.close()


def test_connection_tokens_of_each_algorithm(hub: SockhubProcess) -> None:
    for alg in ("RS256", "ES256", "HS256", "HS384"):
        client = V2(hub)
        try:
            reply = client.connect(KEYS.token(alg, sub="7", info={"alg": alg}))
            assert error(reply) == 0 and reply["connect"]["client"], (alg, reply)
        finally:
            client.close()
    client = V2(hub)
    try:
        client.ws.send(json.dumps({"id": 1, "connect": {"token": KEYS.token("stranger", sub="7")}}))
        assert client.close_frame() == (3500, "invalid token")
    finally:
        client.close()
    client = V2(hub)
    try:
        assert error(client.connect(KEYS.token("RS256", ttl=-10, sub="7"))) == 109  # expired
    finally:
        client.close()


def test_anonymous_connect_needs_its_switch(tmp_path: Path) -> None:
    config = {**v5_config(KEYS), "allow_anonymous_connect_without_token": False}
    with SockhubProcess(tmp_path, config, name="strict") as strict:
        client = V2(strict)
        try:
            client.ws.send(json.dumps({"id": 1, "connect": {}}))
            assert client.close_frame() == (3501, "bad request")
        finally:
            client.close()


def test_allowed_origins_at_the_handshake(hub: SockhubProcess) -> None:
    for origin in (ALLOWED_ORIGIN, "https://APP.example.org", None):
        client = V2(hub, origin)  # allowed, or no Origin (not a browser)
        try:
            assert error(client.connect(KEYS.token(sub="1"))) == 0
        finally:
            client.close()
    for origin in ("http://evil.example", "https://example.org", "http://allowed.example.evil",
                   f"http://127.0.0.1:{hub.port}"):  # the server's own origin is not listed either
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(hub.ws_url, timeout=10, origin=origin)
        assert refused.value.status_code == 403, origin


def test_a_1x_config_keeps_its_rules(sockhub: Callable[..., SockhubProcess]) -> None:
    """With a 1.x ``secret``, the 1.x channel options decide (auto mode):
    any channel without a token, publish with ``publish``; and a switch
    grants more."""
    hub = sockhub({"token_hmac_secret_key": v5_config(KEYS)["token_hmac_secret_key"],
                   "namespaces": [{"name": "extra", "allow_publish_for_client": True}]})
    named = user(hub)
    try:
        assert error(named.call(subscribe={"channel": "news"})) == 0
        assert error(named.call(publish={"channel": "news", "data": {}})) == 103  # no publish option
        assert error(named.call(publish={"channel": "extra:a", "data": {}})) == 0  # the switch grants it
    finally:
        named.close()


def test_websocket_disable_leaves_protocol_v2_off_the_websocket(tmp_path: Path) -> None:
    """A v2 connect is then invalid input (closed, no connect reply);
    1.x clients keep the endpoint."""
    config = {**v5_config(KEYS), "websocket_disable": True, "secret": "one-x-secret", "allowed_origins": []}
    with SockhubProcess(tmp_path, config, name="nows") as hub:
        client = V2(hub)
        try:
            client.ws.send(json.dumps({"id": 1, "connect": {"token": KEYS.token(sub="42")}}))
            code, reason = client.close_frame()
            # 1.x and protocol v1 stay on the endpoint: a v2 first frame is neither
            assert code == 3000 and json.loads(reason) == {"reason": "invalid message", "reconnect": False}
        finally:
            client.close()
        old = ProtocolClient(hub.ws_url)
        try:
            old.connect("one-x-secret", "1")
            assert not old.subscribe("open:a").get("error")
        finally:
            old.close()


def test_client_expired_sub_close_delay_is_the_subscriptions_own(hub: SockhubProcess) -> None:
    """A subscription token not refreshed is left 2.5 s after its expiry
    (``client_expired_sub_close_delay`` "2500ms"), not after the
    connection's 1 s (``client_expired_close_delay`` "1s")."""
    named = user(hub)
    try:
        expires = int(time.time()) + 2
        token = jwt.encode({"sub": "42", "channel": "closed:lapse", "exp": expires}, HMAC_KEY, algorithm="HS256")
        reply = named.call(subscribe={"channel": "closed:lapse", "token": token})
        assert error(reply) == 0 and reply["subscribe"]["expires"], reply
        named.ws.settimeout(max(0.1, expires + 1.8 - time.time()))
        with pytest.raises(websocket.WebSocketTimeoutException):
            named.ws.recv()  # nothing yet: the connection's delay does not apply
        named.ws.settimeout(10)
        frame = named.ws.recv()
        assert time.time() >= expires + 2.5 - 0.05
        assert json.loads(frame) == {"push": {"channel": "closed:lapse",
                                              "unsubscribe": {"code": 2501, "reason": "subscription expired"}}}
    finally:
        named.close()


@pytest.mark.parametrize("value, url, cluster", [
    ("127.0.0.1:6379", "redis://127.0.0.1:6379", False),
    (["redis://:p@a:1/2", "b:2"], "redis://:p@a:1/2,redis://b:2", False),
    ("tcp://c:3", "redis://c:3", False),
])
def test_v5_redis_addresses(tmp_path: Path, value: Any, url: str, cluster: bool) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"token_hmac_secret_key": "k", "engine": "redis", "redis_address": value,
                                "redis_sentinel_master_name": "m", "redis_sentinel_address": ["s1:26379", "s2:1"]}))
    options = load_options(str(path))
    assert (options.redis_url, options.redis_cluster) == (url, cluster)
    assert (options.redis_master_name, options.redis_sentinels) == ("m", "s1:26379,s2:1")
    path.write_text(json.dumps({"token_hmac_secret_key": "k", "redis_cluster_address": ["x:7000", "y:7001"]}))
    options = load_options(str(path))
    assert (options.redis_url, options.redis_cluster) == ("redis://x:7000,redis://y:7001", True)
    path.write_text(json.dumps({"token_hmac_secret_key": "k", "redis_address": [1]}))
    with pytest.raises(ConfigError, match="redis_address: expected a list of strings"):
        load_options(str(path))


def test_a_v5_file_with_redis_address_runs_on_redis(tmp_path: Path) -> None:
    with redis_server() as redis:
        config = {**v5_config(KEYS), "engine": "redis", "redis_address": f"127.0.0.1:{redis.port}"}
        with SockhubProcess(tmp_path, config, name="v5redis") as hub:
            named = user(hub)
            try:
                assert error(named.call(subscribe={"channel": "open:r"})) == 0
                assert error(named.call(publish={"channel": "open:r", "data": {"on": "redis"}})) == 0
                reply = named.call(history={"channel": "open:r", "limit": -1})
                assert [p["data"] for p in reply["history"]["publications"]] == [{"on": "redis"}]
            finally:
                named.close()
            assert "open:r" in redis.cli("--scan")


def test_insecure_keeps_the_1x_rules_in_the_1x_mode(sockhub: Callable[..., SockhubProcess]) -> None:
    """``insecure`` with a 1.x ``secret``: anonymous connects and subscribes,
    publishes only where subscribed, user-limited channels stay limited;
    with ``v2_permissions`` "v5" (v5's ``client_insecure``) all is allowed."""
    for mode, free in (("auto", False), ("v5", True)):
        hub = sockhub({"insecure": True, "v2_permissions": mode})
        nobody = anonymous(hub)
        try:
            assert error(nobody.call(subscribe={"channel": "news"})) == 0
            assert error(nobody.call(publish={"channel": "news", "data": {}})) == 0
            assert error(nobody.call(publish={"channel": "other", "data": {}})) == (0 if free else 103)
            assert error(nobody.call(presence={"channel": "other"})) == (108 if free else 103)
            assert error(nobody.call(subscribe={"channel": "mine#42"})) == (0 if free else 103)
        finally:
            nobody.close()
