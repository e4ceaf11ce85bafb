"""The proxy answer parser and result readers (app/proxy/wire.py) under
seeded hostile backend answers (tests/fuzz/generators.py mutates valid
answers of every hook): nothing but HookError / HookDisconnect escapes,
errors keep the backend's code only in 400-1999 (else 100, temporary),
disconnects only in 4000-4999 with a reason of at most 32 bytes, and
every field a dialect reads is of its type.  Then the same answers reach
a real sockhub through a real backend: the client always gets a reply
or a close, never a hang, and the server logs no traceback."""
from __future__ import annotations

import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.core.overrides import Override
from app.proxy import subs, wire
from app.proxy.wire import HookDisconnect, HookError
from tests.fuzz import generators

SEED = 20261207
CASES = 5000

VALID: list[dict[str, Any]] = [
    {"result": {"user": "42", "expire_at": 1700000000, "info": {"a": 1}, "data": {"b": [1, 2]},
                "channels": ["news", "chat:1"], "meta": {"plan": "gold", "n": [1, {"x": None}]},
                "subs": {"feed": {"info": {"r": 1}, "override": {
                    "presence": {"value": False}, "force_recovery": {"value": True}}}}}},
    {"result": {"b64data": "eyJ4IjoxfQ==", "b64info": "eyJ5IjoyfQ=="}},
    {"result": {"expired": False, "expire_at": 10, "meta": {"v": 2}}},
    {"result": {}},
    {"error": {"code": 1000, "message": "custom", "temporary": True}},
    {"disconnect": {"code": 4500, "reason": "banned"}},
    {"result": {"override": {"join_leave": {"value": True}, "force_push_join_leave": {}}}},
]


def answer(rng: random.Random) -> bytes:
    return generators.mutate(rng, copy.deepcopy(rng.choice(VALID)))  # mutate works in place


def read(raw: bytes, outcomes: Counter[str]) -> None:
    try:
        result = wire.parse_answer(raw)
        for name in ("data", "info"):
            value = wire.raw_json(result, name)
            assert value is None or json.loads(value) is not None or value == "null"
        assert isinstance(wire.text(result, "user"), str)
        assert wire.integer(result, "expire_at") >= 0
        assert isinstance(wire.flag(result, "expired"), bool)
        assert all(isinstance(c, str) for c in wire.strings(result, "channels", 128))
        assert all(isinstance(sub.override, Override) and sub.channel for sub in subs.subs(result, 128))
        assert isinstance(subs.override(result), Override)
        meta = wire.meta(result)
        assert meta is None or (isinstance(json.loads(meta), dict) and len(meta.encode()) <= wire.MAX_META)
        outcomes["result"] += 1
    except HookError as err:
        assert 400 <= err.code <= 1999 or (err.code, err.message, err.temporary) == (
            100, "internal server error", True)
        assert isinstance(err.message, str) and len(err.message) <= wire.MAX_MESSAGE
        outcomes["error" if err.code != 100 else "internal"] += 1
    except HookDisconnect as err:
        assert 4000 <= err.code <= 4999 and len(err.reason.encode()) <= wire.MAX_REASON
        outcomes["disconnect"] += 1


@pytest.mark.timeout(120)
def test_hostile_answers() -> None:
    rng, outcomes = random.Random(SEED), Counter[str]()
    for _ in range(CASES):
        read(answer(rng), outcomes)
    assert outcomes["internal"] > CASES // 4 and outcomes["result"] > CASES // 20, outcomes
    assert outcomes["error"] and outcomes["disconnect"], outcomes


def test_the_valid_answers_read_as_written() -> None:
    outcomes = Counter[str]()
    for value in VALID:
        read(json.dumps(value).encode(), outcomes)
    assert outcomes == Counter({"result": 5, "error": 1, "disconnect": 1})
    assert wire.raw_json(wire.parse_answer(json.dumps(VALID[1]).encode())) == '{"x":1}'


TRANSFORMS = [{"status_code": 404, "to_error": {"code": 404, "message": "not found", "temporary": True}},
              {"status_code": 403, "to_disconnect": {"code": 4501, "reason": "forbidden"}}]


@pytest.mark.timeout(120)
def test_hostile_status_transforms() -> None:
    """checkconfig's reader of proxy_http_status_code_transforms: only
    TransformsError escapes, and what it accepts is in range."""
    from app.proxy import transforms

    rng, accepted = random.Random(SEED), 0
    for _ in range(CASES):
        text = generators.mutate(rng, copy.deepcopy(TRANSFORMS)).decode("utf-8", "replace")
        try:
            parsed = transforms.parse(text)
        except transforms.TransformsError:
            continue
        accepted += 1
        for status, outcome in parsed.items():
            assert 100 <= status <= 599 and status != 200
            if isinstance(outcome, HookError):
                assert 400 <= outcome.code <= 1999 and outcome.message.isascii()
            else:
                assert 4000 <= outcome.code <= 4999 and len(outcome.reason) <= wire.MAX_REASON
    assert CASES // 20 < accepted < CASES, accepted


@pytest.mark.timeout(120)
def test_hostile_emulated_header_maps() -> None:
    """A client's ConnectRequest.headers: BadHeaders or pairs that are safe
    to write as HTTP headers (no CR, LF or NUL), within the bounds."""
    from app.proxy.headers import MAX_VALUE, BadHeaders, pick

    rng, outcomes = random.Random(SEED), Counter[str]()
    wanted = frozenset({"x-token", "authorization"})
    pieces = ["", "a", "\r\n", "\n", "\x00", "\t", "é", "v" * (MAX_VALUE + 1), "Bearer x", ":"]
    for _ in range(CASES):
        given = {}
        for _ in range(rng.choice([0, 1, 2, 3, 70])):
            name = rng.choice(["X-Token", "authorization", "X Token", "X-Other", "x-token\n", ""])
            given[name + str(rng.randrange(3) if rng.random() < 0.2 else "")] = "".join(
                rng.choice(pieces) for _ in range(rng.randrange(4)))
        try:
            picked = pick(given, wanted)
        except BadHeaders:
            outcomes["refused"] += 1
            continue
        outcomes["picked" if picked else "none"] += 1
        for name, value in picked:
            assert name.lower() in wanted and len(value) <= MAX_VALUE
            assert value.isascii() and not any(c in value for c in "\r\n\x00")
    assert outcomes["refused"] and outcomes["picked"] and outcomes["none"], outcomes


@pytest.mark.timeout(180)
def test_hostile_answers_through_a_real_server(tmp_path: Path) -> None:
    """Every hook of a live server against 300 hostile answers (v2 raw frames)."""
    from tests.integration.test_proxy_hooks import V2Raw, proxy_config
    from tests.integration.wsclient import Closed
    from tests.support.backend import ProxyBackend
    from tests.support.server import SockhubProcess

    rng, outcomes = random.Random(SEED), Counter[str]()
    headers = [{}, {"X-Token": "t"}, {"X-Token": "a\r\nb"}, {"x-token": "v" * 9000}, {"X-Other": "\n"}]
    with ProxyBackend() as backend:
        config = proxy_config(backend, proxy_include_connection_meta=True, proxy_emulated_headers=["X-Token"],
                              proxy_http_status_code_transforms=TRANSFORMS)
        hub = SockhubProcess(tmp_path, config, name="fuzzhub").start()
        try:
            for _ in range(300):
                hook = rng.choice(["connect", "subscribe", "rpc"])
                for path in ("/connect", "/subscribe", "/rpc"):
                    backend.answer(path, {"user": "1", "meta": {"m": 1}})
                if rng.random() < 0.1:
                    backend.answer("/" + hook, status=rng.choice([403, 404, 500]))
                else:
                    backend.answer("/" + hook, raw=answer(rng))
                client = V2Raw(hub)
                try:
                    reply = client.call("connect", {"headers": rng.choice(headers)})
                    if hook != "connect" and "connect" in reply:
                        reply = client.call(hook, {"channel": "px:f"} if hook == "subscribe" else {"method": "m"})
                    outcomes["error" if "error" in reply else "ok"] += 1
                except Closed as closed:
                    assert 4000 <= (closed.code or 0) <= 4999 or closed.code == 3501, (closed, hub.logs()[-3000:])
                    outcomes["closed"] += 1
                finally:
                    client.close()
        finally:
            hub.stop()
        assert "Traceback" not in hub.logs(), hub.logs()[-3000:]
    assert outcomes["error"] and outcomes["ok"], outcomes
