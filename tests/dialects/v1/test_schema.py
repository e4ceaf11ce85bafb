"""protocol_pb2 is protoc's output for our protocol.proto (regenerated and
compared), and our schema agrees with the one centrifuge-js 2.8.5 ships
(node_modules/centrifuge2/src/client.proto.json): every field both have
carries the same number and type, the method enum is the same, and
:class:`~app.dialects.v1.framing.V1Method` is the enum of the schema."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor

from app.dialects.v1 import protocol_pb2 as ours
from app.dialects.v1.framing import V1Method
from tests.dialects.v2.test_schema import PROTOC_VERSION, ROOT

PROTO = "app/dialects/v1/protocol.proto"
JS_SCHEMA = ROOT / "node_modules" / "centrifuge2" / "src" / "client.proto.json"
#: Messages of JS 2.8.5's schema (Centrifugo 3's names, P v0.8.8) that the
#: v1 wire of Centrifugo 2 sockhub speaks has under other names or not at all.
THEIRS_ONLY = {"Unsubscribe", "Subscribe", "Connect", "Disconnect", "Refresh"}
#: Fields of v0.8.8 that JS 2.8.5 knows and Centrifugo 2.8 did not send.
NEWER = {"SubscribeResult": {"positioned", "data"}}
_TYPES = {"string": FieldDescriptor.TYPE_STRING, "bytes": FieldDescriptor.TYPE_BYTES,
          "bool": FieldDescriptor.TYPE_BOOL, "uint32": FieldDescriptor.TYPE_UINT32,
          "uint64": FieldDescriptor.TYPE_UINT64, "int32": FieldDescriptor.TYPE_INT32}


def protoc(tmp_path: Path, *args: str) -> None:
    (tmp_path / PROTO).parent.mkdir(parents=True)
    (tmp_path / PROTO).write_bytes((ROOT / PROTO).read_bytes())
    subprocess.run(["protoc", "-I", ".", *args, PROTO], cwd=tmp_path, check=True)


def test_the_committed_module_holds_the_schema_of_the_proto_file(tmp_path: Path) -> None:
    protoc(tmp_path, "--descriptor_set_out=set.pb")
    generated = descriptor_pb2.FileDescriptorSet.FromString((tmp_path / "set.pb").read_bytes()).file[0]
    for message in generated.message_type:
        for field in message.field:
            field.ClearField("json_name")
        for nested in message.nested_type:
            for field in nested.field:
                field.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto()
    ours.DESCRIPTOR.CopyToProto(committed)
    assert committed == generated


def test_the_committed_files_are_protocs_output(tmp_path: Path) -> None:
    version = subprocess.run(["protoc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if version != PROTOC_VERSION:
        pytest.skip(f"{version} here; the committed files are {PROTOC_VERSION}'s")
    protoc(tmp_path, "--python_out=.", "--pyi_out=.")
    for suffix in (".py", ".pyi"):
        name = f"app/dialects/v1/protocol_pb2{suffix}"
        assert (tmp_path / name).read_text() == (ROOT / name).read_text(), f"{name}: run protoc (see {PROTO})"


def _js_schema() -> dict[str, Any]:
    if not JS_SCHEMA.exists():
        pytest.skip("centrifuge2 (centrifuge-js 2.8.5) not installed: make js")
    nested: dict[str, Any] = json.loads(JS_SCHEMA.read_text())
    for name in ("centrifugal", "centrifuge", "protocol"):
        nested = nested["nested"][name]
    return dict(nested["nested"])


def test_every_field_of_centrifuge_js_2_is_ours_with_its_number_and_type() -> None:
    theirs = _js_schema()
    checked = 0
    for name, message in theirs.items():
        if "fields" not in message or name in THEIRS_ONLY:
            continue
        mine = ours.DESCRIPTOR.message_types_by_name[name]
        for field_name, field in message["fields"].items():
            if field_name in NEWER.get(name, set()):
                continue
            fd = mine.fields_by_name[field_name]
            assert fd.number == field["id"], (name, field_name)
            if field["type"] in _TYPES and "keyType" not in field:
                assert fd.type == _TYPES[field["type"]], (name, field_name)
            assert fd.is_repeated == (field.get("rule") == "repeated" or "keyType" in field), (name, field_name)
            checked += 1
    assert checked > 60


def test_the_method_enum_is_the_clients_and_ours() -> None:
    js = _js_schema()["Command"]["nested"]["MethodType"]["values"]
    assert {m.name: int(m) for m in V1Method} == js == dict(ours.MethodType.items())
    pushes = _js_schema()["Push"]["nested"]["PushType"]["values"]
    assert [v for k, v in ours.PushType.items()] == [pushes[k] for k in
                                                    ("PUBLICATION", "JOIN", "LEAVE", "UNSUBSCRIBE", "MESSAGE", "SUBSCRIBE")]


def test_our_package_is_our_own() -> None:
    assert ours.DESCRIPTOR.package == "sockhub.v1" and ours.DESCRIPTOR.name == PROTO
