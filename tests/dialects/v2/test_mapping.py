"""Our JSON mapping (app/dialects/v2/jsoncodec.py) is proto3's canonical JSON
with the SDKs' two differences, raw JSON for ``bytes`` and numbers for
64-bit integers, for every message type of the schema; our protobuf bytes
are read by centrifuge-python 0.7.0's own generated classes, and theirs by ours."""
from __future__ import annotations

import json

import pytest
from centrifuge.protocol import client_pb2 as theirs
from google.protobuf.json_format import MessageToDict

from app.dialects.v2 import jsoncodec
from app.dialects.v2 import protocol_pb2 as pb
from tests.dialects.v2.samples import populate, sdk_json

ALL = sorted(pb.DESCRIPTOR.message_types_by_name)
SHARED = sorted(theirs.DESCRIPTOR.message_types_by_name)


def as_dict(message: object) -> dict[str, object]:
    return MessageToDict(message, preserving_proto_field_name=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ALL)
def test_json_is_the_canonical_mapping_with_raw_data(name: str) -> None:
    message = populate(getattr(pb, name)())
    text = jsoncodec.encode(message)
    assert "\n" not in text
    assert json.loads(text) == sdk_json(as_dict(message), message.DESCRIPTOR)


@pytest.mark.parametrize("name", ALL)
def test_json_decodes_back_to_the_same_message(name: str) -> None:
    message = populate(getattr(pb, name)())
    again = getattr(pb, name)()
    jsoncodec.decode(again, jsoncodec.encode(message))
    assert as_dict(again) == as_dict(message)
    assert again == message


@pytest.mark.parametrize("name", SHARED)
def test_centrifuge_python_reads_our_protobuf(name: str) -> None:
    message = populate(getattr(pb, name)(), like=theirs.DESCRIPTOR.message_types_by_name[name])
    read = getattr(theirs, name).FromString(message.SerializeToString())
    assert as_dict(read) == as_dict(message)
    assert read.ListFields() or not read.DESCRIPTOR.fields  # something was compared


@pytest.mark.parametrize("name", SHARED)
def test_we_read_centrifuge_pythons_protobuf(name: str) -> None:
    message = populate(getattr(theirs, name)())
    read = getattr(pb, name).FromString(message.SerializeToString())
    assert as_dict(read) == as_dict(message)
    assert read.ListFields() or not read.DESCRIPTOR.fields


def test_zero_values_are_left_out_and_set_empty_messages_kept() -> None:
    reply = pb.Reply(id=3, publish=pb.PublishResult())
    assert jsoncodec.encode(reply) == '{"id":3,"publish":{}}'
    assert jsoncodec.encode(pb.Reply()) == "{}"
    result = pb.SubscribeResult(recoverable=False, epoch="", offset=0, positioned=True)
    assert jsoncodec.encode(result) == '{"positioned":true}'


def test_raw_fields_are_embedded_and_checked() -> None:
    publication = pb.Publication(data=b'{"text": "a\\nb",\n "n": [1, 2]}', offset=2 ** 63)
    # a raw line break would split the frame: re-encoded compactly; the rest as sent
    assert jsoncodec.encode(publication) == '{"data":{"text":"a\\nb","n":[1,2]},"offset":9223372036854775808}'
    assert jsoncodec.encode(pb.Publication(data=b' "s" ')) == '{"data": "s" }'
    for bad in (b"\xff", b"{", b"NaN", b"1 2", '"\ud800"'.encode("utf-8", "surrogatepass"), b"[" * 200 + b"]" * 200):
        with pytest.raises(jsoncodec.NotJson):
            jsoncodec.encode(pb.Publication(data=bad))


@pytest.mark.parametrize("text, error", [
    ('{"token": 5}', "token: wrong type"),
    ('{"subs": {"a": {"recover": 1}}}', "recover: wrong type"),
    ('{"subs": {"a": {"offset": -1}}}', "value out of range"),
    ('{"subs": {"a": {"offset": 18446744073709551616}}}', "value out of range"),
    ('{"subs": {"a": {"offset": 1.0}}}', "offset: wrong type"),
    ('{"subs": {"a": {"offset": true}}}', "offset: wrong type"),
    ('{"subs": []}', "subs must be an object"),
    ('{"subs": {"a": []}}', "SubscribeRequest must be an object"),
    ('{"headers": {"a": 1}}', "value: wrong type"),
    ('[]', "ConnectRequest must be an object"),
    ('{"token": "\\ud800"}', "lone surrogate in a string"),
    ('{"data": NaN}', "NaN is not JSON"),
])
def test_a_value_of_the_wrong_shape_is_refused(text: str, error: str) -> None:
    with pytest.raises(jsoncodec.ShapeError, match=error):
        jsoncodec.decode(pb.ConnectRequest(), text)


def test_null_and_unknown_keys_mean_not_set() -> None:
    request = pb.ConnectRequest()
    jsoncodec.decode(request, '{"token": null, "future": {"x": 1}, "subs": {"a": null, "b": {}}, "data": null}')
    assert (list(request.subs), request.token, request.data) == (["b"], "", b"")


def test_raw_data_keeps_its_json_value_compactly() -> None:
    request = pb.PublishRequest()
    jsoncodec.decode(request, '{"channel": "news", "data": {"text": "h\u00e9", "n": [1, 2.5, null]}}')
    assert request.data == '{"text":"h\u00e9","n":[1,2.5,null]}'.encode()
