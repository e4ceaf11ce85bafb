"""Protocol v2's JSON mapping: a protobuf message of protocol_pb2 to and from
one JSON object, the way the Centrifugal SDKs and servers write it
(docs/protocol-v2.md §2.1).

It is not proto3's canonical JSON mapping (``google.protobuf.json_format``),
and differs in three ways, which is why it is written here:

* every ``bytes`` field (``data``, ``info``, ``conn_info``, ``chan_info``, ...)
  holds **raw embedded JSON**, not base64: decoding keeps the value as compact
  JSON text, encoding embeds the bytes as they are (after checking they are
  one JSON value without a newline, else re-encoding them compactly);
* 64-bit integers (``offset``, ``time``) are JSON numbers, not strings;
* keys are the proto field names (``presence_stats``, ``was_recovering``),
  and every zero value is left out; a message that is set but empty is
  written ``{}`` (``{"id":3,"publish":{}}``).

Decoding is strict where the SDKs are exact: a value of the wrong JSON type
or out of its field's range is refused, ``null`` means "not set", unknown
keys are skipped (a newer client's extra fields).  A refusal is a
:class:`ShapeError` with our own short message.  Encoding refuses only a raw
field that is not JSON (a binary publication for a JSON client):
:class:`NotJson`.

One plan per message type is built from the schema at import and never
changes; the walk over a message uses ``ListFields()``, which yields exactly
the fields that are set, in field-number order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, Mapping

from google.protobuf.descriptor import Descriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import Message

from app.dialects.v2 import protocol_pb2 as pb
from transports.strictjson import JSONInputError
from transports.strictjson import loads as strict_loads


class ShapeError(ValueError):
    """A JSON command does not fit its message; the text is ours."""


class NotJson(ValueError):
    """A raw-JSON field holds bytes that are not one JSON value."""


#: Compact JSON for raw fields; UTF-8 kept (strict_loads refused lone surrogates).
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode

# Field kinds.
_BOOL, _INT, _STRING, _RAW, _MESSAGE = range(5)

#: The integer types of the schema (their ranges are checked by the message).
#: Enums (protocol v1's) are written as their numbers, as the SDKs do.
_INTS = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_UINT32,
                   FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_UINT64,
                   FieldDescriptor.TYPE_ENUM})


@dataclass(frozen=True, slots=True)
class _Field:
    """How one field is read from and written to JSON."""

    name: str
    key: str  # '"name":', the encoded key
    kind: int
    repeated: bool = False
    map_value: "_Field | None" = None  # maps: how each value is read/written
    message: str = ""  # _MESSAGE: the full name of its type


def _kind(fd: FieldDescriptor) -> int:
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return _BOOL
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _STRING
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return _RAW
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return _MESSAGE
    if fd.type in _INTS:
        return _INT
    raise TypeError(f"{fd.full_name}: no JSON mapping for type {fd.type}")  # not in our schema


def _field(fd: FieldDescriptor) -> _Field:
    key = encode_basestring(fd.name) + ":"
    kind = _kind(fd)
    sub = fd.message_type
    if sub is None:
        return _Field(fd.name, key, kind, repeated=fd.is_repeated)
    if sub.GetOptions().map_entry:
        return _Field(fd.name, key, _MESSAGE, map_value=_field(sub.fields_by_name["value"]))
    return _Field(fd.name, key, kind, repeated=fd.is_repeated, message=sub.full_name)


@dataclass(frozen=True, slots=True)
class _Plan:
    by_name: Mapping[str, _Field]
    by_number: Mapping[int, _Field]


def _plans(descriptors: list[Descriptor]) -> Mapping[str, _Plan]:
    plans: dict[str, _Plan] = {}
    todo = list(descriptors)
    while todo:
        descriptor = todo.pop()
        todo.extend(descriptor.nested_types)
        fields = {fd.number: _field(fd) for fd in descriptor.fields}
        plans[descriptor.full_name] = _Plan(MappingProxyType({f.name: f for f in fields.values()}),
                                            MappingProxyType(fields))
    return MappingProxyType(plans)


#: One plan per message type of the schema, by full name.
PLANS = _plans(list(pb.DESCRIPTOR.message_types_by_name.values()))


# -- decoding ---------------------------------------------------------------------


class _Reader:
    """Fills messages of one schema from decoded JSON values."""

    __slots__ = ("_plans",)

    def __init__(self, plans: Mapping[Any, Mapping[str, _Field]]) -> None:
        self._plans = plans

    def fill(self, message: Message, obj: Any) -> None:
        """Sets the fields of ``message`` from ``obj``, a decoded JSON object;
        raises :class:`ShapeError` when a value does not fit."""
        if type(obj) is not dict:
            raise ShapeError(f"{_short(message)} must be an object")
        plan = self._plans[message.DESCRIPTOR]
        for name, value in obj.items():
            spec = plan.get(name)
            if spec is None or value is None:  # unknown key; null is "not set"
                continue
            kind = spec.kind
            # the common cases inline: this runs once per key of every command
            if kind == _STRING and type(value) is str and not spec.repeated:
                setattr(message, name, value)
            elif spec.map_value is not None:
                self._fill_map(getattr(message, name), spec, value)
            elif spec.repeated:
                self._fill_list(message, spec, value)
            elif kind == _MESSAGE:
                sub = getattr(message, name)
                sub.SetInParent()  # {} is set, not absent
                self.fill(sub, value)
            else:
                setattr(message, name, _scalar(spec, value))

    def _fill_list(self, message: Message, spec: _Field, value: Any) -> None:
        if type(value) is not list:
            raise ShapeError(f"{spec.name} must be an array")
        target = getattr(message, spec.name)
        if spec.kind == _MESSAGE:
            for item in value:
                self.fill(target.add(), item)
        else:
            target.extend([_scalar(spec, item) for item in value])

    def _fill_map(self, target: Any, spec: _Field, value: Any) -> None:
        if type(value) is not dict:
            raise ShapeError(f"{spec.name} must be an object")
        value_spec = spec.map_value
        assert value_spec is not None
        for key, item in value.items():
            if item is None:
                continue
            if value_spec.kind == _MESSAGE:
                self.fill(target[key], item)  # the entry exists from here on, {} included
            else:
                target[key] = _scalar(value_spec, item)

    def decode(self, message: Message, text: str | bytes) -> None:
        """Parses one JSON object (strictly: transports.strictjson) into
        ``message``; raises :class:`ShapeError` for anything refused."""
        try:
            obj = strict_loads(text)
        except JSONInputError as exc:
            raise ShapeError(str(exc)) from None
        self.fill_checked(message, obj)

    def fill_checked(self, message: Message, obj: Any) -> None:
        """:meth:`fill`, with a value out of a field's range a ShapeError too."""
        try:
            self.fill(message, obj)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ShapeError):
                raise
            raise ShapeError("value out of range") from None  # the message refused it


def _scalar(spec: _Field, value: Any) -> Any:
    kind = spec.kind
    if kind == _RAW:
        return _dumps(value).encode()
    if kind == _STRING and type(value) is str:
        return value
    if kind == _BOOL and type(value) is bool:
        return value
    if kind == _INT and type(value) is int:
        return value  # the range is checked by the message on assignment
    raise ShapeError(f"{spec.name}: wrong type")


def _short(message: Message) -> str:
    return str(message.DESCRIPTOR.name)


# -- encoding ---------------------------------------------------------------------


class _Writer:
    """Writes messages as JSON; ``check``: prove every raw field is JSON
    (off only for messages whose raw fields are known to be: see
    :func:`encode_checked_raw`)."""

    __slots__ = ("_raw", "_plans", "_always")

    def __init__(self, check: bool, plans: Mapping[Any, Mapping[int, _Field]],
                 always: Mapping[Any, tuple[FieldDescriptor, ...]]) -> None:
        self._raw = raw_text if check else _trusted_raw
        self._plans = plans
        self._always = always

    def message(self, message: Message) -> str:
        plan = self._plans[message.DESCRIPTOR]
        parts = []
        fields = message.ListFields()
        always = self._always.get(message.DESCRIPTOR) if self._always else None
        if always:
            return self._with_zeros(message, plan, fields, always)
        for fd, value in fields:
            spec = plan[fd.number]
            if spec.map_value is not None:
                text = self._map(spec.map_value, value)
            elif spec.repeated:
                text = "[" + ",".join([self.one(spec.kind, v) for v in value]) + "]"
            else:
                text = self.one(spec.kind, value)
            parts.append(spec.key + text)
        return "{" + ",".join(parts) + "}"

    def _with_zeros(self, message: Message, plan: Mapping[int, _Field], fields: Any,
                    always: tuple[FieldDescriptor, ...]) -> str:
        """A message with fields written even when zero (protocol v1's)."""
        present = {fd.number for fd, _ in fields}
        items = [(fd.number, fd, value) for fd, value in fields]
        items.extend((fd.number, fd, None) for fd in always if fd.number not in present)
        parts = []
        for _, fd, value in sorted(items, key=lambda item: item[0]):
            spec = plan[fd.number]
            if value is None:
                text = _zero(spec, getattr(message, fd.name), self)
            elif spec.map_value is not None:
                text = self._map(spec.map_value, value)
            elif spec.repeated:
                text = "[" + ",".join([self.one(spec.kind, v) for v in value]) + "]"
            else:
                text = self.one(spec.kind, value)
            parts.append(spec.key + text)
        return "{" + ",".join(parts) + "}"

    def one(self, kind: int, value: Any) -> str:
        if kind == _STRING:
            return encode_basestring(value)
        if kind == _MESSAGE:
            return self.message(value)
        if kind == _RAW:
            return self._raw(value)
        if kind == _BOOL:
            return "true" if value else "false"
        return str(value)

    def _map(self, spec: _Field, value: Any) -> str:
        kind = spec.kind
        return "{" + ",".join([encode_basestring(k) + ":" + self.one(kind, v) for k, v in value.items()]) + "}"


def raw_text(data: bytes) -> str:
    """``data`` as embedded JSON: checked to be one JSON value in UTF-8
    (strictly), re-encoded compactly when it holds a line break (it would
    split the frame's lines).  Raises :class:`NotJson`."""
    try:
        text = data.decode("utf-8")
        value = strict_loads(text)
    except (UnicodeDecodeError, JSONInputError):
        raise NotJson("raw field is not JSON") from None
    if "\n" in text or "\r" in text:
        return _dumps(value)
    return text


def _trusted_raw(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _zero(spec: _Field, unset: Any, writer: _Writer) -> str:
    """The JSON of a field at its zero value (a raw field's is ``null``)."""
    if spec.map_value is not None:
        return "{}"
    if spec.repeated:
        return "[]"
    if spec.kind == _MESSAGE:
        return writer.message(unset)  # reading an unset message field does not set it
    return {_RAW: "null", _STRING: '""', _BOOL: "false", _INT: "0"}[spec.kind]


class JsonMapping:
    """The JSON mapping of one protobuf schema (a ``_pb2`` module's
    ``DESCRIPTOR``): ``always`` names, per message, the fields written even
    at their zero value (none in protocol v2; protocol v1's ``!`` fields)."""

    def __init__(self, schema: FileDescriptor, always: Mapping[str, tuple[str, ...]] | None = None) -> None:
        plans = PLANS if schema is pb.DESCRIPTOR else _plans(list(schema.message_types_by_name.values()))
        find = schema.pool.FindMessageTypeByName
        by_name = MappingProxyType({find(name): plan.by_name for name, plan in plans.items()})
        by_number = MappingProxyType({find(name): plan.by_number for name, plan in plans.items()})
        zeros: Mapping[Any, tuple[FieldDescriptor, ...]] = MappingProxyType({
            find(f"{schema.package}.{message}"): tuple(find(f"{schema.package}.{message}").fields_by_name[name]
                                                       for name in names)
            for message, names in (always or {}).items()})
        reader = _Reader(by_name)
        self.fill = reader.fill
        self.fill_checked = reader.fill_checked
        self.decode = reader.decode
        self._checked = _Writer(True, by_number, zeros)
        self._trusted = _Writer(False, by_number, zeros)

    def encode(self, message: Message) -> str:
        """The JSON object of ``message``: zero values left out (but the
        ``always`` ones), raw fields embedded; raises :class:`NotJson` for a
        raw field that is not JSON."""
        return self._checked.message(message)

    def encode_checked_raw(self, message: Message) -> str:
        """:meth:`encode` without checking the raw fields, for a message whose
        every raw field is known to be compact JSON without a line break: what
        :meth:`decode` stores, or what the caller checked once already."""
        return self._trusted.message(message)


#: Protocol v2's mapping, and its functions as the module's.
V2_JSON = JsonMapping(pb.DESCRIPTOR)
fill = V2_JSON.fill
decode = V2_JSON.decode
encode = V2_JSON.encode
encode_checked_raw = V2_JSON.encode_checked_raw
