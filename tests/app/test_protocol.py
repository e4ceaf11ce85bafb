"""Framing, params parsing and reply encoding (§2, §5) without a node."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from app.core.errors import Disconnect, ProtocolError
from app.dialects.v1x.wire import (
    Raw,
    close_advice,
    disconnect_push,
    join_replies,
    parse_commands,
    parse_params,
    push,
    reply,
    reply_error,
    valid_raw_json,
)
from transports.strictjson import MAX_DEPTH, JSONInputError, too_deep
from transports.strictjson import loads as strict_loads


@dataclass
class P:
    channel: str = ""
    recover: bool = False
    data: Raw | None = None
    channels: list[str] = field(default_factory=list)


def test_first_byte_decides() -> None:
    cmds, is_array = parse_commands('{"uid":"1","method":"ping"}')
    assert not is_array and cmds[0].uid == "1" and cmds[0].params is None
    cmds, is_array = parse_commands('[{"method":"ping"},{"method":"connect","params":{}}]')
    assert is_array and [c.method for c in cmds] == ["ping", "connect"] and cmds[1].params == {}
    for bad in ('"x"', "1", "", "[]", "[1]", '{"uid":1}', '{"method":["x"]}', '{"params":[]}', "[" * 100000):
        with pytest.raises(Disconnect) as err:
            parse_commands(bad)
        assert err.value.reason == "invalid message" and err.value.reconnect is False


def test_params_types_raw_and_nulls() -> None:
    p = parse_params(P, {"channel": "a", "recover": True, "data": {"b": [1, "é"]}, "extra": 1})
    assert p.channel == "a" and p.recover is True and p.data == '{"b":[1,"\\u00e9"]}'
    assert parse_params(P, {"channel": None, "data": None}) == P(data=Raw("null"))
    assert parse_params(P, None) == P()
    assert parse_params(P, {"channels": ["x", "y"]}).channels == ["x", "y"]
    for bad in ({"channel": 1}, {"recover": "yes"}, {"channels": ["x", 1]}, {"channels": "x"}):
        with pytest.raises(ValueError):
            parse_params(P, bad)


def test_raw_json_check() -> None:
    assert valid_raw_json('{"a":1}') and valid_raw_json("1") and valid_raw_json('"\\ud800"')
    for bad in ("", "{", "NaN", "[Infinity]", "1e400", '{"a":[-1E+999]}', "1 2", '"\ud800"'):
        assert not valid_raw_json(bad), bad


def test_reply_shapes() -> None:
    assert reply("ping", None, "7") == '{"uid":"7","method":"ping"}'
    assert reply("ping", '{"data":"x"}') == '{"method":"ping","body":{"data":"x"}}'
    text = reply_error("subscribe", ProtocolError("permission denied", "fix"), '{"channel":"$x"}', "2")
    assert list(json.loads(text)) == ["uid", "method", "error", "advice", "body"]
    assert join_replies(["{}", "[]"], True) == "[{},[]]" and join_replies(["{}"], False) == "{}"
    assert push("join", "{}") == '{"method":"join","body":{}}'
    assert json.loads(disconnect_push("slow", False)) == {"method": "disconnect",
                                                          "body": {"reason": "slow", "reconnect": False}}
    assert json.loads(close_advice(Disconnect("expired", True))) == {"reason": "expired", "reconnect": True}
    # odd characters in echoed strings come out as valid, ASCII-only JSON
    odd = reply("ping", None, "\ud800\n\"")
    assert odd.isascii() and json.loads(odd)["uid"] == "\ud800\n\""


# -- the one strict decoder (transports.strictjson) ----------------------------------------

def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("text, why", [
    ('"\\ud800"', "lone surrogate in a string"), ('{"a":"x\\uDFFF"}', "lone surrogate in a string"),
    ('{"\\udc00":1}', "lone surrogate in a string"), ('"\ud800"', "lone surrogate in a string"),
    (b'"\xed\xa0\x80"', "not UTF-8"), (b'"\xc0\xaf"', "not UTF-8"),
    ("NaN", "NaN is not JSON"), ("[-Infinity]", "-Infinity is not JSON"), ("1e400", "number out of range"),
    ("1" * 5000, "number out of range"), ("[" * 5000, "nested deeper than 100"),
    ("[" * 101 + "]" * 101, "nested deeper than 100"), ('{"a":' * 101 + "1" + "}" * 101, "nested deeper than 100"),
    ("[1,", "syntax error at character 3"), ("", "syntax error at character 0"),
])
def test_strict_loads_refuses_in_its_own_words(text: str | bytes, why: str) -> None:
    with pytest.raises(JSONInputError) as info:
        strict_loads(text)
    assert str(info.value) == why


def test_strict_loads_accepts_what_is_fine() -> None:
    assert strict_loads('"\\ud83d\\ude00"') == "\U0001f600"  # a pair is one character
    assert strict_loads('"\\\\ud800"') == "\\ud800"  # an escaped backslash, not an escape
    assert strict_loads("[" * 100 + "]" * 100) is not None  # exactly the limit
    assert strict_loads(json.dumps(["[" * 500, "{" * 500])) == ["[" * 500, "{" * 500]  # inside strings
    assert strict_loads(json.dumps([{"a\\\"[": "]\\\\\"[[" * 100}] * 50)) is not None
    assert strict_loads('"\\ud800"', surrogates=True) == "\ud800"  # SockJS keeps JavaScript strings
    assert strict_loads(b'\xef\xbb\xbf{"a":1}') == {"a": 1} and strict_loads(b"1e308") == 1e308


def test_depth_check_agrees_with_the_decoded_value() -> None:
    rng = random.Random(11)

    def chain(depth: int) -> object:
        value: object = rng.choice([1, "a[", '\\"]{', "é[\\", "}]"])
        for _ in range(depth):
            sibling = rng.choice(["]]", "[[", 2, [], {}, ["]"], {"[": "{"}])
            value = rng.choice([[sibling, value], {"k]": value, "x{": sibling}, [value, sibling, '\\"']])
        return value

    for _ in range(1000):
        value = chain(rng.randint(90, 110))
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        assert too_deep(text) == (_depth(value) > MAX_DEPTH), text[:200]


@pytest.mark.parametrize("field", ["user", "timestamp", "info", "token"])
def test_a_lone_surrogate_is_an_invalid_message(field: str) -> None:
    frame = json.dumps({"method": "connect", "params": {field: "a\ud800"}})
    with pytest.raises(Disconnect) as err:
        parse_commands(frame)
    assert err.value.reason == "invalid message" and err.value.reconnect is False
    # the same command as a SockJS message string, which carries the raw surrogate
    with pytest.raises(Disconnect):
        parse_commands(json.loads(json.dumps([frame]))[0].replace("\\ud800", "\ud800"))
