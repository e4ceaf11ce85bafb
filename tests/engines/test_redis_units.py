"""Redis engine pieces that need no server: option parsing, key names, payload codec."""
from __future__ import annotations

import pytest

from app.engines.redis import codec
from app.engines.redis.connection import addresses, build_endpoints
from app.engines.redis.keys import Names
from app.core.values import ClientInfo, Message
from app.options import Options


def test_addresses_from_url_list_and_host_port_lists() -> None:
    assert addresses(Options(redis_url="redis://:pw@10.0.0.1:7000/2, redis://h2")) == [("10.0.0.1", 7000), ("h2", 6379)]
    assert addresses(Options(redis_host="a", redis_port="1,2,3")) == [("a", 1), ("a", 2), ("a", 3)]
    assert addresses(Options(redis_host="a,b", redis_port="9")) == [("a", 9), ("b", 9)]
    assert addresses(Options(redis_host="a,b", redis_port="1,2")) == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError):
        addresses(Options(redis_host="a,b", redis_port="1,2,3"))


def test_endpoint_names_never_show_a_password() -> None:
    endpoints = build_endpoints(Options(redis_url="redis://:s3cret@127.0.0.1:7001/0"))
    assert [e.name for e in endpoints] == ["127.0.0.1:7001"]


def test_sentinel_needs_sentinels() -> None:
    with pytest.raises(ValueError):
        build_endpoints(Options(redis_master_name="m"))


def test_key_names_follow_the_protocol_layout_and_tag_in_cluster_mode() -> None:
    plain, tagged = Names("centrifugo"), Names("centrifugo", cluster=True)
    assert plain.history_stream("news") == "centrifugo.history.stream.centrifugo.message.news"
    assert tagged.history_meta("n") == "centrifugo.history.meta.{centrifugo.message.n}"
    assert plain.presence_hash("news") == "centrifugo.presence.hash.centrifugo.message.news"
    assert tagged.history_touch("a}b") == "centrifugo.history.touch.{centrifugo.message.a}b}"
    assert plain.topics("x") == ("centrifugo.message.x", "centrifugo.join.x", "centrifugo.leave.x")
    assert plain.api_queues(2) == ["centrifugo.api", "centrifugo.api.0", "centrifugo.api.1"]


def test_codec_keeps_raw_json_byte_for_byte() -> None:
    info = ClientInfo("42", "c1", '{ "name" : "Ann\\u00e9" }', '{"lone":"\\ud800"}')
    message = Message("uid1", "ch:é", '{"a": [1, 2.50, "\\u2028"]}', "c1", info)
    assert codec.decode_message(codec.encode_message(message)) == message
    bare = Message("uid2", "ch", "null")
    assert codec.decode_message(codec.encode_message(bare)) == bare
    odd = ClientInfo("\ud800", "c")  # a lone surrogate decoded from a client's JSON
    assert codec.decode_info(codec.encode_info(odd)) == odd


@pytest.mark.parametrize("payload", [b"\xff", b"[]", b'{"uid":"x"}', b'{"uid":"x","channel":"c","data":"1","info":3}'])
def test_codec_rejects_foreign_payloads(payload: bytes) -> None:
    with pytest.raises(codec.CodecError):
        codec.decode_message(payload)
