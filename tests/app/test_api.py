"""The API executor (§10): every method, error items and status codes."""
from __future__ import annotations

import json

import pytest

from app.api import ApiError


async def run(h, payload) -> list:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return json.loads(await h.node.api.execute(data))


async def test_publish_reaches_subscribers(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "news"}})
        items = await run(h, {"method": "publish", "params": {"channel": "news", "data": {"text": "hello"}}})
        assert items == [{"method": "publish", "error": None, "body": None}]
        push = s.last()
        assert push["method"] == "message" and push["body"]["data"] == {"text": "hello"}
        assert "client" not in push["body"] and "info" not in push["body"]


async def test_cent_body_bytes_array_with_uid_echo(harness_factory) -> None:
    async with harness_factory() as h:
        body = b'[{"method": "publish", "params": {"channel": "news", "data": {"text": "hello"}}}, ' \
               b'{"uid": "x", "method": "channels", "params": {}}]'
        items = json.loads(await h.node.api.execute(body))
        assert items[0] == {"method": "publish", "error": None, "body": None}
        assert items[1] == {"uid": "x", "method": "channels", "error": None, "body": {"data": []}}


@pytest.mark.parametrize("data", [
    b"", b"  ", b"nope", b"{bad", b"[]", b"\xff{}", b'"str"',
    b'{"method":"unknown"}',
    b'{"method":"publish","params":{"channel":"","data":1}}',
    b'{"method":"publish","params":{"channel":"news"}}',
    b'{"method":"publish","params":{"channel":5,"data":1}}',
    b'{"method":"presence","params":[]}',
])
async def test_bad_requests_are_400(harness_factory, data: bytes) -> None:
    async with harness_factory() as h:
        with pytest.raises(ApiError) as err:
            await h.node.api.execute(data)
        assert err.value.status == 400 and err.value.text.startswith("Bad Request")


async def test_bad_command_in_batch_runs_nothing(harness_factory) -> None:
    async with harness_factory() as h:
        s = await h.connect("1")
        await h.send(s, {"uid": "s", "method": "subscribe", "params": {"channel": "news"}})
        before = len(s.sent)
        with pytest.raises(ApiError):
            await run(h, [{"method": "publish", "params": {"channel": "news", "data": 1}}, {"method": "nope"}])
        assert len(s.sent) == before
