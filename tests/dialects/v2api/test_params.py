"""The current-style API's body parsing, errors, envelope and patterns, without a server."""
from __future__ import annotations

import base64

import pytest
from tornado.httputil import HTTPHeaders

from app.dialects.v2api import errors
from app.dialects.v2api.envelope import authorized
from app.dialects.v2api.errors import ApiError, from_core
from app.dialects.v2api.params import (
    DisconnectRequest, HistoryRequest, ParamsError, Position, PublishRequest, SubscribeRequest, decode_body,
    decoded_b64, parse, plan,
)
from app.dialects.v2api.pattern import Pattern
from app.options import Options


def publish(body: bytes) -> PublishRequest:
    return parse(PublishRequest, plan(PublishRequest), decode_body(body))


def test_fields_are_typed_and_data_is_compact_json() -> None:
    p = publish(b'{"channel": "news", "data": {"b": [1, 2.5, "\\u00e9"], "a": null}, "skip_history": true,'
                b' "tags": {"k": "v"}, "unknown": [1], "idempotency_key": null}')
    assert p.channel == "news" and p.skip_history and p.tags == {"k": "v"} and p.idempotency_key == ""
    assert p.data == '{"b":[1,2.5,"\\u00e9"],"a":null}'  # what the 1.x API relays too
    assert publish(b'{"channel": "x", "data": "text"}').data == '"text"'
    assert publish(b'{"channel": "x"}').data is None and publish(b'{"data": null}').data is None


@pytest.mark.parametrize("body, why", [
    (b"", "empty body"), (b"  \n", "empty body"), (b"[]", "a JSON object expected"), (b'"x"', "a JSON object"),
    (b"{", "syntax error"), (b"\xff", "not"), (b'{"channel": 1}', "channel: string expected"),
    (b'{"channel": "x", "skip_history": "yes"}', "skip_history: bool expected"),
    (b'{"tags": {"a": 1}}', "tags: object of strings expected"), (b'{"data": NaN}', "NaN"),
    (b'{"channel": "\\ud800"}', "surrogate"),
])
def test_bad_bodies_are_params_errors(body: bytes, why: str) -> None:
    with pytest.raises(ParamsError, match=why):
        publish(body)


def test_nested_fields() -> None:
    h = parse(HistoryRequest, plan(HistoryRequest), {"channel": "c", "limit": -1, "since": {"offset": 5}})
    assert h.since == Position(5, "") and h.limit == -1
    for bad in ({"since": []}, {"since": {"offset": -1}}, {"limit": 1.5}, {"limit": 2 ** 63}, {"limit": True}):
        with pytest.raises(ParamsError):
            parse(HistoryRequest, plan(HistoryRequest), bad)
    d = parse(DisconnectRequest, plan(DisconnectRequest), {"user": "1", "disconnect": {"code": 4500, "reason": "x"},
                                                           "whitelist": ["a"]})
    assert d.disconnect is not None and (d.disconnect.code, d.disconnect.reason, d.whitelist) == (4500, "x", ["a"])
    with pytest.raises(ParamsError, match="disconnect code"):
        parse(DisconnectRequest, plan(DisconnectRequest), {"disconnect": {"code": 2 ** 32}})
    s = parse(SubscribeRequest, plan(SubscribeRequest), {"user": "u", "channel": "c", "info": {"r": 1}})
    assert s.info == '{"r":1}' and s.recover_since is None


def test_b64_fields_carry_json_only() -> None:
    assert decoded_b64(base64.b64encode(b' {"n": 1} ').decode()) == '{"n":1}'
    for bad in ("!!", base64.b64encode(b"\x00\xff").decode(), base64.b64encode(b"{").decode()):
        with pytest.raises(ApiError) as caught:
            decoded_b64(bad)
        assert caught.value.code == errors.BAD_REQUEST and caught.value.message == "bad request"


def test_error_mapping() -> None:
    assert [from_core(name).code for name in ("namespace not found", "not available", "invalid message",
                                              "method not found", "permission denied")] == [102, 108, 107, 104, 100]
    assert ApiError(102).json() == '{"code":102,"message":"unknown channel"}'
    assert [ApiError(code).http_status for code in (100, 102, 104, 107, 108, 112, 113, 999)] == \
        [500, 404, 404, 400, 400, 416, 409, 500]


def headers(**values: str) -> HTTPHeaders:
    h = HTTPHeaders()
    for name, value in values.items():
        h[name.replace("_", "-")] = value
    return h


def test_the_key() -> None:
    keyed = Options(api_key="k")
    assert authorized(keyed, headers(X_API_Key="k"), "")
    assert authorized(keyed, headers(Authorization="ApiKey k"), "")
    assert authorized(keyed, headers(), "a=1&api_key=k")
    assert authorized(keyed, headers(X_API_Key="wrong"), "api_key=k")  # as Centrifugo: the query is read last
    assert not authorized(keyed, headers(X_API_Key="wrong", Authorization="apikey k"), "")
    assert not authorized(keyed, headers(Authorization="apikey k extra"), "")
    assert not authorized(keyed, headers(X_API_Key="k\u00e9"), "")
    assert not authorized(Options(), headers(X_API_Key=""), "api_key=")  # no key configured
    assert authorized(Options(insecure_api=True), headers(), "")


@pytest.mark.parametrize("pattern, yes, no", [
    ("*", ["", "a", "news:x"], []),
    ("news*", ["news", "news:1"], ["new", "xnews"]),
    ("n?ws", ["news", "nows"], ["nws", "neews"]),
    ("[ab]*", ["a1", "b"], ["c", ""]),
    ("[!ab]x", ["cx"], ["ax", "x"]),
    ("[a-c]", ["b"], ["d"]),
    ("{news,chat}:*", ["news:1", "chat:"], ["other:1"]),
    ("a\\*", ["a*"], ["ab"]),
    ("*a*a*a*a*a*a*a*a*a*b", ["a" * 20 + "b"], ["a" * 255]),  # linear, not exponential
])
def test_patterns(pattern: str, yes: list[str], no: list[str]) -> None:
    compiled = Pattern(pattern)
    assert [compiled.match(s) for s in yes] == [True] * len(yes)
    assert [compiled.match(s) for s in no] == [False] * len(no)


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "x" * 513, "{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(ApiError) as caught:
        Pattern(pattern)
    assert caught.value.code == errors.BAD_REQUEST
