"""Stale close, connection lifetime, refresh, presence keepalive: one node tick
on an injected clock, no sleeping (§4.1, §4.2, §6)."""
from __future__ import annotations

import json

from tests.app.conftest import make_options, token


def lifetime_options(**kw):
    return make_options(connection_lifetime=60, expired_connection_close_delay=25, **kw)


async def test_stale_connection_closed(harness_factory) -> None:
    async with harness_factory(make_options(stale_connection_close_delay=25)) as h:
        idle, authed = h.open(), await h.connect()
        h.clock.advance(24)
        await h.node.tick()
        assert idle.close_args is None
        h.clock.advance(1)
        await h.node.tick()
        assert idle.close_advice() == {"reason": "stale", "reconnect": False}
        assert idle.messages()[-1] == {"method": "disconnect", "body": {"reason": "stale", "reconnect": False}}
        assert authed.close_args is None


async def test_connect_reports_lifetime_and_expires(harness_factory) -> None:
    async with harness_factory(lifetime_options()) as h:
        s = h.open()
        reply = await h.send(s, {"uid": "1", "method": "connect", "params": token("42", h.clock())})
        assert reply["body"]["expires"] is True and reply["body"]["ttl"] == 60 and not reply["body"]["expired"]
        other = await h.connect("43")
        h.clock.advance(60 + 24)
        await h.node.tick()
        assert s.close_args is None  # the close delay is not over
        h.clock.advance(1)
        await h.node.tick()
        assert s.close_advice() == {"reason": "expired", "reconnect": True}
        assert s.messages()[-1] == {"method": "disconnect", "body": {"reason": "expired", "reconnect": True}}
        assert other.close_advice() == {"reason": "expired", "reconnect": True}


async def test_expired_on_arrival_stays_unauthenticated(harness_factory) -> None:
    async with harness_factory(lifetime_options()) as h:
        s = h.open()
        reply = await h.send(s, {"uid": "1", "method": "connect", "params": token("42", h.clock() - 60)})
        assert reply["body"] == {"version": "1.8.0", "client": "", "expires": True, "expired": True, "ttl": 60}
        await s.connection.on_message(json.dumps({"method": "ping"}))
        assert s.close_advice() == {"reason": "unauthorized", "reconnect": False}


async def test_refresh_extends_lifetime(harness_factory) -> None:
    async with harness_factory(lifetime_options()) as h:
        s = await h.connect("42", '{"a":1}')
        h.clock.advance(50)
        reply = await h.send(s, {"uid": "r", "method": "refresh", "params": token("42", h.clock(), '{"a":2}')})
        assert reply["body"] == {"version": "1.8.0", "client": h.client_id(s), "expires": True,
                                 "expired": False, "ttl": 60}
        assert s.connection.default_info == '{"a":2}'
        h.clock.advance(40)  # past the first deadline (60+25), before the new one (50+60+25)
        await h.node.tick()
        assert s.close_args is None
        h.clock.advance(50)
        await h.node.tick()
        assert s.close_advice() == {"reason": "expired", "reconnect": True}


async def test_refresh_with_stale_timestamp_says_expired(harness_factory) -> None:
    async with harness_factory(lifetime_options()) as h:
        s = await h.connect()
        reply = await h.send(s, {"uid": "r", "method": "refresh", "params": token("42", h.clock() - 61)})
        assert reply["body"]["expired"] is True and s.close_args is None


async def test_refresh_errors(harness_factory) -> None:
    async with harness_factory(lifetime_options()) as h:
        s = await h.connect()
        params = token("42", h.clock())
        params["token"] = "0" * 64
        await s.connection.on_message(json.dumps({"method": "refresh", "params": params}))
        assert s.close_advice() == {"reason": "invalid token", "reconnect": False}
        s = await h.connect("42")
        await s.connection.on_message(json.dumps({"method": "refresh", "params": token("43", h.clock())}))
        assert s.close_advice() == {"reason": "invalid token", "reconnect": False}
        s = await h.connect("42")
        await s.connection.on_message(json.dumps({"method": "refresh", "params": token("42", h.clock(), "{")}))
        assert s.close_advice() == {"reason": "invalid message", "reconnect": False}


async def test_refresh_without_lifetime_and_insecure_still_checks_token(harness_factory) -> None:
    async with harness_factory(make_options(insecure=True)) as h:
        s = h.open()
        await h.send(s, {"uid": "1", "method": "connect", "params": {"user": "42"}})
        reply = await h.send(s, {"uid": "r", "method": "refresh", "params": token("42", h.clock())})
        assert reply["body"]["expires"] is False and reply["body"]["ttl"] == 0
        await s.connection.on_message(json.dumps({"method": "refresh", "params": {"user": "42"}}))
        assert s.close_advice() == {"reason": "invalid token", "reconnect": False}


async def test_presence_is_refreshed_by_the_tick(harness_factory) -> None:
    opts = make_options(presence_ping_interval=25, presence_expire_interval=60)
    async with harness_factory(opts) as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "public:p"}})
        for _ in range(4):  # 100 s: without re-adds the 60 s entries would have expired
            h.clock.advance(25)
            await h.node.tick()
        presence = await h.node.engine.presence("public:p")
        assert list(presence) == [h.client_id(s)]
        s.close()
        await h.node.idle()
        assert await h.node.engine.presence("public:p") == {}


async def test_presence_expires_without_refresh(harness_factory) -> None:
    """The control case: a huge ping interval lets presence lapse."""
    opts = make_options(presence_ping_interval=1000, presence_expire_interval=60)
    async with harness_factory(opts) as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "public:p"}})
        h.clock.advance(61)
        await h.node.tick()
        assert await h.node.engine.presence("public:p") == {}


async def test_stale_check_off_with_zero_delay(harness_factory) -> None:
    async with harness_factory(make_options(stale_connection_close_delay=0, presence_ping_interval=0)) as h:
        idle = h.open()
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "public:p"}})
        h.clock.advance(1000)
        await h.node.tick()
        assert idle.close_args is None and s.close_args is None
