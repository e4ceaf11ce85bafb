"""Which dialect a connection speaks, decided at the edge (docs/dialects.md).

Three signals, strongest first:

1. the request: an explicit ``cf_protocol_version=v1|v2`` query, and the
   endpoints only protocol v2 clients use (HTTP streaming, SSE, emulation,
   the ``uni_*`` paths) fix the generation (:func:`generation_of_request`);
2. the endpoint: a dialect table per endpoint path (app.node: 1.x SockJS
   at ``{prefix}/connection``, {1.x, v1, v2} on the raw websocket, {v2, v1}
   on SockJS ``/connection/sockjs``, v2 on the emulation transports);
3. the first frame, when an endpoint serves several generations
   (:func:`generation_of_frame` for text frames, :func:`generation_of_binary`
   for binary ones; :class:`FirstFrame` waits for it).

Once chosen, a connection keeps its dialect for its whole life.  An
endpoint with one candidate decides at open, and nothing waits; a new
dialect adds a row to the table, not a branch to the core.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs

from app.core.client import Client, ClientDialect, Push
from app.core.errors import INVALID_MESSAGE, Disconnect
from app.core.values import ClientInfo, Message, Recovery
from transports.interfaces import NO_REQUEST, OpenRequest
from transports.strictjson import loads

#: The three generations of the Centrifugal client protocol.
V1X = "1.x"  #: Centrifugo 1.x (centrifuge-js 1.x): what sockhub speaks today
V1 = "v1"  #: protocol v1 (Centrifugo 2/3, centrifuge-js 2.x)
V2 = "v2"  #: protocol v2 (Centrifugo 4+, centrifuge-js 3+/5.x, centrifuge-python)
GENERATIONS = (V1X, V1, V2)

#: Paths (after the prefix) that only protocol v2 clients use.
_V2_ONLY_PATHS = ("/connection/http_stream", "/connection/sse", "/emulation", "/connection/uni_")


def generation_of_request(path: str, query: Mapping[str, str]) -> str | None:
    """The generation the request itself fixes, or None (then the endpoint
    or the first frame decides): ``cf_protocol_version`` overrides
    everything, and the v2-only endpoints are v2."""
    explicit = query.get("cf_protocol_version", "")
    if explicit in (V1, V2):
        return explicit
    if any(marker in path for marker in _V2_ONLY_PATHS):
        return V2
    return None


def generation_of_frame(frame: str) -> str | None:
    """The generation a connection's first text (JSON) frame shows, or None
    when it shows none (then the connection is closed as ``invalid
    message``): a ``[`` batch, or an object with a ``uid`` key or a string
    ``method`` ``"connect"``, is 1.x; an object with a ``connect`` key is
    v2; one with ``params``, an integer ``method``, or a bare ``id`` is v1.
    A v2 frame may hold several commands, one per line: the first decides."""
    text = frame.strip()
    if text.startswith("["):
        return V1X
    first = text.split("\n", 1)[0]
    try:
        value: Any = loads(first)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    method = value.get("method")
    if "uid" in value or isinstance(method, str) and method.lower() == "connect":
        return V1X
    if isinstance(value.get("connect"), dict):
        return V2
    if "params" in value or isinstance(method, int) or "id" in value:
        return V1
    return None


def generation_of_binary(frame: bytes) -> str | None:
    """The generation a first binary (protobuf) frame shows, from the field
    numbers of its first varint-delimited Command: field 4 (ConnectRequest)
    is v2; field 2 or 3 (method, params) or only field 1 (id) is v1."""
    try:
        length, at = _varint(frame, 0)
        end = at + length
        fields: set[int] = set()
        while at < end:
            key, at = _varint(frame, at)
            number, wire = key >> 3, key & 7
            fields.add(number)
            if wire == 0:
                _, at = _varint(frame, at)
            elif wire == 2:
                size, at = _varint(frame, at)
                at += size
            elif wire in (1, 5):
                at += 8 if wire == 1 else 4
            else:
                return None
    except IndexError:
        return None
    if 4 in fields:
        return V2
    if fields & {2, 3} or fields == {1}:
        return V1
    return None


def generation_of_json_bytes(frame: bytes) -> str | None:
    """The generation of a binary frame read as JSON text (clients may send
    JSON in binary frames; the 1.x dialect reads those as UTF-8 text), or
    None.  Asked before :func:`generation_of_binary`: JSON text can pass for
    a varint-delimited message by chance (``{`` is a length of 123, ``"``
    the key of field 4), while protobuf bytes never parse as JSON."""
    try:
        return generation_of_frame(frame.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


class FirstFrame:
    """A :class:`~app.core.client.ClientDialect` for an endpoint that serves
    several generations: the client's first frame picks one of
    ``dialects`` (by :func:`generation_of_frame`), which the client keeps
    from then on; a frame of no candidate closes it (``invalid message``).
    Before that the client has no channel, so only a close can happen,
    written by ``fallback``."""

    def __init__(self, dialects: Mapping[str, ClientDialect], fallback: ClientDialect) -> None:
        self._dialects = dict(dialects)
        self._fallback = fallback

    async def on_frame(self, client: Client, data: str | bytes) -> None:
        if isinstance(data, str):
            generation = generation_of_frame(data)
        else:
            generation = generation_of_json_bytes(data) or generation_of_binary(data)
        dialect = self._dialects.get(generation or "")
        if dialect is None:
            raise Disconnect(INVALID_MESSAGE)
        client.dialect = dialect
        await dialect.on_frame(client, data)

    def message(self, message: Message) -> Push:
        return self._fallback.message(message)

    def join(self, channel: str, info: ClientInfo) -> Push:
        return self._fallback.join(channel, info)

    def leave(self, channel: str, info: ClientInfo) -> Push:
        return self._fallback.leave(channel, info)

    def unsubscribed(self, channel: str) -> Push:
        return self._fallback.unsubscribed(channel)

    def subscribed(self, channel: str, recovery: Recovery) -> Push:
        return self._fallback.subscribed(channel, recovery)

    def disconnect(self, exc: Disconnect) -> Push:
        return self._fallback.disconnect(exc)

    def close(self, exc: Disconnect) -> tuple[int, str]:
        return self._fallback.close(exc)

    def refusal(self, reason: str) -> tuple[int, str]:
        return self._fallback.refusal(reason)


class DialectTable:
    """The dialects of each endpoint, by generation, in order of preference;
    :meth:`dialect_for` is what a connection gets at open."""

    def __init__(self, endpoints: Mapping[str, Mapping[str, ClientDialect]]) -> None:
        self._endpoints = {path: dict(dialects) for path, dialects in endpoints.items()}
        #: per endpoint, its only dialect, or one FirstFrame shared by its
        #: connections when it has several candidates
        self._undecided: dict[str, ClientDialect] = {
            path: FirstFrame(dialects, next(iter(dialects.values()))) if len(dialects) > 1
            else next(iter(dialects.values()))
            for path, dialects in self._endpoints.items()}

    def dialect_for(self, endpoint: str, request: OpenRequest = NO_REQUEST) -> ClientDialect:
        """The dialect of a connection made at ``endpoint`` (a key of the
        table) by ``request``: the one the request fixes (its path or
        query), the endpoint's only one, or a :class:`FirstFrame` over its
        candidates.  KeyError for an endpoint the table does not have."""
        undecided = self._undecided[endpoint]
        if not isinstance(undecided, FirstFrame):
            return undecided  # the endpoint's only dialect: nothing to decide
        candidates = self._endpoints[endpoint]
        fixed = generation_of_request(request.path, query_fields(request.query))
        if fixed is not None and fixed in candidates:
            return candidates[fixed]
        return undecided


def query_fields(query: str) -> dict[str, str]:
    """The first value of each field of a raw query string (bounded: a
    query string is at most what the header limit let through)."""
    return {key: values[0] for key, values in parse_qs(query, max_num_fields=64).items()} if query else {}
