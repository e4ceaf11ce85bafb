"""subscribe, unsubscribe, publish, presence, history and fan-out (§4.3-§4.7, §5)."""
from __future__ import annotations

import json

from tests.app.conftest import SECRET, make_options
from app import auth
from app.options import ChannelOptions, Options


def sub(channel: str, uid: str = "s", **params) -> dict:
    return {"uid": uid, "method": "subscribe", "params": {"channel": channel, **params}}


async def test_subscribe_publish_roundtrip_fan_out_once(harness_factory) -> None:
    async with harness_factory() as h:
        a, b = await h.connect("1"), await h.connect("2")
        outsider = await h.connect("3")
        for s in (a, b):
            reply = await h.send(s, sub("public:chat"))
            assert reply == {"uid": "s", "method": "subscribe", "body": {
                "channel": "public:chat", "status": True, "last": "", "messages": None, "recovered": False}}
        a.frames.clear(), b.frames.clear()
        reply = await h.send(a, {"uid": "p", "method": "publish",
                                 "params": {"channel": "public:chat", "data": {"text": "hi"}}})
        assert reply == {"uid": "p", "method": "publish", "body": {"channel": "public:chat", "status": True}}
        assert len(a.frames) == len(b.frames) == 1
        assert a.frames[0] is b.frames[0]  # encoded once, shared by every session
        push = json.loads(a.frames[0].text)
        assert push["method"] == "message" and "uid" not in push
        msg = push["body"]
        assert msg["channel"] == "public:chat" and msg["data"] == {"text": "hi"}
        assert msg["client"] == h.client_id(a) and msg["info"] == {"user": "1", "client": h.client_id(a)}
        assert len(msg["uid"]) == 22
        assert outsider.frames == []


async def test_join_leave_pushes(harness_factory) -> None:
    async with harness_factory() as h:
        a = await h.connect("1")
        await h.send(a, sub("public:room"))
        assert a.last()["method"] == "subscribe"  # no join of its own
        b = await h.connect("2", '{"n":2}')
        await h.send(b, sub("public:room"))
        assert b.last()["method"] == "subscribe"
        join = a.messages()[-1]
        assert join == {"method": "join", "body": {"channel": "public:room", "data": {
            "user": "2", "client": h.client_id(b), "default_info": {"n": 2}}}}
        reply = await h.send(b, {"uid": "u", "method": "unsubscribe", "params": {"channel": "public:room"}})
        assert reply == {"uid": "u", "method": "unsubscribe", "body": {"channel": "public:room", "status": True}}
        assert a.messages()[-1]["method"] == "leave"
        assert a.messages()[-1]["body"]["data"]["client"] == h.client_id(b)
        # unsubscribe of a channel not held is still a success
        reply = await h.send(b, {"uid": "u2", "method": "unsubscribe", "params": {"channel": "public:room"}})
        assert reply["body"] == {"channel": "public:room", "status": True}


async def test_close_cleans_up_presence_and_publishes_leave(harness_factory) -> None:
    async with harness_factory() as h:
        a, b = await h.connect("1"), await h.connect("2")
        await h.send(a, sub("public:room")), await h.send(b, sub("public:room"))
        presence = await h.send(a, {"uid": "q", "method": "presence", "params": {"channel": "public:room"}})
        assert set(presence["body"]["data"]) == {h.client_id(a), h.client_id(b)}
        b.close()
        await h.node.idle()
        assert a.messages()[-1]["method"] == "leave"
        presence = await h.send(a, {"uid": "q", "method": "presence", "params": {"channel": "public:room"}})
        assert set(presence["body"]["data"]) == {h.client_id(a)}
        a.close()
        await h.node.idle()
        assert h.node.hub.num_channels == 0
        assert await h.node.engine.channels() == []
