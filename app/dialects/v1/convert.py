"""The bridge between protocol v1's messages and protocol v2's: fields of
the same name copied across (the two schemas share their names, not all
their numbers), and the few v1 facts with no v2 name (docs/protocol-v1.md §5).

* :func:`copy_fields` copies every set field of one message into another of
  the other schema, recursing into messages, lists and maps; a field the
  target lacks (a v2 result's ``positioned``, ``was_recovering``, ``ping``)
  is left behind;
* :func:`subscribe_request`: a v1 ``seq``/``gen`` position becomes the
  offset Centrifugo 2 packs it into (``gen * 4294967295 + seq``), and the
  join/leave pushes are asked for (v1 sent them to every subscriber);
* :func:`history_request`: a v1 history has no paging (Centrifugo 2.8
  returns the whole stream), so no ``limit`` is all of it.
"""
from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v2 import protocol_pb2 as pb2

_INTS = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_UINT32,
                   FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_UINT64})
#: Centrifugo 2's packing of a seq/gen position into one offset.
SEQ_GEN_BASE = 4294967295


def _same_kind(a: Any, b: Any) -> bool:
    return a.type == b.type or a.type in _INTS and b.type in _INTS


def copy_fields(source: Message, target: Message) -> None:
    """Copies the set fields of ``source`` that ``target``'s type has (same
    name, same kind) into ``target``."""
    fields = target.DESCRIPTOR.fields_by_name
    for fd, value in source.ListFields():
        to = fields.get(fd.name)
        if to is None or not _same_kind(fd, to):
            continue
        if fd.message_type is None:
            if fd.is_repeated:
                getattr(target, fd.name).extend(value)
            else:
                setattr(target, fd.name, value)
        elif fd.message_type.GetOptions().map_entry:
            _copy_map(fd, value, getattr(target, fd.name))
        elif fd.is_repeated:
            into = getattr(target, fd.name)
            for item in value:
                copy_fields(item, into.add())
        else:
            sub = getattr(target, fd.name)
            sub.SetInParent()
            copy_fields(value, sub)


def _copy_map(fd: Any, value: Any, into: Any) -> None:
    if fd.message_type.fields_by_name["value"].message_type is None:
        into.update(value)
        return
    for key, item in value.items():
        copy_fields(item, into[key])


def to_v2(source: Message, kind: type[Message]) -> Message:
    """``source`` as the v2 message ``kind``."""
    target = kind()
    copy_fields(source, target)
    return target


def subscribe_request(p: pb.SubscribeRequest) -> pb2.SubscribeRequest:
    """Protocol v1 has no ``join_leave`` flag: Centrifugo 2 pushed a join
    and leave to every subscriber of a channel that publishes them, so the
    v2 request asks for them."""
    target = pb2.SubscribeRequest(join_leave=True)
    copy_fields(p, target)
    if p.recover and not p.offset and (p.seq or p.gen):
        target.offset = p.gen * SEQ_GEN_BASE + p.seq
    return target


def history_request(p: pb.HistoryRequest) -> pb2.HistoryRequest:
    target = pb2.HistoryRequest()
    copy_fields(p, target)
    if p.limit <= 0:
        target.limit = -1  # all of the stream, as Centrifugo 2.8 answers
    return target
