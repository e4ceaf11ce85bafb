"""The protocol v2 dialect of client connections (docs/protocol-v2.md §3).

Two :class:`~app.core.client.ClientDialect` objects share one
implementation, :class:`V2`: one per format (JSON, protobuf), so the
core's fan-out prepares a push once per dialect *and* format.
:class:`V2Formats` is the v2 candidate of an endpoint that serves several
generations: at a connection's first frame it picks the format and sets
the session's batching (JSON lines, concatenated protobuf).

Duties and ordering:

* a frame holds one or more commands (app.dialects.v2.framing); they run
  in order, each reply queued as soon as it is made, so it precedes every
  push queued after it (a subscribe's reply comes before the channel's
  publications, §3.1); what one loop iteration queued leaves as one frame
  (the session's batching: JSON lines, concatenated protobuf); a command
  the codec could not read ends the frame: the replies before it are sent,
  then the connection is closed with 3501;
* a Disconnect raised by a command closes the connection after the replies
  of the commands before it (the reference server writes each reply as it
  goes);
* the pong (the empty command) has no reply; before connect every command
  but connect closes with 3501 (§3.1);
* on a websocket the close frame says it all: no ``disconnect`` push; on
  the emulation transports (HTTP streaming, SSE: ``emulation``) the close
  is the end of the response, so a ``disconnect`` push precedes it, and the
  connect result names the ``session`` and ``node`` the client's emulation
  requests must carry (§1.3, §1.5).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from app.core.client import Client
from app.core.errors import Disconnect, ProtocolError
from app.core.values import ClientInfo, Message, Recovery
from app.dialects.choose import V2 as GENERATION_V2
from app.dialects.v2 import protocol_pb2 as pb
from app.dialects.v2.codes import BAD_REQUEST, UNSUBSCRIBE_REASONS, Close, UnsubscribeCode
from app.dialects.v2.commands import Method, Request
from app.dialects.formats import PROTOBUF_SUBPROTOCOL, FormatPair
from app.dialects.v2.context import V2Context
from app.dialects.v2.convert import client_info, raw
from app.dialects.v2.errors import REFUSALS, TRY_AGAIN_LATER, AppError, CodeError, V2Disconnect, close_of, error_of
from app.dialects.v2.framing import JsonFrames, ProtobufFrames
from app.dialects.v2.heartbeat import Heartbeat
from app.dialects.v2.proxied import ProxyRefresh
from app.dialects.v2.pushes import PreparedPublication, PreparedPush
from app.dialects.v2.spec import Services
from app.dialects.v2.table import COMMANDS

#: The websocket subprotocols a v2 endpoint accepts (§1.1): the SDKs offer
#: none for JSON (centrifuge-js, centrifuge-python) or one of these.
SUBPROTOCOLS = ("centrifuge-json", PROTOBUF_SUBPROTOCOL)


class V2:
    """Protocol v2 in one format (``frames``); see the module docstring."""

    name = "v2"

    def __init__(self, services: Services, frames: JsonFrames | ProtobufFrames, emulation: bool = False) -> None:
        self._services = services
        #: HTTP streaming or SSE: a disconnect push, session and node in the connect result
        self.emulation = emulation
        self._ctx = services.ctx
        self._frames = frames
        self.format = frames.name
        self._json = isinstance(frames, JsonFrames)
        #: the server's ping item in this format
        self.ping: str | bytes = frames.ping
        self._encode: Callable[[pb.Reply], Any] = frames.encode
        self._nothing: str | bytes = "" if self._json else b""

    # -- frames and commands ------------------------------------------------------

    async def on_frame(self, client: Client, data: str | bytes) -> None:
        self._ctx.metrics.bytes_in.inc(len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data))
        decoded = self._frames.decode(data)
        try:
            for request in decoded.requests:
                item = await self._dispatch(client, request)
                if client.closing:
                    return  # closed meanwhile (e.g. by the API); say nothing more
                if item is not None:
                    # Queued at once, so it precedes every push that follows
                    # (a subscribe's reply before the channel's publications);
                    # the session's batching merges what one loop iteration
                    # queued into one frame.
                    client.send(item)
            if decoded.close is not None:
                raise V2Disconnect(decoded.close)
        finally:
            client.run_after_reply()

    async def _dispatch(self, client: Client, request: Request) -> str | bytes | None:
        """One command's reply item (None: it has none); Disconnect when fatal."""
        method = request.method
        if method is Method.PONG:
            if not client.authenticated:
                raise V2Disconnect(BAD_REQUEST)
            self._services.heartbeat.pong(client)
            return None
        spec = COMMANDS.get(method)
        if spec is None or spec.needs_auth and not client.authenticated:
            raise V2Disconnect(BAD_REQUEST)
        metrics = self._ctx.metrics
        metrics.child(metrics.client_requests, method.field).inc()
        reply = pb.Reply(id=request.id)
        try:
            result = await spec.handler(self._services, client, request.params)
        except (ProtocolError, CodeError, AppError) as err:
            reply.error.CopyFrom(error_of(err))
        else:
            if result is None:
                return None
            field = getattr(reply, method.field)
            field.SetInParent()  # an empty result is still written: {"id":3,"publish":{}}
            field.CopyFrom(result)
            if self.emulation and method is Method.CONNECT:
                field.session, field.node = client.session.id, self._ctx.uid
        item = self._encode(reply)
        if isinstance(item, Close):
            raise V2Disconnect(item)
        return item  # type: ignore[no-any-return]

    # -- what the core sends ------------------------------------------------------

    def message(self, message: Message) -> str | bytes:
        info = client_info(message.info) if message.info is not None else None
        prepared = PreparedPublication(message.channel, raw(message.data), message.offset, info, json_checked=True)
        if not self._json:
            return prepared.protobuf
        item = prepared.json
        return item if isinstance(item, str) else self._nothing

    def _push(self, push: pb.Push) -> str | bytes:
        prepared = PreparedPush(pb.Reply(push=push), json_checked=True)
        if not self._json:
            return prepared.protobuf
        item = prepared.json
        return item if isinstance(item, str) else self._nothing

    def join(self, channel: str, info: ClientInfo) -> str | bytes:
        return self._push(pb.Push(channel=channel, join=pb.Join(info=client_info(info))))

    def leave(self, channel: str, info: ClientInfo) -> str | bytes:
        return self._push(pb.Push(channel=channel, leave=pb.Leave(info=client_info(info))))

    def unsubscribed(self, channel: str, code: UnsubscribeCode = UnsubscribeCode.SERVER) -> str | bytes:
        """The server left ``channel`` for the client (2000: for good; 2501
        its subscription expired: it subscribes again with a new token)."""
        return self._push(pb.Push(channel=channel, unsubscribe=pb.Unsubscribe(
            code=code, reason=UNSUBSCRIBE_REASONS[code])))

    def subscribed(self, channel: str, recovery: Recovery) -> str | bytes:
        """A server-side subscribe after connect; no stream position yet."""
        push = pb.Push(channel=channel)
        push.subscribe.SetInParent()
        return self._push(push)

    def disconnect(self, exc: Disconnect) -> str | bytes:
        """None on a websocket: the close frame carries code and reason; on
        an emulation transport the push, the response's end follows it."""
        if not self.emulation:
            return self._nothing
        close = close_of(exc)
        return self._push(pb.Push(disconnect=pb.Disconnect(code=close.code, reason=close.reason)))

    def close(self, exc: Disconnect) -> tuple[int, str]:
        close = close_of(exc)
        return close.code, close.reason

    def refusal(self, reason: str) -> tuple[int, str]:
        """1013 with the plain reason: the SDKs reconnect with backoff."""
        return TRY_AGAIN_LATER, reason if reason in REFUSALS else "try again later"


class V2Formats(FormatPair[V2]):
    """The v2 candidate of an endpoint (app.dialects.formats): protobuf
    also by ``?format=protobuf`` or ``?cf_protocol=protobuf``;
    ``bytes_are_protobuf`` on the emulation transports."""

    def __init__(self, json: V2, protobuf: V2, bytes_are_protobuf: bool = False) -> None:
        super().__init__(json, protobuf, GENERATION_V2, ("format", "cf_protocol"), bytes_are_protobuf)


class V2Dialects(NamedTuple):
    """The v2 dialects of a node: on the websocket, and on the emulation
    transports (HTTP streaming, SSE)."""

    websocket: V2Formats
    emulation: V2Formats


def make_v2(ctx: V2Context) -> V2Formats:
    """The websocket's v2 dialects of a node (see :func:`make_v2_dialects`)."""
    return make_v2_dialects(ctx).websocket


def make_v2_dialects(ctx: V2Context) -> V2Dialects:
    """The v2 dialects of a node (JSON and protobuf, websocket and
    emulation) sharing one heartbeat."""
    def ping_of(client: Client) -> str | bytes:
        return client.dialect.ping if isinstance(client.dialect, V2) else ""

    def expired_of(client: Client, channel: str) -> str | bytes:
        dialect = client.dialect
        return dialect.unsubscribed(channel, UnsubscribeCode.EXPIRED) if isinstance(dialect, V2) else ""

    heartbeat = Heartbeat(ctx, ping_of, expired_of)
    ProxyRefresh(ctx, expired_of)  # registers its deadline kinds with the node's clients
    services = Services(ctx, heartbeat)
    return V2Dialects(V2Formats(V2(services, JsonFrames()), V2(services, ProtobufFrames())),
                      V2Formats(V2(services, JsonFrames(), emulation=True),
                                V2(services, ProtobufFrames(), emulation=True), bytes_are_protobuf=True))
