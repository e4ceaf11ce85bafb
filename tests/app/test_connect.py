"""connect, refresh, ping, framing and fatal errors (§2, §4.1, §4.2, §4.8)."""
from __future__ import annotations

import json

from tests.app.conftest import SECRET, token
from app.dialects.v1x import auth
from app.options import Options


async def test_connect_success_object_reply(harness_factory) -> None:
    async with harness_factory() as h:
        s = h.open()
        reply = await h.send(s, {"uid": "1", "method": "connect", "params": token("42", h.clock())})
        assert list(reply) == ["uid", "method", "body"]
        assert reply["uid"] == "1" and reply["method"] == "connect"
        body = reply["body"]
        assert body["version"] == "1.8.0" and body["expires"] is False and body["expired"] is False
        assert body["ttl"] == 0 and len(body["client"]) == 36
        assert s.close_args is None


async def test_batch_gets_array_in_order_one_frame(harness_factory) -> None:
    async with harness_factory() as h:
        s = h.open()
        before = len(s.sent)
        await h.send(s, [{"uid": "1", "method": "connect", "params": token("42", h.clock())},
                         {"uid": "2", "method": "ping"},
                         {"uid": "3", "method": "ping", "params": {"data": "x"}}])
        assert len(s.sent) == before + 1
        replies = s.last()
        assert [r["uid"] for r in replies] == ["1", "2", "3"]
        assert replies[1] == {"uid": "2", "method": "ping"}
        assert replies[2] == {"uid": "3", "method": "ping", "body": {"data": "x"}}


async def test_ping_params_empty_object_and_no_uid(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect()
        assert await h.send(s, {"method": "ping", "params": {}}) == {"method": "ping"}


async def _fatal(h, payload, reason: str, connect: bool = True) -> None:
    s = await h.connect() if connect else h.open()
    other = await h.connect("other")
    before = len(s.sent)
    await s.connection.on_message(payload if isinstance(payload, str) else json.dumps(payload))
    assert s.messages()[before:] == [{"method": "disconnect", "body": {"reason": reason, "reconnect": False}}]
    assert s.close_advice() == {"reason": reason, "reconnect": False}
    assert other.close_args is None  # other connections untouched
    assert await h.send(other, {"uid": "p", "method": "ping"}) == {"uid": "p", "method": "ping"}


async def test_fatal_errors_close_with_advice(harness_factory) -> None:
    async with harness_factory() as h:
        await _fatal(h, "not json", "invalid message")
        await _fatal(h, "{broken", "invalid message")
        await _fatal(h, "[]", "invalid message")
        await _fatal(h, "   ", "invalid message")
        await _fatal(h, "[1]", "invalid message")
        await _fatal(h, {"method": "nope"}, "method not found")
        await _fatal(h, {"method": "ping", "params": "x"}, "invalid message")
        await _fatal(h, {"method": "ping", "params": {"data": 5}}, "invalid message")
        await _fatal(h, {"method": "subscribe", "params": {"channel": ""}}, "invalid message")
        await _fatal(h, {"method": "unsubscribe", "params": {}}, "invalid message")
        await _fatal(h, {"method": "publish", "params": {"channel": "x", "data": NaN_TEXT}}, "invalid message")
        await _fatal(h, '{"method":"publish","params":{"channel":"x","data":[-1e999]}}', "invalid message")
        await _fatal(h, {"method": "connect", "params": token("42", h.clock())}, "invalid message")
        await _fatal(h, {"method": "subscribe", "params": {"channel": "news"}}, "unauthorized", connect=False)
        await _fatal(h, {"method": "ping"}, "unauthorized", connect=False)


NaN_TEXT = float("nan")


async def test_batch_aborts_at_first_fatal_error(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect()
        before = len(s.sent)
        await s.connection.on_message(json.dumps([
            {"uid": "1", "method": "subscribe", "params": {"channel": "public:a"}},
            {"uid": "2", "method": "bogus"},
            {"uid": "3", "method": "subscribe", "params": {"channel": "public:b"}},
        ]))
        assert s.messages()[before:] == [{"method": "disconnect",
                                          "body": {"reason": "method not found", "reconnect": False}}]
        await h.node.idle()
        assert h.node.hub.channel_clients("public:b") == ()
        assert h.node.hub.channel_clients("public:a") == ()  # cleaned up on close


async def test_wrong_token_and_bad_timestamp(harness_factory) -> None:
    async with harness_factory() as h:
        params = token("42", h.clock())
        params["token"] = params["token"].upper()
        await _fatal(h, {"method": "connect", "params": params}, "invalid token", connect=False)
        params = token("42", h.clock())
        params["user"] = "43"
        await _fatal(h, {"method": "connect", "params": params}, "invalid token", connect=False)
        ts = "15e8"
        params = {"user": "42", "timestamp": ts, "info": "", "token": auth.connection_token(SECRET, "42", ts)}
        await _fatal(h, {"method": "connect", "params": params}, "invalid message", connect=False)


async def test_connect_info_must_be_json(harness_factory) -> None:
    async with harness_factory() as h:
        await _fatal(h, {"method": "connect", "params": token("42", h.clock(), "{not json")},
                     "invalid message", connect=False)
        await _fatal(h, {"method": "connect", "params": token("42", h.clock(), '"\\ud800')},
                     "invalid message", connect=False)
        s = await h.connect("42", '{"name":"Alex"}')
        assert s.connection.default_info == '{"name":"Alex"}'


async def test_request_size_limit(harness_factory) -> None:
    options = Options(secret=SECRET, client_request_max_size=200)
    async with harness_factory(options) as h:
        s = await h.connect()
        await s.connection.on_message(json.dumps({"method": "ping", "params": {"data": "x" * 200}}))
        assert s.close_advice() == {"reason": "limit exceeded", "reconnect": False}


async def test_insecure_connect_needs_no_token(harness_factory) -> None:
    async with harness_factory(Options(insecure=True)) as h:
        s = h.open()
        reply = await h.send(s, {"uid": "1", "method": "connect", "params": {"user": ""}})
        assert reply["body"]["client"]


async def test_no_secret_no_token_verifies(harness_factory) -> None:
    async with harness_factory(Options(secret="")) as h:
        s = h.open()
        params = {"user": "42", "timestamp": "1", "info": "", "token": auth.connection_token("", "42", "1")}
        await s.connection.on_message(json.dumps({"method": "connect", "params": params}))
        assert s.close_advice() == {"reason": "invalid token", "reconnect": False}


async def test_user_connection_limit(harness_factory) -> None:
    async with harness_factory(Options(secret=SECRET, user_connection_limit=2)) as h:
        a, b = await h.connect("7"), await h.connect("7")
        c = h.open()
        await c.connection.on_message(json.dumps({"method": "connect", "params": token("7", h.clock())}))
        assert c.close_advice() == {"reason": "limit exceeded", "reconnect": False}
        assert a.close_args is None and b.close_args is None
        await h.connect("8")  # another user is not limited
        a.close()
        await h.connect("7")  # a slot freed


async def test_case_insensitive_keys(harness_factory) -> None:
    async with harness_factory() as h:
        s = h.open()
        reply = await h.send(s, {"UID": "9", "Method": "connect", "PARAMS": {
            k.capitalize(): v for k, v in token("42", h.clock()).items()}})
        assert reply["uid"] == "9" and reply["body"]["client"]
