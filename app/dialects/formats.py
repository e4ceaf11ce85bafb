"""One dialect in two formats (JSON and protobuf), chosen at the first frame.

Protocols v1 and v2 both speak JSON and protobuf on one endpoint.  Their
:class:`FormatPair` is the endpoint's candidate for the generation: at the
client's first frame it picks protobuf when the session's subprotocol is
``centrifuge-protobuf``, its query names ``protobuf`` under one of the
generation's keys (``format``, and ``protocol`` for v1 or ``cf_protocol``
for v2), or the frame is a binary protobuf message of that generation
(always, for ``bytes_are_protobuf``: the emulation transports hand an
``application/octet-stream`` body over as bytes); JSON otherwise.  The
client keeps the chosen dialect, and its session the matching batching
(newline-joined JSON lines, or concatenated length-delimited messages).
Until then, what is written uses the JSON dialect.
"""
from __future__ import annotations

from typing import Generic, TypeVar

from app.core.client import Client, ClientDialect
from app.core.errors import Disconnect
from app.core.values import ClientInfo, Message, Recovery
from app.dialects.choose import generation_of_binary, generation_of_json_bytes, query_fields
from transports.frames import CONCAT, LINES

PROTOBUF_SUBPROTOCOL = "centrifuge-protobuf"

D = TypeVar("D", bound=ClientDialect)


class FormatPair(Generic[D]):
    """A generation's JSON and protobuf dialects; see the module docstring."""

    def __init__(self, json: D, protobuf: D, generation: str, query_keys: tuple[str, ...],
                 bytes_are_protobuf: bool = False) -> None:
        self.json = json
        self.protobuf = protobuf
        self._generation = generation
        self._query_keys = query_keys
        self._bytes_are_protobuf = bytes_are_protobuf

    def pick(self, client: Client, data: str | bytes) -> D:
        session = client.session
        request = session.request
        query = query_fields(request.query) if request.query else {}
        protobuf = (request.subprotocol == PROTOBUF_SUBPROTOCOL
                    or any(query.get(key) == "protobuf" for key in self._query_keys)
                    or isinstance(data, bytes) and (self._bytes_are_protobuf or generation_of_json_bytes(data) is None
                                                    and generation_of_binary(data) == self._generation))
        session.batching = CONCAT if protobuf else LINES
        return self.protobuf if protobuf else self.json

    async def on_frame(self, client: Client, data: str | bytes) -> None:
        dialect = self.pick(client, data)
        client.dialect = dialect
        await dialect.on_frame(client, data)

    def message(self, message: Message) -> str | bytes:
        return self.json.message(message)

    def join(self, channel: str, info: ClientInfo) -> str | bytes:
        return self.json.join(channel, info)

    def leave(self, channel: str, info: ClientInfo) -> str | bytes:
        return self.json.leave(channel, info)

    def unsubscribed(self, channel: str) -> str | bytes:
        return self.json.unsubscribed(channel)

    def subscribed(self, channel: str, recovery: Recovery) -> str | bytes:
        return self.json.subscribed(channel, recovery)

    def disconnect(self, exc: Disconnect) -> str | bytes:
        return self.json.disconnect(exc)

    def close(self, exc: Disconnect) -> tuple[int, str]:
        return self.json.close(exc)

    def refusal(self, reason: str) -> tuple[int, str]:
        return self.json.refusal(reason)
