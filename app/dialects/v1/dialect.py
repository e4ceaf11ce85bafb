"""The protocol v1 dialect of client connections (docs/protocol-v1.md §1-§4).

Two :class:`~app.core.client.ClientDialect` objects share one
implementation, :class:`V1`, one per format (JSON, protobuf), so the
core's fan-out prepares a push once per dialect and format.
:class:`V1Formats` is the v1 candidate of an endpoint: at the first frame
it picks the format (protobuf for the ``centrifuge-protobuf`` subprotocol,
``?format=protobuf`` or ``?protocol=protobuf``, or a binary protobuf
command) and sets the session's batching (JSON lines, concatenated
protobuf).  Any endpoint that serves v1 lists :class:`V1Formats` in its
row of the dialect table, SockJS included (JSON: it has no subprotocol).

Duties and ordering, as in protocol v2 (app.dialects.v2.dialect): the
commands of a frame run in order, each reply queued as soon as it is made
(a subscribe's reply precedes the channel's publications); a command that
does not decode ends the frame with close 3003 after the replies before
it; before connect every other command closes 3003; the client's ``ping``
is answered ``{"id":N}``; the server sends no app-level pings (the raw
websocket's ping frames go on); a close carries the v1 code and the JSON
reason ``{"reason","reconnect"}`` (app.dialects.v1.codes).
"""
from __future__ import annotations

from app.core.client import Client
from app.core.errors import Disconnect, ProtocolError
from app.core.values import ClientInfo, Message, Recovery
from app.dialects.choose import V1 as GENERATION_V1
from app.dialects.v1 import codes
from app.dialects.v1 import protocol_pb2 as pb
from app.dialects.v1.codes import BAD_REQUEST, V1Close
from app.dialects.v1.framing import UNKNOWN, V1JsonFrames, V1Method, NotJson, V1ProtobufFrames, V1Request
from app.dialects.v1.table import COMMANDS
from app.dialects.formats import FormatPair
from app.dialects.v2.context import V2Context
from app.dialects.v2.convert import client_info, publication
from app.dialects.v2.errors import CodeError, close_of, error_of
from app.dialects.v2.heartbeat import Heartbeat
from app.dialects.v2.spec import Services

from app.dialects.v1.convert import copy_fields

_METHOD_NOT_FOUND = (104, "method not found")


class V1Disconnect(Disconnect):
    """Close with a v1 close of its own."""

    def __init__(self, close: V1Close) -> None:
        super().__init__(close.reason, close.reconnect)
        self.close = close


def _client_info(info: ClientInfo) -> pb.ClientInfo:
    converted = pb.ClientInfo()
    copy_fields(client_info(info), converted)
    return converted


class V1:
    """Protocol v1 in one format (``frames``); see the module docstring."""

    name = "v1"

    def __init__(self, services: Services, frames: V1JsonFrames | V1ProtobufFrames) -> None:
        self._services = services
        self._ctx = services.ctx
        self._frames = frames
        self.format = frames.name
        self._nothing: str | bytes = "" if isinstance(frames, V1JsonFrames) else b""

    async def on_frame(self, client: Client, data: str | bytes) -> None:
        self._ctx.metrics.bytes_in.inc(len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data))
        decoded = self._frames.decode(data)
        try:
            for request in decoded.requests:
                item = await self._dispatch(client, request)
                if client.closing:
                    return  # closed meanwhile (e.g. by the API); say nothing more
                if item is not None:
                    client.send(item)  # queued at once: before any later push
            if decoded.close is not None:
                raise V1Disconnect(decoded.close)
        finally:
            client.run_after_reply()

    async def _dispatch(self, client: Client, request: V1Request) -> str | bytes | None:
        """One command's reply item (None: it has none); Disconnect when fatal."""
        spec = COMMANDS.get(request.method)
        if request.method != V1Method.CONNECT and not client.authenticated:
            raise V1Disconnect(BAD_REQUEST)
        if request.method == UNKNOWN or request.params is None:
            return self._frames.error(request.id, *_METHOD_NOT_FOUND)
        metrics = self._ctx.metrics
        metrics.child(metrics.client_requests, V1Method(request.method).name.lower()).inc()
        if request.method == V1Method.PING:
            return self._frames.reply(request.id, None)
        assert spec is not None
        try:
            result = await spec.handler(self._services, client, request.params)
        except (ProtocolError, CodeError) as err:
            error = error_of(err)
            return self._frames.error(request.id, error.code, error.message)
        if result is None:
            return None
        try:
            return self._frames.reply(request.id, result)
        except NotJson:
            raise V1Disconnect(BAD_REQUEST) from None

    # -- what the core sends ------------------------------------------------------

    def message(self, message: Message) -> str | bytes:
        pub = pb.Publication()
        copy_fields(publication(message), pub)
        return self._frames.push(pb.PUBLICATION, message.channel, pub)

    def join(self, channel: str, info: ClientInfo) -> str | bytes:
        return self._frames.push(pb.JOIN, channel, pb.Join(info=_client_info(info)))

    def leave(self, channel: str, info: ClientInfo) -> str | bytes:
        return self._frames.push(pb.LEAVE, channel, pb.Leave(info=_client_info(info)))

    def unsubscribed(self, channel: str, resubscribe: bool = False) -> str | bytes:
        """The server left ``channel`` for the client (``resubscribe``: its
        subscription expired, it may subscribe again with a new token)."""
        return self._frames.push(pb.UNSUB, channel, pb.Unsub(resubscribe=resubscribe))

    def subscribed(self, channel: str, recovery: Recovery) -> str | bytes:
        return self._frames.push(pb.SUB, channel, pb.Sub())

    def disconnect(self, exc: Disconnect) -> str | bytes:
        """None on a websocket or SockJS: the close frame carries it all."""
        return self._nothing

    def close(self, exc: Disconnect) -> tuple[int, str]:
        close = v1_close(exc)
        return close.code, close.text

    def refusal(self, reason: str) -> tuple[int, str]:
        """1013 (try again later) with the JSON advice to reconnect."""
        return 1013, V1Close(1013, reason[:32], True).text


def v1_close(exc: Disconnect) -> V1Close:
    """The v1 close of a disconnect: its own, or the v1 twin of the v2 close
    the core's reason maps to."""
    if isinstance(exc, V1Disconnect):
        return exc.close
    close = close_of(exc)
    return codes.from_v2(close.code, close.reconnect)


class V1Formats(FormatPair[V1]):
    """The v1 candidate of an endpoint (app.dialects.formats): protobuf
    also by ``?format=protobuf`` or ``?protocol=protobuf``, as 2.8.5 asks."""

    def __init__(self, json: V1, protobuf: V1) -> None:
        super().__init__(json, protobuf, GENERATION_V1, ("format", "protocol"))


def make_v1(ctx: V2Context) -> V1Formats:
    """The v1 dialects of a node (JSON and protobuf), sharing one heartbeat
    that only expires connections and subscriptions (v1 clients ping)."""
    def expired_of(client: Client, channel: str) -> str | bytes:
        dialect = client.dialect
        return dialect.unsubscribed(channel, resubscribe=True) if isinstance(dialect, V1) else ""

    heartbeat = Heartbeat(ctx, lambda client: "", expired_of, dialect="v1", pings=False)
    services = Services(ctx, heartbeat)
    return V1Formats(V1(services, V1JsonFrames()), V1(services, V1ProtobufFrames()))
