"""Messages with every field set, for the mapping and interop tests."""
from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

_SIGNED = {FieldDescriptor.TYPE_INT32: -7, FieldDescriptor.TYPE_SINT32: -7,
           FieldDescriptor.TYPE_INT64: -(2 ** 40), FieldDescriptor.TYPE_SINT64: -(2 ** 40) - 3}
_UNSIGNED = {FieldDescriptor.TYPE_UINT32: 2 ** 32 - 1, FieldDescriptor.TYPE_UINT64: 2 ** 64 - 1}
_64_BIT = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_UINT64}


def _scalar(field: FieldDescriptor, index: int = 0) -> Any:
    if field.type == FieldDescriptor.TYPE_STRING:
        return f"{field.name}-{index}-é"
    if field.type == FieldDescriptor.TYPE_BYTES:  # raw JSON on JSON connections
        value = {"field": field.name, "list": [index, True, None], "text": "ü\n"}
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()  # as decoded
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    return _SIGNED.get(field.type, _UNSIGNED.get(field.type))


def populate(message: Message, like: Any = None, depth: int = 0) -> Message:
    """Sets every field of ``message`` (only those the descriptor ``like``
    has too, at every level), sub-messages two levels deep, two entries in
    lists and maps."""
    pool = None if like is None else like.file.pool
    for field in message.DESCRIPTOR.fields:
        if like is not None and field.name not in like.fields_by_name:
            continue
        target = getattr(message, field.name)
        sub = field.message_type
        sub_like = None if pool is None or sub is None else pool.FindMessageTypeByName(
            like.fields_by_name[field.name].message_type.full_name)
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            value_like = None if sub_like is None else sub_like.fields_by_name["value"].message_type
            for key in ("a", "b\u00e9"):
                if value_field.message_type is not None:
                    populate(target[key], value_like, depth + 1) if depth < 2 else target[key].SetInParent()
                else:
                    target[key] = _scalar(value_field)
        elif sub is not None and field.is_repeated:
            for _ in range(2):
                item = target.add()
                if depth < 2:
                    populate(item, sub_like, depth + 1)
        elif sub is not None:
            target.SetInParent()
            if depth < 2:
                populate(target, sub_like, depth + 1)
        elif field.is_repeated:
            target.extend([_scalar(field, 0), _scalar(field, 1)])
        else:
            setattr(message, field.name, _scalar(field))
    return message


def sdk_json(value: Any, descriptor: Any) -> Any:
    """proto3's canonical JSON of a message (a MessageToDict with proto
    names) turned into the SDKs' mapping: raw JSON for bytes, numbers for
    64-bit integers."""
    out = {}
    for name, item in value.items():
        field = descriptor.fields_by_name[name]
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            value_field = sub.fields_by_name["value"]
            out[name] = {k: _one(value_field, v) for k, v in item.items()}
        elif field.is_repeated:
            out[name] = [_one(field, v) for v in item]
        else:
            out[name] = _one(field, item)
    return out


def _one(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        return sdk_json(value, field.message_type)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return json.loads(base64.b64decode(value))
    if field.type in _64_BIT:
        return int(value)
    return value
