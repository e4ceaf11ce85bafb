"""Framing, params parsing and reply encoding (§2, §5) without a node."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from app.protocol import (
    Disconnect,
    ProtocolError,
    Raw,
    disconnect_push,
    join_replies,
    parse_commands,
    parse_params,
    push,
    reply,
    reply_error,
    valid_raw_json,
)


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
    assert json.loads(Disconnect("expired", True).advice) == {"reason": "expired", "reconnect": True}
    # odd characters in echoed strings come out as valid, ASCII-only JSON
    odd = reply("ping", None, "\ud800\n\"")
    assert odd.isascii() and json.loads(odd)["uid"] == "\ud800\n\""
