"""Merged frames shared by the sessions of one flush (transports.frames.BatchMemo):
the bytes are built once per run of identical items and every session still
gets exactly its own queue, in order."""
from __future__ import annotations

import asyncio
import json
import math

import pytest

from tests.transports.clients import WsClient, messages, sockjs_client
from tests.transports.conftest import serve
from transports.frames import LINES, BatchMemo, Prepared, messages_frame, ws_frame


def expected(items: list[Prepared]) -> bytes:
    return ws_frame(messages_frame(items).encode())


def test_same_run_is_built_once_and_another_run_is_its_own() -> None:
    memo = BatchMemo()
    a, b, c = Prepared("a"), Prepared('"b"'), Prepared("c")
    first = memo.sockjs_ws([a, b])
    assert first == expected([a, b])
    assert memo.sockjs_ws([a, b]) is first  # a second session's queue: shared bytes
    assert memo.sockjs_ws([a, b, c]) == expected([a, b, c])
    assert memo.sockjs_ws([a, c]) == expected([a, c])
    # Equal text is not enough: items are compared by identity.
    twin = Prepared("a")
    assert memo.sockjs_ws([twin, c]) == expected([twin, c])


def test_a_lone_message_frame_is_the_merged_frame_of_one_item() -> None:
    """Prepared.sockjs_ws (built inline) is exactly the a[...] frame of that
    one item, at every header size, and escapes as json.dumps does."""
    for text in ["", "x" * 121, "x" * 122, "x" * 123, "x" * 300, "x" * 70000, '{"é":"\u2028 \ud800"}']:
        item = Prepared(text)
        assert item.sockjs_ws == expected([item])
        assert item.quoted == json.dumps(text)


def test_clear_forgets_the_items() -> None:
    memo = BatchMemo()
    a, b = Prepared("a"), Prepared("b")
    memo.sockjs_ws([a, b])
    memo.clear()
    assert memo.sockjs_ws([b, a]) == expected([b, a])


async def test_websocket_sessions_of_one_tick_get_their_own_queues() -> None:
    async with serve(heartbeat_delay=30) as srv:  # no "h" between the frames
        clients = [WsClient(srv.port, f"/echo/000/b{i}/websocket") for i in range(3)]
        for client in clients:
            assert await client.connect() == "o"
        await asyncio.sleep(0.05)
        sessions = [conn.session for conn in srv.connections]
        shared = [Prepared(f"m{i}") for i in range(3)]
        for item in shared:  # a broadcast of three messages in one iteration
            for session in sessions:
                session.send_frame(item)
        sessions[2].send("own")  # one session has one more
        for client in clients[:2]:
            assert messages(await client.next_frame()) == ["m0", "m1", "m2"]
        assert messages(await clients[2].next_frame()) == ["m0", "m1", "m2", "own"]
        sessions[0].send("next")  # the next flush: nothing left of the last run
        assert messages(await clients[0].next_frame()) == ["next"]
        for client in clients:
            await client.close()


def test_lines_batching_is_one_sockjs_message_of_lines() -> None:
    """LINES (JSON streaming over SockJS): the run's texts joined by newlines
    in one SockJS message; a lone item is its usual frame."""
    a, b = Prepared('{"id":1}'), Prepared('{"id":2,"x":"\u00e9"}')
    assert messages_frame([a, b], LINES) == "a[" + json.dumps('{"id":1}\n{"id":2,"x":"\u00e9"}') + "]"
    assert messages_frame([a], LINES) == messages_frame([a])
    memo = BatchMemo()
    separate = memo.sockjs_ws([a, b])
    lines = memo.sockjs_ws([a, b], LINES)  # same items, other batching: its own frame
    assert separate == expected([a, b]) and lines == ws_frame(messages_frame([a, b], LINES).encode())


@pytest.mark.parametrize("transport", ["websocket", "xhr_streaming", "xhr"])
async def test_a_router_with_lines_batching_merges_a_tick_into_one_message(transport: str) -> None:
    """The router's ``batching`` is its sessions' default, on every SockJS
    transport, and heartbeats are off with an infinite ``heartbeat_delay``."""
    async with serve(heartbeat_delay=math.inf, batching=LINES) as srv:
        client = sockjs_client(srv.port, transport)
        assert await client.connect() == "o"
        await asyncio.sleep(0.05)
        session = srv.only().session
        for text in ('{"id":1}', '{"id":2}', "{}"):
            session.send(text)
        assert messages(await client.next_frame()) == ['{"id":1}\n{"id":2}\n{}']
        with pytest.raises(asyncio.TimeoutError):  # FAST would beat every 0.2 s
            await client.next_frame(timeout=0.6)
        await client.close()
