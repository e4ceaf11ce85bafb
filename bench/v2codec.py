"""Nanoseconds per encode and decode of the protocol v2 codec (prints figures; not a test).

    .venv/bin/python bench/v2codec.py [--number 20000] [--repeat 5]

Two messages, the ones every connection or every publication pays for: a
publication push (encoded once per publication and format, then shared) and
a connect command with a token, data and a recoverable server-side
subscription (decoded once per connection).  Each is run through:

* ``ours``: app/dialects/v2 as shipped (jsoncodec's schema walk, the
  varint framing with protobuf's runtime);
* ``json_format``: Google's canonical JSON (``google.protobuf.json_format``)
  with the post-processing protocol v2 needs (raw JSON instead of base64 in
  ``bytes`` fields, numbers instead of strings for 64-bit integers) — the
  alternative the codec was measured against;
* ``prepared``: pushes.PreparedPublication, which writes the push's JSON
  straight from its values (the special case the walk's cost asked for),
  with the raw data checked or known to be JSON (``json_checked``).
  Writing its protobuf bytes directly too was tried and measured no faster
  than building the messages (their walk is C), so it builds them.

The best of ``repeat`` runs of ``number`` calls, in ns per call.  Output
sizes (bytes per item) come last: protobuf against JSON.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from google.protobuf import json_format  # noqa: E402
from google.protobuf.descriptor import FieldDescriptor  # noqa: E402
from google.protobuf.message import Message  # noqa: E402

from app.dialects.v2 import jsoncodec  # noqa: E402
from app.dialects.v2 import protocol_pb2 as pb  # noqa: E402
from app.dialects.v2.framing import JsonFrames, ProtobufFrames  # noqa: E402
from app.dialects.v2.pushes import PreparedPublication  # noqa: E402

JSON = JsonFrames()
PROTOBUF = ProtobufFrames()
DATA = b'{"text":"hello, world","n":12345,"tags":["a","b"]}'
CONNECT_LINE = ('{"id":1,"connect":{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",'
                '"data":{"app":"bench","v":3},"subs":{"news":{"recover":true,"offset":17,"epoch":"abcd"}},'
                '"name":"js","version":"5.8.0"}}')
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64}


def publication() -> pb.Publication:
    return pb.Publication(data=DATA, offset=123456, info=pb.ClientInfo(user="42", client="c0ffee-1234",
                                                                    conn_info=b'{"name":"Alex"}'))


def push_reply() -> pb.Reply:
    return pb.Reply(push=pb.Push(channel="news", pub=publication()))


# -- the json_format alternative ----------------------------------------------------


def _from_canonical(value: dict[str, Any], descriptor: Any) -> dict[str, Any]:
    for name, item in value.items():
        field = descriptor.fields_by_name[name]
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for one in item if field.is_repeated else [item]:
                _from_canonical(one, field.message_type)
        elif field.type == FieldDescriptor.TYPE_BYTES:
            value[name] = json.loads(base64.b64decode(item))
        elif field.type in _64:
            value[name] = int(item)
    return value


def json_format_encode(message: Message) -> str:
    canonical = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return _dumps(_from_canonical(canonical, message.DESCRIPTOR))


def _to_canonical(value: dict[str, Any], descriptor: Any) -> dict[str, Any]:
    for name, item in list(value.items()):
        field = descriptor.fields_by_name.get(name)
        if field is None:
            continue
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            inner = sub.fields_by_name["value"].message_type
            if inner is not None:
                for one in item.values():
                    _to_canonical(one, inner)
        elif sub is not None:
            _to_canonical(item, sub)
        elif field.type == FieldDescriptor.TYPE_BYTES:
            value[name] = base64.b64encode(_dumps(item).encode()).decode()
    return value


def json_format_decode(line: str) -> pb.Command:
    command = pb.Command()
    json_format.ParseDict(_to_canonical(jsoncodec.strict_loads(line), command.DESCRIPTOR), command,
                          ignore_unknown_fields=True)
    return command


def prepared(checked: bool) -> Callable[[], object]:
    info = publication().info

    def call() -> object:
        push = PreparedPublication("news", DATA, offset=123456, info=info, json_checked=checked)
        return push.json
    return call


def measure(call: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reply = push_reply()
    pub = publication()
    protobuf_line = PROTOBUF.encode(pb.Command(
        id=1, connect=pb.ConnectRequest(token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl",
                                        data=b'{"app":"bench","v":3}', name="js", version="5.8.0",
                                        subs={"news": pb.SubscribeRequest(recover=True, offset=17, epoch="abcd")})))
    ours = PreparedPublication("news", DATA, offset=123456, info=pub.info)
    assert JSON.encode(reply) == ours.json and json.loads(json_format_encode(reply)) == json.loads(ours.json)  # type: ignore[arg-type]
    assert JSON.decode(CONNECT_LINE).requests[0].params == json_format_decode(CONNECT_LINE).connect
    rows = [
        ("publication push, JSON encode", "schema walk, raw checked", lambda: jsoncodec.encode(reply)),
        ("publication push, JSON encode", "schema walk, raw known JSON", lambda: jsoncodec.encode_checked_raw(reply)),
        ("publication push, JSON encode", "json_format + fix-ups", lambda: json_format_encode(reply)),
        ("publication push, JSON encode", "prepared, raw checked", prepared(False)),
        ("publication push, JSON encode", "prepared, raw known JSON (shipped)", prepared(True)),
        ("publication push, protobuf encode", "prepared (Reply + Serialize + varint)",
         lambda: PreparedPublication("news", DATA, offset=123456, info=pub.info).protobuf),
        ("connect command, JSON decode", "ours (strictjson + schema walk)", lambda: JSON.decode(CONNECT_LINE)),
        ("connect command, JSON decode", "json_format + fix-ups", lambda: json_format_decode(CONNECT_LINE)),
        ("connect command, protobuf decode", "ours (varint + ParseFromString)", lambda: PROTOBUF.decode(protobuf_line)),
    ]
    print(f"{'what':55} {'how':36} {'ns/call':>8}")
    for what, how, call in rows:
        print(f"{what:55} {how:36} {measure(call, args.number, args.repeat):8.0f}")
    json_push = JSON.encode(reply)
    assert isinstance(json_push, str)
    print(f"\nbytes per item: publication push JSON {len(json_push.encode())}, protobuf {len(PROTOBUF.encode(reply))}; "
          f"connect JSON {len(CONNECT_LINE)}, protobuf {len(protobuf_line)}; ping JSON 2, protobuf 1")


if __name__ == "__main__":
    main()
