"""protocol_pb2 is protoc's output for our protocol.proto, nothing else: the
test regenerates it and compares.  The schema itself is compared with the
one centrifuge-python 0.7.0 ships (its own generated classes, unchanged):
every message and field it has, we have with the same number and type."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from centrifuge.protocol import client_pb2 as theirs
from google.protobuf import descriptor_pb2

from app.dialects.v2 import protocol_pb2 as ours

ROOT = Path(__file__).resolve().parents[3]
PROTO = "app/dialects/v2/protocol.proto"
#: The protoc whose output is committed (Debian's protobuf-compiler).
PROTOC_VERSION = "libprotoc 3.21.12"
#: Fields newer than centrifuge-python's schema (docs/protocol-v2.md §3.7 "newer").
NEWER = {
    "ConnectRequest": {"dict", "profile"}, "ConnectResult": {"dict", "flag"},
    "Publication": {"epoch", "key", "prev_data", "removed", "score", "version"},
    "PublishRequest": {"key", "removed", "type"}, "SubRefreshRequest": {"track", "type", "untrack"},
    "SubRefreshResult": {"items"}, "SubscribeRequest": {"asc", "cursor", "limit", "phase", "type"},
    "SubscribeResult": {"cursor", "phase", "publish_debounce", "state", "type"},
}


def protoc(tmp_path: Path, *args: str) -> Path:
    """Runs protoc on a copy of the schema at its repository path (the path
    is the file's name in the descriptor pool)."""
    assert shutil.which("protoc"), "protoc missing: apt-get install protobuf-compiler (make system-deps)"
    (tmp_path / PROTO).parent.mkdir(parents=True)
    shutil.copy(ROOT / PROTO, tmp_path / PROTO)
    subprocess.run(["protoc", "-I", ".", *args, PROTO], cwd=tmp_path, check=True)
    return tmp_path / PROTO


def test_the_committed_module_holds_the_schema_of_the_proto_file(tmp_path: Path) -> None:
    protoc(tmp_path, "--descriptor_set_out=set.pb")
    generated = descriptor_pb2.FileDescriptorSet.FromString((tmp_path / "set.pb").read_bytes()).file[0]
    todo = list(generated.message_type)
    while todo:  # the Python module keeps no json_name (protoc derives it)
        message = todo.pop()
        todo.extend(message.nested_type)
        for field in message.field:
            field.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto()
    ours.DESCRIPTOR.CopyToProto(committed)
    assert committed == generated


def test_the_committed_files_are_protocs_output(tmp_path: Path) -> None:
    version = subprocess.run(["protoc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if version != PROTOC_VERSION:
        pytest.skip(f"{version} here; the committed files are {PROTOC_VERSION}'s (the schema test still ran)")
    protoc(tmp_path, "--python_out=.", "--pyi_out=.")
    for suffix in (".py", ".pyi"):
        name = f"app/dialects/v2/protocol_pb2{suffix}"
        assert (tmp_path / name).read_text() == (ROOT / name).read_text(), f"{name}: run protoc (see {PROTO})"


def _fields(descriptor: object) -> dict[str, tuple[int, int, bool]]:
    return {f.name: (f.number, f.type, f.is_repeated) for f in descriptor.fields}  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(theirs.DESCRIPTOR.message_types_by_name))
def test_every_message_of_centrifuge_python_has_its_fields_here(name: str) -> None:
    mine = ours.DESCRIPTOR.message_types_by_name[name]
    theirs_fields = _fields(theirs.DESCRIPTOR.message_types_by_name[name])
    assert {k: v for k, v in _fields(mine).items() if k in theirs_fields} == theirs_fields
    assert set(_fields(mine)) - set(theirs_fields) == NEWER.get(name, set())


def test_our_package_does_not_clash_with_the_sdk_in_one_process() -> None:
    assert ours.DESCRIPTOR.package == "sockhub.v2" != theirs.DESCRIPTOR.package
    assert ours.DESCRIPTOR.name == PROTO
