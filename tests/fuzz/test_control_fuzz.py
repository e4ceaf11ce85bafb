"""Seeded fuzz of the control messages the admin page added (``events``,
``events_wanted``, and the chart ``sample`` of ``ping``): what another node,
or anyone who can write to the engine's control channel (Redis), may send.
Fed to a real node exactly as an engine hands them over (``handle_control``),
with a page watching: no ERROR or traceback logged, every batch a page gets
has the documented shape, and the node's series and events go on."""
from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest

from app.core import control
from app.core.events import KINDS
from app.core.series import FIELDS
from app.engines.memory import MemoryEngine
from app.node import Node
from tests.app.conftest import make_options
from tests.fuzz import generators as gen

SEED = 20261207
CASES = 3000


def valid_message(rng: random.Random) -> Any:
    event = [rng.randrange(10**13), rng.choice(KINDS), "news", "u", "c", '{"n":1}']
    info = {"uid": "node-2", "version": "1.8.0", "name": "two", "started_at": 1, "metrics": {}}
    return rng.choice([
        {"uid": "node-2", "method": "events",
         "params": {"node": "node-2", "name": "two", "dropped": 0, "events": [event] * rng.randrange(1, 4)}},
        {"uid": "node-2", "method": "events_wanted", "params": {}},
        {"uid": "node-2", "method": "ping",
         "params": {"info": info, "sample": [1.0 * rng.randrange(10**9), 1, 2, 0.5, 3]}},
    ])


def check_batch(text: str, count: int) -> None:
    batch = json.loads(text)
    assert set(batch) == {"node", "name", "dropped", "events"}
    assert isinstance(batch["dropped"], int) and batch["dropped"] >= 0
    assert len(batch["events"]) == count
    for event in batch["events"]:
        assert isinstance(event[0], int) and event[1] in KINDS and all(isinstance(v, str) for v in event[2:])


@pytest.mark.async_timeout(120)
async def test_control_messages_of_the_admin_page(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sockhub")
    options = make_options()
    node = Node(options, MemoryEngine(options))
    await node.start()
    delivered: list[int] = []
    try:
        node.events.add_listener(lambda text, count: (check_batch(text, count), delivered.append(count)))
        node.events.watch(True)
        rng = random.Random(SEED)
        for _ in range(CASES):
            node.handle_control(gen.mutate(rng, valid_message(rng)))
        await node.idle()
        node.events.flush()
        # it went on: the series answer, and a real event still reaches the page
        series = node.series()
        assert series["fields"] == list(FIELDS)
        for entry in series["nodes"]:
            assert all(len(sample) == len(FIELDS) for sample in entry["samples"])
        before = len(delivered)
        node.handle_control(control.encode("node-3", "events", {
            "node": "node-3", "name": "three", "dropped": 0, "events": [[1, "connect", "", "x", "y", ""]]}))
        await node.idle()
        assert delivered[before:] == [1]
    finally:
        await node.shutdown()
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems[:5]]
    # the seeds reach the code: many batches went through, many were refused
    assert len(delivered) > CASES // 10
    assert any("control events of node" in r.getMessage() for r in caplog.records)
