"""subscribe, unsubscribe, publish, presence, history and fan-out (§4.3-§4.7, §5)."""
from __future__ import annotations

import json
from typing import Any

from tests.app.conftest import WrappedEngine, make_options
from app.core.engine import HistoryOptions
from app.engines.memory import MemoryEngine
from app.core.values import Message, new_uid
from app.dialects.v1x.wire import Raw


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


class PublishDuringHistoryRead(WrappedEngine):
    """A real engine; while ``during`` is set, a full history read
    first lets those messages be published (as when a publication reaches the
    node between a subscribe's registration and its history read)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.during: list[Message] = []

    async def history(self, channel: str, limit: int = -1, since: Any = None, reverse: bool = False,
                      lifetime: int = 0) -> Any:
        pending, self.during = self.during, []
        for message in pending:
            await self.publish_message(message, HistoryOptions(3, 60))
        return await super().history(channel, limit, since, reverse, lifetime)


async def test_recovering_subscribe_gets_a_concurrent_message_once_and_in_order(harness_factory, clock) -> None:
    """Regression: the message came live BEFORE the subscribe reply that also
    recovered it (a duplicate, out of order, in centrifuge-js)."""
    options = make_options()
    engine = PublishDuringHistoryRead(MemoryEngine(options, clock=clock))
    async with harness_factory(options, engine) as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "1", "method": "subscribe", "params": {"channel": "hist:a"}})
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"hist:a","data":{"n":1}}}')
        first = s.last()["body"]["uid"]
        await h.send(s, {"uid": "2", "method": "unsubscribe", "params": {"channel": "hist:a"}})
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"hist:a","data":{"n":2}}}')
        engine.during = [Message(new_uid(), "hist:a", Raw('{"n":3}'))]
        before = len(s.sent)
        await h.send(s, {"uid": "3", "method": "subscribe",
                         "params": {"channel": "hist:a", "recover": True, "last": first}})
        await h.node.api.execute(b'{"method":"publish","params":{"channel":"hist:a","data":{"n":4}}}')
        after = s.messages()[before:]
        assert after[0]["uid"] == "3" and after[0]["body"]["recovered"] is True
        assert [m["data"]["n"] for m in after[0]["body"]["messages"]] == [3, 2]  # newest first
        assert [m["body"]["data"]["n"] for m in after[1:]] == [4]  # 3 was not sent live as well
