"""Subscribe checks in §4.3 order, channel kinds and options (§7), recovery (§8)."""
from __future__ import annotations

import json

import pytest

from tests.app.conftest import SECRET, make_options
from app.dialects.v1x import auth
from app.core.channels import ChannelRules
from app.options import ChannelOptions, Namespace, Options
from app.core.errors import ProtocolError


def sub(channel: str, **params) -> dict:
    return {"uid": "s", "method": "subscribe", "params": {"channel": channel, **params}}


def error_reply(error: str, channel: str) -> dict:
    return {"uid": "s", "method": "subscribe", "error": error, "advice": "fix", "body": {
        "channel": channel, "status": False, "last": "", "messages": None, "recovered": False}}


def test_rules_namespace_and_names() -> None:
    rules = ChannelRules(make_options())
    assert rules.namespace_name("public:chat") == "public"
    assert rules.namespace_name("$public:chat") == "public"
    assert rules.namespace_name("chat") == ""
    assert rules.options("public:x").anonymous is True
    with pytest.raises(ProtocolError) as err:
        rules.options("nope:x")
    assert (err.value.error, err.value.advice) == ("namespace not found", "fix")
    assert rules.user_allowed("dialog#42,43", "43") and not rules.user_allowed("dialog#42,43", "4")
    assert rules.user_allowed("a#b#42", "42") and not rules.user_allowed("a#42#b", "42")
    assert rules.client_allowed("x&abc", "abc") and not rules.client_allowed("x&abc", "ab")
    assert rules.is_private("$x") and not rules.is_private("x$")
    custom = ChannelRules(Options(private_channel_prefix="!", user_channel_boundary="@",
                                  user_channel_separator=";", namespace_channel_boundary="/"))
    assert custom.is_private("!a") and custom.user_allowed("d@1;2", "2")
    assert custom.namespace_name("!ns/x") == "ns"


async def test_subscribe_errors_in_order(harness_factory) -> None:
    opts = make_options(max_channel_length=20, client_channel_limit=2)
    async with harness_factory(opts) as h:
        s = await h.connect("42")
        long = "x" * 21
        assert await h.send(s, sub(long)) == error_reply("limit exceeded", long)
        assert (await h.send(s, sub("a")))["body"]["status"] is True
        assert await h.send(s, sub("a")) == error_reply("already subscribed", "a")
        assert await h.send(s, sub("d#41,43")) == error_reply("permission denied", "d#41,43")
        assert (await h.send(s, sub("d#41,42")))["body"]["status"] is True
        # the limit (2) comes before "already subscribed" and every other check
        assert await h.send(s, sub("b")) == error_reply("limit exceeded", "b")
        assert await h.send(s, sub("nope:x")) == error_reply("limit exceeded", "nope:x")
        assert s.close_args is None


async def test_namespace_client_limited_and_anonymous(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("42")
        assert await h.send(s, sub("nope:x")) == error_reply("namespace not found", "nope:x")
        mine = "c&" + h.client_id(s)
        assert (await h.send(s, sub(mine)))["body"]["status"] is True
        assert await h.send(s, sub("c&someone")) == error_reply("permission denied", "c&someone")
        anon = await h.connect("")
        assert await h.send(anon, sub("news")) == error_reply("permission denied", "news")
        assert (await h.send(anon, sub("public:x")))["body"]["status"] is True


async def test_insecure_allows_anonymous_and_publish(harness_factory) -> None:
    async with harness_factory(make_options(insecure=True)) as h:
        s = h.open()
        await h.send(s, {"uid": "1", "method": "connect", "params": {}})
        assert (await h.send(s, sub("news")))["body"]["status"] is True
        reply = await h.send(s, {"uid": "p", "method": "publish", "params": {"channel": "news", "data": 1}})
        assert reply["body"]["status"] is True


async def test_private_channel_sign(harness_factory) -> None:
    async with harness_factory(make_options()) as h:
        s = await h.connect("42", '{"n":1}')
        cid = h.client_id(s)
        info = '{"role":"admin"}'
        good = {"client": cid, "info": info, "sign": auth.channel_sign(SECRET, cid, "$public:p", info)}
        assert await h.send(s, sub("$public:p", **{**good, "client": "other"})) == \
            error_reply("permission denied", "$public:p")
        assert await h.send(s, sub("$public:p", **{**good, "sign": "0" * 64})) == \
            error_reply("permission denied", "$public:p")
        assert await h.send(s, sub("$public:p", **{**good, "info": '{"role":"x"}'})) == \
            error_reply("permission denied", "$public:p")
        bad_info = "{oops"
        signed_bad = {"client": cid, "info": bad_info, "sign": auth.channel_sign(SECRET, cid, "$public:p", bad_info)}
        assert await h.send(s, sub("$public:p", **signed_bad)) == error_reply("permission denied", "$public:p")
        assert (await h.send(s, sub("$public:p", **good)))["body"]["status"] is True
        presence = await h.send(s, {"uid": "q", "method": "presence", "params": {"channel": "$public:p"}})
        assert presence["body"]["data"][cid] == {"user": "42", "client": cid, "default_info": {"n": 1},
                                                 "channel_info": {"role": "admin"}}
        other = await h.connect("43")
        assert await h.send(other, sub("$public:p")) == error_reply("permission denied", "$public:p")


async def test_publish_rules(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("42")
        p = lambda ch, **kw: {"uid": "p", "method": "publish", "params": {"channel": ch, **kw}}  # noqa: E731
        body = lambda ch: {"channel": ch, "status": False}  # noqa: E731
        assert await h.send(s, p("public:a", data=1)) == {"uid": "p", "method": "publish",
                                                         "error": "permission denied", "advice": "fix",
                                                         "body": body("public:a")}
        await h.send(s, sub("news"))
        assert (await h.send(s, p("news", data=1)))["error"] == "permission denied"  # publish off
        assert (await h.send(s, p("news")))["error"] == "invalid message"
        assert (await h.send(s, p("", data=1)))["error"] == "invalid message"
        await h.send(s, sub("public:a"))
        assert (await h.send(s, p("public:a", data=None)))["body"]["status"] is True  # null is data
        assert s.close_args is None


async def test_presence_and_history_errors(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("42")
        q = lambda m, ch: {"uid": "q", "method": m, "params": {"channel": ch}}  # noqa: E731
        assert await h.send(s, q("presence", "news")) == {
            "uid": "q", "method": "presence", "error": "permission denied", "advice": "fix",
            "body": {"channel": "news", "data": None}}
        await h.send(s, sub("news"))
        assert await h.send(s, q("presence", "news")) == {
            "uid": "q", "method": "presence", "error": "not available", "advice": "retry",
            "body": {"channel": "news", "data": None}}
        assert (await h.send(s, q("history", "news")))["error"] == "not available"
        await h.send(s, sub("hist:a"))
        assert (await h.send(s, q("history", "hist:a")))["body"] == {"channel": "hist:a", "data": []}


async def _api_publish(h, channel: str, data: object) -> None:
    await h.node.api.execute(json.dumps({"method": "publish", "params": {"channel": channel, "data": data}}).encode())


async def _publish(h, channel: str, n: int) -> list[str]:
    uids = []
    for i in range(n):
        await _api_publish(h, channel, i)
        uids.append((await h.node.engine.history(channel, 1, reverse=True)).publications[0].uid)
    return uids


async def test_recovery_returns_exactly_the_missed_and_fills_last(harness_factory) -> None:
    async with harness_factory() as h:
        keeper = await h.connect("1")
        await h.send(keeper, sub("hist:r"))
        uids = await _publish(h, "hist:r", 2)
        s = await h.connect("42")
        first = await h.send(s, sub("hist:r"))
        assert first["body"]["last"] == uids[-1] and first["body"]["messages"] is None
        s.close()
        missed = await _publish(h, "hist:r", 2)
        s = await h.connect("42")
        reply = await h.send(s, sub("hist:r", recover=True, last=uids[-1]))
        body = reply["body"]
        assert body["recovered"] is True
        assert [m["uid"] for m in body["messages"]] == missed[::-1]  # newest first
        assert body["last"] == missed[-1]  # the fix of §8
        s.close()
        s = await h.connect("42")
        body = (await h.send(s, sub("hist:r", recover=True, last=missed[-1])))["body"]
        assert body == {"channel": "hist:r", "status": True, "last": missed[-1], "messages": [], "recovered": True}
        s.close()
        s = await h.connect("42")  # last unknown (evicted beyond history_size 3)
        body = (await h.send(s, sub("hist:r", recover=True, last=uids[0])))["body"]
        assert body["recovered"] is False and len(body["messages"]) == 3
        s.close()
        s = await h.connect("42")
        body = (await h.send(s, sub("hist:r", recover=True)))["body"]
        assert body["recovered"] is False and len(body["messages"]) == 3


async def test_recovery_off_ignores_params(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("42")
        body = (await h.send(s, sub("news", recover=True, last="x")))["body"]
        assert body == {"channel": "news", "status": True, "last": "", "messages": None, "recovered": False}


async def test_watch_channel_goes_to_admin_listeners(harness_factory) -> None:
    async with harness_factory() as h:
        seen: list[bytes] = []
        h.node.add_admin_listener(seen.append)
        s = await h.connect("42")
        await h.send(s, sub("watched:a"))
        await h.send(s, sub("public:b"))
        await h.send(s, {"uid": "p", "method": "publish", "params": {"channel": "watched:a", "data": {"x": 1}}})
        await h.send(s, {"uid": "p", "method": "publish", "params": {"channel": "public:b", "data": 2}})
        assert len(seen) == 1
        msg = json.loads(seen[0])
        assert msg["channel"] == "watched:a" and msg["data"] == {"x": 1} and msg["client"] == h.client_id(s)


async def test_drop_inactive_history(harness_factory) -> None:
    opts = make_options()
    opts.namespaces.append(Namespace("drop", ChannelOptions(history_size=5, history_lifetime=60,
                                                            history_drop_inactive=True, recover=True)))
    async with harness_factory(opts) as h:
        await _api_publish(h, "drop:a", 1)
        assert (await h.node.engine.history("drop:a")).publications == []  # nobody ever subscribed
        s = await h.connect("42")
        await h.send(s, sub("drop:a"))
        s.close()
        await h.node.idle()
        await _api_publish(h, "drop:a", 2)  # within lifetime after the last left: kept
        assert len((await h.node.engine.history("drop:a")).publications) == 1
